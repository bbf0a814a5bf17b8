"""Guard: processes that start ROS 2 nodes here must run in a private network namespace.

Fast DDS multicasts discovery and data out of every network interface, even when told to
stay on localhost, so tests, benchmarks and the sim-in-the-loop runner
(:mod:`compass_nav.ros.sil`) call :func:`require_private_network` before creating any node;
``scripts/netns_run.sh`` and ``scripts/test.sh`` provide the namespace. The nodes themselves
do not check: on a robot they must use the real network.

The interface list comes from ``/proc/self/net/dev`` (per network namespace);
``/sys/class/net`` would show the namespace that mounted sysfs, not ours.
"""

from __future__ import annotations

from pathlib import Path

from compass_nav.utils.errors import CompassNavError

__all__ = ["PrivateNetworkError", "network_interfaces", "require_private_network"]


class PrivateNetworkError(CompassNavError, RuntimeError):
    """Raised when ROS 2 would reach a real network interface (the user's to fix)."""


def network_interfaces() -> list[str]:
    """Names of the network interfaces visible to this process."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)


def require_private_network() -> None:
    """Raise :class:`PrivateNetworkError` unless loopback is the only interface.

    Raises:
        PrivateNetworkError: with the interfaces found and the command to use instead.
    """
    found = network_interfaces()
    if found != ["lo"]:
        raise PrivateNetworkError(
            f"refusing to start ROS 2 nodes: network interfaces {found} are visible and DDS "
            "would use them. Run inside a private network namespace: scripts/netns_run.sh "
            "CMD (or scripts/test.sh for the tests)."
        )
