"""QoS profiles shared by the navigator and the sim bridge (one place, so they match).

Compatibility rules that shaped these choices: a subscriber asking for TRANSIENT_LOCAL
durability does not match a VOLATILE publisher, so the navigator subscribes VOLATILE to goals
and routes (it must accept goals from any tool) while the sim bridge publishes them
TRANSIENT_LOCAL (late joiners that ask for it still get the last one). The navigator's
camera and odometry subscriptions default to BEST_EFFORT (its ``image_qos``/``odom_qos``
parameters): a best-effort subscription matches the best-effort publishers of most drivers
(SensorDataQoS) and reliable ones alike, while a reliable subscription never matches a
best-effort publisher. The price: from a reliable publisher the samples then travel
best-effort, and frames larger than ~512 KB are mostly dropped by Fast DDS here, so large
reliable cameras want ``image_qos:=reliable``. The sim bridge publishes everything reliable.
"""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

__all__ = ["command", "latched", "reliable", "sensor"]


def sensor(reliability: str = "reliable") -> QoSProfile:
    """Camera/odometry streams: only the newest message matters (depth 2)."""
    rel = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}[
        reliability
    ]
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=2,
        reliability=rel,
        durability=DurabilityPolicy.VOLATILE,
    )


def command() -> QoSProfile:
    """Velocity commands: reliable, volatile (what base drivers and twist_mux expect)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=10,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def reliable(depth: int = 10) -> QoSProfile:
    """Goals, routes, diagnostics subscriptions: reliable, volatile."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def latched(depth: int = 1) -> QoSProfile:
    """State-like topics (goal status, episode goal, route), kept for late joiners.

    The last ``depth`` messages reach subscribers that join later and ask for
    TRANSIENT_LOCAL; VOLATILE subscribers match too (they just get no history).
    """
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
