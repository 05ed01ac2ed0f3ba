"""Real training of MobileNetV2 with a placement policy alongside (`gwp train`).

The model is trained once, for real, on one machine: synchronous training gives
the same mathematics wherever the blocks run. Every iteration the placement
simulator (gwp_cli.simulate) is stepped with the iteration's real training loss;
its policy picks a placement and the cost model advances the simulated clock and
energy. Results go to ``--out``:

* ``iterations.csv``  one row per iteration, appended (and flushed) as the run goes;
* ``epochs.csv``      one row per epoch: train loss, test loss and accuracy on the test set;
* ``checkpoint.pt``   after every epoch, written atomically: model, optimiser, scheduler,
                      RNG states, simulator state, the run identity;
* ``run.json``        config, config hash, seed, data source, package versions.

``resume=True`` continues from the checkpoint and gives the same rows as an
uninterrupted run; rows written after the checkpoint (an interrupted epoch) are
dropped first. The sweep (``sweep``) replays a finished run's losses through fresh
simulators under low / medium / high settings of f, u or B (Fig. 4).
"""
from __future__ import annotations

import copy
import io
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .config import config_hash, trace_root, validate
from .errors import GwpError
from .io import write_bytes_atomic, write_text_atomic

ITER_COLUMNS = ["iteration", "epoch", "loss", "lr", "sim_time_s", "time_s", "energy_j", "cost", "policy",
                "seed", "dataset", "config_hash"]
EPOCH_COLUMNS = ["epoch", "train_loss", "test_loss", "test_acc", "sim_time_s", "energy_j", "wall_s", "iterations",
                 "policy", "seed", "dataset", "config_hash"]
SWEEP_COLUMNS = ["setting", "value", "iteration", "epoch", "loss", "sim_time_s", "energy_j", "test_acc",
                 "policy", "seed", "dataset", "config_hash"]
SWEEP_SETTINGS = ("low", "medium", "high")
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
EVAL_BATCH = 500
# config parts that do not change what a run computes, left out of the resume check:
NON_IDENTITY_SECTIONS = ("name", "compare", "reproduce")  # other commands' sizes and labels
NON_IDENTITY_TRAIN_KEYS = ("sweep",)  # post-processing only


@dataclass
class TrainOptions:
    """Everything `gwp train` takes besides the config; None means: the config's value."""

    dataset: str | None = None
    data_dir: str | None = None
    download: bool | None = None
    policy: str = "heuristic"
    agent: str | None = None
    traces: str | None = None
    seed: int | None = None
    epochs: int | None = None
    max_iterations: int | None = None
    until_loss: float | None = None
    limit_train: int | None = None
    limit_test: int | None = None
    threads: int | None = None
    progress: bool = True


# ---------------------------------------------------------------------------------------------
# small helpers


def _fmt(value) -> str:
    """CSV cell: floats in shortest round-trip form (a replay reads back the exact loss)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = str(value)
    if any(c in text for c in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _line(values) -> str:
    return ",".join(_fmt(v) for v in values) + "\n"


class _CsvAppender:
    """A CSV opened for appending; every row is flushed, and ``sync`` forces it to disk."""

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns = path, columns
        fresh = not path.exists() or path.stat().st_size == 0
        self.handle = open(path, "a", newline="")
        if fresh:
            self.handle.write(_line(columns))
            self.handle.flush()

    def write(self, row: dict) -> None:
        self.handle.write(_line(row[c] for c in self.columns))
        self.handle.flush()

    def sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


def _truncate_csv(path: Path, rows: int, columns: list[str]) -> None:
    """Keep the header and the first ``rows`` rows (those the checkpoint covers), atomically."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    if rows == 0 and not lines:
        return
    if not lines or lines[0] != _line(columns):
        raise GwpError(path, "header", "is not a gwp train CSV of this version",
                       "use another --out, or remove the directory to start over")
    if len(lines) < 1 + rows:
        raise GwpError(path, "rows", f"has {len(lines) - 1} rows but the checkpoint covers {rows}",
                       "the directory was edited; use another --out or remove it to start over")
    write_text_atomic("".join(lines[:1 + rows]), path)


