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


def _numba_cache_dir() -> str | None:
    """A numba cache folder keyed by the package's sources (None: keep numba's default).

    numba re-validates a cached kernel only against its own file's time stamp, not against
    the constants it took from other modules (a material count, a grid size): after an
    update, a kernel whose file did not change would run with the old constants. Keying the
    folder by every source file's size and time stamp gives each version of the package its
    own cache. Only the packages that hold kernels or the constants they read count, so an
    edit elsewhere keeps the compiled kernels.
    """
    import hashlib

    root = _os.path.dirname(_os.path.abspath(__file__))
    digest = hashlib.sha256()
    kernel_packages = ("contract", "planner", "policies", "sim", "teacher", "worldmodel")
    for folder, dirs, files in _os.walk(root):
        if folder == root:
            dirs[:] = [d for d in dirs if d in kernel_packages]
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        if folder == root:
            continue
        for name in sorted(files):
            if name.endswith(".py"):
                st = _os.stat(_os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    base = _os.environ.get("XDG_CACHE_HOME") or _os.path.join(_os.path.expanduser("~"), ".cache")
    path = _os.path.join(base, "compass_nav", "numba", digest.hexdigest()[:16])
    try:
        _os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if _os.access(path, _os.W_OK) else None


if "NUMBA_CACHE_DIR" not in _os.environ and "numba" not in _sys.modules:
    _cache = _numba_cache_dir()
    if _cache:
        _os.environ["NUMBA_CACHE_DIR"] = _cache

__version__ = "0.1.0"

__all__ = ["__version__"]
