"""`gwp reproduce`: data -> real training -> Fig. 4 sweeps -> GWP agent -> compare -> plot.

Every step is skipped when its outputs are already there (and the training run and the
comparison resume where they stopped), so an interrupted `make reproduce` picks up where it
was. Step sizes live in the config's ``reproduce:`` section; a key it leaves out falls back to
the config's own section (``train:``, ``agent:``, ``compare:``), i.e. to the paper-scale run.

    reproduce:
      train:   {dataset, epochs, limit_train, limit_test, policy, threads}
      sweeps:  [f, u, B]               # Fig. 4 replays; [] skips them
      agent:   {steps, seed}           # steps: 0 skips the agent (and so GWP)
      compare: {baseline, jobs, seeds, iterations}

Layout: ``<results>/train`` (gwp train's run), ``<results>/agents/gwp.zip``, ``<results>/compare``,
``<results>/figures``, ``<results>/summary.md``, ``<results>/run.json``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from .config import trace_root
from .errors import GwpError

REPRODUCE_KEYS = {"train", "sweeps", "agent", "compare"}


def settings(config: dict) -> dict:
    """The reproduce: section, checked, with the config's own sections as defaults."""
    rep = config.get("reproduce") or {}
    src = config.get("_source", "config")
    if not isinstance(rep, dict):
        raise GwpError(src, "reproduce", "must be a mapping", "see experiments/quick.yaml")
    unknown = sorted(set(rep) - REPRODUCE_KEYS)
    if unknown:
        raise GwpError(src, f"reproduce.{unknown[0]}", "is not a known key", f"use {', '.join(sorted(REPRODUCE_KEYS))}")
    train = dict(rep.get("train") or {})
    train.setdefault("dataset", config["dataset"])
    train.setdefault("epochs", config.get("train", {}).get("epochs"))
    train.setdefault("policy", "heuristic")
    agent = dict(rep.get("agent") or {})
    agent.setdefault("steps", config.get("agent", {}).get("steps"))
    agent.setdefault("seed", config["seed"])
    compare = dict(rep.get("compare") or {})
    compare.setdefault("baseline", "all")
    compare.setdefault("jobs", 1)
    sweeps = rep.get("sweeps", ["f", "u", "B"])
    for f in sweeps or []:
        if f not in ("f", "u", "B"):
            raise GwpError(src, "reproduce.sweeps", f"unknown factor {f!r}", "use a list of f, u, B")
    for key in ("limit_train", "limit_test", "epochs", "threads"):
        v = train.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise GwpError(src, f"reproduce.train.{key}", f"must be an integer >= 1 or null, got {v!r}",
                           f"e.g. reproduce.train.{key}: 1")
    steps = agent.get("steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise GwpError(src, "reproduce.agent.steps", f"must be an integer >= 0, got {steps!r}",
                       "e.g. reproduce.agent.steps: 20000 (0 skips the agent)")
    jobs = compare.get("jobs")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise GwpError(src, "reproduce.compare.jobs", f"must be an integer >= 1, got {jobs!r}", "e.g. 2")
    return {"train": train, "sweeps": list(sweeps or []), "agent": agent, "compare": compare}


def _train_complete(train_dir: Path) -> bool:
    import json

    path = train_dir / "run.json"
    try:
        return json.loads(path.read_text()).get("status", {}).get("state") == "complete"
    except (OSError, ValueError):
        return False


def _up_to_date(results: Path, train_dir: Path) -> bool:
    from .plot import FIGURES

    outputs = [results / "figures" / f"{n}.{e}" for n in FIGURES for e in ("png", "pdf")] + [results / "summary.md"]
    inputs = [p for p in list((results / "compare").glob("*.csv")) + list(train_dir.glob("*.csv")) if p.is_file()]
    if not all(p.is_file() for p in outputs) or not inputs:
        return False
    return min(p.stat().st_mtime for p in outputs) >= max(p.stat().st_mtime for p in inputs)


