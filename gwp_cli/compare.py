"""`gwp compare`: every policy x seed x dataset x mode for K iterations, plus the figure sweeps.

Layout under ``<results>/compare/`` (all written atomically):

* ``cells/<policy>_<dataset>_<mode>_s<seed>.csv``  one row per iteration (gwp_cli.simulate's columns);
  beside each a ``.json`` with the cell's identity, so a rerun skips cells already done;
* ``summary.csv``  one row per cell: totals over the job (SPEC §9) and where K came from;
* ``sweeps/<kind>/...`` and ``sweep_width.csv``, ``sweep_stages.csv``, ``sweep_workload.csv``:
  short runs under one changed setting, one row per (setting, policy), for Figs. 5a, 5b, 6a.

K is the first iteration of a real training log (``--train-log``) whose loss reaches
``job.until_loss`` (all its iterations where none does); without a log for a dataset it is
``compare.iterations`` (else ``job.iterations``) and reported as assumed. Every policy of
one seed meets the same conditions: the scenario (traces, offsets, f and u processes) is
drawn from the seed alone.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .config import DATASETS, MODES, config_hash, deep_merge, trace_root, validate
from .errors import GwpError
from .io import write_csv_atomic, write_json_atomic, write_text_atomic

POLICY_ORDER = ["gwp", "oracle", "myopic", "heuristic", "rule", "static", "random"]
ALL_BASELINES = ["random", "static", "rule", "heuristic", "myopic"]
ALWAYS = ["gwp", "oracle"]
SWITCHES = ("trace_time", "idle_power", "migration", "aggregation")
SUMMARY_COLUMNS = ["policy", "dataset", "mode", "seed", "jct_s", "energy_j", "energy_comp_j", "energy_heat_j",
                   "energy_idle_j", "waiting_s", "mean_cost", "mean_bound", "iterations", "k_source", "k_assumed", "k_note",
                   "bandwidth", "config_hash", "cell"]
SWEEP_KINDS = ("width", "stages", "workload")
SWEEP_COLUMNS = ["kind", "value", "policy", "dataset", "mode", "seed", "iterations", "time_s", "waiting_s",
                 "energy_j", "energy_comp_j", "energy_heat_j", "n_stages", "width", "params", "neurons",
                 "flops_per_sample", "batch_size", "workload_gflop", "status"]
# Used when a config has no compare.sweeps section (experiments/quick.yaml and realistic.yaml state theirs).
CELL_FORMAT = 1


# ---------------------------------------------------------------------------------------------
# choices: policies, seeds, K


def parse_policies(baseline: str) -> list[str]:
    """``all`` or a comma list of SPEC §8 names; gwp and oracle are always added. Ordered as POLICY_ORDER."""
    from .policies import POLICY_NAMES, load_plugins

    load_plugins()
    text = (baseline or "all").strip()
    names = ALL_BASELINES if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in POLICY_NAMES]
    if unknown or not names:
        raise GwpError("--baseline", "", f"unknown policy {unknown[0] if unknown else text!r}",
                       f"use all or a comma list of {', '.join(POLICY_NAMES)}")
    chosen = set(names) | set(ALWAYS)
    custom = [n for n in names if n not in POLICY_ORDER]  # registered by the user: kept, after ours
    return [p for p in POLICY_ORDER if p in chosen] + custom


def parse_int_list(text, option: str) -> list[int]:
    if isinstance(text, (list, tuple)):
        values = list(text)
    else:
        values = [v for v in str(text).replace(" ", "").split(",") if v]
    try:
        out = [int(v) for v in values]
    except (TypeError, ValueError):
        raise GwpError(option, "", f"must be a comma list of integers, got {text!r}", "e.g. 0,1,2") from None
    if not out:
        raise GwpError(option, "", "is empty", "give at least one value, e.g. 0")
    return out


@dataclass
class JobLength:
    """K for one dataset and where it came from."""

    iterations: int
    source: str            # the train log's path, or the config field / option that gave K
    assumed: bool
    note: str = ""
    losses: list | None = field(default=None, repr=False)


def read_train_log(path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise GwpError(path, "", "training log not found", "pass the iterations.csv a `gwp train --out DIR` wrote")
    try:
        log = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GwpError(path, "", f"cannot be read as CSV ({type(exc).__name__})", "pass gwp train's iterations.csv") from None
    for column in ("iteration", "loss"):
        if column not in log.columns:
            raise GwpError(path, column, "column is missing", "pass gwp train's iterations.csv")
    if log.empty:
        raise GwpError(path, "", "has no rows", "let the training run at least one iteration")
    return log.sort_values("iteration", kind="stable").reset_index(drop=True)


def job_length(config: dict, dataset: str, logs: list[tuple[Path, pd.DataFrame]], iterations: int | None) -> JobLength:
    """K for ``dataset``: --iterations, else the first log iteration reaching epsilon, else the config's."""
    eps = float(config["job"]["until_loss"])
    if iterations is not None:
        return JobLength(int(iterations), "--iterations", True, "given on the command line")
    for path, log in logs:
        rows = log
        if "dataset" in log.columns:
            rows = log[log["dataset"] == dataset]
        elif dataset != config["dataset"]:
            continue
        if rows.empty:
            continue
        losses = rows["loss"].to_numpy(dtype=float)
        hit = np.flatnonzero(losses <= eps)
        if hit.size:
            k = int(hit[0]) + 1
            note = f"first iteration with training loss <= {eps:g} (loss {losses[hit[0]]:.4f})"
        else:
            k = int(losses.size)
            note = (f"training loss never reached {eps:g} (lowest {losses.min():.4f}); "
                    f"all {k} logged iterations")
        return JobLength(k, str(path), False, note, [float(x) for x in losses[:k]])
    compare = config.get("compare", {})
    if compare.get("iterations") is not None:
        return JobLength(int(compare["iterations"]), "compare.iterations", True, "no training log for this dataset")
    return JobLength(int(config["job"]["iterations"]), "job.iterations", True, "no training log for this dataset")


