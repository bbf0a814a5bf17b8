"""Configuration of offline evaluation with a video world model (frozen, validated dataclasses).

One :class:`WorldModelPipelineConfig` holds the four parts the ``compass-nav worldmodel``
commands use: the policy pool and its ground truth (:class:`PoolConfig`), the network
(:class:`ModelConfig`), training (:class:`TrainConfig`) and offline evaluation
(:class:`OfflineEvalConfig`; the ``evaluate`` section).
The named starting points (``default``: the benchmark run; ``tiny``: seconds-long, for tests)
live in ``configs/presets/worldmodel.yaml``; presets, YAML files and ``key=value`` overrides
are layered by :func:`compass_nav.utils.config.resolve_config`. The resolved config is saved
inside every checkpoint and next to every report.
"""

from __future__ import annotations

import dataclasses

from compass_nav.utils.config import (
    check,
    check_at_least,
    check_positive,
    check_within,
    config_from_dict,
    config_to_dict,
    resolve_config,
)
from compass_nav.utils.errors import ConfigError

__all__ = [
    "DEFAULT_POOL",
    "ModelConfig",
    "OfflineEvalConfig",
    "PoolConfig",
    "PoolPolicy",
    "TrainConfig",
    "WorldModelPipelineConfig",
    "preset",
]

ROLES = ("train", "heldout")
#: How imagination uses the ego-motion warp (``evaluate.ego_warp``; see
#: :mod:`compass_nav.worldmodel.warp`).
EGO_WARP_MODES = ("off", "warp", "reanchor", "memory")
#: How an imagined episode is judged to end in a contact (``evaluate.judge``, besides
#: ``auto``; see :class:`OfflineEvalConfig` and :func:`compass_nav.worldmodel.imagine.outcomes`).
JUDGE_MODES = (
    "hazard",
    "max",
    "threshold",
    "sweep",
    "depth",
    "map",
    "map_max",
    "map_first",
    "map_prior",
    "map_prior_band",
)


@dataclasses.dataclass(frozen=True)
class PoolPolicy:
    """One member of the policy pool.

    Attributes:
        spec: Anything :func:`compass_nav.policies.make_policy` accepts.
        role: ``train``: its rollouts train the world model; ``heldout``: never seen by it.
    """

    spec: str
    role: str = "heldout"

    def __post_init__(self) -> None:
        check(bool(self.spec), "spec", self.spec, "must name a policy")
        check(self.role in ROLES, "role", self.role, f"must be one of {ROLES}")


#: The benchmark pool: graded skill, from the privileged teacher to driving into walls.
DEFAULT_POOL: tuple[PoolPolicy, ...] = (
    PoolPolicy("teacher", "train"),
    PoolPolicy("degraded:teacher?noise=0.3", "train"),
    PoolPolicy("degraded:teacher?delay=3&limits=scout", "train"),
    PoolPolicy("goal_seeker", "train"),
    PoolPolicy("degraded:goal_seeker?route=straight", "train"),
    PoolPolicy("degraded:goal_seeker?noise=0.5", "train"),
    PoolPolicy("degraded:depth_seeker?route=straight", "train"),
    PoolPolicy("random", "train"),
    PoolPolicy("wall", "train"),
    # Added for model v6: more command noise, delay and speeds among the train policies.
    PoolPolicy("degraded:depth_seeker?noise=0.3", "train"),
    PoolPolicy("degraded:goal_seeker?delay=2", "train"),
    PoolPolicy("degraded:goal_seeker?speed=0.5", "train"),
    PoolPolicy("degraded:depth_seeker?speed=0.7&noise=0.2", "train"),
    PoolPolicy("degraded:goal_seeker?noise=1.0", "train"),
    PoolPolicy("degraded:teacher?speed=0.6", "train"),
    PoolPolicy("degraded:teacher?noise=0.6&delay=2", "train"),
    PoolPolicy("depth_seeker", "heldout"),
    PoolPolicy("degraded:goal_seeker?delay=6", "heldout"),
    PoolPolicy("degraded:goal_seeker?noise=0.8", "heldout"),
    PoolPolicy("degraded:goal_seeker?route=straight&noise=0.3", "heldout"),
    PoolPolicy("degraded:goal_seeker?route=straight&speed=0.6", "heldout"),
    PoolPolicy("degraded:depth_seeker?route=straight&noise=0.4", "heldout"),
    PoolPolicy("degraded:goal_seeker?route=straight&delay=4", "heldout"),
    PoolPolicy("standstill", "heldout"),
)


