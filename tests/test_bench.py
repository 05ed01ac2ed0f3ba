"""`gwp bench` at a tiny size: every benchmark runs, the JSON has its keys, the ratios are numbers.

No timing is asserted (the machine is shared); only that each figure is a positive finite
number and that the vectorised cost model agrees with the per-device loop.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gwp_cli import bench
from gwp_cli.config import load_config
from gwp_cli.costmodel import iteration_cost
from gwp_cli.scenario import build_scenario

from .test_train import make_fashion_mnist

KEYS = ("cost_model_speedup", "device_evals_per_s", "env_steps_per_s", "env_steps_per_s_vec", "latency_ms",
        "latency_exponent", "train_overhead", "cores")


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def small_config():
    # a short PPO rollout, so that the PPO benchmark is one small update
    return load_config(overrides={"agent": {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1},
                                  "dynamics": {"horizon_s": 600}})


def test_class_counts_replicate_the_default_mix():
    cfg = load_config()
    assert bench.class_counts(cfg, 9) == {"vehicle": 2, "phone": 3, "hotspot": 2, "wearable": 2}
    assert bench.class_counts(cfg, 96) == {"vehicle": 22, "phone": 32, "hotspot": 21, "wearable": 21}
    for M in bench.LATENCY_MS:
        counts = bench.class_counts(cfg, M)
        assert sum(counts.values()) == M
        assert build_scenario(bench.config_with_devices(cfg, M, horizon_s=60), seed=0).cluster.n_devices == M


def test_loop_reference_matches_the_vectorised_cost_model():
    sc = build_scenario(small_config(), seed=1)
    D, W, O, S = bench.random_placements(60, sc.workload, sc.cluster, sc.max_stages, sc.comm_factor,
                                         np.random.default_rng(1))
    assert np.all((D > 0) == (S >= 0))
    for l in range(sc.max_stages):  # every stage used holds the whole batch
        held = np.where(S == l, D, 0).sum(axis=1)
        assert np.all((held == 0) | (held == sc.cluster.batch_size))
    f, u, B = sc.conditions.at(3.0)
    vec = iteration_cost(D, W, O, S, sc.max_stages, f, u, B, sc.cluster, sc.weights)
    ref = np.array(bench.loop_costs(D, W, O, S, sc.max_stages, f, u, B, sc.cluster, sc.weights))
    np.testing.assert_allclose(ref[:, 0], vec["time_s"], rtol=1e-12)
    np.testing.assert_allclose(ref[:, 1], vec["energy_j"], rtol=1e-12)
    np.testing.assert_allclose(ref[:, 2], vec["cost"], rtol=1e-12)


def test_fit_exponent():
    ms = [3, 6, 12, 24]
    assert bench.fit_exponent(ms, [2.0 * m ** 1.5 for m in ms]) == pytest.approx(1.5)


def test_run_benchmarks_tiny(tmp_path):
    data = make_fashion_mnist(tmp_path / "fmnist", n_train=64 * 4, n_test=16)
    out = tmp_path / "bench.json"
    fig = tmp_path / "fig" / "bench_latency.png"
    res = bench.run_benchmarks(small_config(), bench.TINY, out=out, figure=fig, data_dir=str(data))
    saved = json.loads(out.read_text())
    for key in KEYS:
        assert key in saved, key
    for key in ("cost_model_speedup", "device_evals_per_s", "env_steps_per_s", "env_steps_per_s_vec",
                "ppo_steps_per_s", "cores"):
        assert positive(saved[key]), (key, saved[key])
    assert math.isfinite(saved["train_overhead"]) and saved["train_overhead"] > -1.0
    assert saved["cost_model"]["max_rel_diff_vs_loop"] < 1e-9
    for policy in bench.TINY.policies:
        assert set(saved["latency_ms"][policy]) == {str(M) for M in bench.TINY.ms}
        assert all(positive(v) for v in saved["latency_ms"][policy].values())
        assert math.isfinite(saved["latency_exponent"][policy])
    assert set(saved["latency"]["gwp_breakdown_ms"]) == {str(M) for M in bench.TINY.ms}
    assert fig.is_file() and fig.stat().st_size > 0
    table = bench.format_table(res)
    assert "cost model" in table and "decision latency" in table and "gwp train" in table


def test_bench_command_is_registered():
    from click.testing import CliRunner

    from gwp_cli.cli import main

    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0 and "--quick" in result.output
