"""Tests of gwp_cli.solver against brute force written here, independently.

The relaxed brute force enumerates every cut into <= L_max stages and every
assignment of devices to stages (or to none) and solves each stage's split as an
LP with scipy's linprog; the integer brute force enumerates every whole-sample
split of a tiny batch.  Neither uses any of the solver's code.
"""

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog

from gwp_cli.solver import Solution, round_samples, solve, split_samples, stage_objective


# ----------------------------------------------------------------------------
# instances


def physical_instance(seed, N, M, B, with_idle):
    """Block work summed over the range, device speed, memory caps (some binding, some zero)."""
    rng = np.random.default_rng(seed)
    work = rng.uniform(0.5, 2.0, N)
    act = rng.uniform(0.5, 1.5, N)
    par = rng.uniform(0.0, 2.0, N)
    speed = rng.uniform(0.5, 3.0, M)
    joule = rng.uniform(0.2, 2.0, M)
    heat = rng.uniform(0.0, 1.0, M)
    mem = rng.uniform(0.6, 2.6, M) * B
    tau = np.full((N, N, M), np.nan)  # s > e is junk the solver must not read
    eps = np.full((N, N, M), np.nan)
    cap = np.full((N, N, M), np.nan)
    for s in range(N):
        for e in range(s, N):
            w = work[s:e + 1].sum()
            t = w / speed + rng.uniform(0.0, 0.3, M)
            tau[s, e] = t
            eps[s, e] = w * joule + heat * t
            cap[s, e] = np.maximum(0.0, np.floor((mem - par[s:e + 1].sum()) / act[s:e + 1].sum()))
    idle = rng.uniform(0.0, 1.0, M) if with_idle else np.zeros(M)
    w_time, w_energy = rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)
    return tau, eps, cap, idle, w_time, w_energy


def random_instance(seed, N, M, B, with_idle):
    """Every (range, device) drawn independently: no structure to lean on."""
    rng = np.random.default_rng(seed)
    tau = rng.uniform(0.05, 1.0, (N, N, M))
    eps = rng.uniform(0.05, 1.0, (N, N, M))
    cap = rng.integers(B // 3, B + 3, (N, N, M)).astype(float)
    cap[rng.random((N, N, M)) < 0.2] = 0.0
    idle = rng.uniform(0.0, 1.5, M) if with_idle else np.zeros(M)
    w_time, w_energy = rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)
    return tau, eps, cap, idle, w_time, w_energy


# ----------------------------------------------------------------------------
# brute force


def placement_cost(stage_list, tau, eps, w_time, w_energy, idle):
    """Objective written out from the formula: stage list of (s, e, devices, samples)."""
    total = 0.0
    for s, e, devs, D in stage_list:
        t = max(D[j] * tau[s, e, i] for j, i in enumerate(devs))
        total += w_time * t
        for j, i in enumerate(devs):
            total += w_energy * (eps[s, e, i] * D[j] + idle[i] * (t - D[j] * tau[s, e, i]))
    return total


