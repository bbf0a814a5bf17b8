"""Where the package's data lives: ``sim/`` (scenes, embodiments), ``models/``, ``configs/``.

The same code runs from a source checkout (``pip install -e .`` or plain ``PYTHONPATH``),
from a pip install into a venv (data under ``<sys.prefix>/share/compass_nav``) and from a
colcon install (data under ``<install>/compass_nav/share/compass_nav``, found through
``AMENT_PREFIX_PATH``). Callers ask :func:`sim_data_dir` / :func:`models_dir` /
:func:`configs_dir` and never build these paths themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from compass_nav.utils.errors import DataError

__all__ = [
    "configs_dir",
    "in_checkout",
    "models_dir",
    "repo_root",
    "share_dirs",
    "sim_data_dir",
]

PACKAGE = "compass_nav"
SIM_DIR_ENV = "COMPASS_NAV_SIM_DIR"
MODELS_DIR_ENV = "COMPASS_NAV_MODELS_DIR"
CONFIGS_DIR_ENV = "COMPASS_NAV_CONFIGS_DIR"

_THIS = Path(__file__).resolve()


def _checkout_root() -> Path | None:
    root = _THIS.parents[2]
    if (root / "package.xml").is_file() and (root / PACKAGE / "__init__.py").is_file():
        return root
    return None


def in_checkout() -> bool:
    """Return whether this module is imported from a source checkout of the repository."""
    return _checkout_root() is not None


def repo_root() -> Path:
    """Return the root of the source checkout this module is imported from.

    Returns:
        The directory holding ``package.xml`` and the ``compass_nav/`` package.

    Raises:
        DataError: When the package is installed (not run from a checkout); installed code
            should use :func:`sim_data_dir`, :func:`models_dir` or :func:`share_dirs`.
    """
    root = _checkout_root()
    if root is None:
        raise DataError(
            f"{PACKAGE} is installed, not imported from a source checkout ({_THIS}); "
            "there is no repository root"
        )
    return root


def share_dirs() -> list[Path]:
    """Return candidate installed ``share/compass_nav`` directories, most specific first.

    Order: the prefix this module is installed under (``<prefix>/lib/pythonX.Y/site-packages``
    layout, as colcon and pip produce), ``sys.prefix``, then every ``AMENT_PREFIX_PATH`` entry
    that carries the package's ament index marker. Only existing directories are returned.
    """
    candidates: list[Path] = []
    if len(_THIS.parents) > 5 and _THIS.parents[2].name in ("site-packages", "dist-packages"):
        candidates.append(_THIS.parents[5] / "share" / PACKAGE)
    candidates.append(Path(sys.prefix) / "share" / PACKAGE)
    for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if not entry:
            continue
        prefix = Path(entry)
        marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE
        if marker.is_file():
            candidates.append(prefix / "share" / PACKAGE)
    seen: set[Path] = set()
    out: list[Path] = []
    for c in candidates:
        if c not in seen and c.is_dir():
            seen.add(c)
            out.append(c)
    return out


def _find_data_dir(name: str, env_var: str) -> Path:
    """Return the data folder ``name/``, looked up where every data folder is.

    Search order: ``$<env_var>`` (must exist if set), the source checkout's ``name/``, then
    installed ``share/compass_nav/<name>`` (see :func:`share_dirs`).

    Raises:
        DataError: If no candidate exists; the message lists what was tried.
    """
    override = os.environ.get(env_var)
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise DataError(f"{env_var}={override!r} is not a directory")
        return path.resolve()
    tried: list[str] = []
    root = _checkout_root()
    if root is not None:
        if (root / name).is_dir():
            return root / name
        tried.append(str(root / name))
    for share in share_dirs():
        if (share / name).is_dir():
            return share / name
        tried.append(str(share / name))
    tried.append(f"<prefix>/share/{PACKAGE}/{name} for sys.prefix and AMENT_PREFIX_PATH")
    raise DataError(
        f"cannot find the {PACKAGE} '{name}/' data folder; set {env_var} or install the "
        f"package (tried: {'; '.join(tried)})"
    )


def sim_data_dir() -> Path:
    """The top-level ``sim/`` data folder (scenes, embodiments): :func:`_find_data_dir`."""
    return _find_data_dir("sim", SIM_DIR_ENV)


def models_dir() -> Path:
    """The shipped ``models/`` folder (exported models, model cards): :func:`_find_data_dir`."""
    return _find_data_dir("models", MODELS_DIR_ENV)


def configs_dir() -> Path:
    """The ``configs/`` folder (stage presets in ``presets/``): :func:`_find_data_dir`."""
    return _find_data_dir("configs", CONFIGS_DIR_ENV)
