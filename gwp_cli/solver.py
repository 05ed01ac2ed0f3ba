"""Exact solver for one iteration's placement (SPEC §3, §4, §8), numpy only.

The problem.  The N blocks are cut into at most ``max_stages`` consecutive
stages; stage l (blocks s..e) gets a non-empty set S_l of devices, the sets
disjoint; device i in S_l pushes D_i samples through the stage, the D_i of a
stage summing to the batch size B and each within the device's memory cap.
With t_l = max_{i in S_l} D_i tau_i the cost is

    sum_l [ w_time t_l + w_energy sum_{i in S_l} (eps_i D_i + idle_i (t_l - D_i tau_i)) ]

i.e. eq. (10) with w_energy = alpha / E_ref and w_time = (1 - alpha) / T_ref,
plus the idle draw of waiting devices in realistic mode.

One stage (``split_samples``).  For a fixed stage range and device set the
best real split is a small LP.  Writing a = w_time + w_energy sum_S idle_i and
c_i = w_energy (eps_i - idle_i tau_i), it is: minimise a t + sum c_i D_i
subject to D_i tau_i <= t, 0 <= D_i <= cap_i, sum D_i = B.  For a fixed t the
inner problem is a fractional knapsack, solved by filling devices in order of
increasing c_i up to u_i(t) = min(cap_i, t / tau_i); the result F(t) is convex
and piecewise linear in t, so its minimum lies at a breakpoint: t_min (all
devices full), a device's cap_i tau_i, or the t at which a c-ordered prefix of
the devices holds exactly B.  Evaluating F at every breakpoint is exact.

All stages (``solve``).  Stage costs add up, so a dynamic programme is exact:
H_l[n][U] = cheapest cover of blocks 0..n-1 by at most l stages whose devices
all lie in the set U (a bitmask), with

    H_l[n][U] = min( H_{l-1}[n][U],  min_{s<n, S subset of U} H_{l-1}[s][U \\ S] + V[s, n-1][S] )

where V[s, e][S] is the stage cost of range s..e on device set S.  V is found
for all 2^M sets of all ranges at once from subset-sum tables.  Only the LP
vertices at which *every* device of S carries samples are evaluated: either all
devices are full at S's t_min, or all but the last one in c order are full and
t is some device's cap_i tau_i.  This is enough: a vertex that leaves a device
of S idle is a feasible point of the smaller set without that device, which
costs no more (idle draw is non-negative), and the DP minimises over the
smaller set too.  Every value computed is the cost of a feasible split, so the
DP optimum equals the relaxed optimum: a certified lower bound on every
placement with whole samples.  The (U, S subset of U) pairs number 3^M, which
is what limits the exact solver to ``EXACT_MAX_DEVICES`` usable devices.

Beyond that, ``solve`` runs the same DP over ``FALLBACK_GROUPS`` device units
(single devices or pooled groups of similar speed), expands the units into
their members, improves the result by moving single devices between stages,
and splits each stage exactly.  That answer is feasible but not certified
(``certified=False``).

The relaxed split is rounded by largest remainder within the caps
(``round_samples``); ``Solution.cost`` is the objective of the rounded split.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

EXACT_MAX_DEVICES = 10
FALLBACK_GROUPS = 8
_MAX_CHUNK = 1 << 21  # elements per temporary array in the DP (keeps memory small)


@dataclass
class Solution:
    """A placement with its relaxed optimum.

    ``stages``, ``devices`` and ``samples`` describe the rounded placement to
    run (every listed device has at least one sample).  ``relaxed_samples[l][j]``
    is the relaxed share of ``devices[l][j]``; a device whose relaxed share
    rounded to 0 is dropped from ``devices`` and from this list.  ``bound`` is the
    relaxed objective: the optimum over all placements, hence a lower bound,
    when ``certified``; otherwise the relaxed objective of the heuristic
    placement.  ``cost`` is the objective of the rounded placement.
    """

    stages: list[tuple[int, int]]
    devices: list[list[int]]
    samples: list[list[int]]
    relaxed_samples: list[list[float]]
    bound: float
    cost: float
    certified: bool
    method: str


# ----------------------------------------------------------------------------
# one stage


def stage_objective(D, tau_i, eps_i, w_time, w_energy, idle_w=None) -> float:
    """Cost of one stage whose devices take ``D`` samples each.

    Every device passed is a member of the stage: one with D = 0 still draws
    idle power for the whole stage time t = max D_i tau_i.
    """
    D = np.asarray(D, dtype=float).ravel()
    tau = np.asarray(tau_i, dtype=float).ravel()
    eps = np.asarray(eps_i, dtype=float).ravel()
    idle = np.zeros_like(D) if idle_w is None else np.asarray(idle_w, dtype=float).ravel()
    if not (D.shape == tau.shape == eps.shape == idle.shape):
        raise ValueError("stage_objective: D, tau_i, eps_i and idle_w must have the same length")
    if D.size == 0:
        return 0.0
    on = D > 0
    busy = np.zeros_like(D)
    busy[on] = D[on] * tau[on]
    t = float(busy.max())
    energy = float(np.sum(eps[on] * D[on])) + float(np.sum(idle * (t - busy)))
    return float(w_time * t + w_energy * energy)


def _prefix_tmin(cap, rate, B):
    """t_min of every prefix of the devices in the given order.

    For a set Q, sum_{i in Q} min(cap_i, t rate_i) is concave in t and equals
    the minimum of its pieces; sorting Q's breakpoints cap_i / rate_i, piece j
    is (cap of the j smallest) + t (rate of the rest).  The total reaches B
    exactly when every piece does, so t_min = max_j (B - capsum_j) / ratesum_j.
    Returns an array of length n + 1 (prefix sizes 0..n), inf where the prefix
    cannot hold B.
    """
    n = cap.size
    thr_order = np.argsort(cap / rate, kind="stable")
    inpre = np.arange(n)[None, :] < np.arange(n + 1)[:, None]  # (prefix size, device)
    member = inpre[:, thr_order]
    capc = np.zeros((n + 1, n + 1))
    capc[:, 1:] = np.cumsum(member * cap[thr_order], axis=1)
    ratesum = np.zeros((n + 1, n + 1))
    ratesum[:, :n] = np.cumsum((member * rate[thr_order])[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ratesum > 0, (B - capc) / ratesum, -np.inf)
    tmin = np.maximum(terms.max(axis=1), 0.0)
    tmin[capc[:, n] < B] = np.inf
    return tmin


def split_samples(tau_i, eps_i, cap_i, batch_size, w_time, w_energy, idle_w=None):
    """Best real split of ``batch_size`` samples over one stage's devices.

    Arguments are 1-D arrays over the stage's devices.  Returns (D, objective):
    the LP optimum described in the module docstring (D may hold zeros: a device
    not worth using) and its ``stage_objective``, every passed device counted as
    a member.  Devices with cap 0 or an infinite tau get nothing.  Raises
    ValueError if the caps cannot hold the batch.
    """
    tau = np.asarray(tau_i, dtype=float).ravel()
    eps = np.asarray(eps_i, dtype=float).ravel()
    cap = np.asarray(cap_i, dtype=float).ravel()
    idle = np.zeros_like(tau) if idle_w is None else np.asarray(idle_w, dtype=float).ravel()
    if not (tau.shape == eps.shape == cap.shape == idle.shape):
        raise ValueError("split_samples: tau_i, eps_i, cap_i and idle_w must have the same length")
    B = float(batch_size)
    if not B > 0:
        raise ValueError(f"split_samples: batch_size must be positive, got {batch_size}")
    use = (cap > 0) & np.isfinite(tau) & (tau > 0) & np.isfinite(eps)
    capu = np.where(use, np.minimum(np.nan_to_num(cap, nan=0.0, posinf=B), B), 0.0)
    if capu.sum() < B:
        raise ValueError(
            f"split_samples: the devices can hold {capu.sum():g} samples in all, "
            f"fewer than batch_size {batch_size}"
        )
    idx = np.flatnonzero(use)
    c = w_energy * (eps[idx] - idle[idx] * tau[idx])
    order = np.lexsort((idx, c))  # cheapest first, ties by device index
    idx, c = idx[order], c[order]
    cu, rate = capu[idx], 1.0 / tau[idx]
    a = w_time + w_energy * float(idle.sum())

    tpre = _prefix_tmin(cu, rate, B)
    t_lo = tpre[-1]
    cand = np.concatenate([tpre[np.isfinite(tpre)], cu / rate])
    cand = np.unique(np.maximum(cand, t_lo))
    u = np.minimum(cu[None, :], cand[:, None] * rate[None, :])
    before = np.cumsum(u, axis=1) - u
    fill = np.clip(B - before, 0.0, u)
    value = a * cand + fill @ c
    best = int(np.argmin(value))
    D = np.zeros_like(tau)
    D[idx] = fill[best]
    j = int(np.argmax(D))  # absorb the float residual so that D sums to B
    D[j] = min(capu[j], max(0.0, D[j] + (B - D.sum())))
    return D, stage_objective(D, tau, eps, w_time, w_energy, idle)


def round_samples(relaxed, cap, batch_size) -> np.ndarray:
    """Whole-sample split by largest remainder, within the (floored) caps.

    Each device gets the floor of its relaxed share; the samples left over go one
    each to the devices with the largest fractional parts that have room (ties
    to the lower index).  A device may end at 0 samples: the caller drops it.
    """
    x = np.asarray(relaxed, dtype=float).ravel()
    capf = np.floor(np.nan_to_num(np.asarray(cap, dtype=float).ravel(), nan=0.0, posinf=batch_size))
    if x.shape != capf.shape:
        raise ValueError("round_samples: relaxed and cap must have the same length")
    B = int(batch_size)
    capf = np.clip(capf, 0, B).astype(np.int64)
    if capf.sum() < B:
        raise ValueError(f"round_samples: caps hold {capf.sum()} samples, fewer than batch_size {B}")
    x = np.clip(np.nan_to_num(x, nan=0.0), 0.0, capf)
    base = np.minimum(np.floor(x + 1e-9).astype(np.int64), capf)
    rem = x - base
    left = B - int(base.sum())
    while left > 0:
        room = np.flatnonzero(base < capf)
        take = room[np.lexsort((room, -rem[room]))][:left]
        base[take] += 1
        rem[take] = -1.0
        left -= take.size
    while left < 0:
        have = np.flatnonzero(base > 0)
        take = have[np.lexsort((-have, rem[have]))][:-left]
        base[take] -= 1
        rem[take] = 2.0
        left += take.size
    return base


def improve_integer_split(ints, tau_i, eps_i, cap_i, w_time, w_energy, idle_w=None, max_moves=256):
    """Move one sample at a time between devices while the stage objective falls.

    Rounding can lose a little against the relaxed optimum; this local search
    recovers most of it. Devices left with 0 samples are dropped by the caller.
    """
    ints = np.asarray(ints, dtype=np.int64).copy()
    idle = np.zeros(ints.size) if idle_w is None else np.asarray(idle_w, dtype=float)
    cap = np.floor(np.asarray(cap_i, dtype=float))

    def objective(x):
        on = x > 0
        return stage_objective(x[on], tau_i[on], eps_i[on], w_time, w_energy, idle[on])

    best = objective(ints)
    for _ in range(max_moves):
        move = None
        for a in np.flatnonzero(ints > 0):
            for b in np.flatnonzero(ints < cap):
                if a == b:
                    continue
                trial = ints.copy()
                trial[a] -= 1
                trial[b] += 1
                value = objective(trial)
                if value < best - 1e-12 * max(abs(best), 1e-300):
                    best, move = value, trial
        if move is None:
            break
        ints = move
    return ints


# ----------------------------------------------------------------------------
# all stages: tables over device subsets


@lru_cache(maxsize=None)
def _pairs(M: int):
    """All (U, S) with S a subset of U, sorted by U: (S, U ^ S, start of each U)."""
    U = np.zeros(1, dtype=np.int64)
    S = np.zeros(1, dtype=np.int64)
    for b in range(M):
        bit = 1 << b
        U = np.concatenate([U, U | bit, U | bit])
        S = np.concatenate([S, S, S | bit])
    order = np.argsort(U, kind="stable")
    U, S = U[order], S[order]
    starts = np.flatnonzero(np.r_[True, U[1:] != U[:-1]])
    return S, U ^ S, starts


def _subset_table(vals, op=np.add, empty=0.0):
    """T[..., S] = op-reduction of vals[..., i] over i in S, for every bitmask S."""
    R, M = vals.shape
    out = np.full((R, 1 << M), empty, dtype=vals.dtype)
    for b in range(M):
        h = 1 << b
        out[:, h:2 * h] = op(out[:, :h], vals[:, b:b + 1])
    return out


def _gather(table, idx):
    R = table.shape[0]
    return np.take_along_axis(table, idx.reshape(R, -1), axis=1).reshape(idx.shape)


def _stage_values(tau, eps, cap, use, idle, B, w_time, w_energy):
    """V[r, S]: relaxed cost of range r on device set S (inf if infeasible).

    tau, eps, cap, use: (R, M) per range; idle: (M,).  Evaluates, for each S,
    the LP vertices that load every device of S (see the module docstring).
    """
    R, M = tau.shape
    full = (1 << M) - 1
    masks = np.arange(1 << M, dtype=np.int64)
    tau = np.where(use, tau, 1.0)
    eps = np.where(use, eps, 0.0)
    cap = np.where(use, cap, 0.0)
    rate = 1.0 / tau
    c = w_energy * (eps - idle[None, :] * tau)
    thr = cap * tau

    capT = _subset_table(cap)
    rateT = _subset_table(rate)
    ccapT = _subset_table(c * cap)
    crateT = _subset_table(c * rate)
    a = w_time + w_energy * _subset_table(idle[None, :].astype(float))[0]
    bad = _subset_table(~use, np.logical_or, False)
    feas = (capT >= B) & ~bad & (masks[None, :] > 0)

    thr_order = np.argsort(thr, axis=1, kind="stable")
    sthr = np.take_along_axis(thr, thr_order, axis=1)
    low = np.zeros((R, M + 1), dtype=np.int64)
    low[:, 1:] = np.cumsum(np.left_shift(1, thr_order), axis=1)
    high = full ^ low

    # case (i): every device of S full at S's t_min
    capsum = _gather(capT, masks[None, :, None] & low[:, None, :])
    ratesum = _gather(rateT, masks[None, :, None] & high[:, None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ratesum > 0, (B - capsum) / ratesum, -np.inf)
    T = np.where(feas, np.maximum(terms.max(axis=2), 0.0), 0.0)
    jstar = (sthr[:, None, :] <= T[:, :, None]).sum(axis=2)
    lowT = np.take_along_axis(low, jstar, axis=1)
    C = _gather(ccapT, masks[None, :] & lowT) + T * _gather(crateT, masks[None, :] & ~lowT & full)
    best = a[None, :] * T + C

    # case (ii): all but S's last device (in c order) full, t = some cap_j tau_j
    rank = np.argsort(np.argsort(c, axis=1, kind="stable"), axis=1, kind="stable")
    last_rank = _subset_table(rank, np.maximum, -1)
    c_order = np.argsort(c, axis=1, kind="stable")
    k = np.take_along_axis(c_order, np.maximum(last_rank, 0), axis=1)  # (R, 2^M)
    P = masks[None, :] ^ np.left_shift(1, k)
    lo_j, hi_j = low[:, 1:], high[:, 1:]
    t_j = sthr[:, None, :]
    i_lo = P[:, :, None] & lo_j[:, None, :]
    i_hi = P[:, :, None] & hi_j[:, None, :]
    held = _gather(capT, i_lo) + t_j * _gather(rateT, i_hi)
    cP = _gather(ccapT, i_lo) + t_j * _gather(crateT, i_hi)
    Dk = B - held
    cap_k = np.take_along_axis(cap, k, axis=1)[:, :, None]
    rate_k = np.take_along_axis(rate, k, axis=1)[:, :, None]
    c_k = np.take_along_axis(c, k, axis=1)[:, :, None]
    u_k = np.minimum(cap_k, t_j * rate_k)
    ok = (Dk >= 0) & (Dk <= u_k)
    val2 = np.where(ok, a[None, :, None] * t_j + cP + c_k * Dk, np.inf).min(axis=2)
    best = np.minimum(best, val2)
    return np.where(feas, best, np.inf)


def _subset_min(V):
    """W[..., U] = min over S subset of U of V[..., S]."""
    W = V.copy()
    R, n = W.shape
    M = n.bit_length() - 1
    for b in range(M):
        h = 1 << b
        view = W.reshape(R, n // (2 * h), 2, h)
        np.minimum(view[:, :, 1, :], view[:, :, 0, :], out=view[:, :, 1, :])
    return W


def _dp(V, N, L, M, ridx):
    """Minimise over stage cuts and disjoint device sets; returns (value, [(s, e, S)]).

    V: (R, 2^M) stage values, ridx[s, e] its row for range s..e.  H[l][n][U]
    follows the recursion in the module docstring.
    """
    nU = 1 << M
    full = nU - 1
    sub, comp, starts = _pairs(M)
    H = np.full((L + 1, N + 1, nU), np.inf)
    H[:, 0, :] = 0.0
    vmin = _subset_min(V[ridx[0, :N]])
    H[1:, 1:, :] = vmin[None, :, :]
    live = np.isfinite(V).any(axis=1)

    # Layers 2..L-1 in full; the last layer is only needed at (N, full).  The
    # outer loop runs over the stage start s, so that V[s, e][S] is gathered
    # once for every layer; H[l][s] is final when s is reached.
    if L > 2:
        per = max(1, _MAX_CHUNK // sub.size)
        for s in range(1, N):
            for l in range(2, L):
                np.minimum(H[l][s], H[l - 1][s], out=H[l][s])
            e_all = np.arange(s, N)
            e_all = e_all[live[ridx[s, e_all]]]
            src = [l for l in range(2, L) if np.isfinite(H[l - 1][s]).any()]
            if e_all.size == 0 or not src:
                continue
            for c0 in range(0, e_all.size, per):
                e_arr = e_all[c0:c0 + per]
                Vs = V[ridx[s, e_arr]][:, sub]
                for l in src:
                    tot = Vs + H[l - 1][s][comp]
                    X = np.minimum.reduceat(tot, starts, axis=1)
                    np.minimum(H[l][e_arr + 1], X, out=X)
                    H[l][e_arr + 1] = X
        for l in range(2, L):
            np.minimum(H[l][N], H[l - 1][N], out=H[l][N])

    def transition(l, n, U):
        """Candidates (s, S) for entering H[l][n][U] from layer l-1."""
        g0 = starts[U]
        g1 = starts[U + 1] if U + 1 < nU else sub.size
        subs, comps = sub[g0:g1], comp[g0:g1]
        s_arr = np.arange(0, n) if l == 1 else np.arange(1, n)
        if s_arr.size == 0:
            return np.inf, None
        vals = H[l - 1][s_arr][:, comps] + V[ridx[s_arr, n - 1]][:, subs]
        j = int(np.argmin(vals))
        si, Si = divmod(j, subs.size)
        return float(vals.flat[j]), (int(s_arr[si]), int(subs[Si]))

    best = transition(L, N, full)[0]
    if L >= 2:
        best = min(best, float(H[L - 1][N][full]))
    if not np.isfinite(best):
        return np.inf, []

    stages = []
    l, n, U = L, N, full
    while n > 0:
        m, arg = transition(l, n, U)
        if l >= 2 and H[l - 1][n][U] <= m:
            l -= 1
            continue
        s, S = arg
        stages.append((s, n - 1, S))
        n, U, l = s, U ^ S, l - 1
    stages.reverse()
    return best, stages


# ----------------------------------------------------------------------------
# solve


def _grouping(tau_r, use_r, k):
    """Split devices into k groups of neighbours in speed (mean log tau)."""
    with np.errstate(divide="ignore"):
        logt = np.where(use_r, np.log(np.where(use_r, tau_r, 1.0)), 0.0)
    cnt = use_r.sum(axis=0)
    key = np.where(cnt > 0, logt.sum(axis=0) / np.maximum(cnt, 1), np.inf)
    order = np.argsort(key, kind="stable")
    return [g for g in np.array_split(order, k) if g.size]


def _aggregate(groups, tau_r, eps_r, cap_r, use_r, idle):
    """Pool each group into one device: speeds add, eps speed-weighted, caps add."""
    R = tau_r.shape[0]
    G = len(groups)
    tau_g = np.ones((R, G))
    eps_g = np.zeros((R, G))
    cap_g = np.zeros((R, G))
    idle_g = np.zeros(G)
    for g, mem in enumerate(groups):
        u = use_r[:, mem]
        rate = np.where(u, 1.0 / np.where(u, tau_r[:, mem], 1.0), 0.0)
        rsum = rate.sum(axis=1)
        ok = rsum > 0
        tau_g[ok, g] = 1.0 / rsum[ok]
        eps_g[ok, g] = (rate * np.where(u, eps_r[:, mem], 0.0)).sum(axis=1)[ok] / rsum[ok]
        cap_g[:, g] = np.where(u, cap_r[:, mem], 0.0).sum(axis=1)
        idle_g[g] = idle[mem].sum()
    use_g = cap_g >= 1
    return tau_g, eps_g, cap_g, use_g, idle_g


def _plan_value(plan, tau_r, eps_r, cap_r, idle, B, w_time, w_energy, ridx):
    """Relaxed objective of a plan [(s, e, members)], inf if a stage cannot hold B."""
    total = 0.0
    for s, e, mem in plan:
        total += _set_value(ridx[s, e], mem, tau_r, eps_r, cap_r, idle, B, w_time, w_energy)
    return total


def _set_value(r, mem, tau_r, eps_r, cap_r, idle, B, w_time, w_energy):
    mem = np.fromiter(mem, dtype=np.int64)
    if mem.size == 0 or cap_r[r, mem].sum() < B:
        return np.inf
    return split_samples(tau_r[r, mem], eps_r[r, mem], cap_r[r, mem], B, w_time, w_energy, idle[mem])[1]


def _local_search(plan, tau_r, eps_r, cap_r, use_r, idle, devs, B, w_time, w_energy, ridx, passes=6):
    """Improve a plan one device at a time: add it to a stage, drop it, or move it.

    Stage ranges stay fixed; each move is scored by the exact stage split.  A
    pass visits every usable device and makes its best improving move; passes
    repeat until none improves (at most ``passes``).
    """
    ranges = [ridx[s, e] for s, e, _ in plan]
    members = [set(m) for _, _, m in plan]
    where = {d: l for l, m in enumerate(members) for d in m}

    def value(l, mem):
        return _set_value(ranges[l], mem, tau_r, eps_r, cap_r, idle, B, w_time, w_energy)

    cur = [value(l, m) for l, m in enumerate(members)]
    for _ in range(passes):
        improved = False
        for d in devs:
            d = int(d)
            l0 = where.get(d)
            v_out = value(l0, members[l0] - {d}) if l0 is not None else 0.0
            best_gain, best_move = 1e-12 * (1.0 + abs(sum(cur))), None
            if l0 is not None and cur[l0] - v_out > best_gain:
                best_gain, best_move = cur[l0] - v_out, (None, np.inf)
            for l in range(len(members)):
                if l == l0 or not use_r[ranges[l], d]:
                    continue
                v_in = value(l, members[l] | {d})
                gain = cur[l] - v_in + ((cur[l0] - v_out) if l0 is not None else 0.0)
                if gain > best_gain:
                    best_gain, best_move = gain, (l, v_in)
            if best_move is None:
                continue
            improved = True
            if l0 is not None:
                members[l0].discard(d)
                cur[l0] = v_out
                del where[d]
            l, v_in = best_move
            if l is not None:
                members[l].add(d)
                cur[l] = v_in
                where[d] = l
        if not improved:
            break
    return [(s, e, sorted(m)) for (s, e, _), m in zip(plan, members)]


def _heuristic(tau_r, eps_r, cap_r, use_r, idle, devs, B, w_time, w_energy, L, N, ridx):
    """Placement for more devices than the exact DP takes (not certified).

    Two starts, each an exact DP over at most ``FALLBACK_GROUPS`` units whose
    members always share a stage: (a) the few devices of lowest per-sample cost
    as units of their own plus the rest pooled in groups of similar speed, (b)
    all devices pooled in groups of similar speed.  Each start is refined by
    ``_local_search``; the cheaper is returned.
    """
    with np.errstate(invalid="ignore"):
        per_sample = np.where(use_r, w_time * tau_r + w_energy * eps_r, np.inf)
        ratio = per_sample / np.min(per_sample, axis=1, keepdims=True)
    diag = ridx[np.arange(N), np.arange(N)]
    merit = np.where(np.isfinite(ratio[diag]), np.log(ratio[diag]), 50.0).sum(axis=0)
    ranked = devs[np.argsort(merit[devs], kind="stable")]
    singles = max(1, FALLBACK_GROUPS - 3)
    rest = ranked[singles:]
    starts = [
        ("best devices alone, the rest in groups",
         [ranked[j:j + 1] for j in range(singles)]
         + [rest[g] for g in _grouping(tau_r[:, rest], use_r[:, rest], FALLBACK_GROUPS - singles)]),
        ("groups of similar speed",
         [devs[g] for g in _grouping(tau_r[:, devs], use_r[:, devs], FALLBACK_GROUPS)]),
    ]
    best, best_val, best_name = None, np.inf, ""
    for name, units in starts:
        agg = _aggregate(units, tau_r, eps_r, cap_r, use_r, idle)
        V = _stage_values(*agg, B, w_time, w_energy)
        _, chosen = _dp(V, N, min(L, len(units)), len(units), ridx)
        if not chosen:
            continue
        plan = []
        for s, e, S in chosen:
            mem = np.concatenate([units[g] for g in range(len(units)) if S >> g & 1])
            plan.append((s, e, sorted(int(i) for i in mem if use_r[ridx[s, e], i])))
        plan = _local_search(plan, tau_r, eps_r, cap_r, use_r, idle, devs, B, w_time, w_energy, ridx)
        val = _plan_value(plan, tau_r, eps_r, cap_r, idle, B, w_time, w_energy, ridx)
        if val < best_val:
            best, best_val, best_name = plan, val, name
    if best is None:
        raise ValueError(
            f"solve: no feasible placement found: the heuristic for {devs.size} devices could not "
            f"hold batch_size {B} within the memory caps (it is not exhaustive above {EXACT_MAX_DEVICES} devices)")
    method = (f"heuristic ({devs.size} devices > {EXACT_MAX_DEVICES}): exact DP over {FALLBACK_GROUPS} "
              f"device units ({best_name}), then single-device local search; exact split per stage")
    return best, method


def solve(tau, eps, cap, batch_size, w_time, w_energy, max_stages, idle_w=None, allowed=None) -> Solution:
    """Cheapest placement of one iteration (see the module docstring).

    tau, eps, cap: (N, N, M), entry [s, e, i] for device i running blocks s..e
    (only s <= e is read).  Caps are sample counts (fractions are floored); a
    cap of 0, an infinite tau or eps, or ``allowed[i]`` False makes a device
    unusable for that range.  Exact (``certified=True``) when at most
    ``EXACT_MAX_DEVICES`` devices are usable; otherwise the grouped heuristic.
    Raises ValueError when no feasible placement is found.
    """
    tau = np.asarray(tau, dtype=float)
    eps = np.asarray(eps, dtype=float)
    cap = np.asarray(cap, dtype=float)
    if tau.ndim != 3 or tau.shape[0] != tau.shape[1] or tau.shape != eps.shape or tau.shape != cap.shape:
        raise ValueError(f"solve: tau, eps, cap must share one shape (N, N, M); got {tau.shape}, {eps.shape}, {cap.shape}")
    N, _, M = tau.shape
    if N < 1 or M < 1:
        raise ValueError("solve: need at least one block and one device")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"solve: batch_size must be a positive integer, got {batch_size}")
    B = int(batch_size)
    if not (w_time >= 0 and w_energy >= 0):
        raise ValueError(f"solve: weights must be non-negative, got w_time={w_time}, w_energy={w_energy}")
    if int(max_stages) != max_stages or max_stages < 1:
        raise ValueError(f"solve: max_stages must be an integer >= 1, got {max_stages}")
    idle = np.zeros(M) if idle_w is None else np.asarray(idle_w, dtype=float).ravel()
    if idle.shape != (M,) or not np.all(np.isfinite(idle)) or np.any(idle < 0):
        raise ValueError(f"solve: idle_w must be {M} finite non-negative watts")
    allow = np.ones(M, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).ravel()
    if allow.shape != (M,):
        raise ValueError(f"solve: allowed must be a boolean mask of length {M}")

    s_idx, e_idx = np.triu_indices(N)
    ridx = np.full((N, N), -1, dtype=np.int64)
    ridx[s_idx, e_idx] = np.arange(s_idx.size)
    tau_r, eps_r = tau[s_idx, e_idx], eps[s_idx, e_idx]
    cap_r = np.clip(np.floor(np.nan_to_num(cap[s_idx, e_idx], nan=0.0, posinf=B)), 0, B)
    use_r = (cap_r >= 1) & allow[None, :]
    if np.any(use_r & (np.isnan(tau_r) | (tau_r <= 0) | np.isnan(eps_r))):
        raise ValueError("solve: tau must be positive and tau, eps not NaN wherever a device can serve a range")
    use_r &= np.isfinite(tau_r) & np.isfinite(eps_r)
    devs = np.flatnonzero(use_r.any(axis=0))
    if devs.size == 0:
        raise ValueError(f"solve: no feasible placement: no allowed device can hold a sample of any block range (batch_size {B})")
    L = int(min(max_stages, N, devs.size))

    if devs.size <= EXACT_MAX_DEVICES:
        sub = (tau_r[:, devs], eps_r[:, devs], cap_r[:, devs], use_r[:, devs], idle[devs])
        V = _stage_values(*sub, B, w_time, w_energy)
        value, chosen = _dp(V, N, L, devs.size, ridx)
        if not chosen:
            raise ValueError(
                f"solve: no feasible placement: the memory caps of the allowed devices cannot hold "
                f"batch_size {B} in any split of the {N} blocks into at most {max_stages} stages")
        plan = [(s, e, [int(devs[b]) for b in range(devs.size) if S >> b & 1]) for s, e, S in chosen]
        certified = True
        method = f"exact subset DP over {devs.size} usable device{'s' if devs.size != 1 else ''}"
    else:
        plan, method = _heuristic(tau_r, eps_r, cap_r, use_r, idle, devs, B, w_time, w_energy, L, N, ridx)
        certified = False

    stages, devices, samples, relaxed, bound, cost = [], [], [], [], 0.0, 0.0
    for s, e, members in plan:
        r = ridx[s, e]
        mem = np.array(members, dtype=np.int64)
        while True:  # drop devices the LP leaves empty (never costlier), re-split
            D, obj = split_samples(tau_r[r, mem], eps_r[r, mem], cap_r[r, mem], B, w_time, w_energy, idle[mem])
            keep = D > 1e-12 * B
            if keep.all():
                break
            mem = mem[keep]
        ints = improve_integer_split(round_samples(D, cap_r[r, mem], B), tau_r[r, mem], eps_r[r, mem],
                                     cap_r[r, mem], w_time, w_energy, idle[mem])
        on = ints > 0
        bound += obj
        cost += stage_objective(ints[on], tau_r[r, mem[on]], eps_r[r, mem[on]], w_time, w_energy, idle[mem[on]])
        stages.append((int(s), int(e)))
        devices.append([int(i) for i in mem[on]])
        samples.append([int(x) for x in ints[on]])
        relaxed.append([float(x) for x in D[on]])
    if certified:
        bound = min(bound, float(value))
    return Solution(stages, devices, samples, relaxed, float(bound), float(cost), certified, method)