def _flatten(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict):
        out = {}
        for key in sorted(obj, key=str):
            out.update(_flatten(obj[key], f"{prefix}{key}."))
        if not obj:
            out[prefix.rstrip(".")] = {}
        return out
    return {prefix.rstrip("."): obj}


def _first_difference(old: dict, new: dict) -> tuple[str, object, object] | None:
    a, b = _flatten(old), _flatten(new)
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            return key, a.get(key, "<absent>"), b.get(key, "<absent>")
    return None


def set_threads(threads: int | None) -> int:
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(generator) -> dict:
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "loader": generator.get_state()}


def _set_rng_state(state: dict, generator) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    generator.set_state(state["loader"])


class EpochSampler:
    """A fresh permutation per epoch from ``generator``; ``skip`` drops the first samples of it.

    Skipping happens on indices, before any sample is loaded, so resuming mid-epoch
    consumes no augmentation randomness for the batches already trained on.
    """

    def __init__(self, n: int, generator, skip: int = 0):
        self.n, self.generator, self.skip = n, generator, skip

    def __iter__(self):
        import torch

        order = torch.randperm(self.n, generator=self.generator).tolist()
        return iter(order[self.skip:])

    def __len__(self) -> int:
        return self.n - self.skip


# ---------------------------------------------------------------------------------------------
# model, optimiser, schedule


def build_model(config: dict, num_classes: int):
    from torchvision.models import mobilenet_v2

    return mobilenet_v2(num_classes=num_classes, width_mult=float(config["model"]["width"]))


def _train_field(config: dict, key: str, problem: str, fix: str):
    return GwpError(config.get("_source", "config"), f"train.{key}", problem, fix)


def build_optimizer(config: dict, params):
    import torch

    spec = config.get("train", {})
    name = str(spec.get("optimizer", "sgd")).lower()
    lr = spec.get("lr")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
        raise _train_field(config, "lr", f"must be a positive number, got {lr!r}", "set train.lr: 0.05")
    wd = float(spec.get("weight_decay", 0.0))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(spec.get("momentum", 0.0)), weight_decay=wd,
                               nesterov=bool(spec.get("nesterov", False)))
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    raise _train_field(config, "optimizer", f"unknown optimiser {name!r}", "use sgd, adam or adamw")


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of train.lr before iteration ``step`` (0-based) of ``total``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(config: dict, optimizer, total_steps: int):
    import torch

    spec = config.get("train", {})
    schedule = str(spec.get("schedule", "cosine")).lower()
    if schedule not in ("cosine", "constant"):
        raise _train_field(config, "schedule", f"unknown schedule {schedule!r}", "use cosine or constant")
    warmup = spec.get("warmup_iterations", 0)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise _train_field(config, "warmup_iterations", f"must be an integer >= 0, got {warmup!r}",
                           "set train.warmup_iterations: 0")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, schedule))


def evaluate(model, loader) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over every sample of ``loader`` (consumes no randomness)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total, loss_sum, correct = 0, 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
    model.train()
    return loss_sum / max(1, total), correct / max(1, total)


# ---------------------------------------------------------------------------------------------
# the run


def _subset(dataset, limit: int | None):
    from torch.utils.data import Subset

    if limit is None or limit >= len(dataset):
        return dataset
    return Subset(dataset, range(int(limit)))


