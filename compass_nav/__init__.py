"""compass_nav: cross-embodiment navigation policies, from CPU simulation to ROS 2.

The package is both a ROS 2 ament_python package and a plain pip-installable library. Stages
live in subpackages (``sim``, ``teacher``, ``models``, ``training``, ``export``, ``runtime``,
``evaluation``, ``worldmodel``, ``ros``); the ``compass-nav`` command line in
:mod:`compass_nav.cli` collects their subcommands. Importing this package is cheap: it loads
no stage, torch or ROS module.
"""

import os as _os
import sys as _sys

# The simulator's parallel numba kernels run on numba's own work queue, not OpenMP: its idle
# threads block instead of spinning, so a step keeps most of its throughput when another
# process holds a core (OpenMP's spinning pool lost two thirds of it; bench_sim.py
# measures both). Each env's work is independent of how a loop is split over threads, so
# results do not depend on the layer or the thread count (test/sim/test_sim_threads.py).
# The layer aborts on kernels launched from two threads at once: the envs take turns.
# NUMBA_THREADING_LAYER set by the user wins; this takes effect before numba's first
# parallel call.
_os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
if "numba" in _sys.modules:  # numba read its configuration before this package loaded
    _sys.modules["numba"].config.THREADING_LAYER = _os.environ["NUMBA_THREADING_LAYER"]

# torch's OpenMP pool (and numba's, where NUMBA_THREADING_LAYER=omp): spin briefly before
# sleeping. The default (sleep at once) costs ~0.6 ms to wake the pool on every parallel call;
# spinning forever would steal the second core from the Python thread. Must be set before
# either library loads libgomp.
_os.environ.setdefault("GOMP_SPINCOUNT", "100000")

__version__ = "0.1.0"

__all__ = ["__version__"]
