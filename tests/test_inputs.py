"""Bad input: one line naming file and field, exit code 2, no traceback (issue 2)."""
import json

import pytest
import yaml
from click.testing import CliRunner

from gwp_cli.cli import main

from .conftest import one_line_error, tiny_cluster_config

GOOD_STATE = {"f_hz": [2e9, 2e9, 1e9], "u": [1.0, 1.0, 1.0], "bandwidth_Bps": [1e6, 1e6, 1e6]}
GOOD_PLACEMENT = {"stages": [[0, 2]], "devices": [[0, 1]], "samples": [[4, 4]]}


def run_evaluate(tmp_path, placement=GOOD_PLACEMENT, state=GOOD_STATE, config=None, extra=()):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config or tiny_cluster_config()))
    p, s = tmp_path / "p.json", tmp_path / "s.json"
    p.write_text(json.dumps(placement))
    s.write_text(json.dumps(state))
    profile = tmp_path / "prof.csv"
    profile.write_text("block,name,flops,out_bytes,act_bytes,param_bytes\n0,a,1000,10,100,1000\n"
                       "1,b,1000,10,100,1000\n2,c,1000,10,100,6000000\n")
    return CliRunner().invoke(main, ["evaluate", "--config", str(cfg), "--placement", str(p), "--state", str(s),
                                     "--profile", str(profile), *extra])


def test_good_input_runs(tmp_path):
    assert run_evaluate(tmp_path).exit_code == 0


@pytest.mark.parametrize("placement,words", [
    ({"stages": [[0, 1]], "devices": [[0]], "samples": [[8]]}, ["p.json", "stages", "not 0..2"]),
    ({"stages": [[0, 1], [1, 2]], "devices": [[0], [1]], "samples": [[8], [8]]}, ["stages[1]", "consecutive"]),
    ({"stages": [[0, 0], [1, 2]], "devices": [[0], [0]], "samples": [[8], [8]]}, ["devices[1]", "reuses device 0"]),
    ({"stages": [[0, 2]], "devices": [[0, 1]], "samples": [[4, 3]]}, ["samples[0]", "sums to 7"]),
    ({"stages": [[0, 2]], "devices": [[0, 2]], "samples": [[4, 4]]}, ["device 2 (slow0) needs", "bytes"]),
    ({"stages": [[0, 2]], "devices": [[0, 7]], "samples": [[4, 4]]}, ["devices[0]", "device 7"]),
])
def test_bad_placements(tmp_path, placement, words):
    one_line_error(run_evaluate(tmp_path, placement=placement), *words)


@pytest.mark.parametrize("state,words", [
    ({**GOOD_STATE, "u": [1.0, 1.0]}, ["s.json", "u", "3 numbers"]),
    ({**GOOD_STATE, "u": [1.0, 0.0, 1.0]}, ["u[1]", "> 0"]),
    ({**GOOD_STATE, "f_hz": [2e9, -1, 1e9]}, ["f_hz[1]"]),
    ({**GOOD_STATE, "bandwidth_Bps": [1e6, -5, 1e6]}, ["bandwidth_Bps[1]", ">= 0"]),
])
def test_bad_states(tmp_path, state, words):
    one_line_error(run_evaluate(tmp_path, state=state), *words)


def test_alpha_out_of_range_in_config(tmp_path):
    cfg = tiny_cluster_config()
    cfg["cost"]["alpha"] = 2
    one_line_error(run_evaluate(tmp_path, config=cfg), "c.yaml", "cost.alpha", "[0, 1]")


def test_alpha_flag_out_of_range(tmp_path):
    one_line_error(run_evaluate(tmp_path, extra=["--alpha", "-0.1"]), "--alpha")


def test_unknown_class_key(tmp_path):
    cfg = tiny_cluster_config()
    cfg["cluster"]["classes"]["fast"]["sigmaa"] = 1
    one_line_error(run_evaluate(tmp_path, config=cfg), "cluster.classes.fast.sigmaa", "not a known class key")


def test_zero_devices(tmp_path):
    cfg = tiny_cluster_config()
    for spec in cfg["cluster"]["classes"].values():
        spec["count"] = 0
    one_line_error(run_evaluate(tmp_path, config=cfg), "zero devices")


def test_malformed_json_and_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cost: [unclosed\n")
    result = CliRunner().invoke(main, ["simulate", "--config", str(bad), "--policy", "rule", "--out",
                                       str(tmp_path / "o.csv")])
    one_line_error(result, "bad.yaml", "not valid YAML")
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("extra,words", [
    ("cluster: hello\n", ["cluster", "must be a mapping"]),
    ("cosst: {alpha: 2}\n", ["cosst", "not a known section"]),
    ("cost: {alpah: 0.9}\n", ["cost.alpah", "not a known key"]),
    ("job: {iterations_per_epoch: 0}\n", ["job.iterations_per_epoch", "> 0"]),
    ("dynamics: {horizon_s: 0}\n", ["dynamics.horizon_s"]),
    ("traces: {scale: -1}\n", ["traces.scale"]),
    ("seed: abc\n", ["seed"]),
    ("extends: [a.yaml]\n", ["extends", "one file name"]),
])
def test_bad_config_values(tmp_path, extra, words):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("extends: paper.yaml\n" + extra if not extra.startswith("extends") else extra)
    result = CliRunner().invoke(main, ["simulate", "--config", str(cfg), "--policy", "rule", "--iterations", "2",
                                       "--out", str(tmp_path / "o.csv")])
    one_line_error(result, "bad.yaml", *words)
    assert not (tmp_path / "o.csv").exists()


def test_cluster_that_holds_no_placement(tmp_path):
    cfg = tiny_cluster_config()
    for spec in cfg["cluster"]["classes"].values():
        spec["memory_mb"] = 1  # the default model's parameters alone need ~27 MB
    path = tmp_path / "nofit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(main, ["simulate", "--config", str(path), "--policy", "heuristic", "--iterations", "2",
                                       "--out", str(tmp_path / "o.csv")])
    one_line_error(result, "nofit.yaml", "cluster", "no placement")


def test_output_that_is_not_a_regular_file(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    result = CliRunner().invoke(main, ["simulate", "--policy", "rule", "--iterations", "2", "--out", str(folder)])
    assert result.exit_code == 2 and folder.is_dir()


def test_zero_bandwidth_is_read_as_the_floor(tmp_path):
    # an outage second (0 B/s) on an active device costs like bandwidth_floor_kbps, never inf or NaN
    zero = run_evaluate(tmp_path, state={**GOOD_STATE, "bandwidth_Bps": [0.0, 1e6, 0.0]})
    floor = run_evaluate(tmp_path, state={**GOOD_STATE, "bandwidth_Bps": [8000.0, 1e6, 8000.0]})
    assert zero.exit_code == 0 and json.loads(zero.output) == json.loads(floor.output)


def test_fractional_samples_refused(tmp_path):
    placement = {"stages": [[0, 2]], "devices": [[0, 1]], "samples": [[4.5, 3.5]]}
    one_line_error(run_evaluate(tmp_path, placement=placement), "samples", "not a whole number")
