"""`gwp plot`: Figs. 4-6 (PNG and PDF) and results/summary.md from the result CSVs (docs/experiments.md)."""
import click

from ..plot import plot as render


@click.command()
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True,
              help="Results directory (compare/ and train/ under it).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Figure folder (default: RESULTS/figures).")
@click.option("--train", "train_dir", type=click.Path(file_okay=False), default=None,
              help="Training run directory for Fig. 4 (default: RESULTS/train).")
def plot(results, out, train_dir):
    """Render the paper's figures and the summary table from CSVs alone."""
    render(results, out, train_dir, echo=lambda m: click.echo(m, err=True))


COMMANDS = [plot]
