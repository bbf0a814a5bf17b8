"""Configuration of the embedded simulator (frozen dataclasses, validated on creation).

:class:`SimConfig` is what :class:`compass_nav.sim.env.NavVectorEnv` runs. :class:`EpisodeSpec`
is the episode distribution a stage draws from (families, split, route mode, time limit,
camera size); every stage config holds one as its nested ``episode:`` section and builds its
``SimConfig`` with :meth:`EpisodeSpec.sim_config` instead of copying the fields by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from compass_nav.contract import spec
from compass_nav.sim.scenes import SPLIT_SEED_OFFSETS
from compass_nav.sim.suites import SUITES
from compass_nav.utils.config import (
    check,
    check_at_least,
    check_names,
    check_positive,
    check_within,
)
from compass_nav.utils.errors import ConfigError

#: The episode fields that used to sit at the top of the stage configs; an old config that
#: still has one is refused naming its new key (``families`` -> ``episode.families``).
EPISODE_KEYS = (
    "families",
    "split",
    "route_mode",
    "suite",
    "max_episode_steps",
    "image_height",
    "image_width",
)
MOVED_TO_EPISODE = {k: f"episode.{k}" for k in EPISODE_KEYS}
#: What the policy's route follows: the true map's plan, the static map's plan, or nothing.
ROUTE_MODES = ("planned", "stale_map", "mapless")

#: Most moving obstacles an episode can hold.
MAX_MOVING_OBSTACLES = 8


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
        check_at_least("reward.success", self.success, 0)
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
    # "planned" (global plan on the true map), "stale_map" (plan on the scene's static map,
    # blind to the suite's unmapped obstacles) or "mapless" (straight line)
    route_mode: str = "planned"
    suite: str = "v1"  # scenario suite (compass_nav.sim.suites): "v1" or "v2"
    route_points: int = spec.ROUTE_POINTS
    route_spacing: float = spec.ROUTE_SPACING_M  # m between waypoints
    control_hz: float = spec.CONTROL_HZ
    substeps: int = 2
    max_episode_steps: int = 300  # time limit (v2: the floor of a limit that grows with the route)
    goal_distance_min: float = 2.5  # m of planned path (suite v1; v2 has its own range)
    goal_distance_max: float = 6.0
    goal_tolerance: float = spec.GOAL_TOLERANCE_M  # m (COMPASS: 0.5)
    stop_speed: float = 0.1  # m/s (COMPASS: 0.1)
    stop_yaw_rate: float = 0.1  # rad/s (COMPASS: 0.1)
    heading_tolerance: float = spec.HEADING_TOLERANCE_RAD  # rad (COMPASS: 0.1)
    clearance_margin: float = 0.1  # m beyond the circumscribed radius at start and goal
    # People and carts walking across, ahead of and behind the route (compass_nav.sim.actors)
    moving_obstacles: int = 0  # actors per episode; 0: none (the v1 scenes)
    reward: RewardConfig = dataclasses.field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        check_at_least("num_envs", self.num_envs, 1)
        check(len(self.embodiments) >= 1, "embodiments", self.embodiments, "must not be empty")
        check(len(self.families) >= 1, "families", self.families, "must not be empty")

        check(
            self.split in SPLIT_SEED_OFFSETS,
            "split",
            self.split,
            "must be 'train', 'heldout' or 'validation'",
        )
        check_at_least("scene_pool", self.scene_pool, 1)
        check_within("image_height", self.image_height, 16, 480, "pixels")
        check_within("image_width", self.image_width, 16, 480, "pixels")
        check(
            self.render_rgb or self.render_depth,
            "render_rgb",
            self.render_rgb,
            "at least one of render_rgb / render_depth must be on",
        )
        check(
            self.route_mode in ROUTE_MODES,
            "route_mode",
            self.route_mode,
            "must be 'planned', 'stale_map' or 'mapless'",
        )
        check(self.suite in SUITES, "suite", self.suite, f"must be one of {', '.join(SUITES)}")
        check_within("route_points", self.route_points, 1, 64)
        check_within("route_spacing", self.route_spacing, 0.05, 2.0, "m")
        check_within("control_hz", self.control_hz, 1, 100, "Hz")
        check_within("substeps", self.substeps, 1, 20)
        check_at_least("max_episode_steps", self.max_episode_steps, 1)
        check(
            0.5 <= self.goal_distance_min < self.goal_distance_max,
            "goal_distance_min",
            self.goal_distance_min,
            "must be >= 0.5 and below goal_distance_max",
        )
        check_positive("goal_tolerance", self.goal_tolerance)
        check_within("moving_obstacles", self.moving_obstacles, 0, MAX_MOVING_OBSTACLES)
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


@dataclasses.dataclass(frozen=True)
class EpisodeSpec:
    """The episodes a stage runs: which scenes, which route, how long, which camera size.

    Every stage config (IL's DAgger rounds, RL, distillation, evaluation, the pipeline's
    demonstrations and evaluation) holds one as ``episode:``; :meth:`sim_config` turns it into
    the simulator's :class:`SimConfig`. The bodies are not part of it: they are what a stage
    trains or evaluates (``embodiment``, ``embodiments``, the specialists' bodies).

    Attributes:
        families: Scene families; env slot ``e`` uses ``families[e % F]``.
        split: Scene seeds: ``train``, ``heldout`` or ``validation`` (never trained on).
        route_mode: ``planned`` (global plan on the true map), ``stale_map`` (plan on the
            scene's static map, blind to the suite's unmapped obstacles) or ``mapless``
            (straight line to the goal).
        suite: Scenario suite (:mod:`compass_nav.sim.suites`): ``v1`` (the original
            episodes) or ``v2`` (unmapped obstacles, long routes, narrow passages).
        max_episode_steps: Time limit, control steps at ``control_hz`` (in ``v2`` the floor
            of a limit that grows with the route length and the body's speed).
        image_height, image_width: Camera size, px; 0 takes the policy model's input size
            (see ``model`` in :meth:`sim_config`).
        moving_obstacles: People and carts per episode (:mod:`compass_nav.sim.actors`); 0
            for none.
    """

    families: tuple[str, ...] = ("warehouse", "office", "hall")
    split: str = "train"
    route_mode: str = "planned"
    suite: str = "v1"
    max_episode_steps: int = 300
    image_height: int = 64
    image_width: int = 64
    moving_obstacles: int = 0

    def __post_init__(self) -> None:
        from compass_nav.sim.scenes import SPLIT_SEED_OFFSETS, list_families

        object.__setattr__(self, "families", check_names("episode.families", self.families))
        known = list_families()
        for fam in self.families:
            check(
                fam in known, "episode.families", fam, f"unknown family; known: {', '.join(known)}"
            )
        check(
            self.split in SPLIT_SEED_OFFSETS,
            "episode.split",
            self.split,
            "must be 'train', 'heldout' or 'validation'",
        )
        check(
            self.route_mode in ROUTE_MODES,
            "episode.route_mode",
            self.route_mode,
            "must be 'planned', 'stale_map' or 'mapless'",
        )
        check(
            self.suite in SUITES,
            "episode.suite",
            self.suite,
            f"must be one of {', '.join(SUITES)}",
        )
        check_at_least("episode.max_episode_steps", self.max_episode_steps, 1)
        check_within("episode.moving_obstacles", self.moving_obstacles, 0, MAX_MOVING_OBSTACLES)
        for f in ("image_height", "image_width"):
            v = getattr(self, f)
            check(
                v == 0 or 16 <= v <= 480,
                f"episode.{f}",
                v,
                "must be 0 (the model's input size) or within [16, 480] pixels",
            )

    def check_trainable(self) -> None:
        """Refuse held-out scenes or families for a stage that trains on these episodes.

        Raises:
            ConfigError: ``episode.split`` is ``heldout`` or ``validation``, or a family is
                a held-out family (:func:`compass_nav.sim.scenes.heldout_families`).
        """
        from compass_nav.sim.scenes import check_training_families

        check(
            self.split == "train",
            "episode.split",
            self.split,
            "must be 'train' (held-out and validation scenes are never trained on)",
        )
        check_training_families("episode.families", self.families)

    def sim_config(
        self,
        num_envs: int,
        embodiments: Sequence[str],
        model: Any = None,
        **overrides: Any,
    ) -> SimConfig:
        """The simulator settings of these episodes for ``embodiments`` in ``num_envs`` slots.

        Args:
            num_envs: Env slots.
            embodiments: Bodies; slot ``e`` drives ``embodiments[(e // F) % E]``.
            model: The policy's model config (anything with ``image_height``,
                ``image_width``, ``use_rgb``, ``use_depth``): a camera size of 0 takes its
                input size, and only the streams it reads are rendered.
            **overrides: Other :class:`SimConfig` fields (``route_points``, ``reward``, ...).

        Raises:
            ConfigError: A camera size of 0 without ``model``, or a bad resulting value.
        """
        height = overrides.pop("image_height", self.image_height)
        width = overrides.pop("image_width", self.image_width)
        fields: dict[str, Any] = {}
        if model is not None:
            height = height or model.image_height
            width = width or model.image_width
            fields.update(render_rgb=model.use_rgb, render_depth=model.use_depth)
        if not (height and width):
            raise ConfigError(
                f"episode.image_height={self.image_height!r}: 0 (the model's input size) "
                "needs a model to take the size from; set the camera size"
            )
        fields.update(
            num_envs=num_envs,
            embodiments=tuple(embodiments),
            families=self.families,
            split=self.split,
            image_height=height,
            image_width=width,
            route_mode=self.route_mode,
            suite=self.suite,
            max_episode_steps=self.max_episode_steps,
            moving_obstacles=self.moving_obstacles,
        )
        fields.update(overrides)
        return SimConfig(**fields)
