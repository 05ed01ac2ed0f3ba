"""`gwp simulate`: one policy over K iterations, one CSV row per iteration (SPEC §8)."""
import click

from ..config import load_config
from ..io import write_csv_atomic
from ..policies import POLICY_NAMES
from ..simulate import build_simulator, run_simulation


@click.command()
@click.option("--config", "config_path", type=click.Path(), default=None, help="Default: experiments/paper.yaml.")
@click.option("--policy", required=True, help=f"One of {', '.join(POLICY_NAMES)}.")
@click.option("--agent", type=click.Path(), default=None, help="Trained GWP agent (.zip), for --policy gwp.")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Default: the config's job.iterations.")
@click.option("--seed", type=int, default=None, help="Default: the config's seed.")
@click.option("--dataset", type=click.Choice(["fashion-mnist", "cifar100"]), default=None)
@click.option("--traces", type=click.Path(), default=None, help="5G dataset root (else GWP_TRACES, else the fitted model).")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def simulate(config_path, policy, agent, iterations, seed, dataset, traces, out):
    """Run one policy on the simulated cluster and write one row per iteration."""
    config = load_config(config_path)
    simulator = build_simulator(config, policy, seed, traces, agent, dataset)
    if simulator.scenario.trace_root is None:
        click.echo("gwp simulate: no trace root (--traces / GWP_TRACES): bandwidth from the model fitted to the "
                   "real 5G traces", err=True)
    table = run_simulation(simulator, iterations or int(config["job"]["iterations"]))
    write_csv_atomic(table, out)
    click.echo(f"wrote {out}: {len(table)} iterations, job time {table.time_s.sum():.2f} s, "
               f"energy {table.energy_j.sum():.2f} J, mean cost {table.cost.mean():.4f}", err=True)


COMMANDS = [simulate]
