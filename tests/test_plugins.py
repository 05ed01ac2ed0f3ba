"""A user's own policy (GWP_PLUGINS + register_policy) and a config outside experiments/."""
import pandas as pd
from click.testing import CliRunner

from gwp_cli.cli import main
from gwp_cli.compare import parse_policies

from .conftest import one_line_error

PLUGIN = '''
from gwp_cli.placement import Placement
from gwp_cli.policies import Policy, register_policy


@register_policy
class Vehicles(Policy):
    name = "vehicles"

    def decide(self, obs):
        n, batch = self.scenario.workload.n_blocks, self.scenario.cluster.batch_size
        return Placement.build([(0, n - 1)], [[0, 1]], [[batch // 2, batch - batch // 2]])
'''


def test_plugin_policy_runs_everywhere(tmp_path, monkeypatch):
    plugin = tmp_path / "mine.py"
    plugin.write_text(PLUGIN)
    monkeypatch.setenv("GWP_PLUGINS", str(plugin))
    config = tmp_path / "mine.yaml"  # outside experiments/: extends still finds gwp's own paper.yaml
    config.write_text("extends: paper.yaml\ndynamics: {horizon_s: 600}\n")
    out = tmp_path / "v.csv"
    result = CliRunner().invoke(main, ["simulate", "--config", str(config), "--policy", "vehicles", "--iterations", "5",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert set(table["placement"]) == {'{"stages":[[0,19]],"devices":[[0,1]],"samples":[[32,32]]}'}
    assert set(table["bandwidth_source"]) == {"fitted-model"}
    assert "vehicles" in parse_policies("vehicles,rule")


def test_broken_plugin_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GWP_PLUGINS", str(tmp_path / "missing.py"))
    result = CliRunner().invoke(main, ["simulate", "--policy", "rule", "--iterations", "2",
                                       "--out", str(tmp_path / "x.csv")])
    one_line_error(result, "GWP_PLUGINS", "missing.py")
