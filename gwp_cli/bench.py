"""Benchmarks (`gwp bench`, docs/benchmarks.md): simulator throughput, decision latency, training overhead.

Every figure is measured in this process, beside the baseline it is compared with, so that the
ratios hold on a busy machine even where the absolute numbers do not:

1. cost model: placements per second of the vectorised ``costmodel.iteration_cost`` against
   ``loop_costs``, a plain per-device Python loop over the same placements (the reference lives
   here); both give the same numbers, which is checked.
2. env: steps per second of ``gwp/GreenPlacement-v0`` (one env through ``gymnasium.make``), of
   the batched ``GreenPlacementVecEnv`` in one process and in one process per core, and of PPO
   training (``agent.train_agent``, the code `gwp agent train` runs).
3. decision latency: median and p99 seconds per ``Policy.decide`` of each policy for clusters of
   M = 3 ... 96 devices (the default class mix replicated), with the fitted growth exponent.
4. training loop: wall time per iteration of ``train.train`` (real MobileNetV2 on real
   Fashion-MNIST) with the policy and the cost model stepped every iteration, against the same
   loop with a simulator that does nothing.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import multiprocessing as mp
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .config import load_config

LATENCY_MS = (3, 6, 9, 12, 24, 48, 96)
ALL_POLICIES = ("random", "static", "rule", "heuristic", "gwp", "myopic", "oracle")
SOLVER_POLICIES = ("static", "myopic", "oracle")  # each decision runs the exact solver (or its fallback)
TARGETS = {
    "cost_model_speedup": (50.0, "x the per-device Python loop"),
    "device_evals_per_s": (1.0e6, "device-evaluations per second, one core"),
    "env_steps_per_s_vec": (2.0e4, "env steps per second, vectorised, 2 cores"),
    "gwp_latency_ms_at_96": (1.0, "ms per gwp decision at M = 96 (at most)"),
}


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does (``QUICK``: `gwp bench --quick`; ``FULL``: the default)."""

    placements: int = 50000  # vectorised cost model
    loop_placements: int = 5000  # the Python loop (timed per placement)
    cost_repeats: int = 5
    cost_chunk: int = 2000  # placements per iteration_cost call (cache-sized batches are fastest)
    env_steps: int = 3000  # single env
    vec_envs: tuple = (8, 64)  # batched VecEnv sizes (the first is agent.n_envs' default)
    vec_steps: int = 200  # steps of the batched env per size
    vec_procs: int = 0  # worker processes for the multi-core figure (0: the machine's cores)
    ppo_steps: int = 8192
    ms: tuple = LATENCY_MS
    policies: tuple = ALL_POLICIES
    reps: int = 200  # decisions timed per (policy, M)
    solver_reps: int = 15  # ... for the solver policies
    warmup: int = 2
    cell_budget_s: float = 20.0  # stop timing a (policy, M) after this many seconds (>= 3 decisions)
    train_iterations: int = 10  # pairs of iterations (with, without the policy) per training run
    train_policies: tuple = ("heuristic", "myopic")
    train_width: float | None = None  # None: the config's model.width
    profile: bool = True  # cProfile the slow decisions (where the time goes)


FULL = Sizes()
QUICK = Sizes(placements=20000, loop_placements=2000, cost_repeats=3, env_steps=1500, vec_envs=(8, 64),
              vec_steps=80, ppo_steps=2048, reps=30, solver_reps=5, warmup=1, cell_budget_s=1.5, train_iterations=2,
              train_policies=("heuristic", "myopic"))
TINY = Sizes(placements=200, loop_placements=50, cost_repeats=1, env_steps=40, vec_envs=(4,), vec_steps=5,
             vec_procs=1, ppo_steps=64, ms=(3, 6), policies=("heuristic", "gwp", "myopic"), reps=3,
             solver_reps=2, warmup=1, cell_budget_s=0.5, train_iterations=1, train_policies=("heuristic",),
             train_width=0.25, profile=False)


