"""The GWP agent's environment (SPEC §8, paper §IV): a Gymnasium env and a batched VecEnv.

State (the paper's): (k, L_k, u_1..M, f_1..M, B_1..M), normalised into Box(-1, 1):

* k      -> min(k / job.iterations, 1)
* L_k    -> min(L_k / agent.loss_norm, 1); L_k from a real training log (``agent.loss_log``, the
            ``loss`` column of `gwp train`'s iterations.csv) or the fitted curve
            L(k) = a exp(-k / b) + c (``agent.loss_curve``)
* u_i    -> u_i as is (it lies in [u_min, 1])
* f_i    -> f_i / (device i's highest DVFS level)
* B_i    -> clip((ln B_i - log_mean) / (4 log_std), -1, 1), log_mean / log_std of the device's
            trace kind from ``traces.model`` (the log-normal fitted to the real Download traces)

Action (the paper's two parts), a ``MultiDiscrete([P] + [max_stages + 1] * M)``:

* part 1, the partition: an index into a fixed list of P candidate partitions
  (``candidate_partitions``: the whole model, every two-stage cut, and for each stage count up to
  ``max_stages`` the cuts that balance a mix of FLOPs and parameter bytes);
* part 2, device assignment: per device a slot, 0 = idle, j >= 1 = stage (j - 1) mod L.

``PlacementCodec`` turns an action into a feasible placement by these rules:

1. a device whose stage cannot hold one sample in memory is made idle;
2. repair, stage by stage in order: while a stage's memory caps sum to less than the batch, add the
   idle device with the largest cap for it; else move there the device with the largest cap from
   another stage that stays able to hold the batch without it;
3. if that fails, the partition's greedy assignment (largest memory first, each to the stage
   still furthest from holding the batch), and if the partition has none, the first candidate
   partition that has one;
4. local data: each stage's batch is split over its devices by the exact LP optimum of cost (10)
   (the one-stage problem of ``solver.split_samples``), then made whole by ``integer_split``
   (the best whole-sample split among stage times near the LP's); devices left with no
   samples drop out.

So the network decides how many stages, where the cuts lie and which device serves which stage
(or none); the decoder guarantees memory feasibility and picks the local data (LP optimum, made whole) for that
choice. Reward (17): -cost (10) of the decoded placement in paper mode (f, u, B held at the values
seen at the iteration's start, read at k * step_s). docs/agent.md has the full description.

An episode is a window of ``agent.episode_iterations`` consecutive iterations of one job. Each
reset draws a fresh scenario seed (trace files, trace offsets, DVFS and load paths) from the env's
seeded generator and, with ``agent.random_start``, a start iteration in [0, job.iterations -
episode length], so that k and L_k cover the whole job. The end of the window is a truncation (the
job goes on), not a terminal state.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from .config import load_config
from .costmodel import heat_powers, memory_caps
from .dynamics import build_conditions
from .errors import GwpError
from .placement import Placement
from .scenario import build_scenario
from .solver import integer_split, lp_split
from .traces import BandwidthReplay, kind_files, read_trace, synthetic_series

ENV_ID = "gwp/GreenPlacement-v0"

# defaults for agent.* keys a config may leave out (experiments/paper.yaml states them all)
AGENT_DEFAULTS = {
    "steps": 200000, "n_envs": 8, "n_steps": 256, "batch_size": 512, "n_epochs": 5,
    "learning_rate": 3.0e-4, "gamma": 0.99, "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01,
    "episode_iterations": 256, "random_start": True, "loss_log": None,
    "loss_curve": {"a": 2.05, "b": 300.0, "c": 0.25}, "loss_norm": 2.5,
    "partitions": {"two_stage": "all", "mix": [0.0, 0.25, 0.5, 0.75, 1.0]},
    "net_arch": [64, 64], "torch_threads": 1,
}


def agent_settings(config: dict) -> dict:
    """The config's agent section over the defaults."""
    out = copy.deepcopy(AGENT_DEFAULTS)
    for key, value in (config.get("agent") or {}).items():
        out[key] = copy.deepcopy(value)
    src = config.get("_source", "config")
    for key in ("episode_iterations", "n_envs", "n_steps", "batch_size", "n_epochs"):
        if not (isinstance(out[key], int) and out[key] >= 1):
            raise GwpError(src, f"agent.{key}", f"must be an integer >= 1, got {out[key]!r}", f"set agent.{key}")
    for key in ("gamma", "clip_range", "gae_lambda"):
        low_ok = (lambda v: v > 0) if key == "clip_range" else (lambda v: v >= 0)
        if not (isinstance(out[key], (int, float)) and low_ok(out[key]) and out[key] <= 1):
            raise GwpError(src, f"agent.{key}", f"must be a number in {'(0' if key == 'clip_range' else '[0'}, 1], "
                           f"got {out[key]!r}", f"set agent.{key}, e.g. {AGENT_DEFAULTS[key]}")
    for key in ("learning_rate", "loss_norm"):
        if not (isinstance(out[key], (int, float)) and not isinstance(out[key], bool) and 0 < out[key] < float("inf")):
            raise GwpError(src, f"agent.{key}", f"must be a positive number, got {out[key]!r}",
                           f"set agent.{key}, e.g. {AGENT_DEFAULTS[key]}")
    if not (isinstance(out["ent_coef"], (int, float)) and out["ent_coef"] >= 0):
        raise GwpError(src, "agent.ent_coef", f"must be a number >= 0, got {out['ent_coef']!r}",
                       f"set agent.ent_coef, e.g. {AGENT_DEFAULTS['ent_coef']}")
    curve = out["loss_curve"]
    if not (isinstance(curve, dict) and all(isinstance(curve.get(k), (int, float)) for k in "abc")
            and curve["b"] > 0):
        raise GwpError(src, "agent.loss_curve", "must be {a, b, c} numbers with b > 0",
                       "e.g. loss_curve: {a: 2.05, b: 300, c: 0.25}")
    return out