def lp_stage(tau, eps, cap, B, w_time, w_energy, idle):
    """Stage LP in (D_1..D_k, t): min cost s.t. D_i tau_i <= t, sum D = B, 0 <= D <= cap."""
    k = tau.size
    if cap.sum() < B:
        return math.inf
    c = np.r_[w_energy * (eps - idle * tau), w_time + w_energy * idle.sum()]
    A_ub = np.c_[np.diag(tau), -np.ones(k)]
    A_eq = np.r_[np.ones(k), 0.0][None, :]
    bounds = [(0.0, float(x)) for x in cap] + [(0.0, None)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(k), A_eq=A_eq, b_eq=[B], bounds=bounds,
                  method="highs-ds",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status == 2:
        return math.inf
    assert res.status == 0, res.message
    return float(res.fun)


def int_stage(tau, eps, cap, B, w_time, w_energy, idle):
    """Best whole-sample split with every device >= 1 sample, by enumeration."""
    k = tau.size
    best = math.inf
    for cuts in itertools.combinations(range(1, B), k - 1):
        D = np.diff(np.r_[0, cuts, B])
        if np.any(D > cap):
            continue
        t = np.max(D * tau)
        v = w_time * t + w_energy * np.sum(eps * D + idle * (t - D * tau))
        best = min(best, v)
    return best


def brute(tau, eps, cap, B, w_time, w_energy, L, idle, stage_fn):
    N, _, M = tau.shape
    memo = {}

    def stage(s, e, devs):
        key = (s, e, devs)
        if key not in memo:
            d = list(devs)
            memo[key] = stage_fn(tau[s, e, d], eps[s, e, d], cap[s, e, d], B, w_time, w_energy, idle[d])
        return memo[key]

    best = math.inf
    for n_st in range(1, min(L, N) + 1):
        for cuts in itertools.combinations(range(1, N), n_st - 1):
            edges = [0, *cuts, N]
            ranges = [(edges[j], edges[j + 1] - 1) for j in range(n_st)]
            for assign in itertools.product(range(-1, n_st), repeat=M):
                sets = [tuple(i for i in range(M) if assign[i] == j) for j in range(n_st)]
                if any(not d for d in sets):
                    continue
                total = 0.0
                for (s, e), d in zip(ranges, sets):
                    total += stage(s, e, d)
                    if total >= best:
                        break
                best = min(best, total)
    return best


# ----------------------------------------------------------------------------
# checks


def check_feasible(sol, tau, eps, cap, B, L, w_time, w_energy, idle, allowed=None):
    N, _, M = tau.shape
    assert isinstance(sol, Solution)
    assert 1 <= len(sol.stages) <= L
    assert sol.stages[0][0] == 0 and sol.stages[-1][1] == N - 1
    for (s0, e0), (s1, e1) in zip(sol.stages, sol.stages[1:]):
        assert s1 == e0 + 1
    assert all(s <= e for s, e in sol.stages)
    used = [i for d in sol.devices for i in d]
    assert len(used) == len(set(used)), "a device serves two stages"
    assert len(sol.devices) == len(sol.samples) == len(sol.relaxed_samples) == len(sol.stages)
    rows = []
    for (s, e), devs, D, rel in zip(sol.stages, sol.devices, sol.samples, sol.relaxed_samples):
        assert devs and devs == sorted(devs)
        assert len(D) == len(devs) == len(rel)
        assert all(isinstance(x, int) and x >= 1 for x in D)
        assert sum(D) == B
        for i, x in zip(devs, D):
            assert 0 <= i < M
            assert x <= cap[s, e, i]
            if allowed is not None:
                assert allowed[i]
        rows.append((s, e, devs, D))
    cost = placement_cost(rows, tau, eps, w_time, w_energy, idle)
    assert sol.cost == pytest.approx(cost, rel=1e-9, abs=1e-12)
    assert sol.cost >= sol.bound - 1e-9 * max(1.0, abs(sol.bound))


# ----------------------------------------------------------------------------
# tests

def _case(maker, seed):
    """Shapes cycle with the seed: N in 3..5, M in 2..4, several B and L_max, idle on even seeds."""
    return (maker, seed, 3 + seed % 3, 2 + (seed * 7) % 3, [12, 16, 10, 9][seed % 4], 1 + seed % 4, seed % 2 == 0)


# seeds picked so that the set holds one- and multi-stage optima, binding and zero caps,
# idle power on and off, and an infeasible instance of each kind
RELAXED_CASES = [_case(physical_instance, s) for s in (1, 2, 3, 5, 8, 10, 11, 17, 23)] + [
    _case(random_instance, s) for s in (1, 2, 7, 9, 18, 22, 23)]


@pytest.mark.parametrize("maker,seed,N,M,B,L,with_idle", RELAXED_CASES)
def test_bound_matches_lp_brute_force(maker, seed, N, M, B, L, with_idle):
    tau, eps, cap, idle, wt, we = maker(seed, N, M, B, with_idle)
    ref = brute(tau, eps, cap, B, wt, we, L, idle, lp_stage)
    if not math.isfinite(ref):
        with pytest.raises(ValueError):
            solve(tau, eps, cap, B, wt, we, L, idle_w=idle)
        return
    sol = solve(tau, eps, cap, B, wt, we, L, idle_w=idle)
    assert sol.certified
    assert sol.bound == pytest.approx(ref, rel=1e-9, abs=1e-12)
    check_feasible(sol, tau, eps, cap, B, L, wt, we, idle)


@pytest.mark.parametrize("maker,seed", [(physical_instance, 100), (random_instance, 102)])
def test_bound_matches_lp_brute_force_six_devices(maker, seed):
    """More devices than the small cases, so the 3^M (set, subset) tables are exercised wider."""
    tau, eps, cap, idle, wt, we = maker(seed, 3, 6, 8, True)
    ref = brute(tau, eps, cap, 8, wt, we, 3, idle, lp_stage)
    sol = solve(tau, eps, cap, 8, wt, we, 3, idle_w=idle)
    assert sol.certified
    assert sol.bound == pytest.approx(ref, rel=1e-9)
    check_feasible(sol, tau, eps, cap, 8, 3, wt, we, idle)


def test_single_block_single_device_by_hand():
    # one block, one device: all 5 samples on it, t = 5 * 0.5 = 2.5 s, E = 5 * 2 J = 10 J
    sol = solve(np.full((1, 1, 1), 0.5), np.full((1, 1, 1), 2.0), np.full((1, 1, 1), 5.0), 5, 1.0, 0.1, 3)
    assert sol.stages == [(0, 0)] and sol.devices == [[0]] and sol.samples == [[5]]
    assert sol.bound == pytest.approx(2.5 + 1.0) and sol.cost == pytest.approx(2.5 + 1.0)


def test_cases_exercise_binding_and_zero_caps_and_several_stages():
    """The brute-force cases above are not degenerate: caps bind, caps are 0, cuts happen."""
    binding = zero = multi = 0
    for maker, seed, N, M, B, L, with_idle in RELAXED_CASES:
        tau, eps, cap, idle, wt, we = maker(seed, N, M, B, with_idle)
        s, e = np.triu_indices(N)
        zero += int(np.any(cap[s, e] == 0))
        try:
            sol = solve(tau, eps, cap, B, wt, we, L, idle_w=idle)
        except ValueError:
            continue
        multi += len(sol.stages) > 1
        for (s0, e0), devs, rel in zip(sol.stages, sol.devices, sol.relaxed_samples):
            binding += any(abs(x - cap[s0, e0, i]) < 1e-9 for i, x in zip(devs, rel))
    assert binding >= 5 and zero >= 5 and multi >= 6


def test_allowed_mask_equals_brute_force_on_the_allowed_devices():
    tau, eps, cap, idle, wt, we = physical_instance(11, 4, 4, 12, True)
    allowed = np.array([True, False, True, True])
    keep = np.flatnonzero(allowed)
    ref = brute(tau[:, :, keep], eps[:, :, keep], cap[:, :, keep], 12, wt, we, 3, idle[keep], lp_stage)
    sol = solve(tau, eps, cap, 12, wt, we, 3, idle_w=idle, allowed=allowed)
    assert sol.bound == pytest.approx(ref, rel=1e-9)
    check_feasible(sol, tau, eps, cap, 12, 3, wt, we, idle, allowed=allowed)


@pytest.mark.parametrize("seed,N,M,B,L", [(21, 3, 3, 4, 2), (22, 4, 3, 5, 3), (23, 3, 4, 6, 2), (24, 4, 2, 6, 2)])
def test_integer_brute_force_sits_between_bound_and_rounded_cost(seed, N, M, B, L):
    tau, eps, cap, idle, wt, we = random_instance(seed, N, M, B, True)
    int_opt = brute(tau, eps, cap, B, wt, we, L, idle, int_stage)
    sol = solve(tau, eps, cap, B, wt, we, L, idle_w=idle)
    assert math.isfinite(int_opt)
    tol = 1e-9 * max(1.0, abs(int_opt))
    assert int_opt >= sol.bound - tol
    assert sol.cost >= int_opt - tol
    check_feasible(sol, tau, eps, cap, B, L, wt, we, idle)


@pytest.mark.parametrize("mode", ["no time weight", "no energy weight", "idle above active"])
def test_degenerate_weights_match_lp_brute_force(mode):
    tau, eps, cap, idle, wt, we = physical_instance(17, 5, 4, 16, True)
    if mode == "no time weight":
        wt = 0.0  # flat cost beyond the last breakpoint when idle draw is 0 too
        idle = np.zeros_like(idle)
    elif mode == "no energy weight":
        we = 0.0
    else:
        idle = idle * 6.0  # idle_i tau_i > eps_i: negative per-sample energy terms
    ref = brute(tau, eps, cap, 16, wt, we, 2, idle, lp_stage)
    sol = solve(tau, eps, cap, 16, wt, we, 2, idle_w=idle)
    assert sol.bound == pytest.approx(ref, rel=1e-9, abs=1e-12)
    check_feasible(sol, tau, eps, cap, 16, 2, wt, we, idle)


def test_split_samples_hand_worked_two_devices():
    # Device 0: tau 1 s, eps 1 J per sample, cap 10.  Device 1: tau 2 s, eps 0.5 J, cap 4.
    # B = 6, w_time = 0.1, w_energy = 1, no idle power.  Per-sample energy cost
    # c = (1, 0.5), so device 1 is filled first, up to min(4, t/2); device 0 takes the rest.
    #   t_min: t/2 + t = 6  ->  t = 4, D = (4, 2), cost 0.4 + 4 + 1 = 5.4
    #   4 <= t <= 8: D = (6 - t/2, t/2), cost 0.1 t + (6 - t/2) + 0.25 t = 6 - 0.15 t (falls)
    #   t >= 8: device 1 at its cap, D = (2, 4), cost 0.1 t + 2 + 2 (rises)
    # so t = 8, D = (2, 4), cost 0.8 + 2 + 2 = 4.8.
    tau, eps, cap = np.array([1.0, 2.0]), np.array([1.0, 0.5]), np.array([10.0, 4.0])
    D, obj = split_samples(tau, eps, cap, 6, 0.1, 1.0)
    np.testing.assert_allclose(D, [2.0, 4.0], atol=1e-12)
    assert obj == pytest.approx(4.8, rel=1e-12)

    # Same devices, device 0 now draws 0.25 W while it waits.  Then a = 0.1 + 0.25 = 0.35 per
    # second and c = (1 - 0.25 * 1, 0.5) = (0.75, 0.5).  On 4 <= t <= 8 the cost is
    # 0.35 t + 0.75 (6 - t/2) + 0.5 (t/2) = 4.5 + 0.225 t, rising, so t = 4, D = (4, 2):
    # 0.1*4 + (4*1 + 0.25*(4 - 4)) + (2*0.5) = 5.4.
    D, obj = split_samples(tau, eps, cap, 6, 0.1, 1.0, idle_w=np.array([0.25, 0.0]))
    np.testing.assert_allclose(D, [4.0, 2.0], atol=1e-12)
    assert obj == pytest.approx(5.4, rel=1e-12)


def test_split_samples_matches_lp_and_rejects_small_caps():
    rng = np.random.default_rng(5)
    for _ in range(20):
        k = int(rng.integers(1, 7))
        tau, eps = rng.uniform(0.1, 2.0, k), rng.uniform(0.1, 2.0, k)
        cap = rng.integers(1, 12, k).astype(float)
        B = int(rng.integers(1, max(2, int(cap.sum()) + 1)))
        idle = rng.uniform(0.0, 1.0, k)
        wt, we = rng.uniform(0, 1), rng.uniform(0, 1)
        D, obj = split_samples(tau, eps, cap, B, wt, we, idle)
        assert obj == pytest.approx(lp_stage(tau, eps, cap, B, wt, we, idle), rel=1e-9, abs=1e-12)
        assert D.sum() == pytest.approx(B, rel=1e-12)
        assert np.all(D >= 0) and np.all(D <= cap + 1e-9)
    with pytest.raises(ValueError):
        split_samples(np.ones(2), np.ones(2), np.array([2.0, 3.0]), 6, 1.0, 1.0)


def test_stage_objective_by_hand():
    # t = max(2*1, 3*0.5) = 2; energy = 2*1 + 3*2 + idle 0.5*(2 - 1.5) = 8.25
    v = stage_objective([2, 3], [1.0, 0.5], [1.0, 2.0], 0.5, 2.0, idle_w=[1.0, 0.5])
    assert v == pytest.approx(0.5 * 2 + 2.0 * 8.25)


def test_round_samples_largest_remainder_within_caps():
    # floors (2, 2, 1) leave 1; remainders tie at 0.5: the lower index gets it
    assert round_samples([2.5, 2.5, 1.0], [3, 3, 3], 6).tolist() == [3, 2, 1]
    # floors (2, 3, 0) leave 1: remainder 0.6 beats 0.4; device 0 is at its cap anyway
    assert round_samples([2.0, 3.4, 0.6], [2, 5, 5], 6).tolist() == [2, 3, 1]
    # a device can round to 0 (the caller drops it)
    assert round_samples([0.2, 0.2, 5.6], [5, 5, 6], 6).tolist() == [0, 0, 6]
    out = round_samples([1.5, 1.5, 1.5, 1.5], [1, 2, 2, 2], 6)
    assert out.sum() == 6 and np.all(out <= [1, 2, 2, 2])


def test_infeasible_memory_raises():
    tau, eps, cap, idle, wt, we = physical_instance(3, 4, 3, 12, False)
    cap = np.minimum(cap, 3.0)  # 3 devices x 3 samples < 12 in any stage
    with pytest.raises(ValueError, match="feasible"):
        solve(tau, eps, cap, 12, wt, we, 4)


@pytest.mark.parametrize("M", [12, 96])
def test_many_devices_fall_back_uncertified_but_feasible(M):
    N, B = 6, 32
    tau, eps, cap, idle, wt, we = physical_instance(40 + M, N, M, B, True)
    sol = solve(tau, eps, cap, B, wt, we, 3, idle_w=idle)
    assert sol.certified is False
    assert sol.method
    check_feasible(sol, tau, eps, cap, B, 3, wt, we, idle)
