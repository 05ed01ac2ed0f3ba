"""The `gwp` command: a thin Click layer over the library (one module per command)."""
from __future__ import annotations

import sys

import click

from . import __version__
from .errors import GwpError


class GwpGroup(click.Group):
    """Turns GwpError (bad input) into one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GwpError as exc:
            click.echo(f"gwp: error: {exc.one_line()}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("gwp: interrupted; completed results were kept, rerun to resume", err=True)
            sys.exit(130)


@click.group(cls=GwpGroup)
@click.version_option(__version__, prog_name="gwp")
def main():
    """Green workload placement: profile, simulate, train, compare and plot (Zhou et al. 2022)."""


def _register():
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        for command in module.COMMANDS:
            main.add_command(command)


# One module per command family under gwp_cli/commands/, each exporting COMMANDS.
COMMANDS = [
    "profile",
    "evaluate",
    "traces",
    "train",
    "simulate",
    "agent",
    "compare",
    "plot",
    "reproduce",
    "bench",
]

_register()