# ----------------------------------------------------------------------------------------------
# training loss L_k


class LossSource:
    """L_k: a real training log's losses (repeated past their end) or the fitted curve a exp(-k/b) + c."""

    def __init__(self, values: np.ndarray | None = None, curve: dict | None = None, source: str = "curve"):
        self.values = None if values is None else np.asarray(values, dtype=float)
        self.curve = dict(curve or AGENT_DEFAULTS["loss_curve"])
        self.source = source

    def __call__(self, k):
        k = np.asarray(k)
        if self.values is not None:
            return self.values[k % self.values.size]
        a, b, c = float(self.curve["a"]), float(self.curve["b"]), float(self.curve["c"])
        return a * np.exp(-k / b) + c


def read_loss_log(path) -> np.ndarray:
    """The ``loss`` column of a `gwp train` iterations.csv."""
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GwpError(path, "", f"cannot be read as a training log ({exc.__class__.__name__})",
                       "give the iterations.csv written by gwp train") from None
    if "loss" not in table.columns:
        raise GwpError(path, "loss", "column is missing", "give the iterations.csv written by gwp train")
    values = pd.to_numeric(table["loss"], errors="coerce").to_numpy(dtype=float)
    if values.size == 0 or not np.isfinite(values).all() or (values < 0).any():
        raise GwpError(path, "loss", "has no rows or a non-numeric / negative loss", "give a complete training log")
    return values


def loss_source(config: dict, loss_log=None) -> LossSource:
    settings = agent_settings(config)
    log = loss_log or settings["loss_log"]
    if log:
        return LossSource(read_loss_log(log), source=str(log))
    return LossSource(curve=settings["loss_curve"])


# ----------------------------------------------------------------------------------------------
# the action: candidate partitions


