"""Experiment configs: YAML files in experiments/, merged over the paper default."""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path

import yaml

from .errors import GwpError

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
DEFAULT_CONFIG = EXPERIMENTS_DIR / "paper.yaml"

CLASS_KEYS = {"count", "f_levels_ghz", "sigma", "eta", "gamma_g", "gamma_h", "p_idle_w",
              "memory_mb", "trace", "load"}
LOAD_KEYS = {"mean", "std", "rho", "u_min"}
MODES = ("paper", "realistic")
DATASETS = ("fashion-mnist", "cifar100")


def deep_merge(base: dict, override: dict) -> dict:
    """Return base updated by override, recursing into mappings (override's lists replace)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "classes":
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise GwpError(path, "", "config file not found", "pass an existing YAML file, e.g. experiments/paper.yaml")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (UnicodeDecodeError, IsADirectoryError):
        raise GwpError(path, "", "is not a text YAML file", "pass a YAML config") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"line {line + 1}" if line is not None else "syntax"
        raise GwpError(path, where, "is not valid YAML", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise GwpError(path, "", "must be a mapping of sections", "see experiments/paper.yaml")
    return data


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None) -> dict:
    """Load a config file (``extends:`` names a base in the same folder; default: paper.yaml).

    Every file is merged over experiments/paper.yaml, so a config only states what differs.
    The result is validated and carries ``_source`` (the file) for error messages.
    """
    path = Path(path) if path else DEFAULT_CONFIG
    chain, seen = [], set()
    current = path
    while True:
        data = _read_yaml(current)
        chain.append(data)
        seen.add(current.resolve())
        base = data.get("extends")
        if not base:
            break
        if not isinstance(base, str):
            raise GwpError(current, "extends", "must be one file name", "e.g. extends: paper.yaml")
        current = current.parent / base
        if not current.is_file() and (EXPERIMENTS_DIR / base).is_file():  # a name of gwp's own configs
            current = EXPERIMENTS_DIR / base
        if current.resolve() in seen:
            raise GwpError(path, "extends", "config extends itself in a loop", "remove the cycle")
    config = {} if path.resolve() == DEFAULT_CONFIG.resolve() else _read_yaml(DEFAULT_CONFIG)
    for data in reversed(chain):
        config = deep_merge(config, {k: v for k, v in data.items() if k != "extends"})
    config = deep_merge(config, overrides or {})
    config["_source"] = str(path)
    validate(config)
    return config


def _need(cond: bool, config: dict, field: str, problem: str, fix: str) -> None:
    if not cond:
        raise GwpError(config.get("_source", "config"), field, problem, fix)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


SECTIONS = {"name", "seed", "mode", "dataset", "model", "cost", "realistic", "job", "cluster", "dynamics", "traces",
            "policies", "train", "agent", "compare", "reproduce"}
MAPPING_SECTIONS = ("model", "cost", "realistic", "job", "cluster", "dynamics", "traces", "policies")


def _positive(config, field, value, integer=False, allow_zero=False) -> None:
    ok = (isinstance(value, int) and not isinstance(value, bool)) if integer else _is_number(value)
    ok = ok and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    kind = "an integer" if integer else "a number"
    _need(ok, config, field, f"must be {kind} {'>= 0' if allow_zero else '> 0'}, got {value!r}",
          f"give {field} {kind} {'>= 0' if allow_zero else '> 0'}")


def validate(config: dict) -> None:
    """Check ranges and keys; raise GwpError naming the file and field."""
    src = config
    unknown = sorted(k for k in config if not k.startswith("_") and k not in SECTIONS)
    _need(not unknown, src, unknown[0] if unknown else "", "is not a known section",
          f"use only {', '.join(sorted(SECTIONS))} (see experiments/paper.yaml)")
    for section in MAPPING_SECTIONS:
        _need(isinstance(config.get(section), dict), src, section, "must be a mapping of keys",
              "see experiments/paper.yaml")
    default_cost = set(_read_yaml(DEFAULT_CONFIG)["cost"])
    typo = sorted(set(config["cost"]) - default_cost)
    _need(not typo, src, f"cost.{typo[0] if typo else ''}", "is not a known key",
          f"use only {', '.join(sorted(default_cost))}")
    seed = config.get("seed")
    _positive(src, "seed", seed, integer=True, allow_zero=True)
    dyn = config["dynamics"]
    _positive(src, "dynamics.horizon_s", dyn.get("horizon_s"), integer=True)
    for key in ("dvfs_period_s", "load_period_s"):
        _positive(src, f"dynamics.{key}", dyn.get(key))
    stay = dyn.get("dvfs_stay_prob")
    _need(_is_number(stay) and 0 <= stay <= 1, src, "dynamics.dvfs_stay_prob", f"must be in [0, 1], got {stay!r}",
          "set dvfs_stay_prob: 0.8")
    job = config["job"]
    _positive(src, "job.iterations", job.get("iterations"), integer=True)
    if job.get("iterations_per_epoch") != "auto":
        _positive(src, "job.iterations_per_epoch", job.get("iterations_per_epoch"), integer=True)
    _positive(src, "job.until_loss", job.get("until_loss"))
    _positive(src, "traces.scale", config["traces"].get("scale", 1.0))
    cost = config.get("cost", {})
    alpha = cost.get("alpha")
    _need(_is_number(alpha) and 0.0 <= alpha <= 1.0, src, "cost.alpha",
          f"must be a number in [0, 1], got {alpha!r}", "set cost.alpha between 0 and 1")
    for key in ("t_ref_s", "e_ref_j"):
        v = cost.get(key)
        _need(v == "auto" or (_is_number(v) and 0 < v < math.inf), src, f"cost.{key}",
              f"must be 'auto' or a positive number, got {v!r}", f"set cost.{key}: auto")
    _need(isinstance(cost.get("max_stages"), int) and cost["max_stages"] >= 1, src, "cost.max_stages",
          "must be an integer >= 1", "set cost.max_stages: 4")
    for key in ("comm_factor", "step_s", "bandwidth_floor_kbps"):
        _need(_is_number(cost.get(key)) and cost[key] > 0, src, f"cost.{key}",
              f"must be a positive number, got {cost.get(key)!r}", f"set cost.{key} > 0")
    _need(config.get("mode") in MODES, src, "mode", f"must be one of {', '.join(MODES)}, got {config.get('mode')!r}",
          "set mode: paper")
    _need(config.get("dataset") in DATASETS, src, "dataset",
          f"must be one of {', '.join(DATASETS)}, got {config.get('dataset')!r}", "set dataset: fashion-mnist")
    width = config.get("model", {}).get("width")
    _need(_is_number(width) and width > 0, src, "model.width", f"must be a positive number, got {width!r}",
          "set model.width: 1.0")
    for key, value in config.get("realistic", {}).items():
        _need(key in ("trace_time", "idle_power", "migration", "aggregation"), src, f"realistic.{key}",
              "is not a known switch", "use trace_time, idle_power, migration or aggregation")
        _need(isinstance(value, bool), src, f"realistic.{key}", "must be true or false", "write true or false")

    cluster = config.get("cluster", {})
    bs = cluster.get("batch_size")
    _need(isinstance(bs, int) and bs >= 1, src, "cluster.batch_size", f"must be an integer >= 1, got {bs!r}",
          "set cluster.batch_size: 64")
    _need(_is_number(cluster.get("opt_state_factor")) and cluster["opt_state_factor"] >= 0, src,
          "cluster.opt_state_factor", "must be a number >= 0", "set cluster.opt_state_factor: 1")
    classes = cluster.get("classes")
    _need(isinstance(classes, dict) and classes, src, "cluster.classes", "must list at least one device class",
          "see experiments/paper.yaml")
    total = 0
    for name, spec in classes.items():
        field = f"cluster.classes.{name}"
        _need(isinstance(spec, dict), src, field, "must be a mapping", "see experiments/paper.yaml")
        unknown = sorted(set(spec) - CLASS_KEYS)
        _need(not unknown, src, f"{field}.{unknown[0] if unknown else ''}", "is not a known class key",
              f"use only {', '.join(sorted(CLASS_KEYS))}")
        missing = sorted(CLASS_KEYS - set(spec))
        _need(not missing, src, f"{field}.{missing[0] if missing else ''}", "is missing", "add it (see experiments/paper.yaml)")
        _need(isinstance(spec["count"], int) and not isinstance(spec["count"], bool) and spec["count"] >= 0, src, f"{field}.count",
              "must be an integer >= 0", "set a device count")
        total += spec["count"]
        levels = spec["f_levels_ghz"]
        _need(isinstance(levels, list) and levels and all(_is_number(x) and 0 < x < math.inf for x in levels), src,
              f"{field}.f_levels_ghz", "must be a non-empty list of positive GHz values", "e.g. [1.0, 1.5, 2.0]")
        for key in ("sigma", "eta", "memory_mb"):
            _need(_is_number(spec[key]) and 0 < spec[key] < math.inf, src, f"{field}.{key}", "must be a positive number",
                  f"set {key} > 0")
        for key in ("gamma_g", "gamma_h", "p_idle_w"):
            _need(_is_number(spec[key]) and 0 <= spec[key] < math.inf, src, f"{field}.{key}", "must be a number >= 0",
                  f"set {key} >= 0")
        _need(isinstance(spec["trace"], str) and spec["trace"] in config.get("traces", {}).get("subdirs", {}), src, f"{field}.trace",
              f"names no entry of traces.subdirs ({spec['trace']!r})", "use Driving or Static, or add it to traces.subdirs")
        load = spec["load"]
        _need(isinstance(load, dict) and set(load) == LOAD_KEYS, src, f"{field}.load",
              f"must have exactly {', '.join(sorted(LOAD_KEYS))}", "e.g. {mean: 0.2, std: 0.1, rho: 0.95, u_min: 0.2}")
        for key in ("mean", "std", "rho", "u_min"):
            _need(_is_number(load[key]) and math.isfinite(load[key]), src, f"{field}.load.{key}",
                  f"must be a number, got {load[key]!r}", "see experiments/paper.yaml")
        _need(load["std"] >= 0, src, f"{field}.load.std", "must be >= 0", "set std: 0.1")
        _need(0 < load["u_min"] <= 1, src, f"{field}.load.u_min", "must be in (0, 1]", "set u_min: 0.2")
        _need(0 <= load["rho"] < 1, src, f"{field}.load.rho", "must be in [0, 1)", "set rho: 0.95")
        model = config["traces"].get("model", {}).get(spec["trace"])
        _need(isinstance(model, dict) and all(_is_number(model.get(k)) for k in ("log_mean", "log_std", "rho", "outage")),
              src, f"traces.model.{spec['trace']}", "needs log_mean, log_std, rho and outage numbers",
              "add the fitted-model entry for this trace kind (see experiments/paper.yaml)")
    _need(total >= 1, src, "cluster.classes", "has zero devices in all", "give at least one class a count >= 1")
    traces = config.get("traces", {})
    _need(traces.get("use") in ("all", "train", "eval"), src, "traces.use", "must be all, train or eval",
          "set traces.use: all")


def config_hash(config: dict) -> str:
    """Short hash of the resolved config (without its source path)."""
    clean = {k: v for k, v in config.items() if not k.startswith("_")}
    if isinstance(clean.get("cluster", {}).get("classes"), dict):  # class order is device order: keep it
        clean["cluster"] = dict(clean["cluster"], classes=list(clean["cluster"]["classes"].items()))
    text = json.dumps(clean, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def trace_root(config: dict, cli_value: str | None = None) -> Path | None:
    """The 5G dataset root: --traces, then GWP_TRACES, then the config; None means the fitted model."""
    value = cli_value or os.environ.get("GWP_TRACES") or config.get("traces", {}).get("root")
    return Path(value) if value else None
