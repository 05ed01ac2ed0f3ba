"""`gwp reproduce`: data, training, agent, comparison and figures in one resumable run (docs/experiments.md)."""
import click

from ..config import load_config
from ..reproduce import reproduce as run_all


@click.command()
@click.option("--config", "config_path", type=click.Path(), default="experiments/quick.yaml", show_default=True,
              help="Its reproduce: section sets the size of every step.")
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--traces", type=click.Path(), default=None, help="5G trace root (else $GWP_TRACES, else the fitted model).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel compare cells (default: the config's).")
@click.option("--progress/--no-progress", default=True, help="Show tqdm bars.")
def reproduce(config_path, results, traces, jobs, progress):
    """Data, training, agent, compare and plot in one go; a rerun skips finished steps."""
    config = load_config(config_path)
    done = run_all(config, results, traces, jobs, progress, echo=lambda m: click.echo(m, err=True))
    click.echo(f"figures: {done['figures']}/ (fig4a ... fig6c, PNG and PDF)")
    click.echo(f"table:   {done['summary']}")
    click.echo(f"record:  {done['run']}")


COMMANDS = [reproduce]
