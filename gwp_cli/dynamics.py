"""Evolving device conditions on the simulated clock (SPEC §6).

f: a DVFS governor, a Markov chain over each class's frequency levels stepping every
``dvfs_period_s``; u: 1 - background load, an AR(1) clipped to [u_min, 1] stepping every
``load_period_s``; B: the 5G replay. All three are laid on a 1-second grid over
``horizon_s`` seconds (then repeat), drawn from one seed, so every policy meets the
same conditions at the same simulated second.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .cluster import Cluster
from .traces import BandwidthReplay


def dvfs_chain(rng: np.random.Generator, n_levels: int, steps: int, stay: float) -> np.ndarray:
    """Level index per step: stay with probability ``stay``, else one level up or down (reflecting)."""
    level = np.empty(steps, dtype=np.int64)
    level[0] = rng.integers(n_levels)
    moves = rng.random(steps)
    for k in range(1, steps):
        step = 0 if moves[k] < stay or n_levels == 1 else (1 if moves[k] < stay + (1 - stay) / 2 else -1)
        nxt = level[k - 1] + step
        level[k] = nxt if 0 <= nxt < n_levels else level[k - 1] - step
    return level


def load_process(rng: np.random.Generator, steps: int, mean: float, std: float, rho: float) -> np.ndarray:
    """Stationary AR(1) background load with the given mean, standard deviation and lag-1 correlation."""
    z = np.empty(steps)
    z[0] = rng.standard_normal() * std
    noise = rng.standard_normal(steps - 1) * std * np.sqrt(1.0 - rho ** 2)
    z[1:] = lfilter([1.0], [1.0, -rho], noise, zi=[rho * z[0]])[0]
    return mean + z


@dataclass
class Conditions:
    """f (Hz), u and B (bytes/s) of every device on a 1 s grid: arrays of shape (horizon, M)."""

    f: np.ndarray
    u: np.ndarray
    bandwidth: np.ndarray
    replay: BandwidthReplay
    floor_Bps: float

    @property
    def horizon(self) -> int:
        return self.f.shape[0]

    def index(self, t) -> np.ndarray:
        return np.floor(np.asarray(t)).astype(np.int64) % self.horizon

    def at(self, t):
        """(f, u, B) observed at simulated time t; B below the floor is read as the floor (paper mode)."""
        k = self.index(t)
        return self.f[k], self.u[k], np.maximum(self.bandwidth[k], self.floor_Bps)


def build_conditions(config: dict, cluster: Cluster, replay: BandwidthReplay, rng: np.random.Generator) -> Conditions:
    dyn = config["dynamics"]
    horizon = int(dyn["horizon_s"])
    period_f = max(1, int(round(dyn["dvfs_period_s"])))
    period_u = max(1, int(round(dyn["load_period_s"])))
    f = np.empty((horizon, cluster.n_devices))
    u = np.empty_like(f)
    steps_f = -(-horizon // period_f)
    steps_u = -(-horizon // period_u)
    for i in range(cluster.n_devices):
        levels = cluster.f_levels[i]
        chain = dvfs_chain(rng, len(levels), steps_f, float(dyn["dvfs_stay_prob"]))
        f[:, i] = np.repeat(levels[chain], period_f)[:horizon]
        spec = cluster.load[i]
        load = load_process(rng, steps_u, spec["mean"], spec["std"], spec["rho"])
        u[:, i] = np.repeat(np.clip(1.0 - load, spec["u_min"], 1.0), period_u)[:horizon]
    floor = float(config["cost"]["bandwidth_floor_kbps"]) * 1000.0 / 8.0
    return Conditions(f, u, replay.grid(horizon), replay, floor)