# Sections that size the experiment but do not change what one simulated job computes: left out of
# a cell's config, so adding a seed or resizing reproduce: does not invalidate finished cells.
NON_CELL_KEYS = ("compare", "reproduce", "name")


def simulation_config(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in NON_CELL_KEYS}


def mode_config(config: dict, mode: str) -> tuple[dict, str]:
    """The config of one mode; realistic with every switch off means all four on (SPEC §5).

    Cells replay ``compare.traces_use`` (default ``eval``: the odd-indexed trace files, which the
    agent never trained on) when a trace root is given.
    """
    use = config["compare"]["traces_use"]
    cfg = deep_merge(simulation_config(config), {"mode": mode, "traces": {"use": use}})
    note = ""
    if mode == "realistic" and not any(cfg.get("realistic", {}).get(s) for s in SWITCHES):
        cfg["realistic"] = {s: True for s in SWITCHES}
        note = "realistic mode: every SPEC §5 switch was off in the config, so all four are on"
    validate(cfg)
    return cfg, note


def write_csv_if_changed(table: pd.DataFrame, path: Path) -> Path:
    """write_csv_atomic, but leave an identical file alone (so a rerun does not make plots look stale)."""
    path = Path(path)
    text = table.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    if path.is_file() and path.read_text() == text:
        return path
    return write_text_atomic(text, path)


# ---------------------------------------------------------------------------------------------
# cells


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path) -> str | None:
    path = Path(path)
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@dataclass
class Cell:
    """One simulated job: a policy on one scenario (config, dataset, seed) for K iterations."""

    kind: str               # "compare" or a sweep kind
    policy: str
    dataset: str
    mode: str
    seed: int
    iterations: int
    config: dict
    out: Path
    traces: str | None
    agent: str | None
    losses: list | None = None
    value: object = None     # the swept setting (sweeps only)
    extra: dict = field(default_factory=dict)

    @property
    def tolerant(self) -> bool:
        """A sweep point that fails is left out (and said so); a compare cell that fails stops the run."""
        return self.kind != "compare"

    def identity(self) -> dict:
        return {"format": CELL_FORMAT, "version": __version__, "kind": self.kind, "policy": self.policy,
                "dataset": self.dataset, "mode": self.mode, "seed": self.seed, "iterations": self.iterations,
                "config_hash": config_hash(self.config), "traces": self.traces,
                "agent": file_digest(self.agent) if self.policy == "gwp" and self.agent else None,
                "losses": _sha(self.losses) if self.losses is not None else None, "value": self.value}

    @property
    def key(self) -> str:
        return _sha(self.identity())

    @property
    def meta_path(self) -> Path:
        return self.out.with_suffix(".json")

    def done(self) -> bool:
        if not (self.out.is_file() and self.meta_path.is_file()):
            return False
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return False
        # the CSV must be the one that was written: a damaged or edited cell is run again
        return meta.get("key") == self.key and meta.get("csv_sha256") == _sha256(self.out)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cell(cell: Cell) -> dict:
    """Simulate one cell and write its CSV, then its identity (a worker process runs this)."""
    from .simulate import build_simulator, run_simulation

    started = time.perf_counter()
    sim = build_simulator(cell.config, cell.policy, cell.seed, cell.traces, cell.agent, cell.dataset)
    table = run_simulation(sim, cell.iterations, cell.losses, progress=False)
    write_csv_atomic(table, cell.out)
    bandwidth = f"real 5G traces ({sim.scenario.trace_root})" if sim.scenario.trace_root else "fitted bandwidth model"
    meta = {"key": cell.key, "identity": cell.identity(), "wall_s": round(time.perf_counter() - started, 3),
            "bandwidth": bandwidth, "extra": cell.extra, "csv_sha256": _sha256(cell.out)}
    write_json_atomic(meta, cell.meta_path)
    return meta