def candidate_partitions(workload, max_stages: int, two_stage="all", mix=(0.0, 0.25, 0.5, 0.75, 1.0)) -> list:
    """The fixed list of partitions part 1 of the action chooses from (block ranges, inclusive).

    Entry 0 is the whole model as one stage; then (when ``two_stage`` is "all") every two-stage
    cut; then, for each stage count L = 2..max_stages and each lambda in ``mix``, the L - 1 cuts
    that split the cumulative share (1 - lambda) * FLOPs + lambda * parameter bytes nearest to
    1/L, 2/L, ...; duplicates are dropped, order kept.
    """
    n = workload.n_blocks
    top = min(int(max_stages), n)
    out, seen = [], set()

    def add(cuts):
        ranges = tuple(zip([0] + [c + 1 for c in cuts], list(cuts) + [n - 1]))
        if ranges not in seen:
            seen.add(ranges)
            out.append(ranges)

    add([])
    if top >= 2 and two_stage == "all":
        for c in range(n - 1):
            add([c])
    flops = np.cumsum(workload.flops) / max(workload.flops.sum(), 1e-300)
    params = np.cumsum(workload.param_bytes) / max(workload.param_bytes.sum(), 1e-300)
    for stages in range(2, top + 1):
        for lam in mix:
            share = (1.0 - float(lam)) * flops + float(lam) * params
            cuts = []
            for q in range(1, stages):
                order = np.argsort(np.abs(share[:-1] - q / stages), kind="stable")
                pick = next((int(c) for c in order if c not in cuts and (not cuts or c > cuts[-1])), None)
                if pick is None:
                    break
                cuts.append(pick)
            if len(cuts) == stages - 1:
                add(cuts)
    return [tuple(tuple(r) for r in p) for p in out]


def partitions_for(config: dict, workload) -> list:
    spec = agent_settings(config)["partitions"] or {}
    return candidate_partitions(workload, int(config["cost"]["max_stages"]), spec.get("two_stage", "all"),
                                spec.get("mix", AGENT_DEFAULTS["partitions"]["mix"]))


# ----------------------------------------------------------------------------------------------
# the codec: state -> observation, action -> placement


