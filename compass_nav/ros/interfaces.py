"""Find the ROS 2 interface packages that PyPI lacks (tf2_msgs, nav2_msgs).

On a ROS 2 install they come from the install (apt or a workspace) and are imported as they
are. Here they are built from their definitions by ``scripts/build_interfaces.sh`` into
``ros_ws/fallback/install`` (only those not importable otherwise). :func:`available` makes such
a build importable: it appends its site-packages to ``sys.path`` (after everything else, so a
real install always wins) when the package cannot be imported as things are. Set
``COMPASS_NAV_INTERFACES`` to another site-packages folder to use a build elsewhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["available", "fallback_site", "missing_text"]

#: What each package must provide for the nodes: module -> attribute names.
REQUIRED = {
    "tf2_msgs": {"tf2_msgs.msg": ("TFMessage",)},
    "nav2_msgs": {
        "nav2_msgs.action": ("NavigateToPose", "FollowPath"),
        "nav2_msgs.msg": ("SpeedLimit",),
    },
}


def fallback_site() -> Path:
    """The site-packages folder of the interface build (it may not exist)."""
    env = os.environ.get("COMPASS_NAV_INTERFACES")
    if env:
        return Path(env)
    ver = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    root = Path(__file__).resolve().parents[2]
    return root / "ros_ws" / "fallback" / "install" / "lib" / ver / "site-packages"


def _importable(package: str) -> bool:
    try:
        for module, names in REQUIRED[package].items():
            mod = importlib.import_module(module)
            for name in names:
                getattr(mod, name)
    except (ImportError, AttributeError):
        return False
    return True


def available(package: str) -> bool:
    """True if ``package`` (a key of :data:`REQUIRED`) can be imported.

    The fallback build is used when the environment has no such package.
    """
    if package not in REQUIRED:
        raise ValueError(f"unknown interface package {package!r}; known: {sorted(REQUIRED)}")
    if importlib.util.find_spec(package) is None:
        site = fallback_site()
        if (site / package).is_dir() and str(site) not in sys.path:
            sys.path.append(str(site))
            importlib.invalidate_caches()
    return _importable(package)


def missing_text(package: str) -> str:
    """Why ``package`` is unavailable and how to get it, for log messages."""
    return (
        f"{package} is not installed: source a ROS 2 install that has it, or build it here "
        f"with scripts/build_interfaces.sh (looked in {fallback_site()})"
    )