def resolve(config: dict, options: TrainOptions, iterations_per_epoch: int) -> dict:
    """The config this run uses: command-line choices folded in, so the hash covers them."""
    cfg = {k: copy.deepcopy(v) for k, v in config.items()}
    cfg["dataset"] = options.dataset or config["dataset"]
    cfg["seed"] = int(config["seed"] if options.seed is None else options.seed)
    train = dict(cfg.get("train", {}))
    if options.epochs is not None:
        train["epochs"] = int(options.epochs)
    epochs = train.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise _train_field(config, "epochs", f"must be an integer >= 1, got {epochs!r}", "set train.epochs: 10")
    cfg["train"] = train
    job = dict(cfg.get("job", {}))
    if job.get("iterations_per_epoch", "auto") == "auto":
        # the simulator's epochs (when per-epoch policies re-decide) follow the real DataLoader
        job["iterations_per_epoch"] = iterations_per_epoch
    cfg["job"] = job
    validate(cfg)
    return cfg


def run_identity(cfg: dict, options: TrainOptions, train_size: int, test_size: int, traces) -> dict:
    """What must match for a checkpoint to be continued: the resolved config and the run's choices."""
    clean = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in NON_IDENTITY_SECTIONS}
    clean["train"] = {k: v for k, v in clean.get("train", {}).items() if k not in NON_IDENTITY_TRAIN_KEYS}
    # device order is the classes' order in the file; key-sorted comparisons would not see it
    return {"config": clean, "device_class_order": list(cfg["cluster"]["classes"]), "--policy": options.policy, "--agent": options.agent,
            "traces_root": traces,
            "--limit-train": options.limit_train, "--limit-test": options.limit_test,
            "train_size": train_size, "test_size": test_size}


def _identity_field(key: str) -> str:
    return key[len("config."):] if key.startswith("config.") else key


def _run_json(cfg: dict, options: TrainOptions, source, threads: int, chash: str, traces, status: dict) -> dict:
    import torch
    import torchvision

    return {
        "config": {k: v for k, v in cfg.items() if not k.startswith("_")},
        "config_source": cfg.get("_source"),
        "config_hash": chash,
        "seed": cfg["seed"],
        "dataset": cfg["dataset"],
        "policy": options.policy,
        "agent": options.agent,
        "traces": traces,  # the trace root the simulator used (None: the fitted trace model)
        "limit_train": options.limit_train,
        "limit_test": options.limit_test,
        "data_source": source.as_dict(),
        "versions": {"gwp": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
                     "python": sys.version.split()[0]},
        "threads": threads,
        "status": status,
    }


def _write_run_json(record: dict, path: Path) -> None:
    """Keys in insertion order: the order of cluster.classes is the device order, so it must survive."""
    write_text_atomic(json.dumps(record, indent=2, default=str) + "\n", path)


def _save_checkpoint(path: Path, payload: dict) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(buffer.getvalue(), path)


def _load_checkpoint(path: Path) -> dict:
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise GwpError(path, "", f"cannot be read ({type(exc).__name__})",
                       "remove it to start over, or use another --out") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise GwpError(path, "format", "is not a gwp train checkpoint of this version", "use another --out")
    return payload


def _stop_reason(epoch_done: int, epochs: int, iteration: int, max_iterations, min_loss, until_loss):
    if epoch_done >= epochs:
        return "epochs"
    if max_iterations is not None and iteration >= max_iterations:
        return "max_iterations"
    if until_loss is not None and min_loss is not None and min_loss <= until_loss:
        return "until_loss"
    return None


