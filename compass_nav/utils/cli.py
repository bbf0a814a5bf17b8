"""The command-line grammar every stage shares: ``compass-nav <stage> <verb> [options]``.

Each stage's ``cli.py`` calls :func:`add_stage` from its ``register(subparsers)`` and adds its
verbs with :func:`add_verb` (listed in :data:`compass_nav.cli.COMMAND_MODULES`); the options
several commands share (``--set``, ``--route-mode``, name lists) are added here so that they
read and behave the same everywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["ROUTE_MODES", "add_names", "add_overrides", "add_route_mode", "add_stage", "add_verb"]

#: What the ``route`` observation holds: the planner's path or the straight line to the goal.
ROUTE_MODES = ("planned", "mapless")


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


def add_verb(
    verbs: argparse._SubParsersAction,
    name: str,
    help: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add the verb ``name`` to a stage; its description and examples keep their line breaks."""
    return verbs.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_overrides(
    p: argparse.ArgumentParser, example: str, dest: str = "set", metavar: str = "KEY=VALUE"
) -> None:
    """``--set KEY=VALUE`` (repeatable), applied over every other config source."""
    p.add_argument(
        "--set",
        dest=dest,
        action="append",
        default=[],
        metavar=metavar,
        help=f"override a config value, e.g. {example} (repeatable)",
    )


def add_route_mode(
    p: argparse.ArgumentParser,
    default: str = "planned",
    help: str = "route observation: the planned path or the straight line to the goal",
) -> None:
    """``--route-mode planned|mapless`` (:data:`ROUTE_MODES`)."""
    p.add_argument("--route-mode", choices=ROUTE_MODES, default=default, help=help)


def add_names(
    p: argparse.ArgumentParser, flag: str, default: Sequence[str], help: str, metavar: str = "NAME"
) -> None:
    """A list of names given as separate words, e.g. ``--embodiments carter spot``."""
    p.add_argument(flag, nargs="+", default=list(default), metavar=metavar, help=help)
