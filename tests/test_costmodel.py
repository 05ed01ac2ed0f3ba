"""Equations (1)-(10) worked by hand against `gwp evaluate` and the vectorised cost model."""
import io
import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gwp_cli.cli import main
from gwp_cli.cluster import cluster_from_config
from gwp_cli.config import load_config
from gwp_cli.costmodel import CostWeights, evaluate_paper
from gwp_cli.placement import Placement
from gwp_cli.profile import Workload

from .conftest import TINY_PROFILE, tiny_cluster_config

FLOPS = [3e6, 6e6, 1.5e6]
OUT = [1000, 500, 40]
STATE = {"f_hz": [2.0e9, 1.6e9, 1.0e9], "u": [0.8, 0.5, 1.0], "bandwidth_Bps": [1.0e6, 2.0e5, 5.0e4]}
SIGMA = [0.5, 0.5, 1.0]
ETA = [1e-28, 1e-28, 2e-28]
GG = [0.1, 0.1, 0.02]
GH = [0.05, 0.05, 0.01]


def hand_device(n, flops, out_bytes, i):
    """One device by the paper's equations, written out scalar by scalar."""
    f, u, B = STATE["f_hz"][i], STATE["u"][i], STATE["bandwidth_Bps"][i]
    t_comp = n * flops * SIGMA[i] / (f * u)  # (1)(2)
    t_comm = n * (2 * out_bytes) / B  # (3), comm_factor 2
    e_comp = ETA[i] * SIGMA[i] * n * flops * (f * u) ** 2  # (7)
    ghz = f / 1e9
    e_heat = GG[i] * ghz ** 3 * t_comp + GH[i] * ghz ** 3 * t_comm  # (8)
    return t_comp, t_comm, e_comp, e_heat


