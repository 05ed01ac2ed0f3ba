"""The device cluster of a config: per-device constant vectors in cluster order (SPEC §7)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GHZ = 1e9
MB = 1024 * 1024


@dataclass(frozen=True)
class Cluster:
    """Device order = the config's classes in file order, each repeated ``count`` times."""

    classes: list[str]  # class name per device
    kinds: list[str]  # trace kind per device (Driving / Static)
    f_levels: list[np.ndarray]  # Hz, per device
    sigma: np.ndarray  # cycles per FLOP
    eta: np.ndarray  # J per cycle per Hz^2
    gamma_g: np.ndarray  # W at 1 GHz, compute heat
    gamma_h: np.ndarray  # W at 1 GHz, communication heat
    p_idle: np.ndarray  # W
    memory_bytes: np.ndarray
    load: list[dict]  # background-load process parameters, per device
    batch_size: int
    opt_state_factor: float

    @property
    def n_devices(self) -> int:
        return len(self.classes)

    @property
    def f_nominal(self) -> np.ndarray:
        """Mean of each device's frequency levels (Hz)."""
        return np.array([levels.mean() for levels in self.f_levels])

    @property
    def u_nominal(self) -> np.ndarray:
        return np.array([min(1.0, max(spec["u_min"], 1.0 - spec["mean"])) for spec in self.load])

    def device_names(self) -> list[str]:
        seen: dict[str, int] = {}
        names = []
        for c in self.classes:
            names.append(f"{c}{seen.get(c, 0)}")
            seen[c] = seen.get(c, 0) + 1
        return names


def cluster_from_config(config: dict) -> Cluster:
    spec = config["cluster"]
    rows = [(name, c) for name, c in spec["classes"].items() for _ in range(c["count"])]

    def vec(key, scale=1.0):
        return np.array([c[key] * scale for _, c in rows], dtype=float)

    return Cluster(
        classes=[name for name, _ in rows],
        kinds=[c["trace"] for _, c in rows],
        f_levels=[np.array(c["f_levels_ghz"], dtype=float) * GHZ for _, c in rows],
        sigma=vec("sigma"), eta=vec("eta"), gamma_g=vec("gamma_g"), gamma_h=vec("gamma_h"),
        p_idle=vec("p_idle_w"), memory_bytes=vec("memory_mb", MB),
        load=[dict(c["load"]) for _, c in rows],
        batch_size=int(spec["batch_size"]), opt_state_factor=float(spec["opt_state_factor"]),
    )
