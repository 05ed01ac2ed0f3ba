"""`gwp evaluate`: cost one placement under one device state (SPEC §4, §5)."""
import json
from pathlib import Path

import click
import numpy as np

from ..config import load_config
from ..costmodel import evaluate_paper
from ..errors import GwpError
from ..placement import load_placement, validate_placement
from ..realistic import FrozenConditions, realistic_iteration
from ..cluster import cluster_from_config
from ..scenario import cost_weights, load_workload


def load_state(path, n_devices: int):
    """The state file {"f_hz": [...], "u": [...], "bandwidth_Bps": [...]}, one value per device."""
    try:
        obj = json.loads(Path(path).read_text())
    except OSError:
        raise GwpError(path, "", "cannot be read", "pass an existing state JSON file") from None
    except json.JSONDecodeError as exc:
        raise GwpError(path, f"line {exc.lineno}", "is not valid JSON", "fix the JSON syntax") from None
    out = []
    for key, positive in (("f_hz", True), ("u", True), ("bandwidth_Bps", False)):
        values = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(values, list) or len(values) != n_devices:
            raise GwpError(path, key, f"must be a list of {n_devices} numbers (one per device)",
                           f"give {n_devices} values in cluster order")
        try:
            arr = np.array(values, dtype=float)
        except (TypeError, ValueError):
            raise GwpError(path, key, "holds a non-number", "use numbers only") from None
        bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
        if bad.any():
            rule = "> 0" if positive else ">= 0"
            raise GwpError(path, f"{key}[{int(np.flatnonzero(bad)[0])}]", f"must be {rule}", f"give {key} values {rule}")
        if key == "u" and (arr > 1).any():
            raise GwpError(path, f"u[{int(np.flatnonzero(arr > 1)[0])}]", "must be in (0, 1]", "give u in (0, 1]")
        out.append(arr)
    return out


@click.command()
@click.option("--config", "config_path", type=click.Path(), default=None, help="Default: experiments/paper.yaml.")
@click.option("--placement", "placement_path", required=True, type=click.Path())
@click.option("--state", "state_path", required=True, type=click.Path())
@click.option("--profile", "profile_path", type=click.Path(), default=None, help="Profile CSV (default: the model's).")
@click.option("--alpha", type=float, default=None)
@click.option("--t-ref", type=float, default=None, help="Seconds; default: the config's.")
@click.option("--e-ref", type=float, default=None, help="Joules; default: the config's.")
@click.option("--mode", type=click.Choice(["paper", "realistic"]), default=None)
def evaluate(config_path, placement_path, state_path, profile_path, alpha, t_ref, e_ref, mode):
    """Print time, energy and cost (10) of one placement as one JSON object."""
    overrides = {"cost": {k: v for k, v in (("alpha", alpha), ("t_ref_s", t_ref), ("e_ref_j", e_ref))
                          if v is not None}}
    if mode:
        overrides["mode"] = mode
    for key, value in overrides["cost"].items():
        if key != "alpha" and not value > 0:
            raise GwpError(f"--{key.split('_')[0]}-{key.split('_')[1]}", key, "must be > 0", "give a positive number")
    if alpha is not None and not 0.0 <= alpha <= 1.0:
        raise GwpError("--alpha", "alpha", f"must be in [0, 1], got {alpha}", "give --alpha between 0 and 1")
    config = load_config(config_path, overrides)
    workload = load_workload(config, profile_path=profile_path)
    cluster = cluster_from_config(config)
    weights = cost_weights(config, workload, cluster)
    comm_factor = float(config["cost"]["comm_factor"])
    placement = load_placement(placement_path)
    validate_placement(placement, workload, cluster, int(config["cost"]["max_stages"]), placement_path)
    f, u, B = load_state(state_path, cluster.n_devices)
    B = np.maximum(B, float(config["cost"]["bandwidth_floor_kbps"]) * 1000.0 / 8.0)  # 0 B/s: an outage, as in paper mode
    switches = config["realistic"] if config["mode"] == "realistic" else {}
    if not any(switches.values()):
        result = evaluate_paper(placement, workload, cluster, f, u, B, weights, comm_factor)
    else:
        switches = dict(switches, trace_time=False)  # a state file has no clock to replay
        result = realistic_iteration(placement, workload, cluster, FrozenConditions(f, u, B), 0.0, 0.0,
                                     [None] * len(f), switches, weights, comm_factor)
    dev = result["devices"]
    out = {key: float(result[key]) for key in
           ("time_s", "energy_j", "energy_comp_j", "energy_heat_j", "energy_idle_j", "waiting_s", "cost")}
    out["stages"] = [{"time_s": float(t)} for t in np.atleast_1d(result["stage_time_s"])[:placement.n_stages]]
    out["devices"] = [{"t_comp_s": float(dev["t_comp"][i]), "t_comm_s": float(dev["t_comm"][i]),
                       "e_comp_j": float(dev["e_comp"][i]), "e_heat_j": float(dev["e_heat"][i])}
                      for i in range(len(f))]
    click.echo(json.dumps(out))


COMMANDS = [evaluate]
