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
        height: (G, G) the world's obstacle heights when the episode began (with the
            obstacles a stale-map scenario added), or None: the GIF then regenerates the
            scene from its family and seed.
    """

    record: dict
    rgb: np.ndarray
    depth: np.ndarray
    poses: np.ndarray
    goal: np.ndarray
    height: np.ndarray | None = None

    @property
    def severity(self) -> tuple:
        """Sort key, smallest = worst."""
        r = self.record
        return (0 if r["collision"] else 1, -r["final_distance"], r["cell"], r["episode"])


class FailureRecorder:
    """Per-env frame rings and the K worst failed episodes seen so far."""

    def __init__(
        self, num_envs: int, height: int, width: int, max_steps: int, keep: int, memory_mb: int
    ) -> None:
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
        self._height: np.ndarray | None = None
        self.clips: list[FailureClip] = []

    def begin(
        self, envs: np.ndarray, goal_world: np.ndarray, height: np.ndarray | None = None
    ) -> None:
        """Start new episodes in ``envs`` (indices), whose world goals are ``goal_world``.

        ``height`` (N, G, G), the envs' obstacle heights, is kept for the GIFs' map.
        """
        self._count[envs] = 0
        self._goal[envs] = goal_world[envs]
        if height is not None and self.keep:
            if self._height is None:
                self._height = np.zeros(height.shape, np.float32)
            self._height[envs] = height[envs]

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
            height=None if self._height is None else self._height[env].copy(),
        )
        self.clips.append(clip)
        self.clips.sort(key=lambda c: c.severity)
        del self.clips[self.keep :]


def merge_clips(groups: list[list[FailureClip]], keep: int) -> list[FailureClip]:
    """The ``keep`` worst clips of several recorders (worker processes)."""
    clips = sorted((c for g in groups for c in g), key=lambda c: c.severity)
    return clips[:keep]


# ---------------------------------------------------------------------------- GIF rendering
def clip_frames(clip: FailureClip, height: np.ndarray, height_px: int = 128) -> list[np.ndarray]:
    """Compose GIF frames with the simulator's pictures (:mod:`compass_nav.sim.viz`).

    Each frame: ego RGB over colour-mapped depth | top-down map (obstacle heights, footprint,
    trajectory so far, goal), with a caption naming the cell, the episode and its outcome.
    """
    from compass_nav.contract.body import get_embodiment
    from compass_nav.sim import viz

    t = clip.depth.shape[0]
    r = clip.record
    body = get_embodiment(r["embodiment"])
    outcome = "collision" if r["collision"] else "timeout"
    caption = f"{r['embodiment']}/{r['family']} ep {r['episode']}: {outcome}"
    first = len(clip.poses) - t  # pose index of the first recorded frame
    view = viz.room_crop(height)
    frames = []
    for i in range(t):
        k = first + i
        top = viz.draw_topdown(
            height,
            clip.poses[k],
            body,
            goal=clip.goal,
            trajectory=clip.poses[: k + 1, :2],
            view=view,
        )
        depth_m = clip.depth[i].astype(np.float32) * (DEPTH_RANGE / 255.0)
        frames.append(
            viz.compose_frame(
                clip.rgb[i], depth_m, top, f"{caption}  t={k * 0.1:.1f}s", height=height_px
            )
        )
    return frames


def write_gif(path: str | Path, clip: FailureClip, fps: float = 10.0) -> None:
    """Write one failure clip as a looping GIF (map: the clip's, else regenerated by seed)."""
    import io

    import imageio.v3 as iio

    from compass_nav.sim.env import scene_with_clearance

    height = clip.height
    if height is None:
        height = scene_with_clearance(clip.record["family"], int(clip.record["scene_seed"]))[
            0
        ].height
    frames = clip_frames(clip, height)
    buf = io.BytesIO()
    iio.imwrite(buf, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    atomic_write_bytes(path, buf.getvalue())
