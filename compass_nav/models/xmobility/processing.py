"""Every pre- and post-processing step of the X-Mobility policy, in torch ops only.

The model (:mod:`.modeling`), the trainer, the checkpoint loader and the ONNX export all go
through these functions, so the ROS runtime never re-implements normalisation or limits: the
export stage traces them into the graph together with the network. Nothing here branches on
tensor values (only on static shapes), which keeps it traceable.

Conventions:
    * Images: ``rgb`` uint8 (B, H, W, 3) and ``depth`` float metres (B, H, W) in, one float
      tensor (B, C, h, w) out: RGB in [-0.5, 0.5], depth clipped to ``max_depth`` and scaled
      to [0, 1]; resized (bilinear) when the camera size differs from the model's.
    * Actions: the network's tanh output ``u`` in [-1, 1] is a *fraction of the body's limits*:
      ``vx = u * max_vx`` forwards and ``u * |min_vx|`` backwards, ``vy = u * max_vy``,
      ``wz = u * max_wz``, the limits read from the embodiment descriptor (fields of
      :data:`compass_nav.contract.body.DESCRIPTOR_FIELDS`), then clipped to the limits. The
      same network output thus means the same thing on every body.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from compass_nav.contract.body import DESCRIPTOR_FIELDS
from compass_nav.models.xmobility.configuration import XMobilityConfig

__all__ = [
    "action_limits",
    "depth_target",
    "goal_features",
    "image_input",
    "normalise_action",
    "normalise_path",
    "obs_to_tensors",
    "resize_frames",
    "route_features",
    "scale_action",
    "speed_features",
    "unnormalise_path",
]

_I_MAX_VX = DESCRIPTOR_FIELDS.index("max_vx")
_I_MIN_VX = DESCRIPTOR_FIELDS.index("min_vx")
_I_MAX_VY = DESCRIPTOR_FIELDS.index("max_vy")
_I_MAX_WZ = DESCRIPTOR_FIELDS.index("max_wz")
_EPS = 1e-6

#: Observation keys the model reads, with their dtype once converted to tensors.
OBS_KEYS: tuple[str, ...] = ("rgb", "depth", "speed", "route", "goal", "embodiment")


def obs_to_tensors(obs: dict, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Numpy observation dict (simulator contract) -> torch tensors, without copying data.

    Images keep their dtype (uint8 RGB, float depth); normalisation happens in
    :func:`image_input`. Missing camera streams are simply absent from the result.
    """
    out = {}
    for key in OBS_KEYS:
        if key in obs and obs[key] is not None:
            out[key] = torch.as_tensor(obs[key], device=device)
    return out


def image_input(
    rgb: torch.Tensor | None, depth: torch.Tensor | None, cfg: XMobilityConfig
) -> torch.Tensor:
    """Camera images -> normalised encoder input.

    Args:
        rgb: (B, H, W, 3) uint8 (used when ``cfg.use_rgb``).
        depth: (B, H, W) metres, any float dtype (used when ``cfg.use_depth``).
        cfg: Model config (input size, streams, ``max_depth``).

    Returns:
        (B, C, image_height, image_width) float32, RGB channels first, then depth.
    """
    # Resize the raw values first (as resize_frames does), then normalise: the clamp of the
    # depth is not linear, so the order decides what a trainer with pre-resized frames sees.
    size = (cfg.image_height, cfg.image_width)
    chans = []
    if cfg.use_rgb:
        if rgb is None:
            raise ValueError("this model reads RGB: the observation has no 'rgb'")
        x = rgb.permute(0, 3, 1, 2).float()
        if x.shape[-2:] != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        chans.append(x * (1.0 / 255.0) - 0.5)
    if cfg.use_depth:
        if depth is None:
            raise ValueError("this model reads depth: the observation has no 'depth'")
        d = depth.float().unsqueeze(1)
        if d.shape[-2:] != size:
            d = F.interpolate(d, size=size, mode="bilinear", align_corners=False)
        chans.append(torch.clamp(d, 0.0, cfg.max_depth) * (1.0 / cfg.max_depth))
    x = torch.cat(chans, 1) if len(chans) > 1 else chans[0]
    return x