def _run_cell_safely(cell: Cell) -> str | None:
    """Run a cell; a sweep cell's error is returned (the point is left out), a compare cell's raised."""
    if not cell.tolerant:
        run_cell(cell)
        return None
    try:
        run_cell(cell)
        return None
    except Exception as exc:  # noqa: BLE001 - reported per sweep point, the rest goes on
        return f"{type(exc).__name__}: {exc}"


def cost_rank(cell: Cell) -> tuple:
    """Expensive cells first, so parallel workers finish together; compare cells before sweeps."""
    return ({"oracle": 0, "myopic": 0, "gwp": 1}.get(cell.policy, 2), cell.tolerant)


def execute(cells: list[Cell], jobs: int, progress: bool, echo) -> dict:
    """Run the cells not yet done (in ``jobs`` processes); returns {out path: sweep error} for failed sweeps."""
    from tqdm import tqdm

    todo = sorted([c for c in cells if not c.done()], key=cost_rank)
    skipped = len(cells) - len(todo)
    if skipped:
        echo(f"gwp compare: {skipped} of {len(cells)} cells already done, skipped")
    errors: dict[str, str] = {}
    if not todo:
        return errors
    bar = tqdm(total=len(cells), initial=skipped, desc="cells", unit="cell", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)

    def record(cell, error):
        if error:
            errors[str(cell.out)] = error
        bar.update(1)

    try:
        if jobs <= 1:
            for cell in todo:
                record(cell, _run_cell_safely(cell))
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
                futures = {pool.submit(_run_cell_safely, cell): cell for cell in todo}
                try:
                    for future in as_completed(futures):
                        record(futures[future], future.result())
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    finally:
        bar.close()
    return errors


# ---------------------------------------------------------------------------------------------
# the comparison


@dataclass
class CompareOptions:
    baseline: str = "all"
    seeds: list[int] | None = None
    iterations: int | None = None
    train_logs: list[str] = field(default_factory=list)
    agent: str | None = None
    traces: str | None = None
    jobs: int = 1
    datasets: list[str] | None = None
    modes: list[str] | None = None
    sweeps: bool = True
    progress: bool = True


def cell_name(policy: str, dataset: str, mode: str, seed: int) -> str:
    return f"{policy}_{dataset}_{mode}_s{seed}.csv"


def agent_hint(config: dict, agent: str) -> str:
    steps = config.get("agent", {}).get("steps", 200000)
    src = config.get("_source", "experiments/paper.yaml")
    return f"train one with `gwp agent train --config {src} --steps {steps} --seed 0 --out {agent}`"


def summarize_cell(cell: Cell, k: JobLength, bandwidth: str, results: Path) -> dict:
    table = pd.read_csv(cell.out)
    return {"policy": cell.policy, "dataset": cell.dataset, "mode": cell.mode, "seed": cell.seed,
            "jct_s": float(table["time_s"].sum()), "energy_j": float(table["energy_j"].sum()),
            "energy_comp_j": float(table["energy_comp_j"].sum()), "energy_heat_j": float(table["energy_heat_j"].sum()),
            "energy_idle_j": float(table["energy_idle_j"].sum()), "waiting_s": float(table["waiting_s"].sum()),
            "mean_cost": float(table["cost"].mean()),
            "mean_bound": float(table["bound"].mean()) if "bound" in table.columns else float("nan"),
            "iterations": int(len(table)), "k_source": k.source, "k_assumed": bool(k.assumed), "k_note": k.note,
            "bandwidth": bandwidth, "config_hash": str(table["config_hash"].iloc[0]),
            "cell": str(cell.out.relative_to(results / "compare"))}


def warm_profiles(config: dict, datasets, widths) -> None:
    """Profile every (dataset, width) once in this process, so workers only read the cache."""
    from .profile import cached_profile

    for dataset in datasets:
        for width in widths:
            cached_profile(dataset, float(width))