# ----------------------------------------------------------------------------------------------
# the machine


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine() -> dict:
    import torch

    info = {"cores": cores(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "processor": platform.processor() or platform.machine()}
    try:
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


@contextlib.contextmanager
def torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _timer() -> float:
    return time.perf_counter()


# ----------------------------------------------------------------------------------------------
# configs with M devices


def class_counts(config: dict, M: int) -> dict:
    """Device count per class for a cluster of M devices in the config's class mix.

    M a multiple of the config's cluster size: every count times M / size; otherwise the
    quotas count * M / size rounded down, the devices left over going one each to the largest
    remainders (ties: the class listed first).
    """
    classes = config["cluster"]["classes"]
    base = {name: int(spec["count"]) for name, spec in classes.items()}
    total = sum(base.values())
    if M < 1:
        raise ValueError(f"a cluster needs at least one device, got M = {M}")
    quota = {name: n * M / total for name, n in base.items()}
    counts = {name: int(math.floor(q + 1e-9)) for name, q in quota.items()}
    left = M - sum(counts.values())
    order = sorted(base, key=lambda name: (-(quota[name] - counts[name]), list(base).index(name)))
    for name in order[:left]:
        counts[name] += 1
    return counts


def config_with_devices(config: dict, M: int, horizon_s: int | None = 3600) -> dict:
    """``config`` with its device classes replicated to M devices (``class_counts``).

    ``horizon_s`` shortens the simulated day of conditions, which is all that building a
    scenario costs (a decision does not depend on it).
    """
    counts = class_counts(config, M)
    classes = {name: dict(copy.deepcopy(spec), count=counts[name])
               for name, spec in config["cluster"]["classes"].items()}
    overrides = {"cluster": {"classes": classes}}
    if horizon_s:
        overrides["dynamics"] = {"horizon_s": int(horizon_s)}
    return load_config(config.get("_source"), _merge_overrides(config, overrides))


def _merge_overrides(config: dict, extra: dict) -> dict:
    """The whole config as overrides (so a dict config round-trips through load_config) plus ``extra``."""
    from .config import deep_merge

    base = {k: copy.deepcopy(v) for k, v in config.items() if not k.startswith("_")}
    return deep_merge(base, extra)


# ----------------------------------------------------------------------------------------------
# 1. cost model


def random_placements(n: int, workload, cluster, max_stages: int, comm_factor: float, rng):
    """n random placements as device arrays (D, W, O, stage_of), each (n, M).

    Each draws L in 1..min(max_stages, N, M) stages with random cuts, gives every device a
    stage or none (every stage at least one device) and splits the batch over each stage's
    devices at random (every device at least one sample). Memory is not checked: the cost
    model does not read it.
    """
    N, M, batch = workload.n_blocks, cluster.n_devices, cluster.batch_size
    D = np.zeros((n, M))
    W = np.zeros((n, M))
    O = np.zeros((n, M))
    stage_of = np.full((n, M), -1, dtype=np.int64)
    flops = np.concatenate([[0.0], np.cumsum(workload.flops)])
    top = min(max_stages, N, M, batch)
    for p in range(n):
        L = int(rng.integers(1, top + 1))
        cuts = np.sort(rng.choice(np.arange(1, N), L - 1, replace=False)) if L > 1 else np.array([], dtype=int)
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts - 1, [N - 1]])
        devs = rng.permutation(M)
        k = int(rng.integers(L, M + 1))  # devices in use
        groups = np.array_split(devs[:k], L)
        for l, g in enumerate(groups):
            share = rng.multinomial(batch - g.size, np.full(g.size, 1.0 / g.size)) + 1
            D[p, g] = share
            W[p, g] = flops[ends[l] + 1] - flops[starts[l]]
            O[p, g] = comm_factor * workload.out_bytes[ends[l]]
            stage_of[p, g] = l
    return D, W, O, stage_of


def loop_costs(D, W, O, stage_of, n_stages, f, u, B, cluster, weights) -> list:
    """The reference: eqs. (1)-(10) one device at a time in plain Python, one placement at a time.

    Arguments as ``costmodel.iteration_cost``; returns [(T, E, cost), ...] per placement.
    """
    GHZ = 1e9
    sigma, eta = cluster.sigma.tolist(), cluster.eta.tolist()
    gg, gh = cluster.gamma_g.tolist(), cluster.gamma_h.tolist()
    f, u, B = list(map(float, f)), list(map(float, u)), list(map(float, B))
    alpha, t_ref, e_ref = weights.alpha, weights.t_ref, weights.e_ref
    out = []
    for Dp, Wp, Op, Sp in zip(D.tolist(), W.tolist(), O.tolist(), stage_of.tolist()):
        stage_t = [0.0] * n_stages
        energy = 0.0
        for i in range(len(Dp)):
            if Sp[i] < 0:
                continue
            t_comp = Dp[i] * Wp[i] * sigma[i] / (f[i] * u[i])
            t_comm = Dp[i] * Op[i] / B[i]
            cube = (f[i] / GHZ) ** 3
            e_comp = eta[i] * sigma[i] * Dp[i] * Wp[i] * (f[i] * u[i]) ** 2
            e_heat = gg[i] * cube * t_comp + gh[i] * cube * t_comm
            energy += e_comp + e_heat
            t = t_comp + t_comm
            if t > stage_t[Sp[i]]:
                stage_t[Sp[i]] = t
        T = sum(stage_t)
        out.append((T, energy, alpha * energy / e_ref + (1.0 - alpha) * T / t_ref))
    return out