def resize_frames(
    rgb: torch.Tensor, depth: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize stored frames once, the way :func:`image_input` resizes them on the fly.

    Lets a trainer keep demonstrations at the model's input size (less memory, no resize per
    batch); RGB is rounded back to uint8 (at most half a grey level from the on-the-fly path).

    Args:
        rgb: (T, H, W, 3) uint8.
        depth: (T, H, W) metres (any float dtype; the result keeps it).
        height: Target height, pixels.
        width: Target width, pixels.

    Returns:
        ``(rgb, depth)`` resized: (T, height, width, 3) uint8 and (T, height, width).
    """
    size = (height, width)
    x = F.interpolate(
        rgb.permute(0, 3, 1, 2).float(), size=size, mode="bilinear", align_corners=False
    )
    rgb_out = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    d = F.interpolate(depth.float().unsqueeze(1), size=size, mode="bilinear", align_corners=False)
    return rgb_out, d.squeeze(1).to(depth.dtype)


def depth_target(image: torch.Tensor, cfg: XMobilityConfig) -> torch.Tensor:
    """Reconstruction target: the normalised depth channel of ``image``, average-pooled.

    Args:
        image: (B, C, h, w) output of :func:`image_input` (depth is the last channel).
        cfg: Model config (``recon_size``).

    Returns:
        (B, 1, recon_size, recon_size) in [0, 1].
    """
    return F.adaptive_avg_pool2d(image[:, -1:], cfg.recon_size)


def speed_features(speed: torch.Tensor, cfg: XMobilityConfig) -> torch.Tensor:
    """(B, 3) body (vx, vy, wz) -> (B, 3) divided by ``speed_scale``."""
    scale = torch.tensor(cfg.speed_scale, dtype=torch.float32, device=speed.device)
    return speed.float() / scale


def route_features(route: torch.Tensor, cfg: XMobilityConfig) -> torch.Tensor:
    """(B, K, 2) robot-frame waypoints -> (B, 2K) scaled by ``route_scale``."""
    if route.shape[-2] != cfg.route_points:
        raise ValueError(
            f"route has {route.shape[-2]} waypoints, the model reads "
            f"route_points={cfg.route_points}"
        )
    return route.float().flatten(-2) * (1.0 / cfg.route_scale)


def goal_features(goal: torch.Tensor, cfg: XMobilityConfig) -> torch.Tensor:
    """(B, 3) robot-frame (x, y, yaw) -> (B, 4) (x, y scaled; cos yaw, sin yaw)."""
    goal = goal.float()
    xy = goal[:, :2] * (1.0 / cfg.goal_scale)
    return torch.cat([xy, torch.cos(goal[:, 2:3]), torch.sin(goal[:, 2:3])], 1)


def action_limits(embodiment: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper (vx, vy, wz) limits, each (B, 3), from (B, D) descriptors."""
    e = embodiment.float()
    low = torch.stack([e[:, _I_MIN_VX], -e[:, _I_MAX_VY], -e[:, _I_MAX_WZ]], 1)
    high = torch.stack([e[:, _I_MAX_VX], e[:, _I_MAX_VY], e[:, _I_MAX_WZ]], 1)
    return low, high


def scale_action(u: torch.Tensor, embodiment: torch.Tensor) -> torch.Tensor:
    """Fractions of the limits (B, 3) in [-1, 1] -> SI (vx, vy, wz) clipped to the body.

    Positive fractions scale the upper limit and negative ones the (absolute) lower limit, so
    an asymmetric range (a slow reverse) keeps full resolution both ways.
    """
    low, high = action_limits(embodiment)
    a = torch.where(u >= 0, u * high, -u * low)
    return torch.maximum(torch.minimum(a, high), low)


def normalise_action(action: torch.Tensor, embodiment: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`scale_action`: SI (B, 3) -> fractions in [-1, 1].

    A zero limit (``max_vy`` of a differential drive) maps to 0 whatever the command.
    """
    low, high = action_limits(embodiment)
    a = action.float()
    u = torch.where(a >= 0, a / torch.clamp(high, min=_EPS), a / torch.clamp(-low, min=_EPS))
    u = torch.where(
        a >= 0,
        torch.where(high > _EPS, u, torch.zeros_like(u)),
        torch.where(-low > _EPS, u, torch.zeros_like(u)),
    )
    return torch.clamp(u, -1.0, 1.0)


def normalise_path(path: torch.Tensor, cfg: XMobilityConfig) -> torch.Tensor:
    """(..., P, 2) metres -> (..., 2P) scaled (the path head's regression target)."""
    return path.float().flatten(-2) * (1.0 / cfg.route_scale)


def unnormalise_path(path: torch.Tensor, cfg: XMobilityConfig) -> torch.Tensor:
    """(..., 2P) path head output -> (..., P, 2) metres, robot frame."""
    return (path * cfg.route_scale).unflatten(-1, (cfg.path_points, 2))
