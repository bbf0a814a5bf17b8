"""Configuration of the X-Mobility-style world-model policy (frozen, validated dataclasses).

:class:`XMobilityConfig` fixes every size of the network, the input normalisation constants
and the loss weights, so a checkpoint plus its config (written next to it as YAML) rebuilds
exactly the same model. :func:`preset` returns the named presets: ``default`` (what the IL
stage trains) and ``debug`` (a tiny network for tests). The modeling and processing modules
read only this object; nothing else configures the model.
"""

from __future__ import annotations

import dataclasses

from compass_nav.contract.body import DESCRIPTOR_DIM
from compass_nav.utils.config import check, check_at_least, check_positive, check_within
from compass_nav.utils.errors import ConfigError

__all__ = ["LossWeights", "XMobilityConfig", "PRESETS", "preset"]


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the training loss terms (COMPASS: action 10, path 5, KL 0.001, semantic 2).

    Attributes:
        action: MSE of the tanh action against the teacher's action, both as fractions of the
            body's limits.
        path: MSE of the predicted future path against the planned route (per metre / scale).
        kl: Balanced KL between posterior and prior of the stochastic latent.
        recon: Squared error of the reconstructed (downsampled, normalised) depth image,
            summed over its pixels.
    """

    action: float = 10.0
    path: float = 5.0
    kl: float = 0.1
    recon: float = 1.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            check_at_least(f"loss.{f.name}", v, 0)


@dataclasses.dataclass(frozen=True)
class XMobilityConfig:
    """Sizes and constants of :class:`compass_nav.models.xmobility.modeling.XMobility`.

    Attributes:
        image_height, image_width: Model input size; other camera sizes are resized to it.
        use_rgb, use_depth: Camera streams stacked as encoder input channels.
        max_depth: Depth (m) mapped to 1.0; farther reads saturate (near obstacles matter).
        encoder_channels: Output channels of the stride-2 convolutions of the image encoder.
        embed_dim: Size of the image embedding fed to the world model.
        speed_dim: Size of the speed embedding.
        deter_dim: GRU (deterministic) state size.
        stoch_dim: Gaussian stochastic latent size.
        hidden_dim: Width of the MLPs inside the world model and the heads.
        min_std: Lower bound of the latent's standard deviation.
        route_points: K, route waypoints read (the simulator's ``route_points``).
        route_dim: Size of the route + goal embedding.
        policy_state_dim: Size of the fused policy state (what residual RL reads).
        path_points: P, future path waypoints predicted (first P planned-route waypoints).
        recon_size: Side of the square depth image the decoder reconstructs.
        decoder_channels: Channels of the decoder's transposed convolutions (coarse to fine).
        kl_balance: Weight of the prior-side KL term (DreamerV3 / COMPASS use 0.75-0.8).
        free_nats: KL below this (per step, summed over latent dims) is not penalised.
        speed_scale: (vx, vy, wz) divisors normalising the measured speed.
        route_scale: Metres divisor for route and path waypoints.
        goal_scale: Metres divisor for the goal position.
        descriptor_dim: Length of the embodiment descriptor (action limits come from it).
        body_dim: Size of the body embedding (the descriptor normalised with fixed constants,
            ``compass_nav.contract.body.DESCRIPTOR_REF``/``DESCRIPTOR_SCALE``, through an MLP)
            fused into the policy state. 0, the default and the COMPASS IL base: the policy
            reads the body only through its action limits.
        loss: Loss weights.
    """

    image_height: int = 32
    image_width: int = 32
    use_rgb: bool = True
    use_depth: bool = True
    max_depth: float = 10.0
    encoder_channels: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 256
    speed_dim: int = 32
    deter_dim: int = 256
    stoch_dim: int = 32
    hidden_dim: int = 256
    min_std: float = 0.1
    route_points: int = 10
    route_dim: int = 64
    policy_state_dim: int = 256
    path_points: int = 5
    recon_size: int = 16
    decoder_channels: tuple[int, ...] = (32, 16)
    kl_balance: float = 0.8
    free_nats: float = 1.0
    speed_scale: tuple[float, float, float] = (1.5, 1.0, 2.0)
    route_scale: float = 4.0
    goal_scale: float = 5.0
    descriptor_dim: int = DESCRIPTOR_DIM
    body_dim: int = 0
    loss: LossWeights = dataclasses.field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_channels", tuple(self.encoder_channels))
        object.__setattr__(self, "decoder_channels", tuple(self.decoder_channels))
        object.__setattr__(self, "speed_scale", tuple(float(v) for v in self.speed_scale))
        n_down = len(self.encoder_channels)
        for f in ("image_height", "image_width"):
            v = getattr(self, f)
            check(
                v >= 2**n_down and v % 2**n_down == 0,
                f,
                v,
                f"must be a positive multiple of {2**n_down} (2 ** len(encoder_channels))",
            )
        check(
            self.use_rgb or self.use_depth,
            "use_rgb",
            self.use_rgb,
            "at least one of use_rgb / use_depth must be on",
        )
        check_positive("max_depth", self.max_depth, "m")
        check(
            len(self.encoder_channels) >= 1 and min(self.encoder_channels) >= 1,
            "encoder_channels",
            self.encoder_channels,
            "must be a non-empty list of ints >= 1",
        )
        for f in (
            "embed_dim",
            "speed_dim",
            "deter_dim",
            "stoch_dim",
            "hidden_dim",
            "route_dim",
            "policy_state_dim",
        ):
            v = getattr(self, f)
            check(isinstance(v, int) and v >= 1, f, v, "must be an int >= 1")
        check(
            isinstance(self.body_dim, int) and self.body_dim >= 0,
            "body_dim",
            self.body_dim,
            "must be an int >= 0 (0: no body input)",
        )
        check(0 < self.min_std < 1, "min_std", self.min_std, "must be in (0, 1)")
        check_within("route_points", self.route_points, 1, 64)
        check(
            1 <= self.path_points <= self.route_points,
            "path_points",
            self.path_points,
            "must be within [1, route_points]",
        )
        n_up = len(self.decoder_channels)
        check(
            n_up >= 1 and min(self.decoder_channels) >= 1,
            "decoder_channels",
            self.decoder_channels,
            "must be a non-empty list of ints >= 1",
        )
        check(
            self.recon_size % 2**n_up == 0 and self.recon_size >= 2 ** (n_up + 1),
            "recon_size",
            self.recon_size,
            f"must be a multiple of {2**n_up} and >= {2 ** (n_up + 1)}",
        )
        check(
            self.recon_size <= min(self.image_height, self.image_width),
            "recon_size",
            self.recon_size,
            "must not exceed the input image size",
        )
        check_within("kl_balance", self.kl_balance, 0, 1)
        check_at_least("free_nats", self.free_nats, 0)
        check(
            len(self.speed_scale) == 3 and min(self.speed_scale) > 0,
            "speed_scale",
            self.speed_scale,
            "must be three positive numbers (vx, vy, wz)",
        )
        check_positive("route_scale", self.route_scale, "m")
        check_positive("goal_scale", self.goal_scale, "m")
        check(
            self.descriptor_dim >= 4,
            "descriptor_dim",
            self.descriptor_dim,
            "must be >= 4 (max_vx, min_vx, max_vy, max_wz lead the descriptor)",
        )

    @property
    def image_channels(self) -> int:
        """Encoder input channels: 3 for RGB plus 1 for depth."""
        return 3 * int(self.use_rgb) + int(self.use_depth)

    @property
    def latent_dim(self) -> int:
        """Size of the world-model latent ``[h, z]``."""
        return self.deter_dim + self.stoch_dim


#: Named presets: overrides of the defaults above.
PRESETS: dict[str, dict] = {
    "default": {},
    "debug": {
        "image_height": 16,
        "image_width": 16,
        "encoder_channels": (4, 8),
        "embed_dim": 16,
        "speed_dim": 8,
        "deter_dim": 16,
        "stoch_dim": 4,
        "hidden_dim": 16,
        "route_dim": 8,
        "policy_state_dim": 16,
        "recon_size": 8,
        "decoder_channels": (8,),
    },
}


def preset(name: str, **overrides) -> XMobilityConfig:
    """The named preset with ``overrides`` applied.

    Raises:
        ConfigError: For an unknown preset name (the known ones are listed).
    """
    if name not in PRESETS:
        raise ConfigError(f"model preset={name!r}: unknown; known presets: {', '.join(PRESETS)}")
    return XMobilityConfig(**{**PRESETS[name], **overrides})