class PlacementCodec:
    """Encodes the paper's state and decodes a MultiDiscrete action into a feasible placement.

    Everything that does not depend on f, u, B (candidate ranges, their FLOPs, output bytes and
    memory caps, the memory repair) is computed once; ``split`` and ``costs`` work on a batch of
    actions at once (leading axis E), so a vectorised env decodes all its envs in one pass.
    """

    def __init__(self, workload, cluster, weights, max_stages: int, comm_factor: float, config: dict,
                 partitions: list | None = None):
        self.workload, self.cluster, self.weights = workload, cluster, weights
        self.max_stages = int(max_stages)
        self.n_blocks, self.n_devices = workload.n_blocks, cluster.n_devices
        self.batch = int(cluster.batch_size)
        self.partitions = [tuple(tuple(int(x) for x in r) for r in p)
                           for p in (partitions if partitions is not None else partitions_for(config, workload))]
        self._check_partitions(config)
        P, L, M = len(self.partitions), self.max_stages, self.n_devices
        self.n_stages = np.array([len(p) for p in self.partitions], dtype=np.int64)
        caps = memory_caps(workload, cluster)
        self.W = np.zeros((P, L))
        self.O = np.zeros((P, L))
        self.cap = np.zeros((P, L, M))
        for p, ranges in enumerate(self.partitions):
            for l, (s, e) in enumerate(ranges):
                self.W[p, l] = workload.range_sum("flops", s, e)
                self.O[p, l] = comm_factor * workload.out_bytes[e]
                self.cap[p, l] = caps[s, e]
        self.safe = [self._greedy(p) for p in range(P)]
        feasible = [p for p in range(P) if self.safe[p] is not None]
        if not feasible:
            raise GwpError(config.get("_source", "config"), "cluster",
                           f"no candidate partition can hold batch_size {self.batch} in the devices' memory",
                           "give the devices more memory (memory_mb) or lower cluster.batch_size")
        self.fallback = feasible[0]
        self.nvec = np.array([P] + [L + 1] * M, dtype=np.int64)
        # observation constants
        tcfg = config["traces"]["model"]
        self.f_max = np.array([levels.max() for levels in cluster.f_levels])
        self.log_mean = np.array([tcfg[kind]["log_mean"] for kind in cluster.kinds], dtype=float)
        self.log_std = np.array([tcfg[kind]["log_std"] for kind in cluster.kinds], dtype=float)
        self.log_mean += math.log(float(config["traces"].get("scale", 1.0)))
        self.job_iterations = max(1, int(config["job"]["iterations"]))
        self.loss_norm = float(agent_settings(config)["loss_norm"])
        self.obs_dim = 2 + 3 * M
        self._cache: dict[bytes, tuple[int, np.ndarray]] = {}

    def _check_partitions(self, config) -> None:
        n = self.n_blocks
        for p in self.partitions:
            ok = 1 <= len(p) <= self.max_stages and p[0][0] == 0 and p[-1][1] == n - 1 and \
                all(s <= e for s, e in p) and all(p[l][1] + 1 == p[l + 1][0] for l in range(len(p) - 1))
            if not ok:
                raise GwpError(config.get("_source", "config"), "agent partitions",
                               f"candidate partition {list(map(list, p))} is not a cover of blocks 0..{n - 1} "
                               f"by at most {self.max_stages} consecutive stages",
                               "train the agent for this workload and cost.max_stages")

    # spaces --------------------------------------------------------------------------------
    def observation_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(self.obs_dim,), dtype=np.float32)

    def action_space(self) -> spaces.MultiDiscrete:
        return spaces.MultiDiscrete(self.nvec)

    # state ---------------------------------------------------------------------------------
    def observe(self, k, loss, f, u, B) -> np.ndarray:
        """Normalised state(s); k, loss: scalars or (E,), f, u, B: (M,) or (E, M)."""
        f, u, B = np.asarray(f, dtype=float), np.asarray(u, dtype=float), np.asarray(B, dtype=float)
        kf = np.minimum(np.asarray(k, dtype=float) / self.job_iterations, 1.0)
        lf = np.minimum(np.maximum(np.asarray(loss, dtype=float) / self.loss_norm, 0.0), 1.0)
        bn = np.minimum(np.maximum((np.log(np.maximum(B, 1e-300)) - self.log_mean) / (4.0 * self.log_std), -1.0), 1.0)
        parts = [kf[..., None], lf[..., None], np.minimum(u, 1.0), np.minimum(f / self.f_max, 1.0), bn]
        return np.concatenate(parts, axis=-1).astype(np.float32)

    # action, discrete part -------------------------------------------------------------------
    def _greedy(self, p: int):
        """A memory-feasible assignment for partition p, or None: largest memory first, each device
        to the stage (among those it fits) still furthest from holding the batch; devices left over
        join the stage they fit with the most FLOPs."""
        L, cap = int(self.n_stages[p]), self.cap[p]
        stage_of = np.full(self.n_devices, -1, dtype=np.int64)
        held = np.zeros(L)
        for i in np.argsort(-self.cluster.memory_bytes, kind="stable"):
            fits = [l for l in range(L) if cap[l, i] >= 1]
            if not fits:
                continue
            short = [l for l in fits if held[l] < self.batch]
            l = max(short, key=lambda s: self.batch - held[s]) if short else max(fits, key=lambda s: self.W[p, s])
            stage_of[i] = l
            held[l] += cap[l, i]
        return stage_of if (held >= self.batch).all() else None

    def assign(self, action) -> tuple[int, np.ndarray]:
        """(partition index, stage of every device, -1 idle) after rules 1-3 (memory repair)."""
        p, stage_of = self.assign_batch(np.asarray(action, dtype=np.int64).reshape(1, -1))
        return int(p[0]), stage_of[0]

    def assign_batch(self, actions) -> tuple[np.ndarray, np.ndarray]:
        """``assign`` for a batch of actions (E, 1 + M): partitions (E,) and stages (E, M).

        Rule 1 and the check of rule 2 run vectorised; only actions with a stage short of
        memory go through the repair, whose result is cached per action.
        """
        actions = np.asarray(actions, dtype=np.int64)
        E = actions.shape[0]
        if actions.ndim != 2 or actions.shape[1] != self.nvec.size or (actions < 0).any() \
                or (actions >= self.nvec).any():
            raise ValueError(f"actions of shape {actions.shape} are outside MultiDiscrete({self.nvec.tolist()})")
        p = actions[:, 0].copy()
        L = self.n_stages[p]
        slots = actions[:, 1:]
        stage_of = np.where(slots == 0, -1, (slots - 1) % L[:, None])
        cap = self.cap[p]  # (E, Lmax, M)
        rows, devs = np.arange(E)[:, None], np.arange(self.n_devices)[None, :]
        fits = cap[rows, np.maximum(stage_of, 0), devs] >= 1
        stage_of = np.where((stage_of >= 0) & fits, stage_of, -1)  # rule 1
        member = stage_of[:, None, :] == np.arange(self.max_stages)[None, :, None]
        held = (cap * member).sum(axis=2)
        short = ((held < self.batch) & (np.arange(self.max_stages)[None, :] < L[:, None])).any(axis=1)
        for e in np.flatnonzero(short):
            key = actions[e].tobytes()
            hit = self._cache.get(key)
            if hit is None:
                pe = int(p[e])
                result = self._repair(pe, int(L[e]), self.cap[pe], stage_of[e])
                if result is None:  # rule 3
                    pe = pe if self.safe[pe] is not None else self.fallback
                    result = self.safe[pe].copy()
                if len(self._cache) > 200000:
                    self._cache.clear()
                hit = self._cache[key] = (pe, result)
            p[e], stage_of[e] = hit
        return p, stage_of

    def _repair(self, p, L, cap, stage_of):
        stage_of = stage_of.copy()
        held = np.array([cap[l, stage_of == l].sum() for l in range(L)])
        for l in range(L):
            while held[l] < self.batch:
                idle = np.flatnonzero((stage_of < 0) & (cap[l] >= 1))
                if idle.size:
                    i = int(idle[np.argmax(cap[l, idle])])  # argmax: ties to the lowest index
                else:
                    donors = [i for i in range(self.n_devices) if stage_of[i] >= 0 and stage_of[i] != l
                              and cap[l, i] >= 1 and held[stage_of[i]] - cap[stage_of[i], i] >= self.batch]
                    if not donors:
                        return None
                    i = max(donors, key=lambda d: (cap[l, d], -d))
                    held[stage_of[i]] -= cap[stage_of[i], i]
                stage_of[i] = l
                held[l] += cap[l, i]
        return stage_of

    # action, continuous part: local data --------------------------------------------------------
    def coefficients(self, p, f, u, B):
        """Per-sample time tau and energy eps, (E, L, M), of every device on every stage of p (E,)."""
        cl = self.cluster
        W, O = self.W[p][:, :, None], self.O[p][:, :, None]
        fu = f * u
        speed = (fu / cl.sigma)[:, None, :]
        t_comp = W / speed
        t_comm = O / B[:, None, :]
        g, h = heat_powers(f, cl.gamma_g, cl.gamma_h)
        eps = cl.eta * cl.sigma * W * (fu ** 2)[:, None, :] + g[:, None, :] * t_comp + h[:, None, :] * t_comm
        return t_comp + t_comm, eps

    def split(self, p, stage_of, f, u, B):
        """Whole samples D (E, L, M) of every device on every stage (rule 4), with tau and eps."""
        p = np.asarray(p, dtype=np.int64)
        E, L, M = p.size, self.max_stages, self.n_devices
        f, u, B = (np.asarray(x, dtype=float).reshape(E, M) for x in (f, u, B))
        tau, eps = self.coefficients(p, f, u, B)
        cap = self.cap[p]
        member = np.asarray(stage_of).reshape(E, 1, M) == np.arange(L)[None, :, None]
        D = np.zeros((E, L, M))
        rows = member.any(axis=2)
        if rows.any():
            args = (tau[rows], eps[rows], cap[rows], member[rows], self.batch, self.weights.w_time,
                    self.weights.w_energy)
            D[rows] = integer_split(*args, lp_split(*args))
        return D, tau, eps

    def costs(self, D, tau, eps) -> dict:
        """Paper-mode T_k (6), E_k (9), cost (10) of split D (E, L, M); arrays over E."""
        t_dev = D * tau
        T = np.where(D > 0, t_dev, 0.0).max(axis=2).sum(axis=1)
        energy = np.where(D > 0, D * eps, 0.0).sum(axis=(1, 2))
        cost = self.weights.w_energy * energy + self.weights.w_time * T
        return {"time_s": T, "energy_j": energy, "cost": cost}

    def placement(self, p: int, D) -> Placement:
        """The Placement of partition p with samples D (L, M): devices with 0 samples are idle."""
        ranges = self.partitions[int(p)]
        devices, samples = [], []
        for l in range(len(ranges)):
            devs = np.flatnonzero(D[l] > 0)
            devices.append(devs)
            samples.append(D[l, devs])
        return Placement.build(ranges, devices, samples)

    def decode(self, action, f, u, B) -> Placement:
        """One action under conditions (f, u, B) -> a feasible Placement (rules 1-4)."""
        p, stage_of = self.assign(action)
        D, _, _ = self.split(np.array([p]), stage_of[None, :], f, u, B)
        return self.placement(p, D[0])


