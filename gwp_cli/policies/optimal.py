"""Exact optima of cost (10): `myopic` (state seen at the start) and `oracle` (conditions met)."""
from __future__ import annotations

import numpy as np

from ..costmodel import evaluate_paper
from ..placement import Placement
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


class Myopic(Policy):
    """Certified optimum of (10) for the state observed at the start of the iteration."""

    name = "myopic"

    def decide(self, obs: Observation) -> Placement:
        self.placement, self.solution = solve_placement(self, obs.f, obs.u, obs.B)
        return self.placement


class Oracle(Policy):
    """Clairvoyant: the optimum for the conditions the iteration really meets.

    In paper mode those are the ones observed at its start, so it equals `myopic` and its
    relaxed optimum `bound` is a true lower bound on every policy's cost. In realistic mode
    with trace_time it re-solves for the mean bandwidth over the window the myopic
    solution would occupy and f, u at the real start clock (docs/policies.md).
    """

    name = "oracle"

    def decide(self, obs: Observation) -> Placement:
        sc = self.scenario
        placement, sol = solve_placement(self, obs.f, obs.u, obs.B)
        if sc.switches.get("trace_time"):
            predicted = evaluate_paper(placement, sc.workload, sc.cluster, obs.f, obs.u, obs.B, sc.weights,
                                       sc.comm_factor)["time_s"]
            f, u, _ = sc.conditions.at(obs.clock)
            B = sc.conditions.replay.mean_rate(obs.clock, max(float(predicted), 1.0))
            placement, sol = solve_placement(self, f, u, np.maximum(B, sc.conditions.floor_Bps))
        self.placement, self.solution = placement, sol
        return placement

    def extra_columns(self) -> dict:
        return {"bound": float(self.solution.bound)}
