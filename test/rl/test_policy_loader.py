"""Specialist/generalist files load by path in any process, like every other policy spec."""

from __future__ import annotations

import pytest

from compass_nav.export.examples import example_checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("role", ["specialist", "generalist"])
def test_make_policy_loads_residual_in_fresh_process(tmp_path, role, fresh_python):
    """A fresh interpreter that registers the application's loaders resolves file and folder."""
    ckpt = example_checkpoint(role, tmp_path)
    code = (
        "import sys\n"
        "from compass_nav.plugins import register_all\n"
        "from compass_nav.policies import make_policy\n"
        "register_all()\n"
        "for spec in sys.argv[1:]:\n"
        "    p = make_policy(spec)\n"
        "    print(type(p).__name__, p.name)\n"
    )
    lines = fresh_python(code, str(ckpt), str(ckpt.parent)).strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"ResidualAgent {role}:") for line in lines)


def test_fresh_process_without_registrations_names_the_fix(fresh_python):
    """Without the application's registrations, the error says how to register loaders."""
    code = (
        "from compass_nav.contract.policy import make_policy\n"
        "from compass_nav.utils.errors import ConfigError\n"
        "try:\n"
        "    make_policy('runs/x/specialist.pt')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    assert "compass_nav.plugins.register_all()" in fresh_python(code)


def test_missing_residual_file_gets_clear_error(tmp_path):
    from compass_nav.policies import make_policy
    from compass_nav.utils.errors import CompassNavError

    with pytest.raises(CompassNavError, match="does not exist"):
        make_policy(str(tmp_path / "specialist.pt"))