def codec_for(scenario, partitions=None) -> PlacementCodec:
    return PlacementCodec(scenario.workload, scenario.cluster, scenario.weights, scenario.max_stages,
                          scenario.comm_factor, scenario.config, partitions)


# ----------------------------------------------------------------------------------------------
# episodes: fresh conditions per reset, traces read once


class EpisodeFactory:
    """Per-reset conditions for a scenario seed, equal to those of ``build_scenario`` with a
    horizon of one episode, without re-reading the trace files each time."""

    def __init__(self, config: dict, cluster, root, horizon_s: int):
        self.config = copy.deepcopy(config)
        self.config["dynamics"]["horizon_s"] = int(horizon_s)
        self.cluster, self.root, self.horizon = cluster, root, int(horizon_s)
        tcfg = self.config["traces"]
        self.files: dict[str, list] = {}
        self.series: dict[Path, np.ndarray] = {}
        if root is not None:
            for kind in set(cluster.kinds):
                self.files[kind] = kind_files(tcfg, root, kind)

    def _series(self, path: Path) -> np.ndarray:
        if path not in self.series:
            self.series[path] = read_trace(path, self.config["traces"]["column"])[0]
        return self.series[path]

    def conditions(self, seed: int):
        """The same draws, in the same order, as traces.build_replay and dynamics.build_conditions."""
        rng = np.random.default_rng(int(seed))
        tcfg = self.config["traces"]
        series, sources = [], []
        for kind in self.cluster.kinds:
            if self.root is None:
                m = tcfg["model"][kind]
                series.append(synthetic_series(rng, self.horizon, m["log_mean"], m["log_std"], m["rho"], m["outage"]))
                sources.append(f"model:{kind}")
            else:
                files = self.files[kind]
                path = files[int(rng.integers(len(files)))]
                series.append(self._series(path))
                sources.append(str(path.relative_to(self.root)))
        offsets = np.array([int(rng.integers(s.size)) for s in series], dtype=np.int64)
        replay = BandwidthReplay(series, offsets, sources, float(tcfg.get("scale", 1.0)))
        return build_conditions(self.config, self.cluster, replay, rng)


