"""`gwp traces`: a table of real 5G trace files (SPEC §6)."""
import click

from ..traces import summarize_traces


@click.command()
@click.option("--dir", "directory", required=True, type=click.Path(), help="A folder of trace CSVs (searched recursively).")
@click.option("--column", default="DL_bitrate", show_default=True, help="kbit/s column to read.")
def traces(directory, column):
    """One row per trace file: rows used, median / p10 / p90 Mbit/s, idle seconds skipped."""
    table = summarize_traces(directory, column)
    click.echo(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


COMMANDS = [traces]