@dataclasses.dataclass(frozen=True)
class PoolConfig:
    """Which policies, on which body and scenes, with how many seeded episodes.

    Ground-truth episodes use held-out scene seeds (``split='heldout'``), so the world model
    never saw the scenes it is asked to imagine; training rollouts use training seeds.
    Episode ``i`` of every policy starts from the same scene, start and goal, which pairs
    predicted and real outcomes episode by episode.
    """

    policies: tuple[PoolPolicy, ...] = DEFAULT_POOL
    embodiment: str = "carter"
    families: tuple[str, ...] = ("warehouse", "office", "hall")
    image_size: int = 32  # square frames, px (CPU budget: see docs/WORLDMODEL.md)
    eval_episodes: int = 60  # ground-truth episodes per policy (>= 50 for the benchmark)
    train_episodes: int = 180  # training rollouts per 'train' policy
    block: int = 60  # episodes run side by side in one simulator batch
    max_episode_steps: int = 300
    seed: int = 0

    def __post_init__(self) -> None:
        check(
            len(self.policies) >= 2,
            "pool.policies",
            len(self.policies),
            "needs at least 2 policies",
        )
        specs = [p.spec for p in self.policies]
        check(len(set(specs)) == len(specs), "pool.policies", specs, "specs must be unique")
        check(
            any(p.role == "train" for p in self.policies),
            "pool.policies",
            specs,
            "at least one policy must have role 'train'",
        )
        check_within("pool.image_size", self.image_size, 16, 128, "px")
        check_at_least("pool.eval_episodes", self.eval_episodes, 1)
        check_at_least("pool.train_episodes", self.train_episodes, 1)
        check_at_least("pool.block", self.block, 1)
        check_at_least("pool.max_episode_steps", self.max_episode_steps, 2)
        check(len(self.families) >= 1, "pool.families", self.families, "must not be empty")

    def role_of(self, spec: str) -> str:
        """Role of a pool member."""
        for p in self.policies:
            if p.spec == spec:
                return p.role
        raise ConfigError(f"policy {spec!r} is not in the pool")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes of the world model (see :mod:`compass_nav.worldmodel.model`)."""

    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 128)  # encoder conv widths, each halves the size
    latent_dim: int = 384  # frame latent
    hidden_dim: int = 384  # recurrent (GRU) state
    fourier_bands: int = 4  # sin/cos bands per action/speed scalar
    action_dim: int = 128  # action embedding width
    idm_channels: tuple[int, ...] = (32, 64, 64)
    ref_skip: bool = True  # skip path from the latest real frame (gate + correction)
    blend_channels: int = 24  # width of the skip path's conv net

    def __post_init__(self) -> None:
        check(
            len(self.channels) >= 2,
            "model.channels",
            self.channels,
            "needs at least two conv stages",
        )
        # Each conv stage of the encoder and of the inverse-dynamics net halves the size.
        for name, stages in (("channels", self.channels), ("idm_channels", self.idm_channels)):
            check(
                self.image_size % 2 ** len(stages) == 0,
                "model.image_size",
                self.image_size,
                f"must be divisible by 2**{len(stages)} ({name})",
            )
        check_at_least("model.latent_dim", self.latent_dim, 8)
        check_at_least("model.hidden_dim", self.hidden_dim, 8)
        check_at_least("model.blend_channels", self.blend_channels, 1)
        check_within("model.fourier_bands", self.fourier_bands, 0, 12)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """World-model training (see :mod:`compass_nav.worldmodel.train`)."""

    steps: int = 20000  # upper bound; ``max_cpu_minutes`` usually ends training first
    max_cpu_minutes: float = 50.0  # CPU-time budget of the world-model phase (0: no limit).
    # CPU time, not wall time: on a shared machine a reniced job's wall time measures the
    # other jobs. With one thread it equals the wall time on an idle core. The learning-rate
    # and teacher-forcing schedules follow max(step / steps, cpu time / budget).
    batch: int = 24
    rollout: int = 24  # autoregressive steps per window (after one observed frame)
    pred_frames: int = 8  # predicted steps decoded per window for the pixel loss (0: all)
    teacher_forcing_until: float = 0.4  # fraction of training over which teacher forcing
    # decays from 1 to ``teacher_forcing_floor`` (scheduled sampling)
    teacher_forcing_floor: float = 0.2  # teacher forcing kept after the decay (per window and
    # step). 0: late windows are fully imagined from their first frame, so the skip path only
    # ever sees that frame as its reference; > 0 keeps training the one-step prediction from a
    # recent real frame that teacher-forced evaluation (and a robot's live camera) asks for
    lr: float = 6e-4
    weight_decay: float = 1e-5
    collision_windows: float = 0.25  # fraction of windows ending on a collision step
    w_recon: float = 1.0
    w_pred: float = 1.0
    w_latent: float = 0.05
    w_collision: float = 0.2
    depth_l1: float = 0.15  # > 0: the predicted frames' depth channel costs this times its
    # absolute error instead of its squared error. Squared error trains the mean of what may
    # lie along a ray; below the horizon the floor is the farthest anything can be, so under
    # uncertainty the mean is nearer than any likely surface. Absolute error trains the median
    # (model v7; 0: squared error, models up to v6b)
    idm_steps: int = 800
    threads: int = 1  # torch threads: on a shared 2-core machine one thread is faster than
    # two spinning OpenMP workers fighting other jobs (measured: 0.4 s vs > 1 s per step)
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 200  # steps between resumable states (<out>.partial; 0: none).
    # Re-running the same command after a kill continues from the latest one.
    init: str = ""  # world-model checkpoint whose weights start training (warm start; layers
    # it lacks, such as a newly enabled skip path, start fresh). Empty: from scratch

    def __post_init__(self) -> None:
        check_at_least("train.steps", self.steps, 1)
        check_at_least("train.batch", self.batch, 2)
        check_within("train.rollout", self.rollout, 1, 64)
        check_within("train.teacher_forcing_until", self.teacher_forcing_until, 0, 1)
        check_within(
            "train.teacher_forcing_floor", self.teacher_forcing_floor, 0, 1, high_open=True
        )
        check_at_least("train.pred_frames", self.pred_frames, 0)
        check_positive("train.lr", self.lr)
        check_at_least("train.max_cpu_minutes", self.max_cpu_minutes, 0)
        check_within("train.collision_windows", self.collision_windows, 0, 1, high_open=True)
        check_at_least("train.idm_steps", self.idm_steps, 0)
        check_at_least("train.depth_l1", self.depth_l1, 0)
        check_at_least("train.threads", self.threads, 1)
        check_at_least("train.checkpoint_every", self.checkpoint_every, 0)


@dataclasses.dataclass(frozen=True)
class OfflineEvalConfig:
    """Offline evaluation (see :mod:`compass_nav.worldmodel.evaluate`)."""

    horizons: tuple[int, ...] = (1, 8, 16, 32)
    video_windows: int = 96  # recorded windows per split for PSNR/SSIM
    bootstrap: int = 2000
    judge: str = "auto"  # how an imagined episode is judged to end in a contact:
    # 'depth' (predicted central depth below a calibrated distance; no hazard head), or from
    # the hazard head: 'hazard' (product of survivals), 'max' (largest hazard), 'threshold'
    # (first hazard above ``threshold``), 'sweep' ('hazard' with each step weighted by the
    # ground its footprint sweeps); 'map' (the footprint comes within a calibrated
    # distance of the obstacle map fused from the first and the predicted depth frames at the
    # imagined poses; 'map_first': the first frame's map alone, an ablation; 'map_max': the
    # first frame's map where it has seen, the 'max' hazard elsewhere; 'map_prior': the first
    # frame's map where it has seen, elsewhere a calibrated chance per cell that ground the
    # footprint entered unseen (off the start plan's free corridor) is occupied;
    # 'map_prior_band': the same, cells in the plan's clearance band weighted by how far into
    # it they lie); 'auto': the mode
    # (other than 'map_first') whose calibration fits the train policies best
    judge_rule: str = "episode_brier"  # how 'auto' picks the mode, on the train policies:
    # 'episode_brier' (mean squared error of each paired episode's predicted success against
    # its real outcome: 60 episodes per policy of evidence) or 'sr_mse' (squared error of
    # the per-policy success rates: one number per policy, which ties within sampling noise)
    threshold: float = 0.5
    calibrate: bool = True  # fit the hazard scale on the 'train' policies' ground truth
    gifs: int = 3  # side-by-side real/imagined GIFs per report
    static_camera: bool = True  # a camera that has not moved since its last real frame sees
    # that frame again, and a transition that does not move it keeps the latent (the scenes
    # are static; see WorldModel.static_camera). False: the learned model alone (ablation)
    measured_depth: bool = False  # the policy's depth comes from the real first frame's
    # measured geometry where it determines it, the prediction elsewhere (experimental; see
    # docs/WORLDMODEL.md)
    ego_warp: str = "warp"  # 'warp': every imagined frame shows the real first frame
    # re-projected through its own depth to the imagined pose (odometry) wherever that covers
    # the view, the model's prediction elsewhere (compass_nav.worldmodel.warp; the scenes are
    # static); 'reanchor': the same, and the model continues from the composed frame;
    # 'memory': as 'reanchor', and what the first frame does not cover comes from the
    # previous imagined frame warped by the last step where it covers it; 'off': the model's
    # frames alone
    snap_floor: bool = False  # with the warp: a pixel won by a warped floor point shows the
    # floor along its own ray, not the nearest floor point that landed in it (which reads
    # nearer than the floor, a phantom obstacle to anything that reads depth)
    replan: bool = True  # imagined routes re-plan from the imagined pose like the
    # simulator's (its planner on a clearance estimated from the start plan); False: they
    # follow the start plan from its nearest point (compass_nav.worldmodel.kinematics)
    seed: int = 0

    def __post_init__(self) -> None:
        check(
            len(self.horizons) >= 1 and min(self.horizons) >= 1,
            "evaluate.horizons",
            self.horizons,
            "must be positive step counts",
        )
        check(
            self.video_windows >= 2,
            "evaluate.video_windows",
            self.video_windows,
            "must be >= 2 (the shuffled-action baseline permutes windows)",
        )
        check_at_least("evaluate.bootstrap", self.bootstrap, 10)
        modes = ("auto", *JUDGE_MODES)
        check(self.judge in modes, "evaluate.judge", self.judge, f"must be one of {modes}")
        check(
            self.judge_rule in ("episode_brier", "sr_mse"),
            "evaluate.judge_rule",
            self.judge_rule,
            "must be 'episode_brier' or 'sr_mse'",
        )
        check(
            0.0 < self.threshold < 1.0, "evaluate.threshold", self.threshold, "must be in (0, 1)"
        )
        check_at_least("evaluate.gifs", self.gifs, 0)
        check(
            self.ego_warp in EGO_WARP_MODES,
            "evaluate.ego_warp",
            self.ego_warp,
            f"must be one of {EGO_WARP_MODES}",
        )


@dataclasses.dataclass(frozen=True)
class WorldModelPipelineConfig:
    """Everything the ``compass-nav worldmodel`` commands need."""

    pool: PoolConfig = dataclasses.field(default_factory=PoolConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    evaluate: OfflineEvalConfig = dataclasses.field(default_factory=OfflineEvalConfig)

    def __post_init__(self) -> None:
        check(
            self.model.image_size == self.pool.image_size,
            "model.image_size",
            self.model.image_size,
            f"must equal pool.image_size={self.pool.image_size}",
        )
        longest = max(self.evaluate.horizons)
        check(
            longest < self.pool.max_episode_steps,
            "evaluate.horizons",
            self.evaluate.horizons,
            "must be shorter than pool.max_episode_steps",
        )


def preset(name: str) -> WorldModelPipelineConfig:
    """A named starting config of ``configs/presets/worldmodel.yaml``.

    ``default`` is the benchmark run, ``tiny`` takes seconds (tests).

    Raises:
        ConfigError: unknown preset name.
    """
    return resolve_config(WorldModelPipelineConfig, preset=name, presets="worldmodel")


def to_dict(cfg: WorldModelPipelineConfig) -> dict:
    """Plain data for YAML/JSON (inverse: :func:`from_dict`)."""
    return config_to_dict(cfg)


def from_dict(data: dict) -> WorldModelPipelineConfig:
    """Rebuild a pipeline config saved by :func:`to_dict`."""
    return config_from_dict(WorldModelPipelineConfig, data)
