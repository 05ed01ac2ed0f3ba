"""The `gwp` command: a thin Click layer over the library (one module per command)."""
from __future__ import annotations

import os
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
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # input no check caught: still one line; GWP_DEBUG=1 shows the traceback
            if os.environ.get("GWP_DEBUG"):
                raise
            text = " ".join(str(exc).split())[:300]
            click.echo(f"gwp: error: {exc.__class__.__name__}: {text}; check the inputs named above "
                       f"(GWP_DEBUG=1 shows where it failed)", err=True)
            sys.exit(2)


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