def bench_cost_model(config: dict, sizes: Sizes = QUICK, seed: int = 0) -> dict:
    from .costmodel import iteration_cost
    from .scenario import build_scenario

    sc = build_scenario(config_with_devices(config, config_total(config)), seed=seed)
    cl, wl = sc.cluster, sc.workload
    rng = np.random.default_rng(seed)
    D, W, O, S = random_placements(sizes.placements, wl, cl, sc.max_stages, sc.comm_factor, rng)
    f, u, B = sc.conditions.at(0.0)
    L = sc.max_stages

    def run(chunk):
        """Seconds to cost all placements, ``chunk`` at a time (median of the repeats)."""
        times = []
        for _ in range(max(1, sizes.cost_repeats)):
            t0 = _timer()
            for a in range(0, sizes.placements, chunk):
                b = a + chunk
                iteration_cost(D[a:b], W[a:b], O[a:b], S[a:b], L, f, u, B, cl, sc.weights)
            times.append(_timer() - t0)
        return float(np.median(times))

    by_batch = {}
    for chunk in sorted({100, 1000, sizes.cost_chunk, 10000, sizes.placements}):
        if chunk <= sizes.placements:
            by_batch[chunk] = run(chunk) / sizes.placements
    vec_s = by_batch[min(sizes.cost_chunk, sizes.placements)] * sizes.placements
    res = iteration_cost(D, W, O, S, L, f, u, B, cl, sc.weights)
    n_loop = min(sizes.loop_placements, sizes.placements)
    loop_times = []
    for _ in range(max(1, sizes.cost_repeats)):
        t0 = _timer()
        ref = loop_costs(D[:n_loop], W[:n_loop], O[:n_loop], S[:n_loop], L, f, u, B, cl, sc.weights)
        loop_times.append(_timer() - t0)
    loop_s = float(np.median(loop_times))
    ref = np.array(ref)
    got = np.stack([res["time_s"][:n_loop], res["energy_j"][:n_loop], res["cost"][:n_loop]], axis=1)
    agree = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)))
    per_vec = vec_s / sizes.placements
    per_loop = loop_s / n_loop
    M = cl.n_devices
    return {"devices": M, "placements": sizes.placements, "loop_placements": n_loop,
            "batch": min(sizes.cost_chunk, sizes.placements), "vectorised_s": vec_s, "loop_s": loop_s,
            "us_per_placement_by_batch": {str(k): 1e6 * v for k, v in by_batch.items()},
            "placements_per_s": 1.0 / per_vec, "loop_placements_per_s": 1.0 / per_loop,
            "device_evals_per_s": M / per_vec, "loop_device_evals_per_s": M / per_loop,
            "speedup": per_loop / per_vec, "max_rel_diff_vs_loop": agree}


def config_total(config: dict) -> int:
    return sum(int(spec["count"]) for spec in config["cluster"]["classes"].values())


# ----------------------------------------------------------------------------------------------
# 2. env and PPO


def _sample_actions(space, n: int, rng) -> np.ndarray:
    nvec = np.asarray(space.nvec)
    return (rng.random((n,) + nvec.shape) * nvec).astype(np.int64)


def bench_env_single(config: dict, steps: int, seed: int = 0) -> dict:
    import gymnasium as gym

    from .env import ENV_ID

    env = gym.make(ENV_ID, config=config)
    env.reset(seed=seed)
    acts = _sample_actions(env.action_space, steps, np.random.default_rng(seed))
    t0 = _timer()
    for a in acts:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    wall = _timer() - t0
    env.close()
    return {"steps": steps, "wall_s": wall, "steps_per_s": steps / wall}


def _vec_run(config: dict, n_envs: int, steps: int, seed: int) -> tuple[int, float]:
    from .env import GreenPlacementVecEnv

    venv = GreenPlacementVecEnv(n_envs, config, seed=seed)
    venv.reset()
    acts = _sample_actions(venv.action_space, steps * n_envs, np.random.default_rng(seed)).reshape(
        steps, n_envs, -1)
    venv.step(acts[0])  # warm-up
    t0 = _timer()
    for a in acts[1:]:
        venv.step(a)
    return (steps - 1) * n_envs, _timer() - t0


