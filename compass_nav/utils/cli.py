"""The command-line grammar every stage shares: ``compass-nav <stage> <verb> [options]``.

Each stage's ``cli.py`` calls :func:`add_stage` from its ``register(subparsers)`` and adds its
verbs to the returned sub-parsers (listed in :data:`compass_nav.cli.COMMAND_MODULES`).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_stage"]


def add_stage(
    subparsers: argparse._SubParsersAction, name: str, help: str, description: str | None = None
) -> argparse._SubParsersAction:
    """Add the stage command ``name``; returns the sub-parsers its verbs are added to.

    The stage without a verb prints its help (listing the verbs) and exits with 2.
    """
    stage = subparsers.add_parser(name, help=help, description=description or help)
    verbs = stage.add_subparsers(dest=f"{name}_command", metavar="<verb>", title="verbs")
    stage.set_defaults(func=lambda _args: stage.print_help(sys.stderr) or 2)
    return verbs
