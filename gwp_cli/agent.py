"""The GWP agent: multi-action PPO actor-critic (Stable-Baselines3) on the batched placement env.

``train_agent`` trains (or resumes) an agent and writes three files beside each other:

* ``<out>``            the SB3 zip (policy and value networks, optimiser state);
* ``<out stem>.json``  the sidecar: cluster size, device classes, dataset, config hash, the
                       candidate partitions of the action, timesteps, reward-normaliser state;
* ``<out stem>.log.csv`` one row per PPO update: timesteps, mean reward (17) and mean cost (10)
                       of that update's rollout, wall seconds.

The agent always trains on ``traces.use: train`` (the even-indexed trace files), so that an
evaluation with ``traces.use: eval`` meets traces it has never seen. docs/agent.md.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from . import __version__
from .config import config_hash
from .env import GreenPlacementVecEnv, agent_settings
from .errors import GwpError
from .io import write_json_atomic

LOG_COLUMNS = ["update", "timesteps", "mean_reward", "mean_cost", "min_cost", "max_cost", "wall_s"]
SIDECAR_FORMAT = 1


def sidecar_path(out) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".json")


def log_path(out) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".log.csv")


def read_sidecar(agent_path) -> dict:
    path = sidecar_path(agent_path)
    if not path.is_file():
        raise GwpError(agent_path, "", f"has no metadata file {path.name} beside it",
                       "train the agent with `gwp agent train --config ... --out ...`, which writes both")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise GwpError(path, "", "is not a readable agent metadata file",
                       "retrain with `gwp agent train --config ... --out ...`") from None
    keys = ("n_devices", "device_classes", "partitions", "max_stages", "n_blocks")
    if not isinstance(meta, dict) or any(k not in meta for k in keys):
        raise GwpError(path, "", f"lacks one of {', '.join(keys)}", "retrain with `gwp agent train --config ... --out ...`")
    return meta


def load_model(agent_path, env=None):
    """The PPO model of an agent zip; a file SB3 cannot read is a GwpError naming it."""
    from stable_baselines3 import PPO

    path = Path(agent_path)
    try:
        return PPO.load(str(path), env=env, device="cpu")
    except GwpError:
        raise
    except Exception as exc:  # SB3 raises many kinds for a damaged zip
        raise GwpError(path, "", f"is not a readable Stable-Baselines3 agent ({exc.__class__.__name__})",
                       "retrain it with `gwp agent train --config ... --out ...`") from None


def _training_config(config: dict) -> dict:
    cfg = copy.deepcopy(config)
    cfg["traces"]["use"] = "train"
    return cfg


def _make_callback(total: int, log_file: Path, start_update: int, start_wall: float, progress: bool):
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    class Progress(BaseCallback):
        """tqdm bar over env steps; one log row per rollout (= one PPO update)."""

        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, initial=min(self.model.num_timesteps, total), unit="step",
                            desc="gwp agent", disable=not progress, dynamic_ncols=True)
            self.costs = []
            self.update = start_update
            self.t0 = time.time()

        def _on_step(self) -> bool:
            infos = self.locals.get("infos") or []
            self.costs.extend(info["cost"] for info in infos if "cost" in info)
            self.bar.update(min(self.training_env.num_envs, max(0, total - self.bar.n)))
            return True

        def _on_rollout_end(self) -> None:
            if not self.costs:
                return
            c = np.asarray(self.costs)
            self.update += 1
            row = {"update": self.update, "timesteps": self.model.num_timesteps, "mean_reward": -c.mean(),
                   "mean_cost": c.mean(), "min_cost": c.min(), "max_cost": c.max(),
                   "wall_s": start_wall + time.time() - self.t0}
            new = not log_file.is_file() or log_file.stat().st_size == 0
            with log_file.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, LOG_COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()})
            self.bar.set_postfix(cost=f"{c.mean():.4f}")
            self.costs = []

        def _on_training_end(self) -> None:
            self.bar.close()

    return Progress()


def _last_log_row(path: Path) -> tuple[int, float]:
    if not path.is_file():
        return 0, 0.0
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return 0, 0.0
    try:
        return int(rows[-1]["update"]), float(rows[-1]["wall_s"])
    except (KeyError, ValueError):
        return len(rows), 0.0


def _save(model, venv_norm, out: Path, meta: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".zip")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    rms = venv_norm.ret_rms
    meta = dict(meta, timesteps=int(model.num_timesteps),
                reward_rms={"mean": float(np.asarray(rms.mean)), "var": float(np.asarray(rms.var)),
                            "count": float(rms.count)})
    write_json_atomic(meta, sidecar_path(out))
    umask = os.umask(0)
    os.umask(umask)
    for path in (out, sidecar_path(out)):  # mkstemp files are private; give them the usual mode
        os.chmod(path, 0o666 & ~umask)


def train_agent(config: dict, steps: int | None = None, seed: int | None = None, out="results/agents/gwp.zip",
                traces: str | None = None, resume: bool = False, progress: bool = True, loss_log=None) -> dict:
    """Train PPO for ``steps`` environment steps in all (a resumed agent continues up to that total)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    out = Path(out)
    if out.suffix != ".zip":
        raise GwpError("--out", "", f"{out} must end in .zip", "e.g. --out results/agents/gwp.zip")
    cfg = _training_config(config)
    settings = agent_settings(cfg)
    steps = int(settings["steps"] if steps is None else steps)
    seed = int(cfg["seed"] if seed is None else seed)
    torch.set_num_threads(max(1, int(settings.get("torch_threads") or 1)))
    log_file = log_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    venv = GreenPlacementVecEnv(settings["n_envs"], cfg, traces=traces, loss_log=loss_log, seed=seed)
    codec = venv.codec
    venv_norm = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=float(settings["gamma"]))
    meta = {"format": SIDECAR_FORMAT, "gwp_version": __version__, "n_devices": codec.n_devices,
            "device_classes": list(venv.core.scenario.cluster.classes), "dataset": venv.core.scenario.dataset,
            "config_hash": config_hash(cfg), "config_source": str(config.get("_source", "")),
            "traces_use": "train", "trace_root": None if venv.core.scenario.trace_root is None
            else str(venv.core.scenario.trace_root), "max_stages": codec.max_stages, "n_blocks": codec.n_blocks,
            "batch_size": codec.batch, "partitions": [[list(r) for r in p] for p in codec.partitions],
            "obs_dim": codec.obs_dim, "nvec": codec.nvec.tolist(), "seed": seed,
            "episode_iterations": venv.core.K}

    if resume:
        if not out.is_file():
            raise GwpError("--resume", "", f"{out} does not exist", "drop --resume to train a new agent")
        old = read_sidecar(out)
        if old["n_devices"] != codec.n_devices or old["partitions"] != meta["partitions"] \
                or old.get("nvec") != meta["nvec"]:
            raise GwpError(out, "", "was trained for another cluster or action space than this config's",
                           "drop --resume to train a new agent for this config")
        model = load_model(out, env=venv_norm)
        rms = old.get("reward_rms")
        if rms:
            venv_norm.ret_rms.mean, venv_norm.ret_rms.var = np.float64(rms["mean"]), np.float64(rms["var"])
            venv_norm.ret_rms.count = float(rms["count"])
        start_update, start_wall = _last_log_row(log_file)
    else:
        arch = list(settings["net_arch"])
        model = PPO("MlpPolicy", venv_norm, n_steps=int(settings["n_steps"]), batch_size=int(settings["batch_size"]),
                    n_epochs=int(settings["n_epochs"]), learning_rate=float(settings["learning_rate"]),
                    gamma=float(settings["gamma"]), gae_lambda=float(settings["gae_lambda"]),
                    clip_range=float(settings["clip_range"]), ent_coef=float(settings["ent_coef"]),
                    policy_kwargs={"net_arch": {"pi": arch, "vf": arch}}, seed=seed, device="cpu", verbose=0)
        if log_file.exists():
            log_file.unlink()
        start_update, start_wall = 0, 0.0

    remaining = steps - int(model.num_timesteps)
    t0 = time.time()
    if remaining > 0:
        callback = _make_callback(steps, log_file, start_update, start_wall, progress)
        try:
            model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=not resume,
                        progress_bar=False)
        except KeyboardInterrupt:
            _save(model, venv_norm, out, dict(meta, wall_s=start_wall + time.time() - t0))
            raise
    wall = start_wall + time.time() - t0
    _save(model, venv_norm, out, dict(meta, wall_s=wall))
    final = None
    if log_file.is_file():
        with log_file.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        final = float(rows[-1]["mean_cost"]) if rows else None
    return {"out": str(out), "sidecar": str(sidecar_path(out)), "log": str(log_file),
            "timesteps": int(model.num_timesteps), "wall_s": wall, "last_mean_cost": final}
