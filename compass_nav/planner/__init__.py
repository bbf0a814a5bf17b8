"""The grid planner: cost-to-go fields, path descent and route waypoints on scene grids.

:mod:`~compass_nav.planner.grid` holds the numba kernels, :mod:`~compass_nav.planner.cost`
the per-body traversal cost. The simulator, the teacher and the world model import it; it
imports only :mod:`compass_nav.contract`.
"""
