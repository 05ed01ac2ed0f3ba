"""`gwp profile`: the per-block workload table of the real model (SPEC §2)."""
import click

from ..io import write_csv_atomic
from ..profile import COLUMNS, profile_model


@click.command()
@click.option("--dataset", type=click.Choice(["fashion-mnist", "cifar100"]), default="fashion-mnist", show_default=True)
@click.option("--width", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True,
              help="MobileNetV2 width multiplier.")
@click.option("--num-classes", type=click.IntRange(min=1), default=None, help="Default: the dataset's.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="CSV file; stdout when omitted.")
def profile(dataset, width, num_classes, out):
    """Per-block FLOPs and bytes of torchvision's mobilenet_v2, measured on the real module."""
    table = profile_model(dataset, width, num_classes)
    if out:
        write_csv_atomic(table, out)
        click.echo(f"wrote {out}: {len(table)} blocks, {table.flops.sum() / 1e6:.2f} MFLOP per sample "
                   f"(forward + backward)", err=True)
    else:
        click.echo(table[COLUMNS].to_csv(index=False, lineterminator="\n"), nl=False)


COMMANDS = [profile]