def compare(config: dict, results, options: CompareOptions | None = None, echo=None) -> dict:
    """Run the grid and the sweeps, write summary.csv and the sweep tables; returns what was done."""
    options = options or CompareOptions()
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    results = Path(results)
    base = results / "compare"
    spec = config.get("compare", {})
    policies = parse_policies(options.baseline)
    seeds = options.seeds or parse_int_list(spec.get("seeds", [config["seed"]]), "compare.seeds")
    datasets = options.datasets or list(spec.get("datasets", [config["dataset"]]))
    modes = options.modes or list(spec.get("modes", [config["mode"]]))
    for d in datasets:
        if d not in DATASETS:
            raise GwpError(config.get("_source", "config"), "compare.datasets", f"unknown dataset {d!r}",
                           f"use {', '.join(DATASETS)}")
    for m in modes:
        if m not in MODES:
            raise GwpError(config.get("_source", "config"), "compare.modes", f"unknown mode {m!r}",
                           f"use {', '.join(MODES)}")
    if options.jobs < 1:
        raise GwpError("--jobs", "", f"must be >= 1, got {options.jobs}", "e.g. --jobs 2")

    agent = options.agent or str(results / "agents" / "gwp.zip")
    notes = []
    if "gwp" in policies and not Path(agent).is_file():
        policies = [p for p in policies if p != "gwp"]
        notes.append(f"gwp skipped: no agent at {agent}; {agent_hint(config, agent)}, then rerun")
    root = trace_root(config, options.traces)
    traces = str(root) if root else None
    if root is not None and not Path(root).is_dir():
        raise GwpError(root, "", "trace root does not exist", "point --traces / GWP_TRACES at the 5G dataset root")
    bandwidth = f"real 5G traces ({root})" if root else "fitted bandwidth model"
    if root is None:
        notes.append("no trace root (--traces, GWP_TRACES or traces.root): bandwidth comes from the model "
                     "fitted to the real 5G traces, not from the traces themselves")

    logs = [(Path(p), read_train_log(p)) for p in options.train_logs]
    lengths = {d: job_length(config, d, logs, options.iterations) for d in datasets}
    for d, k in lengths.items():
        echo(f"gwp compare: {d}: K = {k.iterations} iterations ({'assumed, ' if k.assumed else ''}{k.source}: {k.note})")
    for note in notes:
        echo(f"gwp compare: note: {note}")

    mode_cfgs = {}
    for m in modes:
        mode_cfgs[m], note = mode_config(config, m)
        if note:
            echo(f"gwp compare: note: {note}")
            notes.append(note)

    sweeps = spec["sweeps"]
    widths = [float(config["model"]["width"])] + ([float(w) for w in sweeps["widths"]] if options.sweeps else [])
    warm_profiles(config, datasets, sorted(set(widths)))

    cells = []
    for m in modes:
        for d in datasets:
            k = lengths[d]
            for seed in seeds:
                for p in policies:
                    cells.append(Cell("compare", p, d, m, int(seed), k.iterations, mode_cfgs[m],
                                      base / "cells" / cell_name(p, d, m, seed), traces,
                                      agent if p == "gwp" else None, k.losses))
    sweep_cells = []
    if options.sweeps:
        sweep_cells = _sweep_cells(mode_cfgs[modes[0]], modes[0], policies, int(seeds[0]), sweeps, base, traces,
                                   agent)
    started = time.perf_counter()
    errors = execute(cells + sweep_cells, options.jobs, options.progress, echo)
    rows = [summarize_cell(c, lengths[c.dataset], bandwidth, results) for c in cells]
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    write_csv_if_changed(summary, base / "summary.csv")
    echo(f"gwp compare: {len(cells)} cells and {len(sweep_cells)} sweep points in "
         f"{time.perf_counter() - started:.1f} s -> {base / 'summary.csv'}")
    sweep_paths = write_sweep_tables(sweep_cells, errors, base, echo) if options.sweeps else {}
    record = {"policies": policies, "seeds": [int(s) for s in seeds], "datasets": datasets, "modes": modes,
              "iterations": {d: {"k": k.iterations, "source": k.source, "assumed": k.assumed, "note": k.note}
                             for d, k in lengths.items()},
              "bandwidth": bandwidth, "agent": agent if "gwp" in policies else None, "notes": notes,
              "sweeps": sweeps if options.sweeps else None}
    update_run_record(results, config, "compare", record)
    return {"summary": base / "summary.csv", "sweeps": sweep_paths, "notes": notes, "policies": policies,
            "lengths": lengths}


# ---------------------------------------------------------------------------------------------
# sweeps for Figs. 5a (width), 5b (number of layers), 6a (workload size)