class EnvCore:
    """What the single and the vectorised env share: scenario constants, codec, episode factory."""

    def __init__(self, config=None, traces=None, dataset=None, loss_log=None, episode_iterations=None,
                 partitions=None):
        if config is None or isinstance(config, (str, Path)):
            config = load_config(config)
        self.config = config
        self.settings = agent_settings(config)
        if config["mode"] != "paper":
            raise GwpError(config.get("_source", "config"), "mode",
                           "the agent's environment uses the paper-mode cost model", "train with mode: paper")
        self.K = int(episode_iterations or self.settings["episode_iterations"])
        self.step_s = float(config["cost"]["step_s"])
        horizon = int(math.ceil(self.K * self.step_s)) + 1
        short = copy.deepcopy(config)
        short["dynamics"]["horizon_s"] = horizon
        base = build_scenario(short, seed=int(config["seed"]), dataset=dataset, traces=traces)
        self.scenario = base
        self.codec = codec_for(base, partitions)
        self.loss = loss_source(config, loss_log)
        self.factory = EpisodeFactory(short, base.cluster, base.trace_root, horizon)
        self.job_iterations = int(config["job"]["iterations"])
        self.random_start = bool(self.settings["random_start"])
        self.times = np.arange(self.K) * self.step_s

    def episode(self, rng: np.random.Generator) -> dict:
        """One episode's arrays: f, u, B (K, M) at k * step_s, the loss (K,) and the start k0."""
        seed = int(rng.integers(2 ** 31 - 1))
        span = max(self.job_iterations - self.K, 0)
        k0 = int(rng.integers(span + 1)) if self.random_start else 0
        cond = self.factory.conditions(seed)
        f, u, B = cond.at(self.times)
        k = k0 + np.arange(self.K)
        return {"seed": seed, "k0": k0, "f": f, "u": u, "B": B, "k": k, "loss": self.loss(k).astype(float)}


