"""One small interface for every placement policy (SPEC §8)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..costmodel import per_sample_coefficients
from ..placement import Placement


@dataclass
class Observation:
    """What a policy sees before iteration k: the paper's state plus the clock."""

    k: int
    epoch: int
    new_epoch: bool  # k is the first iteration of an epoch
    loss: float | None  # training loss L_k (None when no training runs alongside)
    f: np.ndarray  # Hz, per device, observed at the iteration's start
    u: np.ndarray
    B: np.ndarray  # bytes/s
    clock: float  # simulated seconds since the job started
    read_time: float  # simulated time at which f, u, B were read


class Policy:
    """Maps (observation, history) to a feasible placement.

    ``reset`` hands the policy its scenario (workload, cluster, weights, conditions)
    and a seeded generator; ``decide`` is called before every iteration. A policy that
    decides less often returns its previous placement.
    """

    name = "base"

    def reset(self, scenario, rng: np.random.Generator) -> None:
        self.scenario = scenario
        self.rng = rng
        self.placement: Placement | None = None

    def decide(self, obs: Observation) -> Placement:
        raise NotImplementedError

    def extra_columns(self) -> dict:
        """Per-iteration values a policy adds to the CSV (e.g. oracle's bound)."""
        return {}

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "placement": self.placement}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.placement = state["placement"]

    # helpers shared by the policies -------------------------------------------------
    def coefficients(self, f, u, B):
        sc = self.scenario
        return per_sample_coefficients(sc.workload, sc.cluster, f, u, B, sc.comm_factor)
