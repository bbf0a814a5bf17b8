"""Scenario suites: named bundles of episode settings, selected by ``SimConfig.suite``.

A suite decides how hard the episodes are, independently of the route the policy is shown
(``SimConfig.route_mode``):

* ``v1`` -- the original episodes: scenes in their ``v1`` layout, routes of
  ``goal_distance_min``-``goal_distance_max`` m, paths no narrower than the body's
  circumscribed radius, a fixed time limit (``max_episode_steps``), and the world is exactly
  the scene's map.
* ``v2`` -- the episodes a deployed robot meets: larger ``v2`` layouts with doors and gaps
  barely wider than a body, routes of 8-30 m across rooms and aisles (median above 12 m),
  any path the body fits through (its half-width plus :attr:`SuiteSpec.fit_margin`), and
  *unmapped obstacles*: after the route is planned on the scene's static map, pallets,
  boxes, carts and standing people that are not on that map are added to the world
  (:mod:`compass_nav.sim.scenarios`), most of them on the planned route. The time limit
  grows with the route length and the body's speed (:meth:`SuiteSpec.step_limit`).

With ``route_mode="stale_map"`` the policy's route is the plan on the static map (it may run
through an added obstacle); ``planned`` routes are planned on the true map and ``mapless``
is the straight line. The world, start and goal do not depend on the route mode, so the
three are paired. The privileged teacher always plans on the true map.

A new suite is one more entry in :data:`SUITES`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from compass_nav.utils.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class SuiteSpec:
    """What one scenario suite changes (see the module docstring).

    Attributes:
        name: Suite name.
        layout: Scene layout passed to the family generators (``v1`` or ``v2``).
        route_length: (min, max) planned route length on the static map, m; None takes
            ``SimConfig.goal_distance_min/max``.
        fit_margin: A path is admitted where the clearance along it is at least the body's
            half-width (inscribed radius) plus this margin, m; None keeps the v1 rule (the
            circumscribed radius).
        unmapped: Add obstacles that are not on the scene's map (see the module docstring).
        block_probability: Share of episodes in which the unmapped obstacles are placed on
            the planned route (the others get obstacles beside it only).
        time_factor: Time limit per metre of the true-map route, in units of the time the
            body needs at its top speed.
        time_extra: Seconds added to the time limit (turning on the spot, braking, aligning).
        moving_obstacles: People and carts per episode (:mod:`compass_nav.sim.actors`) that
            commands built on the suite use unless told otherwise
            (``SimConfig.moving_obstacles``; the env itself takes the config's value).
    """

    name: str
    layout: str = "v1"
    route_length: tuple[float, float] | None = None
    fit_margin: float | None = None
    unmapped: bool = False
    block_probability: float = 0.0
    time_factor: float = 0.0
    time_extra: float = 0.0
    moving_obstacles: int = 0

    def step_limit(self, base_steps: int, route_length: float, max_vx: float, hz: float) -> int:
        """Control steps an episode may last: ``max(base, hz * (k * L / max_vx + extra))``.

        Args:
            base_steps: ``SimConfig.max_episode_steps`` (the floor, and the v1 limit).
            route_length: The true-map route length, m.
            max_vx: The body's top forward speed, m/s.
            hz: Control rate, Hz.
        """
        if self.time_factor <= 0:
            return int(base_steps)
        seconds = self.time_factor * route_length / max(max_vx, 1e-3) + self.time_extra
        return max(int(base_steps), int(math.ceil(seconds * hz)))


#: Registered suites by name.
SUITES: dict[str, SuiteSpec] = {
    "v1": SuiteSpec("v1"),
    "v2": SuiteSpec(
        "v2",
        layout="v2",
        route_length=(8.0, 30.0),
        fit_margin=0.03,
        unmapped=True,
        block_probability=0.9,
        time_factor=2.5,
        time_extra=30.0,
        moving_obstacles=3,
    ),
}


def get_suite(name: str) -> SuiteSpec:
    """The suite called ``name``.

    Raises:
        ConfigError: An unknown name, listing the known ones.
    """
    if name not in SUITES:
        raise ConfigError(f"suite={name!r}: unknown scenario suite; known: {', '.join(SUITES)}")
    return SUITES[name]


# ---------------------------------------------------------------- command-line options
def add_suite(p: argparse.ArgumentParser, default: str = "v1") -> None:
    """``--suite v1|v2``: the simulator's scenario suite (:mod:`compass_nav.sim.suites`)."""
    p.add_argument(
        "--suite",
        choices=tuple(SUITES),
        default=default,
        help=f"scenario suite: v1 (the original episodes) or v2 (unmapped obstacles on the "
        f"route, 8-30 m routes, narrow passages, the held-out family) ({default})",
    )


def add_moving_obstacles(p: argparse.ArgumentParser) -> None:
    """``--moving-obstacles N``: people and carts per episode (default None: the suite's)."""
    p.add_argument(
        "--moving-obstacles",
        type=int,
        default=None,
        metavar="N",
        help="people and carts walking across, ahead of and behind each route (default: "
        "the suite's, v2 3, v1 0)",
    )


def resolve_suite_defaults(args: argparse.Namespace) -> None:
    """Fill ``--route-mode`` and ``--families`` left unset (None) from ``--suite``.

    ``v2``: ``stale_map`` routes in every registered family (the held-out one too) and the
    suite's moving obstacles; ``v1``: ``planned`` routes in the training families and none.
    """
    from compass_nav.sim.scenes import list_families, training_families

    v2 = getattr(args, "suite", "v1") == "v2"
    if getattr(args, "route_mode", "planned") is None:
        args.route_mode = "stale_map" if v2 else "planned"
    if getattr(args, "families", ()) is None:
        args.families = list_families() if v2 else training_families()
    if getattr(args, "moving_obstacles", 0) is None:
        args.moving_obstacles = get_suite(getattr(args, "suite", "v1")).moving_obstacles