class GreenPlacementEnv(gym.Env):
    """One env: the paper's state, a MultiDiscrete placement action, reward (17) (module docstring).

    Keyword arguments: ``config`` (dict or YAML path; default experiments/paper.yaml), ``traces``
    (5G dataset root), ``dataset``, ``loss_log`` (an iterations.csv), ``episode_iterations``.
    """

    metadata = {"render_modes": []}

    def __init__(self, config=None, traces=None, dataset=None, loss_log=None, episode_iterations=None,
                 partitions=None, core: EnvCore | None = None):
        super().__init__()
        self.core = core or EnvCore(config, traces, dataset, loss_log, episode_iterations, partitions)
        self.codec = self.core.codec
        self.observation_space = self.codec.observation_space()
        self.action_space = self.codec.action_space()
        self.render_mode = None
        self._ep = None
        self._j = 0

    def _obs(self):
        ep, j = self._ep, self._j
        return self.codec.observe(ep["k"][j], ep["loss"][j], ep["f"][j], ep["u"][j], ep["B"][j])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._ep = self.core.episode(self.np_random)
        self._j = 0
        return self._obs(), {"scenario_seed": self._ep["seed"], "k0": self._ep["k0"]}

    def step(self, action):
        if self._ep is None:
            raise RuntimeError("call reset() before step()")
        ep, j = self._ep, self._j
        p, stage_of = self.codec.assign(action)
        f, u, B = ep["f"][j:j + 1], ep["u"][j:j + 1], ep["B"][j:j + 1]
        D, tau, eps = self.codec.split(np.array([p]), stage_of[None, :], f, u, B)
        out = self.codec.costs(D, tau, eps)
        cost = float(out["cost"][0])
        info = {"k": int(ep["k"][j]), "cost": cost, "time_s": float(out["time_s"][0]),
                "energy_j": float(out["energy_j"][0]), "partition": p, "samples": D[0]}
        self._j += 1
        truncated = self._j >= self.core.K
        obs = self._obs() if not truncated else self.codec.observe(ep["k"][-1] + 1, self.core.loss(ep["k"][-1] + 1),
                                                                    ep["f"][-1], ep["u"][-1], ep["B"][-1])
        return obs, -cost, False, truncated, info

    def placement(self, action) -> Placement:
        """The placement an action decodes to under the current iteration's conditions."""
        ep, j = self._ep, min(self._j, self.core.K - 1)
        return self.codec.decode(action, ep["f"][j], ep["u"][j], ep["B"][j])


