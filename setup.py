"""Build rules for compass_nav: a ROS 2 ament_python package that is also a pip package.

``colcon build`` (from ``ros_ws/``) and ``pip install [-e] .`` both run this file. Besides the
Python packages it installs the ament index marker, ``package.xml``, launch files, shipped
models and the ``sim/`` scene/embodiment data under ``share/compass_nav``; console scripts
land in ``lib/compass_nav`` (see setup.cfg) where ``ros2 run`` looks for them.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "compass_nav"
HERE = os.path.dirname(os.path.abspath(__file__))
SHARE = os.path.join("share", PACKAGE)


def _rel(path: str) -> str:
    return os.path.relpath(path, HERE)


def _version() -> str:
    """Single source of the version: package.xml (what ROS tooling reads)."""
    return ET.parse(os.path.join(HERE, "package.xml")).getroot().findtext("version").strip()


def _files(pattern: str) -> list[str]:
    return sorted(_rel(p) for p in glob(os.path.join(HERE, pattern)) if os.path.isfile(p))


def tree_data_files(
    src: str, dest: str, suffixes: tuple[str, ...] | None = None
) -> list[tuple[str, list[str]]]:
    """Return data_files entries that install the tree ``src`` under ``dest``, keeping folders.

    Args:
        src: Folder relative to this file (e.g. ``"sim"``).
        dest: Install folder relative to the prefix (e.g. ``"share/compass_nav/sim"``).
        suffixes: Only files ending in one of these; ``None`` takes every file.

    Returns:
        One ``(install_dir, [files])`` pair per folder that holds matching files.
    """
    entries = []
    root = os.path.join(HERE, src)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__pycache__")))
        picked = sorted(
            os.path.join(dirpath, f)
            for f in filenames
            if not f.startswith(".") and (suffixes is None or f.endswith(suffixes))
        )
        if picked:
            sub = os.path.relpath(dirpath, root)
            target = dest if sub == "." else os.path.join(dest, sub)
            entries.append((target, [_rel(p) for p in picked]))
    return entries


def _requirements(name: str) -> list[str]:
    """Pinned requirements from requirements/<name>.txt (comments and blanks dropped)."""
    path = os.path.join(HERE, "requirements", f"{name}.txt")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as fh:
        lines = (line.split("#", 1)[0].strip() for line in fh)
        return [line for line in lines if line and not line.startswith("-")]


data_files = [
    ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
    (SHARE, ["package.xml"]),
    (os.path.join(SHARE, "launch"), _files("launch/*.py") + _files("launch/*.yaml")),
    (os.path.join(SHARE, "config"), _files("config/*.yaml")),
]
data_files += tree_data_files("models", os.path.join(SHARE, "models"))
data_files += tree_data_files("sim", os.path.join(SHARE, "sim"), suffixes=(".yaml", ".yml"))
# Stage presets (configs/presets/<stage>.yaml) and example configs, read at run time.
data_files += tree_data_files(
    "configs", os.path.join(SHARE, "configs"), suffixes=(".yaml", ".yml")
)
data_files = [(dest, files) for dest, files in data_files if files]

setup(
    name=PACKAGE,
    version=_version(),
    description="Cross-embodiment navigation policies: CPU simulation, training, ONNX, ROS 2.",
    license="Apache-2.0",
    maintainer="compass_nav maintainers",
    maintainer_email="maintainers@compass-nav.dev",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=data_files,
    zip_safe=False,
    install_requires=[
        "numpy",
        "numba",
        "gymnasium>=1.1,<2",
        "scipy",
        "pyyaml",
        "tqdm",
        "rich",
        "matplotlib",
        "imageio",
        "opencv-python-headless",
        "onnx",
        "onnxscript",
        "onnxruntime",
        # Unpinned on purpose; requirements/base.txt pins the CPU build (install it first).
        "torch",
        "tensorboard",
        "rsl-rl-lib",
    ],
    extras_require={
        "gpu": ["onnxruntime-gpu", "tensorrt"],
        "ros": _requirements("ros"),
        # compass-nav sweep uses Ray when installed, else a local process pool.
        "ray": ["ray"],
        "dev": ["pytest", "pytest-timeout", "ruff", "colcon-common-extensions", "colcon-ros"],
    },
    entry_points={
        "console_scripts": [
            "compass-nav = compass_nav.cli:main",
            "navigator = compass_nav.ros.navigator_node:main",
            "sim_bridge = compass_nav.ros.sim_bridge_node:main",
        ],
    },
)