def profile_vec_env(config: dict, n_envs: int, steps: int, seed: int = 0) -> list:
    """cProfile's top functions over ``steps`` batched steps (where an env step's time goes)."""
    from .env import GreenPlacementVecEnv

    venv = GreenPlacementVecEnv(n_envs, config, seed=seed)
    venv.reset()
    acts = _sample_actions(venv.action_space, steps * n_envs, np.random.default_rng(seed + 1)).reshape(
        steps, n_envs, -1)

    def run():
        for a in acts:
            venv.step(a)

    return _profile(run)


def _vec_worker(config, n_envs, steps, seed, start, results):
    start.wait()
    results.put(_vec_run(config, n_envs, steps, seed))


def bench_env_vec(config: dict, n_envs: int, steps: int, procs: int = 1, seed: int = 0) -> dict:
    """Batched VecEnv steps per second; ``procs`` > 1 runs one VecEnv per worker process at once."""
    if procs <= 1:
        done, wall = _vec_run(config, n_envs, steps, seed)
        return {"n_envs": n_envs, "procs": 1, "steps": done, "wall_s": wall, "steps_per_s": done / wall}
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_vec_worker, args=(config, n_envs, steps, seed + w, start, results), daemon=True)
               for w in range(procs)]
    for w in workers:
        w.start()
    time.sleep(0.1)
    start.set()  # each worker builds its env, then all step together
    out = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    rate = sum(done / wall for done, wall in out)
    return {"n_envs": n_envs, "procs": procs, "steps": sum(d for d, _ in out),
            "wall_s": max(w for _, w in out), "steps_per_s": rate,
            "per_proc_steps_per_s": [d / w for d, w in out]}


def bench_ppo(config: dict, steps: int, seed: int = 0) -> dict:
    from .agent import train_agent

    with tempfile.TemporaryDirectory(prefix="gwp-bench-") as tmp:
        summary = train_agent(config, steps=steps, seed=seed, out=Path(tmp) / "agent.zip", progress=False)
    return {"timesteps": summary["timesteps"], "wall_s": summary["wall_s"],
            "steps_per_s": summary["timesteps"] / summary["wall_s"]}


# ----------------------------------------------------------------------------------------------
# 3. decision latency


def untrained_agent(config: dict, directory) -> Path:
    """An agent zip (PPO, untrained) for ``config``'s cluster, with its sidecar: what `gwp agent
    train` writes, minus the training. Its forward pass and decoder cost what a trained one's do."""
    from stable_baselines3 import PPO

    from .env import GreenPlacementEnv, agent_settings

    env = GreenPlacementEnv(config=config, episode_iterations=4)
    arch = list(agent_settings(config)["net_arch"])
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=8, policy_kwargs={"net_arch": {"pi": arch, "vf": arch}},
                seed=0, device="cpu", verbose=0)
    codec = env.codec
    path = Path(directory) / f"untrained_m{codec.n_devices}.zip"
    model.save(str(path))
    meta = {"format": 1, "n_devices": codec.n_devices, "device_classes": list(env.core.scenario.cluster.classes),
            "partitions": [[list(r) for r in p] for p in codec.partitions], "max_stages": codec.max_stages,
            "n_blocks": codec.n_blocks, "obs_dim": codec.obs_dim, "nvec": codec.nvec.tolist(), "untrained": True}
    path.with_name(path.stem + ".json").write_text(json.dumps(meta))
    return path


def _decide_times(policy, sim, reps: int, warmup: int, budget_s: float = float("inf"), min_reps: int = 3):
    """Seconds per ``policy.decide`` at successive iterations; per-epoch and once-per-job policies
    are made to decide every time (a fresh epoch; no placement yet), so that a decision is timed.
    Stops early, after at least ``min_reps``, once the timed decisions took ``budget_s``."""
    name = policy.name
    times = []
    for j in range(warmup + reps):
        if len(times) >= min_reps and sum(times) > budget_s:
            break
        obs = sim.observe()
        if name in ("random", "heuristic"):
            obs = replace(obs, new_epoch=True)
        if name in ("static", "rule"):
            policy.placement = None
        t0 = _timer()
        policy.decide(obs)
        dt = _timer() - t0
        if j >= warmup:
            times.append(dt)
        sim.k += 1
    return np.array(times)


