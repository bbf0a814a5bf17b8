"""The command-line grammar every stage shares: ``compass-nav <stage> <verb> [options]``.

Each stage's ``cli.py`` declares its command as data, ``STAGE = Stage(name, help, verbs)``
with one :class:`Verb` per subcommand (its texts, a function adding its options, its
handler), and :func:`add_stage` builds the parsers from it (called by
:func:`compass_nav.cli.build_parser` for every module of
:data:`compass_nav.cli.COMMAND_MODULES`). The options several commands share (``--set``,
``--route-mode``, name lists, the episode settings) are added here so that they read and
behave the same everywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "ROUTE_MODES",
    "SIM_ROUTE_MODES",
    "Stage",
    "Verb",
    "add_names",
    "add_overrides",
    "add_route_mode",
    "add_split",
    "add_stage",
    "config_from_args",
]

T = TypeVar("T")

#: What the ``route`` observation holds: the planner's path or the straight line to the goal.
ROUTE_MODES = ("planned", "mapless")
#: The simulator's route modes: also the plan on the scene's stale static map (suite v2).
SIM_ROUTE_MODES = ("planned", "stale_map", "mapless")


@dataclass(frozen=True)
class Verb:
    """One ``compass-nav <stage> <verb>`` subcommand.

    Attributes:
        name: The verb as typed.
        help: One line for the stage's list of verbs.
        handler: ``handler(args)`` runs the command; returns an exit code or ``None`` (= 0).
        options: Adds the verb's arguments to its parser (``None``: it takes none). Heavy
            imports stay in the handler, so that building the parser (``--help``) is fast.
        description: The verb's ``--help`` text (default: ``help``).
        epilog: Examples printed after the options; its line breaks are kept.
        defaults: Extra values set on the parsed arguments (e.g. which verb ran).
        formatter_class: How ``--help`` is laid out; the default keeps the description's and
            the epilog's line breaks.
    """

    name: str
    help: str
    handler: Callable[[argparse.Namespace], int | None]
    options: Callable[[argparse.ArgumentParser], None] | None = None
    description: str | None = None
    epilog: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    formatter_class: type[argparse.HelpFormatter] = argparse.RawDescriptionHelpFormatter


@dataclass(frozen=True)
class Stage:
    """One ``compass-nav <stage>`` command and its verbs (see :func:`add_stage`)."""

    name: str
    help: str
    verbs: tuple[Verb, ...]
    description: str | None = None


def add_stage(subparsers: argparse._SubParsersAction, stage: Stage) -> None:
    """Add the command ``stage.name`` and a parser for each of its verbs.

    The stage without a verb prints its help (listing the verbs) and exits with 2.
    """
    parser = subparsers.add_parser(
        stage.name, help=stage.help, description=stage.description or stage.help
    )
    verbs = parser.add_subparsers(dest=f"{stage.name}_command", metavar="<verb>", title="verbs")
    parser.set_defaults(func=lambda _args: parser.print_help(sys.stderr) or 2)
    for verb in stage.verbs:
        p = verbs.add_parser(
            verb.name,
            help=verb.help,
            description=verb.description or verb.help,
            epilog=verb.epilog,
            formatter_class=verb.formatter_class,
        )
        if verb.options is not None:
            verb.options(p)
        p.set_defaults(func=verb.handler, **verb.defaults)


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
    default: str | None = "planned",
    help: str = "route observation: the planned path or the straight line to the goal",
    choices: Sequence[str] = ROUTE_MODES,
) -> None:
    """``--route-mode``: :data:`ROUTE_MODES`, or :data:`SIM_ROUTE_MODES` for the simulator.

    Simulator commands also take ``stale_map`` (the plan on the scene's static map).
    """
    p.add_argument("--route-mode", choices=tuple(choices), default=default, help=help)


def add_names(
    p: argparse.ArgumentParser, flag: str, default: Sequence[str], help: str, metavar: str = "NAME"
) -> None:
    """A list of names given as separate words, e.g. ``--embodiments carter spot``."""
    p.add_argument(flag, nargs="+", default=list(default), metavar=metavar, help=help)


def add_split(
    p: argparse.ArgumentParser,
    default: str = "train",
    help: str = "scene seeds: training or held-out",
    choices: Sequence[str] = ("train", "heldout"),
) -> None:
    """``--split train|heldout`` (some commands also take ``validation``): which scene seeds."""
    p.add_argument("--split", choices=tuple(choices), default=default, help=help)


def config_from_args(cls: type[T], args: argparse.Namespace, **values: Any) -> T:
    """The dataclass ``cls`` from the options named like its fields, and ``values``.

    Each field of ``cls`` that ``args`` holds under the same name takes that option's value
    (a list, from ``nargs``, as a tuple); ``values`` give the rest (options named otherwise,
    derived values) and win over a same-named option. Fields found in neither keep their
    defaults.
    """
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if f.init and f.name not in values and hasattr(args, f.name)
    }
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    return cls(**given, **values)