def train(config: dict, out, options: TrainOptions | None = None, resume: bool = False, echo=None,
          step_hook=None) -> dict:
    """Train for real, placing every iteration on the simulated cluster; returns a summary.

    ``step_hook(iteration)`` (tests) is called after each iteration's rows are written.
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from .data import load_dataset
    from .simulate import build_simulator

    options = options or TrainOptions()
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out)
    threads = set_threads(options.threads)

    ckpt_path = out / CHECKPOINT
    iter_path, epoch_path, run_path = out / "iterations.csv", out / "epochs.csv", out / "run.json"
    existing = [p for p in (ckpt_path, iter_path, epoch_path) if p.exists()]
    if existing and not resume:
        raise GwpError(out, "", f"already holds a training run ({existing[0].name})",
                       "pass --resume to continue it, or choose another --out")
    for name, value in (("--limit-train", options.limit_train), ("--limit-test", options.limit_test),
                        ("--max-iterations", options.max_iterations)):
        if value is not None and value < 1:
            raise GwpError(name, "", f"must be >= 1, got {value}", f"give {name} a positive integer")
    if options.until_loss is not None and not options.until_loss > 0:
        raise GwpError("--until-loss", "", f"must be > 0, got {options.until_loss}", "give a positive loss")

    if int(config["cluster"]["batch_size"]) < 2:
        raise GwpError(config.get("_source", "config"), "cluster.batch_size",
                       "must be at least 2 to train MobileNetV2 (BatchNorm needs two samples)", "set batch_size >= 2")
    dataset = options.dataset or config["dataset"]
    data = load_dataset(dataset, options.data_dir, options.download)
    echo(f"gwp train: data: {data.source.describe()}")
    train_set = _subset(data.train, options.limit_train)
    test_set = _subset(data.test, options.limit_test)
    batch_size = int(config["cluster"]["batch_size"])
    per_epoch = len(train_set) // batch_size if len(train_set) % batch_size == 1 else \
        math.ceil(len(train_set) / batch_size)

    cfg = resolve(config, options, per_epoch)
    seed, epochs = cfg["seed"], cfg["train"]["epochs"]
    chash = config_hash(cfg)
    root = trace_root(cfg, options.traces)  # --traces, else $GWP_TRACES, else the config: fixed now
    traces_root = str(root) if root else None
    identity = run_identity(cfg, options, len(train_set), len(test_set), traces_root)

    # the simulator first: building it may profile the model (drawing from torch's global RNG) or
    # not (cached), so it must not sit between the seeding and the training it seeds
    sim = build_simulator(cfg, policy=options.policy, seed=seed, traces=traces_root, agent=options.agent,
                          dataset=dataset)
    seed_everything(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    model = build_model(cfg, data.num_classes)
    model.train()
    optimizer = build_optimizer(cfg, model.parameters())
    scheduler = build_scheduler(cfg, optimizer, epochs * per_epoch)
    sim_per_epoch = getattr(sim, "iterations_per_epoch", per_epoch)
    if sim_per_epoch != per_epoch:
        echo(f"gwp train: note: the simulator's epoch is {sim_per_epoch} iterations, the data's {per_epoch}")

    state = {"epoch": 0, "batch": 0, "iteration": 0, "iter_rows": 0, "epoch_rows": 0, "sim_time_s": 0.0,
             "energy_j": 0.0, "min_loss": None, "epoch_loss_sum": 0.0, "epoch_loss_n": 0, "test_acc": None,
             "epoch_gen_state": None, "wall_s": 0.0}
    resumed = False
    if resume and ckpt_path.exists():
        payload = _load_checkpoint(ckpt_path)
        diff = _first_difference(payload["identity"], identity)
        if diff:
            field, old, new = diff
            raise GwpError(ckpt_path, _identity_field(field),
                           f"differs from the run being resumed (checkpoint: {old!r}, now: {new!r})",
                           "resume with the same config and options, or choose another --out")
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        sim.load_state_dict(payload["simulator"])
        _set_rng_state(payload["rng"], generator)
        state.update(payload["state"])
        _truncate_csv(iter_path, state["iter_rows"], ITER_COLUMNS)
        _truncate_csv(epoch_path, state["epoch_rows"], EPOCH_COLUMNS)
        resumed = True
        echo(f"gwp train: resuming {out} at epoch {state['epoch']}, iteration {state['iteration']}")
    elif resume:
        for path in (iter_path, epoch_path):
            if path.exists():
                path.unlink()
        echo(f"gwp train: no checkpoint in {out}; starting from the beginning")

    out.mkdir(parents=True, exist_ok=True)
    planned = epochs * per_epoch
    if options.max_iterations is not None:
        planned = min(planned, options.max_iterations)
    reason = _stop_reason(state["epoch"], epochs, state["iteration"], options.max_iterations,
                          state["min_loss"], options.until_loss)
    status = {"state": "running", "epochs_done": state["epoch"], "iterations": state["iteration"]}
    _write_run_json(_run_json(cfg, options, data.source, threads, chash, traces_root, status), run_path)
    if reason:
        echo(f"gwp train: {out} is already complete (stop rule: {reason})")
        return _summary(out, state, reason)

    # its own generator: creating a loader's iterator draws a seed, and evaluation must not move the
    # global RNG (a run stopped mid-epoch evaluates once more than an uninterrupted one)
    test_loader = DataLoader(test_set, batch_size=EVAL_BATCH, shuffle=False, num_workers=0,
                             generator=torch.Generator())
    iter_csv = _CsvAppender(iter_path, ITER_COLUMNS)
    epoch_csv = _CsvAppender(epoch_path, EPOCH_COLUMNS)
    tags = {"policy": options.policy, "seed": seed, "dataset": dataset, "config_hash": chash}
    bar = _progress(options.progress, planned, state["iteration"], dataset, options.policy)
    try:
        while reason is None:
            if state["batch"] == 0:
                state["epoch_gen_state"] = generator.get_state()
                state["epoch_loss_sum"], state["epoch_loss_n"] = 0.0, 0
            else:  # resumed mid-epoch: replay this epoch's permutation, skip what was trained
                generator.set_state(state["epoch_gen_state"])
            # BatchNorm cannot train on one sample: a trailing one-sample batch is left out
            loader = DataLoader(train_set, batch_size=batch_size, num_workers=0, generator=generator,
                                sampler=EpochSampler(len(train_set), generator, state["batch"] * batch_size),
                                drop_last=len(train_set) % batch_size == 1)
            started = time.perf_counter()
            stopped_early = None
            for x, y in loader:
                lr = optimizer.param_groups[0]["lr"]
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise GwpError(cfg.get("_source", "config"), "train.lr",
                                   f"training diverged: loss is {value} at iteration {state['iteration']}",
                                   "lower train.lr or set train.warmup_iterations, and start a new run "
                                   "(another --out)")
                placed = sim.step(loss=value)
                state["sim_time_s"] = float(placed["sim_time_s"])
                state["energy_j"] += float(placed["energy_j"])
                iter_csv.write({"iteration": state["iteration"], "epoch": state["epoch"], "loss": value,
                                "lr": float(lr), "sim_time_s": state["sim_time_s"],
                                "time_s": float(placed["time_s"]), "energy_j": float(placed["energy_j"]),
                                "cost": float(placed["cost"]), **tags})
                state["iteration"] += 1
                state["iter_rows"] += 1
                state["batch"] += 1
                state["epoch_loss_sum"] += value
                state["epoch_loss_n"] += 1
                state["min_loss"] = value if state["min_loss"] is None else min(state["min_loss"], value)
                bar.update(1)
                bar.set_postfix_str(_postfix(value, state["test_acc"], state["sim_time_s"]), refresh=False)
                if step_hook:
                    step_hook(state["iteration"])
                stopped_early = _stop_reason(0, 1, state["iteration"], options.max_iterations,
                                             state["min_loss"], options.until_loss)
                if stopped_early:
                    break
            complete = state["batch"] >= per_epoch
            test_loss, test_acc = evaluate(model, test_loader)
            state["test_acc"] = test_acc
            wall = time.perf_counter() - started
            state["wall_s"] += wall
            epoch_csv.write({"epoch": state["epoch"],
                             "train_loss": state["epoch_loss_sum"] / max(1, state["epoch_loss_n"]),
                             "test_loss": test_loss, "test_acc": test_acc, "sim_time_s": state["sim_time_s"],
                             "energy_j": state["energy_j"], "wall_s": wall, "iterations": state["iteration"],
                             **tags})
            if complete:
                state["epoch"] += 1
                state["batch"] = 0
                state["epoch_rows"] += 1  # a partial epoch's row is dropped if the run is resumed
            iter_csv.sync()
            epoch_csv.sync()
            _save_checkpoint(ckpt_path, {
                "format": CHECKPOINT_FORMAT, "identity": identity, "config_hash": chash,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "simulator": sim.state_dict(),
                "rng": _rng_state(generator), "state": dict(state)})
            bar.set_postfix_str(_postfix(state["epoch_loss_sum"] / max(1, state["epoch_loss_n"]), test_acc,
                                         state["sim_time_s"]))
            echo_line = (f"gwp train: epoch {state['epoch'] - (1 if complete else 0)}"
                         f"{'' if complete else ' (partial)'}: train loss "
                         f"{state['epoch_loss_sum'] / max(1, state['epoch_loss_n']):.4f}, test loss {test_loss:.4f}, "
                         f"test acc {100 * test_acc:.2f}%, simulated {state['sim_time_s'] / 3600:.3f} h, "
                         f"wall {wall:.1f} s")
            if options.progress:
                bar.write(echo_line, file=sys.stderr)
            else:
                echo(echo_line)
            reason = _stop_reason(state["epoch"], epochs, state["iteration"], options.max_iterations,
                                  state["min_loss"], options.until_loss)
    finally:
        bar.close()
        iter_csv.close()
        epoch_csv.close()
    status = {"state": "complete", "stop_rule": reason, "epochs_done": state["epoch"],
              "iterations": state["iteration"], "test_acc": state["test_acc"],
              "sim_time_s": state["sim_time_s"], "energy_j": state["energy_j"],
              "resumed": resumed}
    _write_run_json(_run_json(cfg, options, data.source, threads, chash, traces_root, status), run_path)
    return _summary(out, state, reason)


def _summary(out: Path, state: dict, reason: str) -> dict:
    return {"out": str(out), "stop_rule": reason, "epochs": state["epoch"], "iterations": state["iteration"],
            "test_acc": state["test_acc"], "sim_time_s": state["sim_time_s"], "energy_j": state["energy_j"],
            "wall_s": state["wall_s"]}


def _postfix(loss, acc, sim_time_s) -> str:
    acc_text = "-" if acc is None else f"{100 * acc:.1f}%"
    return f"loss={loss:.3f} acc={acc_text} sim={sim_time_s / 3600:.3f}h"


def _progress(enabled: bool, total: int, done: int, dataset: str, policy: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=f"train {dataset}/{policy}", unit="it", disable=not enabled,
                mininterval=0.5, dynamic_ncols=True, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# the Fig. 4 sweep: replay one run's losses under other settings of f, u or B


def sweep_config(config: dict, factor: str, setting) -> dict:
    """``config`` with one factor set: f -> one frequency level per class, u -> load.mean, B -> traces.scale."""
    cfg = copy.deepcopy({k: v for k, v in config.items()})
    classes = cfg["cluster"]["classes"]
    if factor == "f":
        picks = {"lowest": lambda lv: lv[0], "median": lambda lv: lv[(len(lv) - 1) // 2],
                 "highest": lambda lv: lv[-1]}
        if setting not in picks:
            raise GwpError(config.get("_source", "config"), "train.sweep.f",
                           f"setting {setting!r} is not lowest, median or highest", "use lowest, median or highest")
        for spec in classes.values():
            spec["f_levels_ghz"] = [picks[setting](sorted(spec["f_levels_ghz"]))]
    elif factor == "u":
        if not isinstance(setting, (int, float)) or not 0 <= setting < 1:
            raise GwpError(config.get("_source", "config"), "train.sweep.u",
                           f"load mean {setting!r} must be in [0, 1)", "e.g. low: 0.6, medium: 0.3, high: 0.05")
        for spec in classes.values():
            spec["load"] = dict(spec["load"], mean=float(setting))
    elif factor == "B":
        if not isinstance(setting, (int, float)) or setting <= 0:
            raise GwpError(config.get("_source", "config"), "train.sweep.B",
                           f"bandwidth scale {setting!r} must be positive", "e.g. low: 0.25, medium: 1, high: 4")
        cfg["traces"] = dict(cfg["traces"], scale=float(setting))
    else:
        raise GwpError("--sweep", "", f"unknown factor {factor!r}", "use f, u or B")
    validate(cfg)
    return cfg


def sweep(out, factor: str, config: dict | None = None, echo=None, progress: bool = True) -> Path:
    """Write ``sweep_<factor>.csv`` from the run in ``out``; settings from its config's train.sweep."""
    import pandas as pd
    from tqdm import tqdm

    from .simulate import build_simulator

    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out)
    run_path, iter_path, epoch_path = out / "run.json", out / "iterations.csv", out / "epochs.csv"
    for path in (run_path, iter_path, epoch_path):
        if not path.is_file():
            raise GwpError(path, "", "not found: --sweep needs a finished training run",
                           f"run `gwp train --out {out}` first, or point --out at a run directory")
    try:
        run = json.loads(run_path.read_text())
        base = run["config"]
    except (ValueError, KeyError):
        raise GwpError(run_path, "", "is not a gwp train run record", "rerun gwp train") from None
    losses = pd.read_csv(iter_path)
    epochs = pd.read_csv(epoch_path)
    if losses.empty:
        raise GwpError(iter_path, "", "has no iterations to replay", "let the run train at least one iteration")
    acc_by_epoch = epochs.groupby("epoch")["test_acc"].last().to_dict()
    settings = base.get("train", {}).get("sweep") or (config or {}).get("train", {}).get("sweep")
    if not isinstance(settings, dict) or factor not in settings:
        raise GwpError(config.get("_source", "config") if config else run_path, f"train.sweep.{factor}",
                       "is not set", "see experiments/paper.yaml's train.sweep")
    spec = settings[factor]
    missing = [s for s in SWEEP_SETTINGS if s not in (spec or {})]
    if missing:
        raise GwpError(run_path, f"train.sweep.{factor}.{missing[0]}", "is missing", "give low, medium and high")
    base = dict(base, _source=str(run_path))
    lines = [_line(SWEEP_COLUMNS)]
    total = len(losses) * len(SWEEP_SETTINGS)
    with tqdm(total=total, desc=f"sweep {factor}", unit="it", disable=not progress, mininterval=0.5,
              file=sys.stderr) as bar:
        for setting in SWEEP_SETTINGS:
            value = spec[setting]
            cfg = sweep_config(base, factor, value)
            chash = config_hash(cfg)
            sim = build_simulator(cfg, policy=run["policy"], seed=int(run["seed"]), traces=run.get("traces"),
                                  agent=run.get("agent"), dataset=run["dataset"])
            for it, ep, loss in zip(losses["iteration"], losses["epoch"], losses["loss"]):
                placed = sim.step(loss=float(loss))
                lines.append(_line([setting, value, int(it), int(ep), float(loss), float(placed["sim_time_s"]),
                                    float(placed["energy_j"]), float(acc_by_epoch.get(int(ep), float("nan"))),
                                    run["policy"],
                                    int(run["seed"]), run["dataset"], chash]))
                bar.update(1)
            echo(f"gwp train: sweep {factor}={setting} ({value}): {len(losses)} iterations, simulated "
                 f"{float(placed['sim_time_s']) / 3600:.3f} h")
    path = out / f"sweep_{factor}.csv"
    write_text_atomic("".join(lines), path)
    return path
