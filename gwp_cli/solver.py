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
t is the cap_i tau_i of a member of S (F's other breakpoints).  This is enough:
a vertex that leaves a device of S idle is a feasible point of the smaller set
without that device, which costs no more (idle draw is non-negative), and the
DP minimises over the smaller set too (so V[S] itself may exceed the LP optimum
of S where a subset of S attains it; only min over subsets of V matters).  Every value computed is the cost of a feasible split, so the
DP optimum equals the relaxed optimum: a certified lower bound on every
placement with whole samples.  The (U, S subset of U) pairs number 3^M, which
is what limits the exact solver to ``EXACT_MAX_DEVICES`` usable devices.

Two exact shortcuts come first.  Letting a device serve several stages relaxes
the problem: each range then takes its own best set, and the cheapest cover of
the blocks by such stages is a lower bound; when the sets it uses happen to be
disjoint it is a placement, hence the optimum, and the DP is skipped (with no
idle draw a range's best set is the support of one LP over all its devices, so
not even the subset tables are needed).  Otherwise the bound prunes the DP: a
stage whose cost plus the relaxed cost of the blocks before and after it
exceeds a known placement's cost (the best single stage) is left out.

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


def _stage_vectors(caller: str, idle_w=None, **arrays):
    """The named 1-D float arrays of one stage, then idle_w (zeros when None); all of one length."""
    out = [np.asarray(a, dtype=float).ravel() for a in arrays.values()]
    out.append(np.zeros_like(out[0]) if idle_w is None else np.asarray(idle_w, dtype=float).ravel())
    if len({a.shape for a in out}) != 1:
        raise ValueError(f"{caller}: {', '.join(arrays)} and idle_w must have the same length")
    return out


def stage_objective(D, tau_i, eps_i, w_time, w_energy, idle_w=None) -> float:
    """Cost of one stage whose devices take ``D`` samples each.

    Every device passed is a member of the stage: one with D = 0 still draws
    idle power for the whole stage time t = max D_i tau_i.
    """
    D, tau, eps, idle = _stage_vectors("stage_objective", D=D, tau_i=tau_i, eps_i=eps_i, idle_w=idle_w)
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
    tau, eps, cap, idle = _stage_vectors("split_samples", tau_i=tau_i, eps_i=eps_i, cap_i=cap_i, idle_w=idle_w)
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


def _objective(ints, tau_i, eps_i, w_time, w_energy) -> float:
    on = ints > 0
    return stage_objective(ints[on], tau_i[on], eps_i[on], w_time, w_energy)


def improve_integer_split(ints, tau_i, eps_i, cap_i, w_time, w_energy, idle_w=None, max_moves=256):
    """Move one sample at a time between devices while the stage objective falls.

    Rounding can lose a little against the relaxed optimum; this local search
    recovers most of it. Devices left with 0 samples are dropped by the caller.
    Each step scores every move (a -> b) at once and makes the best (the first
    in (a, b) order among equals) if it lowers the objective: with busy time
    x_i tau_i, the stage time after a move is the largest of the two changed
    devices' times and the largest time among the others (one of the three
    largest), and the energy is linear in the samples plus the idle draw of the
    devices that hold samples over the stage time.
    """
    ints = np.asarray(ints, dtype=np.int64).copy()
    tau = np.asarray(tau_i, dtype=float).ravel()
    eps = np.asarray(eps_i, dtype=float).ravel()
    idle = np.zeros(ints.size) if idle_w is None else np.asarray(idle_w, dtype=float).ravel()
    cap = np.floor(np.asarray(cap_i, dtype=float)).ravel()
    c = eps - idle * tau  # energy per sample, idle draw of its busy time taken out

    def objective(x):
        on = x > 0
        return stage_objective(x[on], tau[on], eps[on], w_time, w_energy, idle[on])

    best = objective(ints)
    pad = np.zeros(3)
    for _ in range(max_moves):
        src = np.flatnonzero(ints > 0)
        dst = np.flatnonzero(ints < cap)
        if src.size == 0 or dst.size == 0:
            break
        busy = ints * tau
        top = np.argsort(-busy, kind="stable")[:3]
        tv = np.concatenate([busy[top], pad])[:3]
        ti = np.concatenate([top, np.full(3, -1)])[:3]
        A, Bd = src[:, None], dst[None, :]
        hit0 = (ti[0] == A) | (ti[0] == Bd)
        hit1 = (ti[1] == A) | (ti[1] == Bd)
        rest = np.where(~hit0, tv[0], np.where(~hit1, tv[1], tv[2]))
        t = np.maximum(rest, np.maximum((busy[src] - tau[src])[:, None], (busy[dst] + tau[dst])[None, :]))
        on_idle = float(idle[ints > 0].sum())
        idle_after = on_idle - np.where(ints[src] == 1, idle[src], 0.0)[:, None] \
            + np.where(ints[dst] == 0, idle[dst], 0.0)[None, :]
        lin = float(c @ ints) - c[src][:, None] + c[dst][None, :]
        value = w_time * t + w_energy * (lin + t * idle_after)
        value[A == Bd] = np.inf
        k = int(np.argmin(value))
        if not value.flat[k] < best - 1e-12 * max(abs(best), 1e-300):
            break
        trial = ints.copy()
        trial[src[k // dst.size]] -= 1
        trial[dst[k % dst.size]] += 1
        exact = objective(trial)
        if not exact < best - 1e-12 * max(abs(best), 1e-300):
            break
        ints, best = trial, exact
    return ints


# ----------------------------------------------------------------------------
# one stage per row, batched (the env decoder and the solver's whole-sample step)


def lp_split(tau, eps, cap, member, batch, w_time, w_energy) -> np.ndarray:
    """Relaxed optimal split of ``batch`` over each row's member devices (rows: stages; arrays (S, M)).

    Row by row this is ``split_samples`` without idle power, batched over stages: minimise w_time t + sum c_i D_i,
    c_i = w_energy eps_i, subject to D_i <= min(cap_i, t / tau_i), sum D_i = batch. For a fixed t
    the best D fills devices cheapest-c first; the resulting F(t) is convex and piecewise linear
    with breakpoints at the devices' cap_i tau_i and at the smallest t at which each c-ordered
    prefix Q of the devices can hold the batch. That t is the least t with
    sum_{i in Q} min(cap_i, t / tau_i) >= batch, i.e. the largest (batch - cap(A)) / rate(Q minus A)
    over the sets A = {i in Q: cap_i tau_i <= theta} (the sets that attain the minimum inside the
    sum). Evaluating F at all those points is exact. Every row must have member caps summing to
    at least ``batch``; non-members get 0.
    """
    S, M = tau.shape
    B = float(batch)
    rows = np.arange(S)[:, None]
    mf = member.astype(float)
    order = np.argsort(np.where(member, eps, np.inf), axis=1, kind="stable")  # cheapest first, members first
    order = order[:, :max(1, int(member.sum(axis=1).max()))]  # columns past the largest stage: non-members
    mf = mf[rows, order]
    cap_s = cap[rows, order] * mf
    rate_s = mf / tau[rows, order]
    c_s = w_energy * eps[rows, order] * mf
    thr = cap_s * tau[rows, order]  # cap_i tau_i; 0 for non-members (cap 0, rate 0)
    low = (thr[:, :, None] <= thr[:, None, :]).astype(float)  # (S, i, A_j): i in A_j
    capc = np.cumsum(cap_s[:, :, None] * low, axis=1)  # (S, prefix q, A_j)
    rates = np.cumsum(rate_s[:, :, None] * (1.0 - low), axis=1)
    terms = np.full(capc.shape, -np.inf)
    np.divide(B - capc, rates, out=terms, where=rates > 0)
    terms = np.maximum(terms.max(axis=2), B / np.cumsum(rate_s, axis=1).clip(min=1e-300))  # A = {} too
    tmin = np.where(np.cumsum(cap_s, axis=1) >= B, terms, np.inf)  # (S, q)
    t_lo = tmin[:, -1:]
    cand = np.concatenate([tmin, thr], axis=1)
    cand = np.where(np.isfinite(cand), np.maximum(cand, t_lo), t_lo)  # (S, K)
    use = np.minimum(cap_s[:, None, :], cand[:, :, None] * rate_s[:, None, :])
    before = np.cumsum(use, axis=2) - use
    fill = np.minimum(np.maximum(B - before, 0.0), use)
    value = w_time * cand + (fill * c_s[:, None, :]).sum(axis=2)
    best = np.argmin(value, axis=1)
    x = np.zeros((S, M))
    x[rows, order] = fill[np.arange(S), best]
    return x


def round_split(x, cap, member, batch) -> np.ndarray:
    """Whole samples by largest remainder within the caps (rows as in ``lp_split``)."""
    capf = np.where(member, np.floor(cap), 0.0)
    x = np.clip(np.where(member, x, 0.0), 0.0, capf)
    base = np.floor(x)
    rem = np.where(member & (base < capf), x - base, -1.0)
    left = batch - base.sum(axis=1)
    order = np.argsort(-rem, axis=1, kind="stable")
    rank = np.argsort(order, axis=1, kind="stable")
    base += (rank < left[:, None]) & (rem >= 0)
    bad = np.flatnonzero((base.sum(axis=1) != batch) | (base > capf).any(axis=1))
    for r in bad:  # numerically odd rows: the solver's rounding
        base[r] = 0.0
        base[r, member[r]] = round_samples(x[r, member[r]], capf[r, member[r]], batch)
    return base


def integer_split(tau, eps, cap, member, batch, w_time, w_energy, relaxed, window=(-2, 3)) -> np.ndarray:
    """Whole samples near the relaxed split ``relaxed`` (rows as in ``lp_split``).

    For a stage time t the cheapest whole-sample split gives each device at most
    k_i(t) = min(cap_i, floor(t / tau_i)) samples and fills them cheapest-eps first; the
    integer optimum is that fill at some t = n tau_i. The candidates are n in
    floor(x_i) + window for every member i (x the relaxed split), each scored exactly (the
    real busy time max D_i tau_i plus the energy); the best wins. The window holds the
    stage time of the largest-remainder rounding of x, so the result never costs more than
    that rounding, and in tests it is within a fraction of a percent of the exact integer
    optimum (brute force), where plain rounding loses 4 % on average.
    """
    S, M = tau.shape
    B = float(batch)
    rows = np.arange(S)[:, None]
    capf = np.where(member, np.minimum(np.floor(cap), B), 0.0)
    order = np.argsort(np.where(member, eps, np.inf), axis=1, kind="stable")
    order = order[:, :max(1, int(member.sum(axis=1).max()))]  # members first: the rest hold nothing
    tau_s, cap_s = tau[rows, order], capf[rows, order]
    c_s = np.where(member, w_energy * eps, 0.0)[rows, order]
    n = np.floor(relaxed[rows, order])[:, :, None] + np.arange(window[0], window[1] + 1)[None, None, :]
    cand = np.where((n >= 1) & (n <= cap_s[:, :, None]), n * tau_s[:, :, None], np.inf).reshape(S, -1)
    k = np.minimum(cap_s[:, None, :], np.floor(cand[:, :, None] / tau_s[:, None, :] * (1.0 + 1e-9)))
    before = np.cumsum(k, axis=2) - k
    fill = np.minimum(np.maximum(B - before, 0.0), k)
    ok = np.isfinite(cand) & (fill.sum(axis=2) >= B)
    busy = (fill * tau_s[:, None, :]).max(axis=2)
    value = np.where(ok, w_time * busy + (fill * c_s[:, None, :]).sum(axis=2), np.inf)
    best = np.argmin(value, axis=1)
    out = np.zeros((S, M))
    out[rows, order] = fill[np.arange(S), best]
    lost = ~ok.any(axis=1)
    if lost.any():  # cannot happen (the rounding's stage time is a candidate); kept as a guard
        out[lost] = round_split(relaxed[lost], cap[lost], member[lost], batch)
    return out


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


def _subset_sums(vals, op=np.add, empty=0.0):
    """T[S, ...] = op-reduction of vals[i, ...] over the bits i of S, for every bitmask S.

    The bit axis comes first (vals: (M, ...), result: (2^M, ...)), so that each doubling
    step writes one contiguous block.
    """
    M = vals.shape[0]
    out = np.empty((1 << M,) + vals.shape[1:], dtype=vals.dtype)
    out[0] = empty
    for b in range(M):
        h = 1 << b
        op(out[:h], vals[b], out=out[h:2 * h])
    return out


def _stage_values(tau, eps, cap, use, idle, B, w_time, w_energy):
    """V[r, S]: relaxed cost of range r on device set S (inf if infeasible).

    tau, eps, cap, use: (R, M) per range; idle: (M,).  Evaluates, for each S,
    the LP vertices that load every device of S (see the module docstring).

    Each range numbers its devices twice over: in order of increasing c (bit q
    of a set is the q-th cheapest device) and in order of increasing threshold
    cap_i tau_i.  In threshold order the sums over "S's members below the j-th
    threshold" and "above it" are the low and the high bits of S, so t_min is
    a broadcast over (high bits, low bits) with no gathers.  In c order the
    sets whose last device is q are the block [2^q, 2^(q+1)) and their other
    members the block [0, 2^q), so case (ii) is a broadcast over blocks.  Set
    axes come first (contiguous blocks); one gather per numbering maps the
    sets back to the caller's device numbering at the end.
    """
    R, M = tau.shape
    n = 1 << M
    cols = np.arange(R)[None, :]
    # per-device quantities with the device axis first: (M, R)
    use_ = use.T
    tau_ = np.where(use_, tau.T, 1.0)
    cap_ = np.where(use_, cap.T, 0.0)
    rate_ = 1.0 / tau_
    c_ = w_energy * (np.where(use_, eps.T, 0.0) - idle[:, None] * tau_)
    thr_ = cap_ * tau_
    idle_ = np.broadcast_to(np.asarray(idle, dtype=float)[:, None], (M, R))

    corder = np.argsort(c_, axis=0, kind="stable")  # c position -> device (ties by index)
    cap_c, rate_c, c_c, idle_c, use_c = (np.take_along_axis(x, corder, axis=0)
                                        for x in (cap_, rate_, c_, idle_, use_))
    torder = np.argsort(thr_, axis=0, kind="stable")  # threshold rank -> device
    cap_t, rate_t, c_t, thr_t = (np.take_along_axis(x, torder, axis=0) for x in (cap_, rate_, c_, thr_))
    crank = np.empty_like(corder)
    np.put_along_axis(crank, corder, np.arange(M)[:, None], axis=0)
    trank = np.empty_like(torder)
    np.put_along_axis(trank, torder, np.arange(M)[:, None], axis=0)
    trank_c = np.take_along_axis(trank, corder, axis=0)  # threshold rank of c position q

    # in c numbering: (2^M, R)
    capT = _subset_sums(cap_c)
    a = w_time + w_energy * _subset_sums(np.ascontiguousarray(idle_c))
    bad = _subset_sums(~use_c, np.logical_or, False)
    feas = (capT >= B) & ~bad
    feas[0] = False

    # case (i), in threshold numbering: every device of S full at S's t_min =
    # max_j (B - cap of S's members among the j smallest thresholds) / (rate of
    # its other members); the piece j = M (no rate left) is 0 at most, as is t_min.
    capT_t = _subset_sums(cap_t)
    rateT_t = _subset_sums(rate_t)
    T = np.zeros((n, R))
    for j in range(M):
        lo = 1 << j
        rs = rateT_t[::lo]  # the high bits of S
        with np.errstate(divide="ignore"):
            inv = np.where(rs > 0, 1.0 / rs, 0.0)
        view = T.reshape(n // lo, lo, R)
        np.maximum(view, (B - capT_t[:lo])[None, :, :] * inv[:, None, :], out=view)
    # C = sum over S of c_i D_i with D_i = cap_i if i's threshold <= t_min, else t_min rate_i
    C = np.zeros((n, R))
    for j in range(M):
        lo = 1 << j
        Tv = T.reshape(n // (2 * lo), 2, lo, R)[:, 1]  # the sets holding bit j
        Cv = C.reshape(n // (2 * lo), 2, lo, R)[:, 1]
        Cv += np.where(Tv >= thr_t[j], c_t[j] * cap_t[j], Tv * (c_t[j] * rate_t[j]))
    to_t = _subset_sums(np.left_shift(1, trank_c).astype(np.int64))  # c mask -> threshold mask
    best = a * T[to_t, cols] + C[to_t, cols]

    # case (ii), in c numbering: all but S's last device in c order (its top bit q)
    # full at t = the threshold of a member p of S; q carries the rest.  P = S
    # without q runs over the block [0, 2^q); held[P, p] = sum over P of cap_i, or
    # t rate_i for the devices whose threshold lies above p's (ties by rank).
    if M > 1:
        thr_c = np.take_along_axis(thr_t, trank_c, axis=0)  # threshold of c position p
        low = trank_c[:, None, :] <= trank_c[None, :, :]  # [i, p]: i full at p's threshold
        h = np.where(low, cap_c[:, None, :], thr_c[None, :, :] * rate_c[:, None, :])[:M - 1]
        held = _subset_sums(h)  # (2^(M-1), p, R): P never holds the top bit
        cP = _subset_sums(c_c[:M - 1, None, :] * h)
    for q in range(1, M):
        lo = 1 << q
        for p in range(q + 1):
            t = thr_c[p]
            if p < q:  # P must hold p: the upper half of each run of 2^(p+1) sets
                shape = (lo >> (p + 1), 2, 1 << p, R)
                hv, cv, av, bv = (x.reshape(shape)[:, 1] for x in (held[:lo, p], cP[:lo, p], a[lo:2 * lo],
                                                                     best[lo:2 * lo]))
            else:
                hv, cv, av, bv = held[:lo, p], cP[:lo, p], a[lo:2 * lo], best[lo:2 * lo]
            Dq = B - hv
            ok = (Dq >= 0) & (Dq <= np.minimum(cap_c[q], t * rate_c[q]))
            np.minimum(bv, np.where(ok, av * t + cv + c_c[q] * Dq, np.inf), out=bv)
    Vc = np.where(feas, best, np.inf)
    to_c = _subset_sums(np.left_shift(1, crank).astype(np.int64))  # caller's mask -> c mask
    return Vc[to_c, cols].T


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


def _cheapest_cover(vals, N, L, ridx):
    """Cheapest cover of blocks 0..N-1 by at most L consecutive ranges of cost vals[r]:
    (value, [(s, e)]), or None if none is finite."""
    best = np.full((L + 1, N + 1), np.inf)
    best[:, 0] = 0.0
    arg = np.full((L + 1, N + 1), -1, dtype=np.int64)
    for l in range(1, L + 1):
        for n in range(1, N + 1):
            cand = best[l - 1, :n] + vals[ridx[np.arange(n), n - 1]]
            s = int(np.argmin(cand))
            if cand[s] < best[l - 1, n]:
                best[l, n], arg[l, n] = cand[s], s
            else:
                best[l, n] = best[l - 1, n]
    if not np.isfinite(best[L, N]):
        return None
    ranges, l, n = [], L, N
    while n > 0:
        s = int(arg[l, n])
        if s < 0:
            l -= 1
            continue
        ranges.append((s, n - 1))
        n, l = s, l - 1
    ranges.reverse()
    return float(best[L, N]), ranges


def _disjoint_cover(vals, sets, N, L, ridx):
    """The relaxation that lets a device serve several stages: each range takes its own best
    set (sets[r], a bitmask, of cost vals[r]).  Its cheapest cover is a lower bound on every
    placement; when the sets it uses are pairwise disjoint it is a placement, hence optimal:
    (value, [(s, e, S)]).  Otherwise None."""
    found = _cheapest_cover(vals, N, L, ridx)
    if found is None:
        return None
    value, ranges = found
    used, stages = 0, []
    for s, e in ranges:
        S = int(sets[ridx[s, e]])
        if S == 0 or S & used:
            return None
        used |= S
        stages.append((s, e, S))
    return value, stages


def _relaxed_path(tau, eps, cap, use, idle, B, w_time, w_energy, N, L, ridx):
    """``_disjoint_cover`` without the subset tables, when no device draws idle power.

    Then a range's best set is the support of the LP over all its usable devices (zeros
    allowed: a device adds no cost unless it carries samples), one batched LP per range.
    With idle draw it is not one LP: None, and the subset tables decide.
    """
    if np.any(idle > 0):
        return None
    R, m = tau.shape
    vals, D = _split_values(tau, eps, cap, np.zeros((R, m)), use, B, w_time, w_energy)
    sets = ((D > 1e-12 * B) * np.left_shift(1, np.arange(m))[None, :]).sum(axis=1)
    return _disjoint_cover(vals, sets, N, L, ridx)


def _bounded_dp(V, N, L, M, ridx):
    """``_dp`` after two cheap steps that keep it exact.

    The relaxation of ``_disjoint_cover`` (each range's best set from V) may already be a
    placement.  Else its bound prunes: with pre[s] / suf[n] the relaxed cost of covering blocks
    before s / from n on, a stage (s, e, S) with pre[s] + V[s, e][S] + suf[e + 1] above the cost
    of a known placement (the best single stage) is in no optimal placement; its entry is set
    to inf, and ranges with no entry left are skipped by the DP.
    """
    vmin = V.min(axis=1)
    found = _disjoint_cover(vmin, V.argmin(axis=1), N, L, ridx)
    if found is not None:
        return found
    upper = vmin[ridx[0, N - 1]]
    if np.isfinite(upper):
        pre = np.full(N + 1, np.inf)
        pre[0] = 0.0
        for n in range(1, N + 1):
            pre[n] = np.min(pre[:n] + vmin[ridx[np.arange(n), n - 1]])
        suf = np.full(N + 1, np.inf)
        suf[N] = 0.0
        for s in range(N - 1, -1, -1):
            suf[s] = np.min(vmin[ridx[s, s:]] + suf[s + 1:])
        s_idx, e_idx = np.nonzero(ridx >= 0)
        rows = ridx[s_idx, e_idx]
        slack = (pre[s_idx] + suf[e_idx + 1])[:, None]
        limit = upper + 1e-9 * max(1.0, abs(upper))
        V = V.copy()
        V[rows] = np.where(slack + V[rows] > limit, np.inf, V[rows])
    return _dp(V, N, L, M, ridx)


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


def _split_values(tau, eps, cap, idle, member, B, w_time, w_energy):
    """``split_samples``' objective for many stages at once, and its split.

    Row k is a stage whose devices are the True entries of member[k] (arrays
    (K, m)); returns (value (K,), D (K, m)), value inf where the members' caps
    hold fewer than B samples.  Same LP, same breakpoints as ``split_samples``:
    F(t) is evaluated at every prefix t_min and every threshold, in one pass.
    """
    K, m = tau.shape
    Bf = float(B)
    use = member & (cap > 0) & np.isfinite(tau) & (tau > 0) & np.isfinite(eps)
    capu = np.where(use, np.minimum(np.nan_to_num(cap, nan=0.0, posinf=Bf), Bf), 0.0)
    good = capu.sum(axis=1) >= Bf
    a = w_time + w_energy * np.where(member, idle, 0.0).sum(axis=1)
    tau1 = np.where(use, tau, 1.0)
    c = np.where(use, w_energy * (np.where(use, eps, 0.0) - idle * tau1), np.inf)
    order = np.argsort(c, axis=1, kind="stable")  # cheapest first, ties by index; unused last
    cu = np.take_along_axis(capu, order, axis=1)
    rate = np.take_along_axis(np.where(use, 1.0 / tau1, 0.0), order, axis=1)
    cc = np.take_along_axis(np.where(use, c, 0.0), order, axis=1)
    # t_min of every c-ordered prefix (sizes 1..m): max over threshold pieces j
    with np.errstate(divide="ignore", invalid="ignore"):
        thr = np.where(rate > 0, cu / np.where(rate > 0, rate, 1.0), 0.0)
    tord = np.argsort(thr, axis=1, kind="stable")  # threshold order of the c positions
    inq = tord[:, None, :] <= np.arange(m)[None, :, None]  # [k, q, p]: p-th threshold in prefix q
    cu_t = np.take_along_axis(cu, tord, axis=1)[:, None, :]
    rate_t = np.take_along_axis(rate, tord, axis=1)[:, None, :]
    capc = np.zeros((K, m, m + 1))
    np.cumsum(inq * cu_t, axis=2, out=capc[:, :, 1:])  # cap of the prefix's j smallest thresholds
    rsum = np.zeros((K, m, m + 1))
    np.cumsum((inq * rate_t)[:, :, ::-1], axis=2, out=rsum[:, :, m - 1::-1])  # rate of the rest
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(rsum > 0, (Bf - capc) / rsum, -np.inf)
    tpre = np.maximum(terms.max(axis=2), 0.0)
    tpre[capc[:, :, m] < Bf] = np.inf  # (K, m)
    t_lo = tpre[:, -1:]
    cand = np.concatenate([tpre, np.where(rate > 0, thr, 0.0)], axis=1)
    cand = np.where(np.isfinite(cand), np.maximum(cand, t_lo), t_lo)
    cand = np.where(np.isfinite(cand), cand, 0.0)  # rows that cannot hold B: reported as inf below
    u = np.minimum(cu[:, None, :], cand[:, :, None] * rate[:, None, :])
    before = np.cumsum(u, axis=2) - u
    fill = np.clip(Bf - before, 0.0, u)
    value = a[:, None] * cand + np.matmul(fill, cc[:, :, None])[:, :, 0]
    best = np.argmin(value, axis=1)
    rows = np.arange(K)
    D = np.zeros((K, m))
    np.put_along_axis(D, order, fill[rows, best], axis=1)
    return np.where(good, value[rows, best], np.inf), D


def _local_search(plan, tau_r, eps_r, cap_r, use_r, idle, devs, B, w_time, w_energy, ridx, passes=6):
    """Improve a plan one device at a time: add it to a stage, drop it, or move it.

    Stage ranges stay fixed; each move is scored by the exact stage split.  A
    pass visits every usable device and makes its best improving move; passes
    repeat until none improves (at most ``passes``).

    The moves of all devices still to visit are scored in one batch against the
    current plan; the first device with an improving move makes it, and the
    devices after it are scored again (moves are rare, so a pass is one or two
    batches).  Dropping a device that the stage's split leaves empty and that
    draws no idle power changes nothing, so it is not scored.
    """
    ranges = [ridx[s, e] for s, e, _ in plan]
    members = [set(m) for _, _, m in plan]
    where = {d: l for l, m in enumerate(members) for d in m}
    M = tau_r.shape[1]
    n_st = len(members)

    def evaluate(rows):
        """rows: [(stage, member set)] -> (values, D over all M devices)."""
        r = np.array([ranges[l] for l, _ in rows], dtype=np.int64)
        member = np.zeros((len(rows), M), dtype=bool)
        for k, (_, mem) in enumerate(rows):
            member[k, list(mem)] = True
        cols = np.flatnonzero(member.any(axis=0))
        if cols.size == 0:
            return np.full(len(rows), np.inf), np.zeros((len(rows), M))
        sub = member[:, cols]
        vals, D = _split_values(tau_r[r][:, cols], eps_r[r][:, cols], cap_r[r][:, cols],
                                np.broadcast_to(idle[cols], sub.shape), sub, B, w_time, w_energy)
        vals = np.where(sub.any(axis=1), vals, np.inf)
        full = np.zeros((len(rows), M))
        full[:, cols] = D
        return vals, full

    cur_v, cur_D = evaluate([(l, m) for l, m in enumerate(members)]) if n_st else (np.zeros(0), None)
    cur = [float(v) for v in cur_v]
    share = [cur_D[l] for l in range(n_st)]

    def moves(d, vals):
        """Best improving move of d from its scored candidates, or None."""
        l0 = where.get(d)
        v_out = vals.get((d, None), 0.0)
        best_gain, best_move = 1e-12 * (1.0 + abs(sum(cur))), None
        if l0 is not None and cur[l0] - v_out > best_gain:
            best_gain, best_move = cur[l0] - v_out, (None, np.inf, None)
        for l in range(n_st):
            if l == l0 or (d, l) not in vals:
                continue
            v_in = vals[(d, l)]
            gain = cur[l] - v_in + ((cur[l0] - v_out) if l0 is not None else 0.0)
            if gain > best_gain:
                best_gain, best_move = gain, (l, v_in, (d, l))
        return best_move

    for _ in range(passes):
        improved = False
        i = 0
        order = [int(d) for d in devs]
        while i < len(order):
            keys, rows = [], []
            for d in order[i:]:
                l0 = where.get(d)
                if l0 is not None:
                    if idle[d] > 0 or share[l0][d] > 0:
                        keys.append((d, None))
                        rows.append((l0, members[l0] - {d}))
                for l in range(n_st):
                    if l != l0 and use_r[ranges[l], d]:
                        keys.append((d, l))
                        rows.append((l, members[l] | {d}))
            if rows:
                vals_arr, D_arr = evaluate(rows)
            else:
                vals_arr, D_arr = np.zeros(0), np.zeros((0, M))
            vals = {k: float(v) for k, v in zip(keys, vals_arr)}
            at = {k: j for j, k in enumerate(keys)}
            moved = False
            for pos in range(i, len(order)):
                d = order[pos]
                l0 = where.get(d)
                if l0 is not None and (d, None) not in vals:
                    vals[(d, None)] = cur[l0]  # an empty, idle-free device: dropping it changes nothing
                move = moves(d, vals)
                if move is None:
                    continue
                improved = moved = True
                l, v_in, key = move
                if l0 is not None:
                    members[l0].discard(d)
                    cur[l0] = vals[(d, None)]
                    share[l0] = D_arr[at[(d, None)]] if (d, None) in at else share[l0]
                    del where[d]
                if l is not None:
                    members[l].add(d)
                    cur[l] = v_in
                    share[l] = D_arr[at[key]]
                    where[d] = l
                i = pos + 1
                break
            if not moved:
                i = len(order)
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
        _, chosen = _bounded_dp(V, N, min(L, len(units)), len(units), ridx)
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
        found = _relaxed_path(*sub, B, w_time, w_energy, N, L, ridx)
        how = "one LP per range: the relaxed cover is disjoint"
        if found is None:
            V = _stage_values(*sub, B, w_time, w_energy)
            found = _bounded_dp(V, N, L, devs.size, ridx)
            how = "subset tables, bounded DP"
        value, chosen = found
        if not chosen:
            raise ValueError(
                f"solve: no feasible placement: the memory caps of the allowed devices cannot hold "
                f"batch_size {B} in any split of the {N} blocks into at most {max_stages} stages")
        plan = [(s, e, [int(devs[b]) for b in range(devs.size) if S >> b & 1]) for s, e, S in chosen]
        certified = True
        method = f"exact subset DP over {devs.size} usable device{'s' if devs.size != 1 else ''} ({how})"
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
        if not idle[mem].any():  # the windowed whole-sample search, kept where it does better
            near = integer_split(tau_r[r, mem][None], eps_r[r, mem][None], cap_r[r, mem][None],
                                 np.ones((1, mem.size), dtype=bool), B, w_time, w_energy, D[None])[0]
            near = near.astype(np.int64)
            if _objective(near, tau_r[r, mem], eps_r[r, mem], w_time, w_energy) < \
                    _objective(ints, tau_r[r, mem], eps_r[r, mem], w_time, w_energy):
                ints = near
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
