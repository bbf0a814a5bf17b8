"""compass_nav: cross-embodiment navigation policies, from CPU simulation to ROS 2.

The package is both a ROS 2 ament_python package and a plain pip-installable library. Stages
live in subpackages (``sim``, ``teacher``, ``models``, ``training``, ``export``, ``runtime``,
``evaluation``, ``worldmodel``, ``ros``); the ``compass-nav`` command line in
:mod:`compass_nav.cli` collects their subcommands. Importing this package is cheap: it loads
no stage, torch or ROS module.
"""

import os as _os

# numba's and torch's OpenMP pools: spin briefly before sleeping. The default (sleep at once)
# costs ~0.6 ms to wake the pool on every parallel kernel call; spinning forever would steal
# the second core from the Python thread. Must be set before either library loads libgomp.
_os.environ.setdefault("GOMP_SPINCOUNT", "100000")

__version__ = "0.1.0"

__all__ = ["__version__"]
