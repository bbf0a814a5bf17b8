"""The ``compass-nav <stage> <verb>`` grammar, and the README's table of it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from compass_nav import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def parser_commands() -> dict[str, list[str]]:
    """``{command: [verbs]}`` as the real parser has them (no verbs for ``demo``)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {}
    for name, stage in sub.choices.items():
        verbs = [a for a in stage._actions if isinstance(a, argparse._SubParsersAction)]
        commands[name] = list(verbs[0].choices) if verbs else []
    return commands


def readme_commands() -> dict[str, list[str]]:
    """``{command: [verbs]}`` from the README's "CLI overview" table."""
    text = README.read_text()
    section = text[text.index("## CLI overview") :]
    section = section[: section.index("\n## ", 1)]
    commands = {}
    for line in section.splitlines():
        m = re.match(r"\| `compass-nav ([a-z-]+)` \|([^|]*)\|", line)
        if m:
            commands[m.group(1)] = re.findall(r"`([a-z-]+)`", m.group(2))
    return commands


def test_readme_table_lists_the_real_commands_and_verbs():
    assert readme_commands() == parser_commands()


def test_every_command_but_demo_takes_a_verb():
    assert [name for name, verbs in parser_commands().items() if not verbs] == ["demo"]


def test_a_stage_without_its_verb_prints_help_and_exits_2(capsys):
    assert cli.main(["rl"]) == 2
    assert "train" in capsys.readouterr().err


def test_old_spellings_are_gone(capsys):
    for argv in (["train", "il"], ["train-rl"], ["record-specialist"], ["ros-sil"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2, argv
        assert "invalid choice" in capsys.readouterr().err
