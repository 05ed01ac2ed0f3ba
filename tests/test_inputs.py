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
