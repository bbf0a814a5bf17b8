"""The ``compass-nav`` command line: one entry point, subcommands contributed by each stage.

Each stage module listed in :data:`COMMAND_MODULES` declares its command as data,
``STAGE = compass_nav.utils.cli.Stage(...)`` (its verbs, their options and handlers), which
:func:`compass_nav.utils.cli.add_stage` turns into parsers; a command without verbs (``demo``)
exposes ``register(subparsers) -> None`` instead, which adds its parser and sets
``set_defaults(func=handler)``. ``handler(args)`` returns an exit code or ``None`` (= 0).
A listed module that does not exist yet is skipped; any other import failure surfaces.

Errors of type :class:`compass_nav.utils.errors.CompassNavError` are printed as
``compass-nav: error: <message>`` (exit code 2, no traceback), and so are write failures
(``OSError`` with an errno of :data:`compass_nav.utils.files.WRITE_ERRNOS`: a full disk, a
read-only place) as ``cannot write <path>: <reason>``; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from compass_nav import __version__
from compass_nav.plugins import register_all
from compass_nav.utils.cli import Stage, add_stage
from compass_nav.utils.errors import CompassNavError

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

PROG = "compass-nav"

#: Modules that contribute subcommands, in the order their commands are listed in ``--help``.
COMMAND_MODULES: list[str] = [
    "compass_nav.sim.cli",
    "compass_nav.teacher.cli",
    "compass_nav.il.cli",
    "compass_nav.rl.cli",
    "compass_nav.distill.cli",
    "compass_nav.pipeline.cli",
    "compass_nav.evaluation.cli",
    "compass_nav.sweep.cli",
    "compass_nav.export.cli",
    "compass_nav.worldmodel.cli",
    "compass_nav.logs.cli",
    "compass_nav.ros.cli",
    "compass_nav.demo",
]

_DESCRIPTION = """\
Cross-embodiment navigation: simulate, collect teacher demonstrations, train a world model,
residual RL specialists and a distilled generalist, export to ONNX, evaluate, and run a demo.
Every command takes --help."""

_EPILOG = f"""\
examples:
  {PROG} demo                      run the end-to-end demo (what scripts/main.sh runs)
  {PROG} <command> --help          options of one command
  {PROG} --version                 print the version

Processes that start ROS 2 nodes must run inside a private network namespace:
  scripts/netns_run.sh {PROG} demo"""


def _is_missing(module: str, exc: ModuleNotFoundError) -> bool:
    """True if ``exc`` says ``module`` itself (or one of its parent packages) does not exist."""
    missing = exc.name or ""
    return module == missing or module.startswith(missing + ".")


def _load_command_modules(modules: Sequence[str]) -> list[ModuleType]:
    loaded = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if _is_missing(name, exc):
                continue
            raise
    return loaded


def _demo_placeholder(args: argparse.Namespace) -> int:
    print(
        f"{PROG} demo: not yet available (no installed module provides the demo command)",
        file=sys.stderr,
    )
    return 1


def build_parser(modules: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with the subcommands every available stage registers.

    Args:
        modules: Module paths to collect commands from; defaults to :data:`COMMAND_MODULES`
            (read at call time, so tests may patch it).

    Returns:
        The parser; parsed arguments carry ``func`` for the chosen command.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output (-v info, -vv debug)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for module in _load_command_modules(COMMAND_MODULES if modules is None else modules):
        stage = getattr(module, "STAGE", None)
        register = getattr(module, "register", None)
        if isinstance(stage, Stage):
            add_stage(subparsers, stage)
        elif callable(register):
            register(subparsers)
        else:
            raise TypeError(
                f"{module.__name__} is in COMMAND_MODULES but has neither STAGE nor register()"
            )
    if "demo" not in subparsers.choices:
        demo = subparsers.add_parser(
            "demo",
            help="end-to-end demo (not yet available)",
            description="Placeholder until compass_nav.demo provides the demo command.",
        )
        demo.set_defaults(func=_demo_placeholder)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``compass-nav`` command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The process exit code: the command's own, 2 for usage and :class:`CompassNavError`
        failures and write failures, 130 on Ctrl-C.
    """
    try:
        register_all()
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and getattr(args, "func", None) is not _demo_placeholder:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        logging.basicConfig(
            level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
            format="%(levelname)s %(name)s: %(message)s",
        )
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return 2
        code = func(args)
        return 0 if code is None else int(code)
    except CompassNavError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from compass_nav.utils.files import write_error_message

        message = write_error_message(exc)
        if message is None:
            raise  # not a write failure: a bug keeps its traceback
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