def evaluate_cli(write_yaml, write_json, tiny_profile, placement, extra=()):
    config = write_yaml(tiny_cluster_config())
    p = write_json(placement, "placement.json")
    s = write_json(STATE, "state.json")
    result = CliRunner().invoke(main, ["evaluate", "--config", str(config), "--placement", str(p), "--state", str(s),
                                       "--profile", str(tiny_profile), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def test_one_stage_two_devices(write_yaml, write_json, tiny_profile):
    placement = {"stages": [[0, 2]], "devices": [[0, 2]], "samples": [[5, 3]]}
    out = evaluate_cli(write_yaml, write_json, tiny_profile, placement)
    W = sum(FLOPS)
    d0 = hand_device(5, W, OUT[2], 0)
    d2 = hand_device(3, W, OUT[2], 2)
    t0, t2 = d0[0] + d0[1], d2[0] + d2[1]  # (4)
    T = max(t0, t2)  # (5)(6)
    E = sum(d0[2:]) + sum(d2[2:])  # (9)
    assert close(out["time_s"], T)
    assert close(out["energy_j"], E)
    assert close(out["energy_comp_j"], d0[2] + d2[2])
    assert close(out["energy_heat_j"], d0[3] + d2[3])
    assert close(out["waiting_s"], (T - t0) + (T - t2))
    assert close(out["cost"], 0.25 * E / 0.5 + 0.75 * T / 2.0)  # (10)
    assert out["devices"][1] == {"t_comp_s": 0.0, "t_comm_s": 0.0, "e_comp_j": 0.0, "e_heat_j": 0.0}
    assert close(out["devices"][2]["t_comm_s"], d2[1])


def test_two_stages(write_yaml, write_json, tiny_profile):
    placement = {"stages": [[0, 0], [1, 2]], "devices": [[1], [0, 2]], "samples": [[8], [6, 2]]}
    out = evaluate_cli(write_yaml, write_json, tiny_profile, placement, ["--alpha", "0.7"])
    s1 = hand_device(8, FLOPS[0], OUT[0], 1)
    s2a = hand_device(6, FLOPS[1] + FLOPS[2], OUT[2], 0)
    s2b = hand_device(2, FLOPS[1] + FLOPS[2], OUT[2], 2)
    t1 = s1[0] + s1[1]
    t2 = max(s2a[0] + s2a[1], s2b[0] + s2b[1])
    T = t1 + t2
    E = sum(s1[2:]) + sum(s2a[2:]) + sum(s2b[2:])
    assert close(out["time_s"], T)
    assert close(out["stages"][0]["time_s"], t1) and close(out["stages"][1]["time_s"], t2)
    assert close(out["energy_j"], E)
    assert close(out["cost"], 0.7 * E / 0.5 + 0.3 * T / 2.0)
    assert close(out["waiting_s"], 2 * t2 - (s2a[0] + s2a[1]) - (s2b[0] + s2b[1]))


def test_realistic_switches_off_equals_paper(write_yaml, write_json, tiny_profile):
    placement = {"stages": [[0, 1], [2, 2]], "devices": [[0], [1, 2]], "samples": [[8], [4, 4]]}
    paper = evaluate_cli(write_yaml, write_json, tiny_profile, placement)
    real = evaluate_cli(write_yaml, write_json, tiny_profile, placement, ["--mode", "realistic"])
    assert close(paper["time_s"], real["time_s"]) and close(paper["energy_j"], real["energy_j"])


def test_idle_power_adds_waiting_energy(write_yaml, write_json, tiny_profile):
    cfg = tiny_cluster_config()
    cfg["mode"] = "realistic"
    cfg["realistic"] = {"idle_power": True}
    config = write_yaml(cfg)
    placement = {"stages": [[0, 2]], "devices": [[0, 2]], "samples": [[5, 3]]}
    p, s = write_json(placement, "p.json"), write_json(STATE, "s.json")
    out = json.loads(CliRunner().invoke(main, ["evaluate", "--config", str(config), "--placement", str(p), "--state",
                                               str(s), "--profile", str(tiny_profile)]).output)
    W = sum(FLOPS)
    d0, d2 = hand_device(5, W, OUT[2], 0), hand_device(3, W, OUT[2], 2)
    t0, t2 = d0[0] + d0[1], d2[0] + d2[1]
    T = max(t0, t2)
    idle = 0.5 * (T - t0) + 0.1 * (T - t2)
    assert close(out["energy_j"], sum(d0[2:]) + sum(d2[2:]) + idle)


@st.composite
def slower_cases(draw):
    m = 4
    f = np.array(draw(st.lists(st.floats(0.5e9, 3e9), min_size=m, max_size=m)))
    u = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=m, max_size=m)))
    B = np.array(draw(st.lists(st.floats(1e4, 1e8), min_size=m, max_size=m)))
    n_stages = draw(st.integers(1, 3))
    cuts = sorted(draw(st.sets(st.integers(0, 1), min_size=n_stages - 1, max_size=n_stages - 1)))
    starts, ends = [0] + [c + 1 for c in cuts], cuts + [2]
    order = draw(st.permutations(range(m)))
    groups = [list(g) for g in np.array_split(order, n_stages)]
    samples = [[8 // len(g) + (1 if j < 8 % len(g) else 0) for j in range(len(g))] for g in groups]
    victim = draw(st.integers(0, m - 1))
    which = draw(st.sampled_from(["f", "u", "B"]))
    factor = draw(st.floats(0.05, 1.0))
    return f, u, B, Placement.build(list(zip(starts, ends)), groups, samples), victim, which, factor


@settings(max_examples=300, deadline=None)
@given(slower_cases())
def test_time_never_drops_when_a_device_slows(case):
    f, u, B, placement, victim, which, factor = case
    cfg = tiny_cluster_config()
    cfg["cluster"]["classes"]["fast"]["count"] = 3
    cluster = cluster_from_config(load_config(None, cfg))
    workload = Workload(pd.read_csv(io.StringIO(TINY_PROFILE)))
    weights = CostWeights(0.5, 1.0, 1.0)
    before = evaluate_paper(placement, workload, cluster, f, u, B, weights, 2.0)["time_s"]
    slowed = {"f": f.copy(), "u": u.copy(), "B": B.copy()}
    slowed[which][victim] *= factor
    after = evaluate_paper(placement, workload, cluster, slowed["f"], slowed["u"], slowed["B"], weights, 2.0)["time_s"]
    assert after >= before * (1 - 1e-12)
