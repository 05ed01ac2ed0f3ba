"""The paper's cost model of one iteration (SPEC §4): pure numpy, vectorised.

Every function takes per-device arrays whose last axis is the device; any leading
axes (placements, iterations) broadcast, so thousands of placements are costed at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GHZ = 1e9


@dataclass(frozen=True)
class CostWeights:
    """cost = alpha * E / e_ref + (1 - alpha) * T / t_ref, eq. (10)."""

    alpha: float
    t_ref: float
    e_ref: float

    @property
    def w_time(self) -> float:
        return (1.0 - self.alpha) / self.t_ref

    @property
    def w_energy(self) -> float:
        return self.alpha / self.e_ref


def heat_powers(f, gamma_g, gamma_h):
    """g_i(f) = gamma_g (f / 1 GHz)^3 and h_i(f) = gamma_h (f / 1 GHz)^3, in watts (8)."""
    cube = (np.asarray(f) / GHZ) ** 3
    return gamma_g * cube, gamma_h * cube


def compute_time(D, W, sigma, f, u):
    """t_comp,i = |D_i| W_l sigma_i / (f_i u_i), eqs. (1)-(2)."""
    return D * W * sigma / (f * u)


def compute_energy(D, W, sigma, eta, f, u):
    """E_comp,i = eta_i sigma_i |D_i| W_l (f_i u_i)^2, eq. (7)."""
    return eta * sigma * D * W * (f * u) ** 2


def device_rates(f, u, B, cluster) -> dict:
    """Per-sample coefficients of (1)-(3), (7), (8) that depend on the device state only.

    t_comp = D W a_comp, t_comm = D O a_comm, E_comp = D W e_comp, E_heat = g t_comp + h t_comm.
    Folding them once per state keeps the per-placement work to a few array operations.
    """
    fu = f * u
    g, h = heat_powers(f, cluster.gamma_g, cluster.gamma_h)
    return {"a_comp": cluster.sigma / fu, "a_comm": 1.0 / B, "e_comp": cluster.eta * cluster.sigma * fu ** 2,
            "g": g, "h": h}


def device_terms(D, W, O, rates) -> dict:
    """Per-device time and energy, eqs. (1)-(4), (7), (8). Idle devices (D = 0) give zeros."""
    DW = D * W
    t_comp = DW * rates["a_comp"]  # (1)(2)
    t_comm = D * O * rates["a_comm"]  # (3)
    return {"t_comp": t_comp, "t_comm": t_comm, "t": t_comp + t_comm,  # (4)
            "e_comp": DW * rates["e_comp"],  # (7)
            "e_heat": rates["g"] * t_comp + rates["h"] * t_comm}  # (8)


def iteration_cost(D, W, O, stage_of, n_stages: int, f, u, B, cluster, weights: CostWeights) -> dict:
    """One iteration in paper mode: T_k (6), E_k (9), cost (10), reward (17) and waiting time.

    D, W, O, stage_of: (..., M) samples, stage FLOPs per sample, stage output bytes
    per sample (comm_factor included) and stage index (-1 idle) of each device.
    Waiting time = sum over stages of (devices in the stage x t_l) - sum of device times.
    """
    dev = device_terms(D, W, O, device_rates(f, u, B, cluster))
    t = dev["t"]
    t_stage = np.empty(t.shape[:-1] + (n_stages,))
    count = np.empty_like(t_stage)
    for l in range(n_stages):  # (5): the slowest device of each stage
        member = stage_of == l
        t_stage[..., l] = np.where(member, t, 0.0).max(axis=-1)
        count[..., l] = member.sum(axis=-1)
    T = t_stage.sum(axis=-1)  # (6)
    e_comp = dev["e_comp"].sum(axis=-1)
    e_heat = dev["e_heat"].sum(axis=-1)
    E = e_comp + e_heat  # (9)
    waiting = (count * t_stage).sum(axis=-1) - t.sum(axis=-1)
    cost = weights.alpha * E / weights.e_ref + (1.0 - weights.alpha) * T / weights.t_ref  # (10)
    return {"time_s": T, "energy_j": E, "energy_comp_j": e_comp, "energy_heat_j": e_heat,
            "energy_idle_j": np.zeros_like(E), "waiting_s": waiting, "cost": cost, "reward": -cost,  # (17)
            "stage_time_s": t_stage, "devices": dev}


def placement_arrays(placement, workload, n_devices: int, comm_factor: float):
    """Device-level arrays (D, W, O, stage_of) of a Placement."""
    stage_of = placement.device_stage(n_devices)
    D = placement.device_samples(n_devices)
    W = np.zeros(n_devices)
    O = np.zeros(n_devices)
    for l, (s, e) in enumerate(placement.stages):
        mask = stage_of == l
        W[mask] = workload.range_sum("flops", s, e)
        O[mask] = comm_factor * workload.out_bytes[e]
    return D, W, O, stage_of


def evaluate_paper(placement, workload, cluster, f, u, B, weights: CostWeights, comm_factor: float) -> dict:
    D, W, O, stage_of = placement_arrays(placement, workload, cluster.n_devices, comm_factor)
    return iteration_cost(D, W, O, stage_of, placement.n_stages, f, u, B, cluster, weights)


def per_sample_coefficients(workload, cluster, f, u, B, comm_factor: float):
    """Per-sample time tau[s, e, i], energy eps[s, e, i] and sample capacity cap[s, e, i].

    For device i running blocks s..e, (4) and (9) are linear in |D_i|: t_i = |D_i| tau and
    E_i = |D_i| eps. cap is the memory bound of SPEC §3 (0 where the parameters alone do not fit).
    """
    W, P, A, valid = workload.range_matrices()
    O = comm_factor * workload.out_bytes[None, :]  # depends on the stage's last block e
    per_sample = device_terms(1.0, W[..., None], O[..., None], device_rates(f, u, B, cluster))
    tau = np.where(valid[..., None], per_sample["t"], np.inf)
    eps = np.where(valid[..., None], per_sample["e_comp"] + per_sample["e_heat"], np.inf)
    return tau, eps, memory_caps(workload, cluster)


def memory_caps(workload, cluster) -> np.ndarray:
    """cap[s, e, i]: most samples device i can hold for blocks s..e (SPEC §3), at most batch_size.

    mem_i = param_bytes * (2 + opt_state_factor) + |D_i| act_bytes <= memory_bytes; 0 where
    the parameters alone do not fit or s > e.
    """
    W, P, A, valid = workload.range_matrices()
    free = cluster.memory_bytes - P[..., None] * (2 + cluster.opt_state_factor)
    A = np.broadcast_to(A[..., None], free.shape)
    cap = np.floor(np.divide(np.maximum(free, 0.0), A, out=np.zeros_like(free), where=A > 0))
    return np.where(valid[..., None], np.minimum(cap, cluster.batch_size), 0.0)


def reference_scales(workload, cluster, nominal_B, comm_factor: float):
    """Default t_ref and e_ref (config 'auto'): one iteration at nominal f and u.

    t_ref: the whole batch on all devices in one stage, split in proportion to compute
    speed, ignoring memory (an ideal parallel time). e_ref: the whole batch at the
    cluster's mean per-sample energy.
    """
    f, u = cluster.f_nominal, cluster.u_nominal
    W = workload.flops.sum()
    O = comm_factor * workload.out_bytes[-1]
    speed = f * u / cluster.sigma
    t_ref = cluster.batch_size * W / speed.sum()
    per_sample = device_terms(1.0, W, O, device_rates(f, u, nominal_B, cluster))
    e_ref = cluster.batch_size * float((per_sample["e_comp"] + per_sample["e_heat"]).mean())
    return float(t_ref), e_ref