def fit_exponent(ms, values) -> float:
    """Slope of log(value) against log(M) by least squares (value ~ M^slope)."""
    x, y = np.log(np.asarray(ms, dtype=float)), np.log(np.asarray(values, dtype=float))
    if x.size < 2:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def _gwp_breakdown(policy, sim, reps: int) -> dict:
    """Median ms of the gwp decision's parts: state, network forward, memory repair, sample split."""
    codec, model = policy.codec, policy.model
    parts = {"observe": [], "forward": [], "assign": [], "split": [], "placement": []}
    for _ in range(reps):
        obs = sim.observe()
        loss = obs.loss if obs.loss is not None else float(policy.loss(obs.k))
        t0 = _timer()
        state = codec.observe(obs.k, loss, obs.f, obs.u, obs.B)
        t1 = _timer()
        if hasattr(policy, "act"):  # GwpPolicy's own deterministic action
            action = policy.act(state)
        else:
            action, _ = model.predict(state, deterministic=True)
        t2 = _timer()
        p, stage_of = codec.assign(np.asarray(action))
        t3 = _timer()
        D, _, _ = codec.split(np.array([p]), stage_of[None, :], obs.f, obs.u, obs.B)
        t4 = _timer()
        codec.placement(p, D[0])
        t5 = _timer()
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            parts[key].append(dt)
        sim.k += 1
    return {k: 1e3 * float(np.median(v)) for k, v in parts.items()}


