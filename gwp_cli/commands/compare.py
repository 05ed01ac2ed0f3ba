"""`gwp compare`: every policy x seed x dataset x mode, per-cell CSVs and summary.csv (docs/experiments.md)."""
import click

from ..compare import CompareOptions, compare as run_compare, parse_int_list
from ..config import load_config


@click.command()
@click.option("--config", "config_path", type=click.Path(), default=None, help="Default: experiments/paper.yaml.")
@click.option("--baseline", default="all", show_default=True,
              help="all, or a comma list of policies (random, static, rule, heuristic, myopic); gwp and oracle always run as well.")
@click.option("--seeds", default=None, help="Comma list of seeds (default: the config's compare.seeds).")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help="K for every dataset (reported as assumed; default: from --train-log, else the config).")
@click.option("--train-log", "train_logs", multiple=True, type=click.Path(),
              help="A gwp train iterations.csv; K = first iteration whose loss reaches job.until_loss. Repeatable.")
@click.option("--agent", type=click.Path(), default=None, help="Trained GWP agent (default: RESULTS/agents/gwp.zip).")
@click.option("--traces", type=click.Path(), default=None, help="5G trace root (else $GWP_TRACES, else the fitted model).")
@click.option("--datasets", default=None, help="Comma list (default: the config's compare.datasets).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Cells run in this many processes.")
@click.option("--sweeps/--no-sweeps", default=True, help="Also run the short sweeps behind Figs. 5a, 5b and 6a.")
@click.option("--results", "results", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--progress/--no-progress", default=True, help="Show the tqdm bar of cells done.")
def compare(config_path, baseline, seeds, iterations, train_logs, agent, traces, datasets, jobs, sweeps, results,
            progress):
    """Run GWP, oracle and the baselines on the same conditions and summarise each job."""
    config = load_config(config_path)
    options = CompareOptions(baseline=baseline, seeds=parse_int_list(seeds, "--seeds") if seeds else None,
                             iterations=iterations, train_logs=list(train_logs), agent=agent, traces=traces,
                             jobs=jobs, datasets=[d.strip() for d in datasets.split(",") if d.strip()] if datasets else None,
                             sweeps=sweeps, progress=progress)
    done = run_compare(config, results, options, echo=lambda m: click.echo(m, err=True))
    click.echo(str(done["summary"]))


COMMANDS = [compare]
