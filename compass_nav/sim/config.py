"""Configuration of the embedded simulator (frozen dataclasses, validated on creation)."""

from __future__ import annotations

import dataclasses

from compass_nav.contract import spec
from compass_nav.sim.scenes import SPLIT_SEED_OFFSETS
from compass_nav.utils.config import check


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    """Weights of the reward terms in :mod:`compass_nav.sim.mdp.rewards` (0 disables a term).

    COMPASS uses ``-distance`` every step, +2000 on success and -1000 on contact; ours are on a
    per-metre scale so that returns stay near 1-10 and PPO's value targets are well scaled.
    """

    progress: float = 1.0  # per metre of geodesic progress towards the goal
    distance: float = 0.0  # per metre of straight-line distance, every step (COMPASS-style)
    success: float = 10.0
    collision: float = -10.0
    time: float = -0.01  # per step
    smoothness: float = -0.02  # per unit change of the normalised action

    def __post_init__(self) -> None:
        check(self.success >= 0, "reward.success", self.success, "must be >= 0")
        check(self.collision <= 0, "reward.collision", self.collision, "must be <= 0")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Embedded simulator settings.

    Env slot ``e`` drives embodiment ``embodiments[(e // len(families)) % len(embodiments)]``
    in scene family ``families[e % len(families)]``, so a batch covers every pair evenly.
    """

    num_envs: int = 8
    embodiments: tuple[str, ...] = ("carter",)
    families: tuple[str, ...] = ("warehouse", "office", "hall")
    split: str = "train"  # "train" scene seeds; "heldout" or "validation": never in training
    scene_pool: int = 500  # distinct scene seeds per family
    image_height: int = spec.IMAGE_HEIGHT
    image_width: int = spec.IMAGE_WIDTH
    render_rgb: bool = True
    render_depth: bool = True
    route_mode: str = "planned"  # "planned" (global plan) or "mapless" (straight line)
    route_points: int = spec.ROUTE_POINTS
    route_spacing: float = spec.ROUTE_SPACING_M  # m between waypoints
    control_hz: float = spec.CONTROL_HZ
    substeps: int = 2
    max_episode_steps: int = 300
    goal_distance_min: float = 2.5  # m of planned path
    goal_distance_max: float = 6.0
    goal_tolerance: float = spec.GOAL_TOLERANCE_M  # m (COMPASS: 0.5)
    stop_speed: float = 0.1  # m/s (COMPASS: 0.1)
    stop_yaw_rate: float = 0.1  # rad/s (COMPASS: 0.1)
    heading_tolerance: float = spec.HEADING_TOLERANCE_RAD  # rad (COMPASS: 0.1)
    clearance_margin: float = 0.1  # m beyond the circumscribed radius at start and goal
    reward: RewardConfig = dataclasses.field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        check(self.num_envs >= 1, "num_envs", self.num_envs, "must be >= 1")
        check(len(self.embodiments) >= 1, "embodiments", self.embodiments, "must not be empty")
        check(len(self.families) >= 1, "families", self.families, "must not be empty")

        check(
            self.split in SPLIT_SEED_OFFSETS,
            "split",
            self.split,
            "must be 'train', 'heldout' or 'validation'",
        )
        check(self.scene_pool >= 1, "scene_pool", self.scene_pool, "must be >= 1")
        for f in ("image_height", "image_width"):
            v = getattr(self, f)
            check(16 <= v <= 480, f, v, "must be within [16, 480] pixels")
        check(
            self.render_rgb or self.render_depth,
            "render_rgb",
            self.render_rgb,
            "at least one of render_rgb / render_depth must be on",
        )
        check(
            self.route_mode in ("planned", "mapless"),
            "route_mode",
            self.route_mode,
            "must be 'planned' or 'mapless'",
        )
        check(
            1 <= self.route_points <= 64,
            "route_points",
            self.route_points,
            "must be within [1, 64]",
        )
        check(
            0.05 <= self.route_spacing <= 2.0,
            "route_spacing",
            self.route_spacing,
            "must be within [0.05, 2.0] m",
        )
        check(
            1.0 <= self.control_hz <= 100.0,
            "control_hz",
            self.control_hz,
            "must be within [1, 100] Hz",
        )
        check(1 <= self.substeps <= 20, "substeps", self.substeps, "must be within [1, 20]")
        check(
            self.max_episode_steps >= 1,
            "max_episode_steps",
            self.max_episode_steps,
            "must be >= 1",
        )
        check(
            0.5 <= self.goal_distance_min < self.goal_distance_max,
            "goal_distance_min",
            self.goal_distance_min,
            "must be >= 0.5 and below goal_distance_max",
        )
        check(self.goal_tolerance > 0, "goal_tolerance", self.goal_tolerance, "must be > 0")
        check(
            self.heading_tolerance > 0,
            "heading_tolerance",
            self.heading_tolerance,
            "must be > 0 (use 3.2 to ignore heading)",
        )

    @property
    def dt(self) -> float:
        """Control period, s."""
        return 1.0 / self.control_hz
