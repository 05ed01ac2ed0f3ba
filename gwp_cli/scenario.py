"""Everything one simulated job needs, built from a config and a seed."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cluster import Cluster, cluster_from_config
from .config import trace_root
from .errors import GwpError
from .costmodel import CostWeights, reference_scales
from .dynamics import Conditions, build_conditions
from .profile import Workload, cached_profile, load_profile
from .traces import build_replay


@dataclass
class Scenario:
    config: dict
    dataset: str
    seed: int
    workload: Workload
    cluster: Cluster
    conditions: Conditions
    weights: CostWeights
    trace_root: Path | None

    @property
    def comm_factor(self) -> float:
        return float(self.config["cost"]["comm_factor"])

    @property
    def max_stages(self) -> int:
        return int(self.config["cost"]["max_stages"])

    @property
    def step_s(self) -> float:
        return float(self.config["cost"]["step_s"])

    @property
    def mode(self) -> str:
        return self.config["mode"]

    @property
    def switches(self) -> dict:
        if self.mode == "paper":
            return {}
        return {k: bool(v) for k, v in self.config.get("realistic", {}).items()}



def nominal_bandwidth(config: dict, cluster: Cluster) -> np.ndarray:
    """Per-device typical bandwidth (bytes/s): the median of the trace model fitted to its kind."""
    model = config["traces"]["model"]
    scale = float(config["traces"].get("scale", 1.0))
    return np.array([np.exp(model[kind]["log_mean"]) * scale for kind in cluster.kinds])


def cost_weights(config: dict, workload: Workload, cluster: Cluster) -> CostWeights:
    """alpha, t_ref and e_ref of cost (10); 'auto' references come from nominal conditions."""
    cost = config["cost"]
    t_ref, e_ref = reference_scales(workload, cluster, nominal_bandwidth(config, cluster), float(cost["comm_factor"]))
    return CostWeights(float(cost["alpha"]),
                       t_ref if cost["t_ref_s"] == "auto" else float(cost["t_ref_s"]),
                       e_ref if cost["e_ref_j"] == "auto" else float(cost["e_ref_j"]))


def check_feasible(config: dict, workload: Workload, cluster: Cluster) -> None:
    """Refuse a cluster on which no placement fits in memory (every policy would fail)."""
    from .costmodel import per_sample_coefficients
    from .solver import solve

    tau, eps, cap = per_sample_coefficients(workload, cluster, cluster.f_nominal, cluster.u_nominal,
                                            nominal_bandwidth(config, cluster), float(config["cost"]["comm_factor"]))
    try:
        solve(tau, eps, cap, cluster.batch_size, 1.0, 0.0, int(config["cost"]["max_stages"]))
    except ValueError:
        raise GwpError(config.get("_source", "config"), "cluster",
                       f"no placement of the model fits in the devices' memory for batch_size {cluster.batch_size} "
                       f"in at most {config['cost']['max_stages']} stages",
                       "give devices more memory_mb, lower batch_size or raise cost.max_stages") from None


def load_workload(config: dict, dataset: str | None = None, profile_path: str | None = None) -> Workload:
    dataset = dataset or config["dataset"]
    table = load_profile(profile_path) if profile_path else cached_profile(dataset, float(config["model"]["width"]))
    return Workload(table)


def build_scenario(config: dict, seed: int | None = None, dataset: str | None = None,
                   traces: str | None = None, profile_path: str | None = None) -> Scenario:
    """Seeded scenario: workload profile, cluster, conditions (f, u, B) and cost weights."""
    seed = config["seed"] if seed is None else seed
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GwpError("--seed", "seed", f"must be an integer >= 0, got {seed!r}", "give a seed of 0 or more")
    seed = int(seed)
    dataset = dataset or config["dataset"]
    workload = load_workload(config, dataset, profile_path)
    cluster = cluster_from_config(config)
    check_feasible(config, workload, cluster)
    rng = np.random.default_rng(seed)
    root = trace_root(config, traces)
    replay = build_replay(config, cluster.kinds, rng, root)
    conditions = build_conditions(config, cluster, replay, rng)
    return Scenario(config, dataset, seed, workload, cluster, conditions,
                    cost_weights(config, workload, cluster), root)
