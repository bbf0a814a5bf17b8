"""Frames of the worst failures, kept while the evaluation runs, written as GIFs afterwards.

The harness pushes every step's observation into a per-env ring buffer (ego RGB and depth;
the full pose trace is kept separately because it is tiny). When an episode fails, its
severity is compared with the K worst kept so far and, if it is worse, the buffer is copied
out as a :class:`FailureClip`. Memory is bounded by ``clip_memory_mb``: the ring holds the
last ``L`` frames of each env, ``L`` chosen from the budget, so a clip shows the end of the
episode (where the collision or the stall is) plus the whole trajectory on a top-down map.

Severity, worst first: collisions before timeouts, then the larger final distance to the
goal, then cell and episode index (a deterministic tie-break).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from compass_nav.utils.atomic import atomic_write_bytes

DEPTH_RANGE = 10.0  # m mapped onto the grey scale of the depth panel


@dataclasses.dataclass
class FailureClip:
    """The recorded end of one failed episode.

    Attributes:
        record: The episode's record (see ``compass_nav.evaluation.harness``).
        rgb: (T, H, W, 3) uint8 ego frames, oldest first (the last T of the episode).
        depth: (T, H, W) uint8 depth quantised over [0, DEPTH_RANGE] m.
        poses: (S, 3) world poses of the whole episode (S >= T); the last T match the frames.
        goal: (3,) world goal pose.
    """

    record: dict
    rgb: np.ndarray
    depth: np.ndarray
    poses: np.ndarray
    goal: np.ndarray

    @property
    def severity(self) -> tuple:
        """Sort key, smallest = worst."""
        r = self.record
        return (0 if r["collision"] else 1, -r["final_distance"], r["cell"], r["episode"])


class FailureRecorder:
    """Per-env frame rings and the K worst failed episodes seen so far."""

    def __init__(self, num_envs: int, height: int, width: int, max_steps: int, keep: int,
                 memory_mb: int) -> None:
        self.keep = keep
        frame_bytes = height * width * 4
        budget = memory_mb * 2**20
        self.ring = int(np.clip(budget // max(num_envs * frame_bytes, 1), 8, max_steps + 1))
        n, L = num_envs, (self.ring if keep else 1)
        self._rgb = np.zeros((n, L, height, width, 3), np.uint8)
        self._depth = np.zeros((n, L, height, width), np.uint8)
        self._poses = np.zeros((n, max_steps + 2, 3), np.float32)
        self._goal = np.zeros((n, 3), np.float32)
        self._count = np.zeros(n, np.int64)
        self.clips: list[FailureClip] = []

    def begin(self, envs: np.ndarray, goal_world: np.ndarray) -> None:
        """Start new episodes in ``envs`` (indices), whose world goals are ``goal_world``."""
        self._count[envs] = 0
        self._goal[envs] = goal_world[envs]

    def push(self, obs: dict[str, np.ndarray], pose_world: np.ndarray) -> None:
        """Append one step of every env (``obs`` batched, ``pose_world`` (N, 3))."""
        if not self.keep:
            return
        n = self._count.shape[0]
        rows = np.arange(n)
        slot = self._count % self.ring
        if "rgb" in obs:
            self._rgb[rows, slot] = obs["rgb"]
        if "depth" in obs:
            d = np.clip(obs["depth"] * (255.0 / DEPTH_RANGE), 0, 255)
            self._depth[rows, slot] = d.astype(np.uint8)
        step = np.minimum(self._count, self._poses.shape[1] - 1)
        self._poses[rows, step] = pose_world
        self._count += 1

    def finish(self, env: int, record: dict) -> None:
        """Offer the episode that just ended in ``env``; kept if among the K worst failures."""
        if not self.keep or record["success"]:
            return
        probe = FailureClip(record, None, None, None, None)  # type: ignore[arg-type]
        if len(self.clips) >= self.keep and probe.severity >= self.clips[-1].severity:
            return
        count = int(self._count[env])
        t = min(count, self.ring)
        order = (np.arange(count - t, count)) % self.ring
        clip = FailureClip(
            record=dict(record),
            rgb=self._rgb[env, order].copy(),
            depth=self._depth[env, order].copy(),
            poses=self._poses[env, : min(count, self._poses.shape[1])].copy(),
            goal=self._goal[env].copy(),
        )
        self.clips.append(clip)
        self.clips.sort(key=lambda c: c.severity)
        del self.clips[self.keep:]


def merge_clips(groups: list[list[FailureClip]], keep: int) -> list[FailureClip]:
    """The ``keep`` worst clips of several recorders (worker processes)."""
    clips = sorted((c for g in groups for c in g), key=lambda c: c.severity)
    return clips[:keep]


# ---------------------------------------------------------------------------- GIF rendering
def _topdown(occupancy: np.ndarray, resolution: float, poses: np.ndarray, upto: int,
             goal: np.ndarray, size: int):
    """A square top-down crop around start, goal and trajectory, drawn with PIL."""
    from PIL import Image, ImageDraw

    pts = np.concatenate([poses[:, :2], goal[None, :2]], 0)
    lo, hi = pts.min(0) - 1.5, pts.max(0) + 1.5
    side = float(max(hi - lo))
    centre = (lo + hi) / 2
    x0, y0 = centre - side / 2
    g = occupancy.shape[0]
    # Sample the occupancy grid at the output pixels (row 0 = top = largest y).
    xs = x0 + (np.arange(size) + 0.5) * side / size
    ys = y0 + side - (np.arange(size) + 0.5) * side / size
    ci = np.clip((xs / resolution).astype(int), 0, g - 1)
    ri = np.clip((ys / resolution).astype(int), 0, g - 1)
    occ = occupancy[np.ix_(ri, ci)]
    img = np.where(occ[..., None], np.uint8(60), np.uint8(225)).repeat(3, axis=2)
    im = Image.fromarray(np.ascontiguousarray(img))
    draw = ImageDraw.Draw(im)

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - x0) / side * size, (y0 + side - y) / side * size

    trail = [px(*p[:2]) for p in poses[: upto + 1]]
    if len(trail) > 1:
        draw.line(trail, fill=(40, 110, 230), width=2)
    gx, gy = px(*goal[:2])
    draw.ellipse([gx - 4, gy - 4, gx + 4, gy + 4], outline=(0, 160, 0), width=2)
    draw.line([(gx, gy), px(goal[0] + 0.6 * np.cos(goal[2]), goal[1] + 0.6 * np.sin(goal[2]))],
              fill=(0, 160, 0), width=2)
    x, y, yaw = poses[min(upto, len(poses) - 1)]
    rx, ry = px(x, y)
    draw.ellipse([rx - 3, ry - 3, rx + 3, ry + 3], fill=(220, 30, 30))
    draw.line([(rx, ry), px(x + 0.5 * np.cos(yaw), y + 0.5 * np.sin(yaw))], fill=(220, 30, 30),
              width=2)
    return np.asarray(im)


def clip_frames(clip: FailureClip, occupancy: np.ndarray, resolution: float,
                scale: int | None = None) -> list[np.ndarray]:
    """Compose GIF frames: ego RGB | depth | top-down map, with a caption strip.

    ``scale`` (nearest-neighbour upsampling of the camera panels) defaults to the smallest
    factor that makes them at least 128 pixels tall.
    """
    import matplotlib
    from PIL import Image, ImageDraw

    t, h, w = clip.depth.shape
    scale = scale or max(1, -(-128 // h))
    size = h * scale
    # Near = bright: obstacles about to be hit stand out; 0 (nothing in range) stays dark.
    lut = (matplotlib.colormaps["magma"](np.linspace(1.0, 0.0, 256))[:, :3] * 255)
    lut = lut.astype(np.uint8)
    lut[0] = 0
    r = clip.record
    outcome = "collision" if r["collision"] else "timeout"
    caption = f"{r['embodiment']}/{r['family']} ep {r['episode']}: {outcome}"
    first = len(clip.poses) - t  # pose index of the first recorded frame
    frames = []
    for i in range(t):
        rgb = clip.rgb[i].repeat(scale, 0).repeat(scale, 1)
        dep = lut[clip.depth[i].repeat(scale, 0).repeat(scale, 1)]
        top = _topdown(occupancy, resolution, clip.poses, first + i, clip.goal, size)
        row = np.concatenate([rgb, dep, top], axis=1)
        im = Image.new("RGB", (row.shape[1], row.shape[0] + 14), (0, 0, 0))
        im.paste(Image.fromarray(row), (0, 14))
        ImageDraw.Draw(im).text((3, 1), f"{caption}  t={(first + i) * 0.1:.1f}s",
                                fill=(255, 255, 255))
        frames.append(np.asarray(im))
    return frames


def write_gif(path: str | Path, clip: FailureClip, fps: float = 10.0) -> None:
    """Write one failure clip as a looping GIF (scene regenerated from its seed for the map)."""
    import io

    import imageio.v3 as iio

    from compass_nav.sim.env import scene_with_clearance
    from compass_nav.sim.scenes.base import RESOLUTION

    scene, _ = scene_with_clearance(clip.record["family"], int(clip.record["scene_seed"]))
    frames = clip_frames(clip, scene.height > 0, RESOLUTION)
    buf = io.BytesIO()
    iio.imwrite(buf, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    atomic_write_bytes(path, buf.getvalue())