def _profile(fn, top: int = 10) -> list:
    """The ``top`` functions by own time of one call of fn: [[function, calls, own ms, cumulative ms]]."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof).stats
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    out = []
    for (filename, line, func), (cc, nc, tt, ct, _) in rows:
        where = f"{Path(filename).name}:{line}({func})" if line else func
        out.append([where, int(nc), round(1e3 * tt, 3), round(1e3 * ct, 3)])
    return out


def bench_latency(config: dict, sizes: Sizes = QUICK, seed: int = 0, echo=None) -> dict:
    """Median and p99 ms per decision of each policy for each M, fitted exponents, and breakdowns."""
    from .policies import make_policy
    from .scenario import build_scenario
    from .simulate import Simulator

    echo = echo or (lambda msg: None)
    median = {p: {} for p in sizes.policies}
    p99 = {p: {} for p in sizes.policies}
    samples = {p: {} for p in sizes.policies}
    breakdown, methods, profiles = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="gwp-bench-") as tmp, torch_threads(1):
        for M in sizes.ms:
            cfg = config_with_devices(config, M)
            scenario = build_scenario(cfg, seed=seed)
            agent = untrained_agent(cfg, tmp) if "gwp" in sizes.policies else None
            for name in sizes.policies:
                policy = make_policy(name, str(agent) if name == "gwp" else None)
                sim = Simulator(scenario, policy, policy_seed=seed)
                reps = sizes.solver_reps if name in SOLVER_POLICIES else sizes.reps
                times = _decide_times(policy, sim, reps, sizes.warmup, sizes.cell_budget_s)
                median[name][str(M)] = 1e3 * float(np.median(times))
                p99[name][str(M)] = 1e3 * float(np.percentile(times, 99))
                samples[name][str(M)] = int(times.size)
                if name == "myopic":
                    methods[str(M)] = policy.solution.method
                if name == "gwp":
                    breakdown[str(M)] = _gwp_breakdown(policy, sim, max(3, min(reps, 20)))
                if sizes.profile and M == max(sizes.ms) and name in ("gwp", "myopic"):
                    obs = sim.observe()
                    profiles[f"{name}@{M}"] = _profile(lambda: policy.decide(obs))
                if sizes.profile and M == 9 and name == "myopic":
                    obs = sim.observe()
                    profiles[f"{name}@{M}"] = _profile(lambda: policy.decide(obs))
            echo(f"gwp bench: latency M={M}: " + ", ".join(f"{p} {median[p][str(M)]:.3g} ms" for p in sizes.policies))
    ms = list(sizes.ms)
    exponent = {p: fit_exponent(ms, [median[p][str(M)] for M in ms]) for p in median}
    ranges = {}
    if "myopic" in sizes.policies:
        from .solver import EXACT_MAX_DEVICES

        exact = [M for M in ms if M <= EXACT_MAX_DEVICES]
        above = [M for M in ms if M > EXACT_MAX_DEVICES]
        for label, sub in (("exact", exact), ("fallback", above)):
            if len(sub) >= 2:
                ranges[f"myopic_{label}_M{sub[0]}-{sub[-1]}"] = fit_exponent(
                    sub, [median["myopic"][str(M)] for M in sub])
    return {"ms": ms, "median_ms": median, "p99_ms": p99, "samples": samples, "exponent": exponent,
            "exponent_ranges": ranges, "gwp_breakdown_ms": breakdown, "myopic_method": methods,
            "profiles": profiles, "torch_threads": 1,
            "gwp_agent": "untrained PPO of the config's net_arch, built for each M (same forward and decoder)"}


def plot_latency(latency: dict, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ms = latency["ms"]
    for name, values in latency["median_ms"].items():
        y = [values[str(M)] for M in ms]
        hi = [latency["p99_ms"][name][str(M)] for M in ms]
        line, = ax.plot(ms, y, marker="o", label=f"{name} (M^{latency['exponent'][name]:.2f})")
        ax.fill_between(ms, y, hi, color=line.get_color(), alpha=0.07, linewidth=0)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ms)
    ax.set_xticklabels([str(M) for M in ms])
    ax.set_xlabel("devices M (default class mix replicated)")
    ax.set_ylabel("ms per decision (median; band to p99)")
    ax.set_title("Decision latency vs cluster size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=130)
    plt.close(fig)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------------------------
# 4. training loop overhead


NULL_ROW = {"sim_time_s": 0.0, "time_s": 0.0, "energy_j": 0.0, "cost": 0.0}


@contextlib.contextmanager
def _alternating_simulator(log: list):
    """Inside, ``train.train`` gets its real simulator with ``step`` wrapped: calls 0, 2, 4, ...
    run the policy and the cost model (timed into ``log`` as (call, seconds)); calls 1, 3, 5, ...
    do nothing and return a fixed row. So one run holds the loop with and without the policy,
    interleaved, and a drift in the machine's load meets both alike. train.py looks
    build_simulator up in gwp_cli.simulate when it runs, so swapping that attribute is enough."""
    from . import simulate

    real = simulate.build_simulator

    def build(*args, **kwargs):
        sim = real(*args, **kwargs)
        inner = sim.step
        calls = [0]

        def step(*a, **k):
            n = calls[0]
            calls[0] += 1
            if n % 2:
                return dict(NULL_ROW)
            t0 = _timer()
            out = inner(*a, **k)
            log.append((n, _timer() - t0))
            return out

        sim.step = step
        return sim

    simulate.build_simulator = build
    try:
        yield
    finally:
        simulate.build_simulator = real


def _train_run(config: dict, policy: str, pairs: int, data_dir, threads) -> dict:
    """One `gwp train` run of 2 * pairs + 2 iterations, the policy on every other one."""
    from .train import TrainOptions, train

    batch = int(config["cluster"]["batch_size"])
    iterations = 2 * pairs + 2
    stamps, log = [], []
    options = TrainOptions(dataset="fashion-mnist", data_dir=data_dir, download=False, policy=policy, epochs=1,
                           limit_train=batch * iterations, limit_test=batch, max_iterations=iterations,
                           threads=threads, progress=False)
    with tempfile.TemporaryDirectory(prefix="gwp-bench-train-") as tmp, _alternating_simulator(log):
        t0 = _timer()
        train(config, Path(tmp) / "run", options, echo=lambda msg: None, step_hook=lambda it: stamps.append(_timer()))
        total = _timer() - t0
    wall = np.diff(np.array(stamps))  # wall[j]: iteration j + 1 (iteration 0, the warm-up, is not counted)
    index = np.arange(1, len(stamps))
    with_policy, without = wall[index % 2 == 0], wall[index % 2 == 1]
    steps = [s for n, s in log if n > 0]
    return {"iterations": iterations, "with_policy_s": with_policy.tolist(), "without_policy_s": without.tolist(),
            "policy_step_s": steps, "total_s": total, "batch": batch}


def bench_train(config: dict, sizes: Sizes = QUICK, data_dir=None, threads: int | None = None, echo=None) -> dict:
    """Per-iteration wall time of `gwp train` with each policy against the same loop without it."""
    echo = echo or (lambda msg: None)
    cfg = config
    if sizes.train_width is not None:
        cfg = load_config(config.get("_source"), _merge_overrides(config, {"model": {"width": sizes.train_width}}))
    batch = int(cfg["cluster"]["batch_size"])
    out = {"pairs_per_run": sizes.train_iterations, "batch_size": batch, "model_width": float(cfg["model"]["width"]),
           "design": "one training run per policy; the policy and cost model run on every other iteration, the "
                     "iterations between skip them (same loop, same data, interleaved)", "policies": {}}
    for p in sizes.train_policies:
        run = _train_run(cfg, p, sizes.train_iterations, data_dir, threads)
        a, b = float(np.median(run["with_policy_s"])), float(np.median(run["without_policy_s"]))
        step = float(np.median(run["policy_step_s"])) if run["policy_step_s"] else 0.0
        out["policies"][p] = {"iteration_s": a, "without_policy_iteration_s": b, "overhead": a / b - 1.0,
                              "samples_per_s": batch / a, "without_policy_samples_per_s": batch / b,
                              "policy_step_s": step, "step_share": step / a, "run": run}
        echo(f"gwp bench: train {p}: {a:.3f} s/iteration with the policy, {b:.3f} s without "
             f"({100 * (a / b - 1):+.1f}%); its step {1e3 * step:.1f} ms")
    return out


# ----------------------------------------------------------------------------------------------
# all of it


def run_benchmarks(config: dict | None = None, sizes: Sizes = QUICK, out="results/bench.json", figure=None,
                   only=None, data_dir=None, echo=None) -> dict:
    """Run the benchmarks (``only``: a subset of cost, env, latency, train), write JSON and figure."""
    from .io import write_json_atomic

    echo = echo or (lambda msg: None)
    config = config or load_config()
    if sizes.train_policies and "heuristic" not in sizes.train_policies:
        raise ValueError("train_policies must include heuristic (the figure train_overhead reports)")
    which = set(only or ("cost", "env", "latency", "train"))
    t_start = _timer()
    res: dict = {"machine": machine(), "cores": cores(), "sizes": asdict(sizes), "notes": {}}
    if "cost" in which:
        echo("gwp bench: cost model")
        cm = bench_cost_model(config, sizes)
        res["cost_model"] = cm
        res["cost_model_speedup"] = cm["speedup"]
        res["device_evals_per_s"] = cm["device_evals_per_s"]
    if "env" in which:
        echo("gwp bench: env")
        single = bench_env_single(config, sizes.env_steps)
        vec = [bench_env_vec(config, n, sizes.vec_steps) for n in sizes.vec_envs]
        procs = sizes.vec_procs or min(2, cores())
        multi = bench_env_vec(config, max(sizes.vec_envs), sizes.vec_steps, procs=procs) if procs > 1 else None
        res["env"] = {"single": single, "vec_1proc": vec, "vec_procs": multi}
        if sizes.profile:
            res["env"]["profile_vec"] = profile_vec_env(config, max(sizes.vec_envs), max(5, sizes.vec_steps // 4))
        res["env_steps_per_s"] = single["steps_per_s"]
        best1 = max(vec, key=lambda v: v["steps_per_s"])
        res["env_steps_per_s_vec_1proc"] = best1["steps_per_s"]
        res["env_steps_per_s_vec"] = multi["steps_per_s"] if multi else best1["steps_per_s"]
        res["notes"]["env_steps_per_s_vec"] = (
            f"GreenPlacementVecEnv with {max(sizes.vec_envs)} envs in each of {procs} worker processes "
            f"(random actions)" if multi else f"GreenPlacementVecEnv, one process, {best1['n_envs']} envs")
        echo("gwp bench: PPO")
        ppo = bench_ppo(config, sizes.ppo_steps)
        res["env"]["ppo"] = ppo
        res["ppo_steps_per_s"] = ppo["steps_per_s"]
    if "latency" in which:
        echo("gwp bench: decision latency")
        lat = bench_latency(config, sizes, echo=echo)
        res["latency"] = lat
        res["latency_ms"] = lat["median_ms"]
        res["latency_p99_ms"] = lat["p99_ms"]
        res["latency_exponent"] = lat["exponent"]
        fig = Path(figure) if figure else Path(out).parent / "figures" / "bench_latency.png"
        res["figure"] = str(plot_latency(lat, fig))
    if "train" in which:
        from .errors import GwpError

        echo("gwp bench: training loop")
        try:
            tr = bench_train(config, sizes, data_dir=data_dir, echo=echo)
        except GwpError as exc:  # no Fashion-MNIST here: say so, keep the other results
            res["notes"]["train"] = f"skipped: {exc.one_line()}"
            res["train_overhead"] = None
            echo(f"gwp bench: training loop skipped: {exc.one_line()}")
        else:
            res["train"] = tr
            res["train_overhead"] = tr["policies"]["heuristic"]["overhead"]
            res["train_samples_per_s"] = tr["policies"]["heuristic"]["samples_per_s"]
    res["targets"] = targets(res)
    res["wall_s"] = _timer() - t_start
    if out:
        write_json_atomic(_jsonable(res), out)
    return res


def targets(res: dict) -> dict:
    got = {"cost_model_speedup": res.get("cost_model_speedup"), "device_evals_per_s": res.get("device_evals_per_s"),
           "env_steps_per_s_vec": res.get("env_steps_per_s_vec")}
    lat = res.get("latency_ms", {}).get("gwp", {})
    if lat:
        got["gwp_latency_ms_at_96"] = lat.get(str(max(int(m) for m in lat)))
    out = {}
    for key, value in got.items():
        if value is None:
            continue
        goal, what = TARGETS[key]
        met = value <= goal if key.startswith("gwp_latency") else value >= goal
        out[key] = {"value": value, "target": goal, "what": what, "met": bool(met)}
    return out


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _num(x, unit="") -> str:
    if x is None:
        return "-"
    if abs(x) >= 1e5:
        return f"{x:.3g}{unit}"
    if abs(x) >= 100:
        return f"{x:,.0f}{unit}"
    return f"{x:.3g}{unit}"


def format_table(res: dict) -> str:
    """The results as a plain-text table (what `gwp bench` prints and docs/benchmarks.md shows)."""
    lines = [f"gwp bench on {res['cores']} core(s) ({res['machine'].get('processor', '')}); ratios are measured "
             f"in the same process"]
    rows = []
    t = res.get("targets", {})

    def met(key):
        return "" if key not in t else ("met" if t[key]["met"] else "NOT met")

    if "cost_model" in res:
        cm = res["cost_model"]
        rows.append(("cost model, vectorised", f"{_num(cm['placements_per_s'])} placements/s",
                     f"loop {_num(cm['loop_placements_per_s'])}/s", f"{cm['speedup']:.0f}x", ">= 50x",
                     met("cost_model_speedup")))
        rows.append((f"  device-evaluations (M={cm['devices']})", f"{_num(cm['device_evals_per_s'])}/s",
                     f"loop {_num(cm['loop_device_evals_per_s'])}/s", "", ">= 1e6/s", met("device_evals_per_s")))
    if "env" in res:
        e = res["env"]
        rows.append(("env, single (gym.make)", f"{_num(e['single']['steps_per_s'])} steps/s", "", "", "", ""))
        for v in e["vec_1proc"]:
            rows.append((f"env, batched VecEnv x{v['n_envs']}, 1 proc", f"{_num(v['steps_per_s'])} steps/s", "",
                         f"{v['steps_per_s'] / e['single']['steps_per_s']:.1f}x single", "", ""))
        if e.get("vec_procs"):
            v = e["vec_procs"]
            rows.append((f"env, VecEnv x{v['n_envs']} in {v['procs']} procs", f"{_num(v['steps_per_s'])} steps/s",
                         "", f"{v['steps_per_s'] / e['single']['steps_per_s']:.1f}x single", ">= 20,000/s",
                         met("env_steps_per_s_vec")))
        rows.append(("PPO training (gwp agent train)", f"{_num(e['ppo']['steps_per_s'])} steps/s", "", "", "", ""))
    if "train" in res:
        tr = res["train"]
        for p, v in tr["policies"].items():
            rows.append((f"gwp train, {p}", f"{v['iteration_s'] * 1e3:.0f} ms/it, {_num(v['samples_per_s'])} samples/s",
                         f"no policy {v['without_policy_iteration_s'] * 1e3:.0f} ms/it",
                         f"{100 * v['overhead']:+.1f}%", "< 5%" if p == "heuristic" else "",
                         f"its step {1e3 * v['policy_step_s']:.1f} ms = {100 * v['step_share']:.1f}% of it"))
    widths = [max(len(str(r[i])) for r in rows + [("benchmark", "measured", "baseline", "ratio", "target", "")])
              for i in range(6)]
    head = ("benchmark", "measured", "baseline", "ratio", "target", "")
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    if rows:
        lines.append(fmt.format(*head).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines += [fmt.format(*r).rstrip() for r in rows]
    if "latency" in res:
        lat = res["latency"]
        ms = lat["ms"]
        names = list(lat["median_ms"])
        lines.append("")
        lines.append("decision latency, ms: median / p99 (M = devices)")
        cw = max(19, max(len(n) for n in names) + 2)
        lines.append("M".rjust(4) + "".join(n.rjust(cw) for n in names))
        for M in ms:
            cells = [f"{lat['median_ms'][n][str(M)]:.3g}/{lat['p99_ms'][n][str(M)]:.3g}" for n in names]
            lines.append(str(M).rjust(4) + "".join(c.rjust(cw) for c in cells))
        lines.append("exp.".rjust(4) + "".join(f"{lat['exponent'][n]:.2f}".rjust(cw) for n in names))
        for k, v in lat.get("exponent_ranges", {}).items():
            lines.append(f"  exponent {k}: {v:.2f}")
        if "gwp_latency_ms_at_96" in t:
            g = t["gwp_latency_ms_at_96"]
            lines.append(f"  gwp at M = {max(ms)}: {g['value']:.3g} ms (target <= 1 ms: {'met' if g['met'] else 'NOT met'})")
    lines.append(f"total wall time {res.get('wall_s', 0):.0f} s")
    return "\n".join(lines)
