"""Exact optima of cost (10): `myopic` (state seen at the start) and `oracle` (conditions met)."""
from __future__ import annotations

import numpy as np

from ..costmodel import evaluate_paper
from ..placement import Placement
from ..realistic import FrozenConditions, realistic_iteration
from ..solver import solve
from .base import Observation, Policy


def solve_placement(policy: Policy, f, u, B):
    """The solver's optimum for conditions (f, u, B) as a Placement, and its Solution."""
    sc = policy.scenario
    idle_w = sc.cluster.p_idle if sc.switches.get("idle_power") else None
    tau, eps, cap = policy.coefficients(f, u, B)
    sol = solve(tau, eps, cap, sc.cluster.batch_size, sc.weights.w_time, sc.weights.w_energy, sc.max_stages,
                idle_w=idle_w)
    return Placement.build(sol.stages, sol.devices, sol.samples), sol


def cheapest(policy: Policy, candidates, obs: Observation, conditions, switches) -> Placement:
    """The candidate of lowest realistic cost (migration from the policy's last placement included)."""
    sc = policy.scenario
    m = sc.cluster.n_devices
    prev = policy.placement.device_ranges(m) if policy.placement is not None else [None] * m
    costs = [realistic_iteration(p, sc.workload, sc.cluster, conditions, obs.clock, obs.read_time, prev, switches,
                                 sc.weights, sc.comm_factor)["cost"] for p in candidates]
    return candidates[int(np.argmin(costs))]


class Myopic(Policy):
    """Certified optimum of (10) for the state observed at the start of the iteration.

    In realistic mode the solver's model has no migration or aggregation, so the solver's
    placement is weighed against keeping the previous one, both costed by the realistic model
    under the observed state held fixed (the policy cannot see the clock run ahead).
    """

    name = "myopic"

    def decide(self, obs: Observation) -> Placement:
        sc = self.scenario
        placement, self.solution = solve_placement(self, obs.f, obs.u, obs.B)
        if any(sc.switches.values()) and self.placement is not None:
            frozen = dict(sc.switches, trace_time=False)
            placement = cheapest(self, [placement, self.placement], obs, FrozenConditions(obs.f, obs.u, obs.B),
                                 frozen)
        self.placement = placement
        return placement


class Oracle(Policy):
    """Clairvoyant: the optimum for the conditions the iteration really meets.

    In paper mode those are the ones observed at its start, so it equals `myopic` and its
    relaxed optimum `bound` is a true lower bound on every policy's cost. In realistic mode it
    also solves for f, u at the real start clock and the mean bandwidth over the window the
    first solution would occupy, then plays each candidate (and keeping the last placement)
    forward on the real conditions and takes the cheapest (docs/policies.md).
    """

    name = "oracle"

    def decide(self, obs: Observation) -> Placement:
        sc = self.scenario
        placement, sol = solve_placement(self, obs.f, obs.u, obs.B)
        if any(sc.switches.values()):
            candidates = [placement]
            if sc.switches.get("trace_time"):
                predicted = evaluate_paper(placement, sc.workload, sc.cluster, obs.f, obs.u, obs.B, sc.weights,
                                           sc.comm_factor)["time_s"]
                f, u, _ = sc.conditions.at(obs.clock)
                B = sc.conditions.replay.mean_rate(obs.clock, max(float(predicted), 1.0))
                windowed, sol = solve_placement(self, f, u, np.maximum(B, sc.conditions.floor_Bps))
                candidates.append(windowed)
            if self.placement is not None:
                candidates.append(self.placement)
            placement = cheapest(self, candidates, obs, sc.conditions, sc.switches)
        self.placement, self.solution = placement, sol
        return placement

    def extra_columns(self) -> dict:
        return {"bound": float(self.solution.bound)}
