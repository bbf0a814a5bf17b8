"""Find the ROS 2 interface packages that PyPI lacks (tf2_msgs, nav2_msgs).

On a ROS 2 install they come from the install (apt or a workspace) and are imported as they
are. Here they are built from their definitions by ``scripts/build_interfaces.sh`` into
``ros_ws/fallback/install`` (only those not importable otherwise). :func:`available` makes such
a build importable: it appends its site-packages to ``sys.path`` (after everything else, so a
real install always wins) when the package cannot be imported as things are. Set
``COMPASS_NAV_INTERFACES`` to another site-packages folder to use a build elsewhere.
"""

from __future__ import annotations

import ctypes
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


_LOADED: set[str] = set()


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
    if not _importable(package):
        return False
    _library_path(package)
    return True


def _library_path(package: str) -> None:
    """A package from the fallback build: load its libraries now.

    rmw loads a type's typesupport library by its bare name (dlopen of
    ``lib<pkg>__rosidl_typesupport_fastrtps_c.so``) when a publisher, subscription or action
    is created; the loader searches the ``LD_LIBRARY_PATH`` of the process start, which does
    not name the build. A library already loaded matches by name, so they are loaded here
    (and the folder is added to ``LD_LIBRARY_PATH`` for child processes).
    """
    spec = importlib.util.find_spec(package)
    where = Path(next(iter(spec.submodule_search_locations or []), "")).resolve()
    site = fallback_site().resolve()
    if site not in where.parents:
        return
    lib = str(site.parents[1])  # <install>/lib/pythonX.Y/site-packages -> <install>/lib
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    if lib not in paths:
        os.environ["LD_LIBRARY_PATH"] = ":".join([*paths, lib])
    if package in _LOADED:
        return
    for so in sorted(Path(lib).glob(f"lib{package}__*.so")):
        ctypes.CDLL(str(so), mode=ctypes.RTLD_GLOBAL)
    _LOADED.add(package)


def missing_text(package: str) -> str:
    """Why ``package`` is unavailable and how to get it, for log messages."""
    return (
        f"{package} is not installed: source a ROS 2 install that has it, or build it here "
        f"with scripts/build_interfaces.sh (looked in {fallback_site()})"
    )
