"""The contract every layer shares: observation/action spec, bodies, policy interfaces, geometry.

Numpy only (no numba, torch or simulator), so that the simulator, the models, the runtimes
and the ROS navigator can all import it: :mod:`~compass_nav.contract.spec` (observation keys,
task defaults, :class:`InputSpec`), :mod:`~compass_nav.contract.body` (embodiment files and
the descriptor vector), :mod:`~compass_nav.contract.policy` (:class:`Policy`,
:class:`PolicyRuntime` and the policy registry), :mod:`~compass_nav.contract.geometry` (grid
convention, angles, route resampling).
"""
