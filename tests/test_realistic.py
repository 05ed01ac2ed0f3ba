"""Realistic mode (SPEC §5) by hand: migration, aggregation, idle power, trace-driven transfers."""
import io

import numpy as np
import pandas as pd
import pytest

from gwp_cli.cluster import cluster_from_config
from gwp_cli.config import load_config
from gwp_cli.costmodel import CostWeights
from gwp_cli.dynamics import Conditions
from gwp_cli.placement import Placement
from gwp_cli.profile import Workload
from gwp_cli.realistic import realistic_iteration
from gwp_cli.traces import BandwidthReplay

from .conftest import TINY_PROFILE, tiny_cluster_config

WORKLOAD = Workload(pd.read_csv(io.StringIO(TINY_PROFILE)))
CLUSTER = cluster_from_config(load_config(None, tiny_cluster_config()))
WEIGHTS = CostWeights(0.5, 1.0, 1.0)
F = np.array([2e9, 2e9, 1e9])
U = np.array([1.0, 0.5, 1.0])


def conditions(series):
    """Constant f and u; bandwidth from per-device series (bytes/s per second)."""
    replay = BandwidthReplay([np.asarray(s, dtype=float) for s in series], np.zeros(3, dtype=np.int64), ["x"] * 3)
    horizon = 100
    return Conditions(np.tile(F, (horizon, 1)), np.tile(U, (horizon, 1)), replay.grid(horizon), replay, 1.0)


PLACEMENT = Placement.build([(0, 0), (1, 2)], [[0], [1, 2]], [[8], [6, 2]])
ALL = {"trace_time": False, "idle_power": True, "migration": True, "aggregation": True}


def test_all_switches_by_hand():
    cond = conditions([[1e6], [2e5], [5e4]])
    out = realistic_iteration(PLACEMENT, WORKLOAD, CLUSTER, cond, 0.0, 0.0, [None, (0, 0), None], ALL, WEIGHTS, 2.0)
    B = [1e6, 2e5, 5e4]
    sig = [0.5, 0.5, 1.0]
    # stage 0: device 0 receives block 0's params, computes 8 samples of 3 MFLOP, sends 2*1000 B per sample
    mig0 = 100000 / B[0]
    t0 = mig0 + 8 * 3e6 * sig[0] / (2e9 * 1.0) + 8 * 2000 / B[0]
    # stage 1: device 1 held block 0 only, so it receives blocks 1-2 (450 kB); device 2 receives them too
    W1, O1 = 6e6 + 1.5e6, 2 * 40
    t1 = 450000 / B[1] + 6 * W1 * sig[1] / (2e9 * 0.5) + 6 * O1 / B[1]
    t2 = 450000 / B[2] + 2 * W1 * sig[2] / (1e9 * 1.0) + 2 * O1 / B[2]
    stage1 = max(t1, t2)
    # aggregation: every device uploads its stage's params
    a0, a1, a2 = 100000 / B[0], 450000 / B[1], 450000 / B[2]
    agg = max(a0, a1, a2)
    assert out["time_s"] == pytest.approx(t0 + stage1 + agg, rel=1e-12)
    idle = 0.5 * (stage1 - t1) + 0.1 * (stage1 - t2) + 0.5 * (agg - a0) + 0.5 * (agg - a1) + 0.1 * (agg - a2)
    assert out["energy_idle_j"] == pytest.approx(idle, rel=1e-12)
    # heat of device 2: g(1 GHz) * t_comp + h(1 GHz) * (comm + migration + aggregation)
    comp2 = 2 * W1 * sig[2] / 1e9
    heat2 = 0.02 * comp2 + 0.01 * (2 * O1 / B[2] + 450000 / B[2] + a2)
    assert out["devices"]["e_heat"][2] == pytest.approx(heat2, rel=1e-12)


def test_constant_trace_replay_equals_fixed_bandwidth():
    fixed = realistic_iteration(PLACEMENT, WORKLOAD, CLUSTER, conditions([[1e6], [2e5], [5e4]]), 0.0, 0.0,
                                [None] * 3, ALL, WEIGHTS, 2.0)
    replayed = realistic_iteration(PLACEMENT, WORKLOAD, CLUSTER, conditions([[1e6], [2e5], [5e4]]), 0.0, 0.0,
                                   [None] * 3, dict(ALL, trace_time=True), WEIGHTS, 2.0)
    assert replayed["time_s"] == pytest.approx(fixed["time_s"], rel=1e-9)
    assert replayed["energy_j"] == pytest.approx(fixed["energy_j"], rel=1e-9)


def test_outage_stalls_instead_of_dividing_by_zero():
    # device 0's link is down for the first 3 s of every 4: its 16 kB of activations wait for second 3
    cond = conditions([[0, 0, 0, 1e6], [2e5], [5e4]])
    single = Placement.build([(0, 2)], [[0]], [[8]])
    out = realistic_iteration(single, WORKLOAD, CLUSTER, cond, 0.0, 0.0, [(0, 2), None, None],
                              {"trace_time": True}, WEIGHTS, 2.0)
    comp = 8 * 10.5e6 * 0.5 / 2e9
    assert out["time_s"] == pytest.approx(3.0 + 8 * 80 / 1e6, rel=1e-9)
    assert out["devices"]["t_comp"][0] == pytest.approx(comp)
