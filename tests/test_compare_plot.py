"""compare -> plot end to end on a tiny config: summary.md's numbers are summary.csv's, every figure exists,
and a rerun skips the cells already done."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from gwp_cli.cli import main

PAPER = Path(__file__).resolve().parent.parent / "experiments" / "paper.yaml"
FIGURES = ["fig4a", "fig4b", "fig5a", "fig5b", "fig5c", "fig6a", "fig6b", "fig6c"]
SEEDS = [0, 1]


def tiny_config(tmp_path) -> Path:
    config = {
        "extends": str(PAPER),
        "job": {"until_loss": 0.2},
        "agent": {"steps": 2048, "n_envs": 8, "n_steps": 256, "batch_size": 256, "n_epochs": 1,
                  "episode_iterations": 16},
        "compare": {"seeds": SEEDS, "iterations": 12, "datasets": ["fashion-mnist"], "modes": ["paper"],
                    "sweeps": {"iterations": 3, "widths": [0.5, 1.0], "stages": [1, 2], "batch_sizes": [32, 64]}},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_train_run(train: Path) -> Path:
    """A hand-written gwp train run: 20 iterations, loss first <= 0.2 at iteration 14 (so K = 15)."""
    train.mkdir(parents=True)
    losses = list(np.linspace(2.3, 0.25, 14)) + [0.19, 0.22, 0.18, 0.17, 0.2, 0.16]
    its = pd.DataFrame({"iteration": range(20), "epoch": [k // 10 for k in range(20)], "loss": losses,
                        "lr": 0.05, "sim_time_s": np.arange(1, 21) * 0.1, "time_s": 0.1, "energy_j": 0.3,
                        "cost": 1.0, "policy": "heuristic", "seed": 0, "dataset": "fashion-mnist",
                        "config_hash": "hand"})
    its.to_csv(train / "iterations.csv", index=False)
    pd.DataFrame({"epoch": [0, 1], "train_loss": [1.4, 0.19], "test_loss": [1.2, 0.4], "test_acc": [0.71, 0.8842],
                  "sim_time_s": [1.0, 2.0], "energy_j": [3.0, 6.0], "wall_s": 1.0, "iterations": [10, 20],
                  "policy": "heuristic", "seed": 0, "dataset": "fashion-mnist", "config_hash": "hand"}
                 ).to_csv(train / "epochs.csv", index=False)
    for factor, values in (("f", ["lowest", "median", "highest"]), ("u", [0.6, 0.3, 0.05]), ("B", [0.25, 1.0, 4.0])):
        rows = []
        for setting, value, speed in zip(["low", "medium", "high"], values, [0.5, 1.0, 2.0]):
            for k in range(20):
                rows.append({"setting": setting, "value": value, "iteration": k, "epoch": k // 10, "loss": losses[k],
                             "sim_time_s": (k + 1) * 0.1 / speed, "energy_j": 0.3 * (k + 1),
                             "test_acc": [0.71, 0.8842][k // 10], "policy": "heuristic", "seed": 0,
                             "dataset": "fashion-mnist", "config_hash": "hand"})
        pd.DataFrame(rows).to_csv(train / f"sweep_{factor}.csv", index=False)
    return train / "iterations.csv"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def table_row(text: str, label: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in summary.md")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    mp = pytest.MonkeyPatch()
    mp.setenv("GWP_CACHE", str(tmp / "cache"))
    mp.delenv("GWP_TRACES", raising=False)
    config = tiny_config(tmp)
    results = tmp / "results"
    log = write_train_run(results / "train")
    run("agent", "train", "--config", config, "--steps", 2048, "--seed", 0, "--out", results / "agents" / "gwp.zip",
        "--no-progress")
    first = run("compare", "--config", config, "--baseline", "heuristic,random", "--train-log", log,
                "--results", results, "--no-progress")
    run("plot", "--results", results)
    yield {"config": config, "results": results, "log": log, "output": first.output}
    mp.undo()


def test_summary_md_matches_summary_csv(finished):
    results = finished["results"]
    summary = pd.read_csv(results / "compare" / "summary.csv")
    assert set(summary.policy) == {"gwp", "oracle", "heuristic", "random"}
    assert sorted(summary.seed.unique()) == SEEDS
    # K from the hand-written log: loss first reaches 0.2 at iteration 14
    assert set(summary.iterations) == {15} and not summary.k_assumed.any()
    text = (results / "summary.md").read_text()
    gwp = summary[summary.policy == "gwp"].set_index("seed")
    speed = table_row(text, "job completion, ours, Fashion-MNIST")
    energy = table_row(text, "energy, ours, Fashion-MNIST")
    columns = ["heuristic", "rule", "static", "random"]
    for baseline in ("heuristic", "random"):
        base = summary[summary.policy == baseline].set_index("seed")
        expected_speed = np.mean([base.loc[s, "jct_s"] / gwp.loc[s, "jct_s"] for s in SEEDS])
        expected_saving = np.mean([1 - gwp.loc[s, "energy_j"] / base.loc[s, "energy_j"] for s in SEEDS])
        assert speed[columns.index(baseline)] == f"{expected_speed:.2f}×"
        assert energy[columns.index(baseline)] == f"{100 * expected_saving:.2f}%"
    assert speed[columns.index("rule")] == "—"  # not run
    assert table_row(text, "job completion, paper")[0] == "1.48×"
    assert table_row(text, "energy, paper")[3] == "68.92% saved"
    oracle = summary[summary.policy == "oracle"].set_index("seed")
    gap = np.mean([100 * (gwp.loc[s, "mean_cost"] / oracle.loc[s, "mean_cost"] - 1) for s in SEEDS])
    assert table_row(text, "Fashion-MNIST")[-1] == f"{gap:+.2f}%"
    assert "88.42%" in text  # top test accuracy from epochs.csv
    assert "fitted" in text and "no trace root" in text  # bandwidth was the fitted model, and it says so
    # the totals are the per-iteration cells summed
    cell = pd.read_csv(results / "compare" / summary.loc[0, "cell"])
    assert np.isclose(cell.time_s.sum(), summary.loc[0, "jct_s"]) and len(cell) == 15


def test_every_figure_is_written(finished):
    figures = finished["results"] / "figures"
    for name in FIGURES:
        for ext in ("png", "pdf"):
            path = figures / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
    for kind in ("width", "stages", "workload"):
        sweep = pd.read_csv(finished["results"] / "compare" / f"sweep_{kind}.csv")
        assert (sweep.status == "ok").all(), sweep[sweep.status != "ok"]


def test_rerun_skips_finished_cells(finished):
    results = finished["results"]
    cells = sorted((results / "compare" / "cells").glob("*.csv"))
    before = {p: p.stat().st_mtime_ns for p in cells}
    again = run("compare", "--config", finished["config"], "--baseline", "heuristic,random", "--train-log",
                finished["log"], "--results", results, "--no-progress")
    assert re.search(r"(\d+) of \1 cells already done, skipped", again.output), again.output
    assert {p: p.stat().st_mtime_ns for p in cells} == before


def test_damaged_cell_is_run_again(finished):
    results = finished["results"]
    cell = sorted((results / "compare" / "cells").glob("heuristic_*.csv"))[0]
    whole = cell.read_text()
    cell.write_text("".join(whole.splitlines(keepends=True)[:4]))  # cut to 3 rows
    again = run("compare", "--config", finished["config"], "--baseline", "heuristic,random", "--train-log",
                finished["log"], "--results", results, "--no-progress")
    assert cell.read_text() == whole  # recomputed, same seed: the same bytes
    done = re.search(r"(\d+) of (\d+) cells already done", again.output)
    assert done and int(done.group(1)) == int(done.group(2)) - 1, again.output


def test_without_agent_gwp_is_skipped_and_said(finished, tmp_path):
    out = run("compare", "--config", finished["config"], "--baseline", "heuristic", "--iterations", 5,
              "--seeds", "0", "--agent", tmp_path / "none.zip", "--results", tmp_path / "r", "--no-sweeps",
              "--no-progress").output
    assert "gwp skipped" in out and "gwp agent train" in out
    summary = pd.read_csv(tmp_path / "r" / "compare" / "summary.csv")
    assert set(summary.policy) == {"oracle", "heuristic"} and summary.k_assumed.all()


def test_bad_baseline_is_one_line(finished, tmp_path):
    result = CliRunner().invoke(main, ["compare", "--config", str(finished["config"]), "--baseline", "greedy",
                                       "--results", str(tmp_path)])
    assert result.exit_code == 2 and "unknown policy 'greedy'" in result.output