def reproduce(config: dict, results="results", traces: str | None = None, jobs: int | None = None,
              progress: bool = True, echo=None) -> dict:
    """Run every step not done yet; returns {step: (status, seconds)} and the output paths."""
    from .compare import CompareOptions, compare, update_run_record
    from .plot import plot

    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    rep = settings(config)
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    train_dir, agent_path = results / "train", results / "agents" / "gwp.zip"
    steps: dict[str, tuple[str, float]] = {}
    root = trace_root(config, traces)
    if root is None:
        echo("gwp reproduce: no trace root (--traces, GWP_TRACES or traces.root): bandwidth comes from the model "
             "fitted to the real 5G traces; set GWP_TRACES=<5G dataset root> to replay the real traces")
    elif not Path(root).is_dir():
        raise GwpError(root, "", "trace root does not exist", "point --traces / GWP_TRACES at the 5G dataset root")
    else:
        echo(f"gwp reproduce: bandwidth replayed from the real 5G traces in {root}")
    traces = str(root) if root else None
    # training and the agent see the config without the sections that only size this run, so
    # that resizing reproduce: or compare: does not invalidate a finished (or resumable) step
    core = {k: v for k, v in config.items() if k not in ("reproduce", "compare")}

    def step(name, fn):
        started = time.perf_counter()
        status = fn()
        steps[name] = (status, round(time.perf_counter() - started, 1))
        echo(f"gwp reproduce: {name}: {status} ({steps[name][1]:.1f} s)")

    # 1. data and training ------------------------------------------------------------------
    tr = rep["train"]

    def do_data():
        from .data import load_dataset

        data = load_dataset(tr["dataset"], tr.get("data_dir"), tr.get("download"))
        return f"found {data.source.describe()}"

    def do_train():
        from .train import TrainOptions, train

        if _train_complete(train_dir):
            return f"skipped, {train_dir} holds a complete run"
        options = TrainOptions(dataset=tr["dataset"], data_dir=tr.get("data_dir"), download=tr.get("download"),
                               policy=tr["policy"], traces=traces, epochs=tr.get("epochs"),
                               limit_train=tr.get("limit_train"), limit_test=tr.get("limit_test"),
                               threads=tr.get("threads"), progress=progress)
        summary = train(core, train_dir, options, resume=True, echo=echo)
        acc = summary.get("test_acc")
        return (f"{summary['iterations']} iterations, {summary['epochs']} epochs, test accuracy "
                f"{'-' if acc is None else f'{100 * acc:.2f}%'}")

    def do_sweeps():
        from .train import sweep

        if not rep["sweeps"]:
            return "skipped (reproduce.sweeps is empty)"
        done, made = [], []
        log = train_dir / "iterations.csv"
        for factor in rep["sweeps"]:
            path = train_dir / f"sweep_{factor}.csv"
            if path.is_file() and path.stat().st_mtime >= log.stat().st_mtime:
                done.append(factor)
                continue
            sweep(train_dir, factor, config=core, echo=echo, progress=progress)
            made.append(factor)
        return (f"wrote sweep_{', sweep_'.join(made)}.csv" if made else "") + \
               ("; " if made and done else "") + (f"skipped {', '.join(done)} (done)" if done else "")

    step("data", do_data)
    step("train", do_train)
    step("fig. 4 sweeps", do_sweeps)

    # 2. the agent --------------------------------------------------------------------------
    ag = rep["agent"]

    def do_agent():
        if agent_path.is_file():
            return f"skipped, {agent_path} exists"
        if int(ag["steps"]) == 0:
            return "skipped (reproduce.agent.steps is 0): GWP will not run"
        from .agent import train_agent

        summary = train_agent(core, int(ag["steps"]), int(ag["seed"]), agent_path, traces, resume=False,
                              progress=progress, loss_log=str(train_dir / "iterations.csv"))
        return f"{summary['timesteps']} steps -> {agent_path}"

    step("agent", do_agent)

    # 3. compare and plot -------------------------------------------------------------------
    cp = rep["compare"]

    def do_compare():
        seeds = cp.get("seeds")
        options = CompareOptions(baseline=cp["baseline"], seeds=[int(s) for s in seeds] if seeds else None,
                                 iterations=cp.get("iterations"), train_logs=[str(train_dir / "iterations.csv")],
                                 agent=str(agent_path), traces=traces, jobs=int(jobs or cp["jobs"]),
                                 progress=progress)
        done = compare(config, results, options, echo=echo)
        return f"{len(done['policies'])} policies -> {done['summary']}"

    def do_plot():
        if _up_to_date(results, train_dir):
            return "skipped, the figures and summary.md are newer than every CSV they read"
        paths = plot(results, results / "figures", train_dir, echo=echo)
        return f"{len(paths) - 1} figures -> {results / 'figures'}"

    step("compare", do_compare)
    step("plot", do_plot)
    update_run_record(results, config, "reproduce", {"steps": {k: {"status": s, "wall_s": t}
                                                               for k, (s, t) in steps.items()},
                                                     "settings": rep, "traces": traces})
    return {"steps": steps, "figures": results / "figures", "summary": results / "summary.md",
            "run": results / "run.json"}
