"""compass_nav: cross-embodiment navigation policies, from CPU simulation to ROS 2.

The package is both a ROS 2 ament_python package and a plain pip-installable library. Stages
live in subpackages (``sim``, ``teacher``, ``models``, ``training``, ``export``, ``runtime``,
``evaluation``, ``worldmodel``, ``ros``); the ``compass-nav`` command line in
:mod:`compass_nav.cli` collects their subcommands. Importing this package is cheap: it loads
no stage, torch or ROS module.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
