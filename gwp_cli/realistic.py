"""Realistic mode (SPEC §5): one iteration played stage by stage on the simulated clock.

Each switch is independent: ``trace_time`` (clocks advance, transfers integrate the
trace, f and u read at each stage start), ``idle_power`` (waiting devices draw p_idle),
``migration`` (newly held blocks' parameters arrive first), ``aggregation`` (every
device uploads its stage's gradients at the end). With every switch off it gives the
paper-mode numbers of costmodel.iteration_cost.
"""
from __future__ import annotations

import numpy as np

from .costmodel import CostWeights, compute_energy, compute_time, heat_powers


class FrozenConditions:
    """One observed state (f, u, B) held at every time: realistic switches without a clock to replay."""

    def __init__(self, f, u, B):
        self.f, self.u, self.B = f, u, B

    def at(self, t):
        return self.f, self.u, self.B


def _transfer(conditions, i: int, start: float, nbytes: float, B_fixed, trace_time: bool) -> float:
    if nbytes <= 0:
        return 0.0
    if trace_time:
        return conditions.replay.transfer_time(i, start, nbytes)
    return nbytes / B_fixed[i]


def realistic_iteration(placement, workload, cluster, conditions, clock: float, read_time: float,
                        prev_ranges: list, switches: dict, weights: CostWeights, comm_factor: float) -> dict:
    """Cost one iteration starting at simulated ``clock``.

    Without trace_time, f, u and B are those observed at ``read_time`` (k * step_s, as in
    paper mode) and held through the iteration; with it, they follow the clock.
    ``prev_ranges`` holds each device's blocks of the previous iteration (None: none held).
    """
    trace_time = switches.get("trace_time", False)
    m = cluster.n_devices
    f0, u0, B0 = conditions.at(read_time)
    t_comp = np.zeros(m)
    t_comm = np.zeros(m)
    t_mig = np.zeros(m)
    e_comp = np.zeros(m)
    e_heat = np.zeros(m)
    e_idle = np.zeros(m)
    stage_times = []
    waiting = 0.0
    now = clock
    for (s, e), devs, counts in zip(placement.stages, placement.devices, placement.samples):
        f, u, B = conditions.at(now) if trace_time else (f0, u0, B0)
        g_all, h_all = heat_powers(f, cluster.gamma_g, cluster.gamma_h)
        W = workload.range_sum("flops", s, e)
        O = comm_factor * workload.out_bytes[e]
        finish = {}
        for i, n in zip(devs, counts):
            if switches.get("migration", False):
                prev = prev_ranges[i]
                new = [b for b in range(s, e + 1) if prev is None or not prev[0] <= b <= prev[1]]
                t_mig[i] = _transfer(conditions, i, now, float(workload.param_bytes[new].sum()), B, trace_time)
            t_comp[i] = compute_time(n, W, cluster.sigma[i], f[i], u[i])
            t_comm[i] = _transfer(conditions, i, now + t_mig[i] + t_comp[i], n * O, B, trace_time)
            e_comp[i] = compute_energy(n, W, cluster.sigma[i], cluster.eta[i], f[i], u[i])
            e_heat[i] = g_all[i] * t_comp[i] + h_all[i] * (t_comm[i] + t_mig[i])
            finish[i] = t_mig[i] + t_comp[i] + t_comm[i]
        t_stage = max(finish.values())
        for i, t_i in finish.items():
            waiting += t_stage - t_i
            if switches.get("idle_power", False):
                e_idle[i] += cluster.p_idle[i] * (t_stage - t_i)
        stage_times.append(t_stage)
        now += t_stage
    t_agg = np.zeros(m)
    if switches.get("aggregation", False):
        f, u, B = conditions.at(now) if trace_time else (f0, u0, B0)
        _, h_all = heat_powers(f, cluster.gamma_g, cluster.gamma_h)
        for (s, e), devs in zip(placement.stages, placement.devices):
            grads = float(workload.range_sum("param_bytes", s, e))
            for i in devs:
                t_agg[i] = _transfer(conditions, i, now, grads, B, trace_time)
                e_heat[i] += h_all[i] * t_agg[i]
        phase = float(t_agg.max())
        if switches.get("idle_power", False):
            busy = placement.device_stage(m) >= 0
            e_idle[busy] += cluster.p_idle[busy] * (phase - t_agg[busy])
        stage_times.append(phase)
    T = float(sum(stage_times))
    E = float(e_comp.sum() + e_heat.sum() + e_idle.sum())
    cost = weights.alpha * E / weights.e_ref + (1.0 - weights.alpha) * T / weights.t_ref
    return {"time_s": T, "energy_j": E, "energy_comp_j": float(e_comp.sum()), "energy_heat_j": float(e_heat.sum()),
            "energy_idle_j": float(e_idle.sum()), "waiting_s": waiting, "cost": cost, "reward": -cost,
            "stage_time_s": np.array(stage_times),
            "devices": {"t_comp": t_comp, "t_comm": t_comm, "t_mig": t_mig, "t_agg": t_agg,
                        "e_comp": e_comp, "e_heat": e_heat, "e_idle": e_idle}}