def _sweep_cells(config: dict, mode: str, policies, seed: int, sweeps: dict, base: Path, traces, agent):
    from .profile import cached_profile

    dataset = sweeps.get("dataset") or config["dataset"]
    n = int(sweeps["iterations"])
    out = []
    for w in sweeps["widths"]:
        cfg = deep_merge(config, {"model": {"width": float(w)}})
        prof = cached_profile(dataset, float(w))
        extra = {"width": float(w), "params": float(prof["param_bytes"].sum() / 4),
                 "neurons": float(prof["out_bytes"].sum() / 4), "flops_per_sample": float(prof["flops"].sum()),
                 "batch_size": int(cfg["cluster"]["batch_size"])}
        out += [("width", float(w), p, cfg, extra) for p in policies]
    top = int(config["cost"]["max_stages"])
    for L in sweeps["stages"]:
        cfg = deep_merge(config, {"cost": {"max_stages": int(L)}, "policies": {"rule": {"stages": int(L)}}})
        # the agent's action space is fixed at training: it runs at the config's stage limit only,
        # and Fig. 5b shows it at the stage counts it chooses there
        out += [("stages", int(L), p, cfg, {"batch_size": int(cfg["cluster"]["batch_size"])}) for p in policies
                if p != "gwp" or int(L) == top]
    prof = cached_profile(dataset, float(config["model"]["width"]))
    for b in sweeps["batch_sizes"]:
        cfg = deep_merge(config, {"cluster": {"batch_size": int(b)}})
        extra = {"batch_size": int(b), "flops_per_sample": float(prof["flops"].sum()),
                 "workload_gflop": float(b) * float(prof["flops"].sum()) / 1e9}
        out += [("workload", int(b), p, cfg, extra) for p in policies]
    cells = []
    for kind, value, p, cfg, extra in out:
        validate(cfg)
        cells.append(Cell(kind, p, dataset, mode, seed, n, cfg, base / "sweeps" / kind / f"{p}_{value:g}.csv",
                          traces, agent if p == "gwp" else None, None, value, extra))
    return cells


def _mean_row(t: pd.DataFrame) -> dict:
    return {"iterations": len(t), "time_s": t["time_s"].mean(), "waiting_s": t["waiting_s"].mean(),
            "energy_j": t["energy_j"].mean(), "energy_comp_j": t["energy_comp_j"].mean(),
            "energy_heat_j": t["energy_heat_j"].mean(), "n_stages": t["n_stages"].mean(), "status": "ok"}


def write_sweep_tables(cells: list[Cell], errors: dict, base: Path, echo) -> dict:
    """sweep_<kind>.csv: one row per (setting, policy); for ``stages`` one per stage count the policy used."""
    for path, error in errors.items():
        echo(f"gwp compare: sweep point {path} failed and is left out: {error}")
    paths = {}
    for kind in SWEEP_KINDS:
        rows = []
        for cell in (c for c in cells if c.kind == kind):
            row = {"kind": kind, "value": cell.value, "policy": cell.policy, "dataset": cell.dataset,
                   "mode": cell.mode, "seed": cell.seed, **{k: np.nan for k in SWEEP_COLUMNS[6:-1]}}
            row.update(cell.extra)
            if not cell.done():
                rows.append(dict(row, status=errors.get(str(cell.out), "missing")))
                continue
            t = pd.read_csv(cell.out)
            if kind == "stages":  # Fig. 5b: waiting time at each number of stages actually used
                for _, part in t.groupby("n_stages"):
                    rows.append(dict(row, **_mean_row(part)))
            else:
                rows.append(dict(row, **_mean_row(t)))
        table = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
        paths[kind] = write_csv_if_changed(table, base / f"sweep_{kind}.csv")
    return paths


# ---------------------------------------------------------------------------------------------
# the run record


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def update_run_record(results, config: dict, section: str, data: dict) -> Path:
    """results/run.json: the config, its hash, seeds, package version and git commit, plus a section per step."""
    path = Path(results) / "run.json"
    record = {}
    if path.is_file():
        try:
            record = json.loads(path.read_text())
        except ValueError:
            record = {}
    if record.get("config_hash") != config_hash(config):
        record = {k: v for k, v in record.items() if k not in ("compare", "reproduce")}
    record.update({"config": {k: v for k, v in config.items() if not k.startswith("_")},
                   "config_source": config.get("_source"), "config_hash": config_hash(config),
                   "seed": config.get("seed"), "seeds": config.get("compare", {}).get("seeds"),
                   "gwp_version": __version__, "git_commit": git_commit(),
                   "python": sys.version.split()[0], "host_cpus": os.cpu_count()})
    record[section] = data
    return write_json_atomic(record, path)