class GreenPlacementVecEnv(VecEnv):
    """``n_envs`` copies of GreenPlacementEnv stepped together: one batched decode per step.

    Auto-resets like SB3's DummyVecEnv (terminal observation in the info, ``TimeLimit.truncated``
    set at the end of a window) and adds Monitor-style ``episode`` infos (sum of reward, length).
    """

    def __init__(self, n_envs: int, config=None, traces=None, dataset=None, loss_log=None,
                 episode_iterations=None, partitions=None, seed: int | None = None):
        self.render_mode = None
        self.core = EnvCore(config, traces, dataset, loss_log, episode_iterations, partitions)
        self.codec = self.core.codec
        super().__init__(int(n_envs), self.codec.observation_space(), self.codec.action_space())
        self._rngs = [np.random.default_rng([0 if seed is None else int(seed), e]) for e in range(self.num_envs)]
        K, M = self.core.K, self.codec.n_devices
        self.f = np.zeros((self.num_envs, K, M))
        self.u = np.zeros_like(self.f)
        self.B = np.zeros_like(self.f)
        self.k = np.zeros((self.num_envs, K), dtype=np.int64)
        self.loss = np.zeros((self.num_envs, K))
        self.j = np.zeros(self.num_envs, dtype=np.int64)
        self.ep_return = np.zeros(self.num_envs)
        self.ep_start = np.zeros(self.num_envs)
        self._actions = None
        self._rows = np.arange(self.num_envs)

    def _new_episode(self, e: int) -> None:
        if self._seeds[e] is not None:
            self._rngs[e] = np.random.default_rng(int(self._seeds[e]))
        ep = self.core.episode(self._rngs[e])
        self.f[e], self.u[e], self.B[e], self.k[e], self.loss[e] = ep["f"], ep["u"], ep["B"], ep["k"], ep["loss"]
        self.j[e] = 0
        self.ep_return[e] = 0.0
        self.ep_start[e] = time.time()

    def _obs(self):
        r, j = self._rows, self.j
        return self.codec.observe(self.k[r, j], self.loss[r, j], self.f[r, j], self.u[r, j], self.B[r, j])

    def reset(self):
        for e in range(self.num_envs):
            self._new_episode(e)
        self._reset_seeds()
        self._reset_options()
        return self._obs()

    def step_async(self, actions):
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs, -1)

    def step_wait(self):
        r, j = self._rows, self.j
        p, stage_of = self.codec.assign_batch(self._actions)
        D, tau, eps = self.codec.split(p, stage_of, self.f[r, j], self.u[r, j], self.B[r, j])
        out = self.codec.costs(D, tau, eps)
        rewards = (-out["cost"]).astype(np.float32)
        self.ep_return += rewards
        self.j += 1
        dones = self.j >= self.core.K
        infos = [{"cost": float(out["cost"][e]), "time_s": float(out["time_s"][e]),
                  "energy_j": float(out["energy_j"][e])} for e in range(self.num_envs)]
        if dones.any():
            last = self.k[r, -1] + 1
            final = self.codec.observe(last, self.core.loss(last), self.f[r, -1], self.u[r, -1], self.B[r, -1])
            for e in np.flatnonzero(dones):
                infos[e]["terminal_observation"] = final[e]
                infos[e]["TimeLimit.truncated"] = True
                infos[e]["episode"] = {"r": float(self.ep_return[e]), "l": int(self.core.K),
                                       "t": round(time.time() - self.ep_start[e], 6)}
                self._new_episode(e)
            self._reset_seeds()
        return self._obs(), rewards, dones, infos

    def close(self):
        pass

    def _indices(self, indices):
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices

    def get_attr(self, attr_name, indices=None):
        value = getattr(self, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name, value, indices=None):
        setattr(self, attr_name, value)

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        return [getattr(self, method_name)(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False for _ in self._indices(indices)]


def _register() -> None:
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="gwp_cli.env:GreenPlacementEnv")


_register()
