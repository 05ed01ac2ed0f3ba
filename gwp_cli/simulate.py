"""The simulated job: a policy places every iteration, the cost model advances the clock (SPEC §1, §4, §5)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from tqdm import tqdm

from .config import config_hash
from .costmodel import evaluate_paper
from .placement import validate_placement
from .policies import Observation, Policy, make_policy
from .realistic import realistic_iteration
from .scenario import Scenario, build_scenario

TRAIN_SIZE = {"fashion-mnist": 60000, "cifar100": 50000}
ROW_COLUMNS = ["iteration", "epoch", "sim_time_s", "time_s", "energy_j", "energy_comp_j", "energy_heat_j",
               "energy_idle_j", "waiting_s", "cost", "n_stages", "placement", "policy", "seed", "dataset", "mode",
               "config_hash", "bandwidth_source"]


def iterations_per_epoch(config: dict, dataset: str) -> int:
    value = config["job"]["iterations_per_epoch"]
    if value == "auto":
        return math.ceil(TRAIN_SIZE[dataset] / config["cluster"]["batch_size"])
    return int(value)


class Simulator:
    """One job on one scenario. ``step`` runs iteration k: observe, decide, cost, advance."""

    def __init__(self, scenario: Scenario, policy: Policy, policy_seed: int | None = None):
        self.scenario = scenario
        self.policy = policy
        self.iterations_per_epoch = iterations_per_epoch(scenario.config, scenario.dataset)
        self.hash = config_hash(scenario.config)
        self.bandwidth_source = "5g-traces" if scenario.trace_root is not None else "fitted-model"
        seed = scenario.seed if policy_seed is None else policy_seed
        policy.reset(scenario, np.random.default_rng([seed, 1]))
        self.k = 0
        self.clock = 0.0
        self.prev_ranges = [None] * scenario.cluster.n_devices

    def observe(self, loss: float | None = None) -> Observation:
        sc = self.scenario
        read_time = self.clock if sc.switches.get("trace_time") else self.k * sc.step_s
        f, u, B = sc.conditions.at(read_time)
        epoch = self.k // self.iterations_per_epoch
        return Observation(self.k, epoch, self.k % self.iterations_per_epoch == 0, loss, f, u, B,
                           self.clock, read_time)

    def cost(self, placement, obs: Observation) -> dict:
        """Time, energy and cost of a placement for this iteration (paper or realistic mode)."""
        sc = self.scenario
        if any(sc.switches.values()):
            return realistic_iteration(placement, sc.workload, sc.cluster, sc.conditions, self.clock,
                                       obs.read_time, self.prev_ranges, sc.switches, sc.weights, sc.comm_factor)
        return evaluate_paper(placement, sc.workload, sc.cluster, obs.f, obs.u, obs.B, sc.weights, sc.comm_factor)

    def step(self, loss: float | None = None, placement=None) -> dict:
        obs = self.observe(loss)
        if placement is None:
            placement = self.policy.decide(obs)
        sc = self.scenario
        validate_placement(placement, sc.workload, sc.cluster, sc.max_stages, f"policy {self.policy.name}")
        result = self.cost(placement, obs)
        self.clock += float(result["time_s"])
        self.prev_ranges = placement.device_ranges(sc.cluster.n_devices)
        row = {"iteration": self.k, "epoch": obs.epoch, "sim_time_s": self.clock,
               **{key: float(result[key]) for key in ("time_s", "energy_j", "energy_comp_j", "energy_heat_j",
                                                        "energy_idle_j", "waiting_s", "cost")},
               "n_stages": placement.n_stages, "placement": placement.dumps(), "policy": self.policy.name,
               "seed": sc.seed, "dataset": sc.dataset, "mode": sc.mode, "config_hash": self.hash,
               "bandwidth_source": self.bandwidth_source,
               **self.policy.extra_columns()}
        if loss is not None:
            row["loss"] = float(loss)
        self.k += 1
        return row

    def state_dict(self) -> dict:
        return {"k": self.k, "clock": self.clock, "prev_ranges": list(self.prev_ranges),
                "policy": self.policy.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.k, self.clock = int(state["k"]), float(state["clock"])
        self.prev_ranges = list(state["prev_ranges"])
        self.policy.load_state_dict(state["policy"])


def build_simulator(config: dict, policy: str = "heuristic", seed: int | None = None, traces: str | None = None,
                    agent: str | None = None, dataset: str | None = None) -> Simulator:
    scenario = build_scenario(config, seed=seed, dataset=dataset, traces=traces)
    return Simulator(scenario, make_policy(policy, agent))


def run_simulation(simulator: Simulator, iterations: int, losses=None, progress: bool = True) -> pd.DataFrame:
    """K iterations as a tidy table (one row per iteration)."""
    rows = []
    bar = tqdm(range(iterations), desc=f"{simulator.policy.name}", unit="it", disable=not progress, leave=False)
    for k in bar:
        rows.append(simulator.step(None if losses is None else float(losses[k % len(losses)])))
    table = pd.DataFrame(rows)
    extra = [c for c in table.columns if c not in ROW_COLUMNS]
    return table[ROW_COLUMNS + extra]
