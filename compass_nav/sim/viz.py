"""Pictures of the simulator: top-down maps, composed episode frames and GIFs.

Pure numpy + OpenCV (headless), no matplotlib: a frame costs about a millisecond, so the demo
and ``compass-nav sim view`` can draw every step. Used by :mod:`compass_nav.sim.cli`
(``sim view``), :mod:`compass_nav.demo` and the README pictures; later stages (evaluation
GIFs of failures, the ROS sim bridge) reuse :class:`EpisodeDrawer` and :func:`write_gif`.

Conventions: images are RGB uint8 (H, W, 3). World frame REP-103 (x right on the map, y up);
the grid convention of :mod:`compass_nav.sim.scenes.base` (cell [i, j] covers
``x in [j*res, (j+1)*res)``, ``y in [i*res, (i+1)*res)``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.planner import grid
from compass_nav.sim.scenes.base import RESOLUTION

__all__ = [
    "EpisodeDrawer",
    "MapView",
    "caption_bar",
    "compose_frame",
    "depth_to_rgb",
    "draw_topdown",
    "hstack_images",
    "room_crop",
    "write_gif",
    "write_png",
]

# Colours (RGB).
_FLOOR = (242, 240, 235)
_ROUTE = (30, 110, 230)
_PLAN = (150, 180, 235)
_TRAJ = (230, 120, 20)
_BODY = (200, 30, 40)
_FOV = (255, 210, 60)
_GOAL = (20, 160, 60)
_TEXT_BG = (25, 25, 30)
_ACTOR = (150, 40, 190)


@dataclasses.dataclass(frozen=True)
class MapView:
    """What part of the world a top-down map shows and at which scale.

    Attributes:
        x0, y0, x1, y1: World window, m (y0 at the bottom of the image).
        px_per_m: Pixels per metre.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    px_per_m: float = 20.0

    @property
    def size(self) -> tuple[int, int]:
        """Image (height, width) in pixels."""
        return (
            round((self.y1 - self.y0) * self.px_per_m),
            round((self.x1 - self.x0) * self.px_per_m),
        )

    def to_px(self, xy: np.ndarray) -> np.ndarray:
        """World points (..., 2) -> integer pixel (col, row) with y pointing up on the image."""
        xy = np.asarray(xy, np.float64)
        h, _ = self.size
        col = (xy[..., 0] - self.x0) * self.px_per_m
        row = h - (xy[..., 1] - self.y0) * self.px_per_m
        return np.stack([col, row], -1).round().astype(np.int32)


def room_crop(height: np.ndarray, margin: float = 0.4, px_per_m: float = 20.0) -> MapView:
    """The window around a scene's free space (the solid ring outside the room is dropped).

    Args:
        height: (G, G) obstacle heights of one scene.
        margin: Extra border shown around the free cells, m.
        px_per_m: Map scale.
    """
    free_i, free_j = np.nonzero(height <= 0)
    if free_i.size == 0:
        g = height.shape[0] * RESOLUTION
        return MapView(0.0, 0.0, g, g, px_per_m)
    return MapView(
        free_j.min() * RESOLUTION - margin,
        free_i.min() * RESOLUTION - margin,
        (free_j.max() + 1) * RESOLUTION + margin,
        (free_i.max() + 1) * RESOLUTION + margin,
        px_per_m,
    )


def _height_image(height: np.ndarray, view: MapView) -> np.ndarray:
    """Occupancy shaded by obstacle height (floor light, taller obstacles darker)."""
    g = height.shape[0]
    j0 = max(int(math.floor(view.x0 / RESOLUTION)), 0)
    j1 = min(int(math.ceil(view.x1 / RESOLUTION)), g)
    i0 = max(int(math.floor(view.y0 / RESOLUTION)), 0)
    i1 = min(int(math.ceil(view.y1 / RESOLUTION)), g)
    patch = height[i0:i1, j0:j1]
    shade = np.clip(patch / 3.0, 0.0, 1.0)
    grey = (185.0 - 150.0 * shade).astype(np.uint8)
    img = np.where(
        (patch > 0)[..., None], np.repeat(grey[..., None], 3, -1), np.array(_FLOOR, np.uint8)
    )
    img = img[::-1]  # grid row 0 is y = 0: put it at the bottom
    h, w = view.size
    # Place the grid patch into the window (the window may extend past the grid).
    scaled = cv2.resize(
        img,
        (
            round((j1 - j0) * RESOLUTION * view.px_per_m),
            round((i1 - i0) * RESOLUTION * view.px_per_m),
        ),
        interpolation=cv2.INTER_NEAREST,
    )
    canvas = np.full((h, w, 3), 40, np.uint8)
    top_left = view.to_px(np.array([j0 * RESOLUTION, i1 * RESOLUTION]))
    c0, r0 = int(top_left[0]), int(top_left[1])
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + scaled.shape[0], h), min(c0 + scaled.shape[1], w)
    if re > rs and ce > cs:
        canvas[rs:re, cs:ce] = scaled[rs - r0 : re - r0, cs - c0 : ce - c0]
    return canvas


def _visible_wedge(
    height: np.ndarray, x: float, y: float, yaw: float, hfov: float, reach: float, rays: int = 33
) -> np.ndarray:
    """Polygon (M, 2) of the floor area the camera sees, cut at the first obstacle per ray."""
    g = height.shape[0]
    az = yaw + np.linspace(hfov / 2, -hfov / 2, rays)
    r = np.arange(0.0, reach, RESOLUTION * 0.5)
    px = x + np.cos(az)[:, None] * r[None]
    py = y + np.sin(az)[:, None] * r[None]
    i = np.clip((py / RESOLUTION).astype(int), 0, g - 1)
    j = np.clip((px / RESOLUTION).astype(int), 0, g - 1)
    blocked = height[i, j] > 0
    first = np.where(blocked.any(1), blocked.argmax(1), r.size - 1)
    ends = np.stack([px[np.arange(rays), first], py[np.arange(rays), first]], 1)
    return np.concatenate([[[x, y]], ends], 0)


def _footprint(x: float, y: float, yaw: float, length: float, width: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    corners = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [length / 2, width / 2]
    return np.stack(
        [x + c * corners[:, 0] - s * corners[:, 1], y + s * corners[:, 0] + c * corners[:, 1]], 1
    )


def draw_topdown(
    height: np.ndarray,
    pose: Sequence[float],
    body: EmbodimentSpec,
    goal: Sequence[float] | None = None,
    route: np.ndarray | None = None,
    plan: np.ndarray | None = None,
    trajectory: np.ndarray | None = None,
    view: MapView | None = None,
    goal_tolerance: float = 0.5,
    fov_reach: float = 4.0,
    actors: np.ndarray | None = None,
) -> np.ndarray:
    """Top-down map of one scene with the robot, its camera's view and its task.

    Args:
        height: (G, G) obstacle heights, m (0 = floor), shaded darker with height.
        pose: Robot (x, y, yaw), world.
        body: The embodiment (footprint rectangle and camera field of view).
        goal: Goal (x, y, yaw), world: tolerance circle and heading arrow.
        route: (K, 2) world waypoints the policy is given (dots joined by a line).
        plan: (M, 2) world polyline of the full global plan (thin line).
        trajectory: (T, 2) world positions driven so far (a dot marks the start).
        view: Window and scale; default :func:`room_crop` of ``height``.
        goal_tolerance: Radius of the goal circle, m.
        fov_reach: How far the camera wedge is drawn when nothing blocks it, m.
        actors: (M, 5) moving obstacles (x, y, vx, vy, radius), world m and m/s: an outlined
            disc over their cells and an arrow to where they will be in 1 s; rows with radius
            0 are skipped.

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    view = view or room_crop(height)
    img = _height_image(height, view)
    x, y, yaw = (float(v) for v in pose[:3])
    lw = max(1, round(view.px_per_m / 15))

    overlay = img.copy()
    cam_x = x + body.camera_x * math.cos(yaw)
    cam_y = y + body.camera_x * math.sin(yaw)
    wedge = _visible_wedge(
        height,
        cam_x,
        cam_y,
        yaw,
        math.radians(body.camera_hfov_deg),
        min(fov_reach, body.camera_far),
    )
    cv2.fillPoly(overlay, [view.to_px(wedge)], _FOV)
    cv2.addWeighted(overlay, 0.35, img, 0.65, 0, dst=img)

    if plan is not None and len(plan) > 1:
        cv2.polylines(img, [view.to_px(plan)], False, _PLAN, lw, cv2.LINE_AA)
    if goal is not None:
        gx, gy, gyaw = (float(v) for v in goal[:3])
        centre = tuple(int(v) for v in view.to_px(np.array([gx, gy])))
        cv2.circle(
            img, centre, max(2, round(goal_tolerance * view.px_per_m)), _GOAL, lw, cv2.LINE_AA
        )
        tip = view.to_px(np.array([gx + 0.6 * math.cos(gyaw), gy + 0.6 * math.sin(gyaw)]))
        cv2.arrowedLine(
            img, centre, tuple(int(v) for v in tip), _GOAL, lw + 1, cv2.LINE_AA, tipLength=0.35
        )
    if trajectory is not None and len(trajectory) > 0:
        traj = view.to_px(np.asarray(trajectory)[:, :2])
        cv2.circle(img, (int(traj[0, 0]), int(traj[0, 1])), lw + 2, _TRAJ, -1, cv2.LINE_AA)
        if len(traj) > 1:
            cv2.polylines(img, [traj], False, _TRAJ, lw + 1, cv2.LINE_AA)
    if route is not None and len(route) > 0:
        pts = view.to_px(np.concatenate([[[x, y]], np.asarray(route)[:, :2]], 0))
        cv2.polylines(img, [pts], False, _ROUTE, lw, cv2.LINE_AA)
        for p in pts[1:]:
            cv2.circle(img, (int(p[0]), int(p[1])), lw + 1, _ROUTE, -1, cv2.LINE_AA)

    for ax, ay, avx, avy, ar in np.asarray(actors if actors is not None else np.zeros((0, 5))):
        if ar <= 0:
            continue
        centre = tuple(int(v) for v in view.to_px(np.array([ax, ay])))
        cv2.circle(img, centre, max(2, round(ar * view.px_per_m)), _ACTOR, lw + 1, cv2.LINE_AA)
        if math.hypot(avx, avy) > 0.05:
            tip = tuple(int(v) for v in view.to_px(np.array([ax + avx, ay + avy])))
            cv2.arrowedLine(img, centre, tip, _ACTOR, lw, cv2.LINE_AA, tipLength=0.3)

    fp = view.to_px(_footprint(x, y, yaw, body.length, body.width))
    overlay = img.copy()
    cv2.fillPoly(overlay, [fp], _BODY)
    cv2.addWeighted(overlay, 0.45, img, 0.55, 0, dst=img)
    cv2.polylines(img, [fp], True, _BODY, lw, cv2.LINE_AA)
    nose = view.to_px(
        np.array([x + 0.5 * body.length * math.cos(yaw), y + 0.5 * body.length * math.sin(yaw)])
    )
    centre = view.to_px(np.array([x, y]))
    cv2.line(
        img, tuple(int(v) for v in centre), tuple(int(v) for v in nose), _BODY, lw, cv2.LINE_AA
    )
    return img


def depth_to_rgb(depth: np.ndarray, max_depth: float = 6.0) -> np.ndarray:
    """Colour-map a depth image (m) for viewing: near is warm, far is cool, 0 (no hit) black.

    Args:
        depth: (H, W) float depth in metres.
        max_depth: Depth shown with the last colour; farther values saturate.
    """
    d = np.asarray(depth, np.float32)
    v = (255.0 * (1.0 - np.clip(d / max_depth, 0.0, 1.0))).astype(np.uint8)
    bgr = cv2.applyColorMap(v, cv2.COLORMAP_TURBO)
    rgb = bgr[..., ::-1].copy()
    rgb[d <= 0] = 0
    return rgb


def _fit_height(img: np.ndarray, height: int) -> np.ndarray:
    if img.shape[0] == height:
        return img
    width = max(1, round(img.shape[1] * height / img.shape[0]))
    # Upscaling small ego images: nearest keeps the pixels honest; downscaling maps: area.
    interp = cv2.INTER_NEAREST if height > img.shape[0] else cv2.INTER_AREA
    return cv2.resize(img, (width, height), interpolation=interp)


def hstack_images(images: Sequence[np.ndarray], height: int, gap: int = 4) -> np.ndarray:
    """Scale every image to ``height`` and put them side by side with a dark gap."""
    parts = []
    for k, im in enumerate(images):
        if k:
            parts.append(np.full((height, gap, 3), _TEXT_BG, np.uint8))
        parts.append(_fit_height(im, height))
    return np.concatenate(parts, 1)


def caption_bar(text: str, width: int, height: int = 22) -> np.ndarray:
    """A dark strip with one line of white text, ``width`` pixels wide (text shrunk to fit)."""
    bar = np.full((height, width, 3), _TEXT_BG, np.uint8)
    scale = height / 40.0
    text_w = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
    if text_w > width - 12:  # shrink rather than cut the line off
        scale *= (width - 12) / text_w
    cv2.putText(
        bar,
        text,
        (6, round(height * 0.72)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (240, 240, 240),
        1,
        cv2.LINE_AA,
    )
    return bar


def compose_frame(
    rgb: np.ndarray,
    depth: np.ndarray | None,
    topdown: np.ndarray,
    caption: str,
    height: int = 120,
    max_depth: float = 6.0,
) -> np.ndarray:
    """One episode frame: [ego RGB over colour-mapped depth] | top-down map, caption on top.

    The two ego views are stacked so that the map, beside them, gets twice their height: at
    the same height as a 64x64 ego image a whole room would be too small to read.

    Args:
        rgb: (h, w, 3) uint8 ego image.
        depth: (h, w) float depth, m, or ``None`` when the env renders no depth.
        topdown: Map from :func:`draw_topdown`.
        caption: One line (embodiment, family, step, speed...).
        height: Height each ego view is scaled to, px (nearest-neighbour upscaling).
        max_depth: Depth colour-map range, m.
    """
    gap = 4
    ego = [_fit_height(rgb, height)]
    if depth is not None:
        ego += [
            np.full((gap, ego[0].shape[1], 3), _TEXT_BG, np.uint8),
            _fit_height(depth_to_rgb(depth, max_depth), height),
        ]
    left = np.concatenate(ego, 0)
    row = hstack_images([left, topdown], left.shape[0], gap)
    return np.concatenate([caption_bar(caption, row.shape[1]), row], 0)


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Write RGB frames as an endlessly looping GIF (parent folders are created).

    Args:
        frames: (H, W, 3) uint8 images of one size.
        path: Destination ``.gif``.
        fps: Playback rate (the simulator's control rate is 10 Hz).

    Returns:
        The path written.
    """
    import imageio.v3 as iio

    if not frames:
        raise ValueError("write_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    return path


def write_png(image: np.ndarray, path: str | Path) -> Path:
    """Write one RGB uint8 image as PNG (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1])):
        raise OSError(f"could not write {path}")
    return path


def _actor_rows(privileged: dict, e: int) -> np.ndarray | None:
    """(M, 5) rows (x, y, vx, vy, radius) of env ``e``'s moving obstacles, or None."""
    if "actors_pos" not in privileged or privileged["actors_pos"].shape[1] == 0:
        return None
    return np.concatenate(
        [
            privileged["actors_pos"][e],
            privileged["actors_vel"][e],
            privileged["actors_radius"][e][:, None],
        ],
        1,
    )


class EpisodeDrawer:
    """Keeps each env's trajectory and draws frames of any env of a :class:`NavVectorEnv`.

    Call :meth:`observe` after ``reset`` and after every ``step`` with the returned
    observation; with NEXT_STEP autoreset, an observation flagged ``episode_start`` begins a
    new trajectory. The recorder only reads the env (``privileged()`` and ``env_bodies``).

    Usage::

        rec = EpisodeDrawer(env)
        obs, _ = env.reset(seed=0)
        rec.observe(obs, np.ones(env.num_envs, bool))
        frames = [rec.frame(obs, 0)]
    """

    def __init__(self, env, px_per_m: float = 20.0) -> None:
        self.env = env
        self.px_per_m = px_per_m
        self.trajectories: list[list[tuple[float, float]]] = [[] for _ in range(env.num_envs)]
        self.steps = np.zeros(env.num_envs, np.int64)
        self._views: dict[int, tuple[int, MapView]] = {}

    def observe(self, obs: dict, episode_start: np.ndarray) -> None:
        """Append the current poses; restart trajectories where an episode starts."""
        pose = self.env.privileged()["pose"]
        for e in range(self.env.num_envs):
            if episode_start[e]:
                self.trajectories[e] = []
                self.steps[e] = 0
            else:
                self.steps[e] += 1
            self.trajectories[e].append((float(pose[e, 0]), float(pose[e, 1])))

    def _view(self, e: int) -> MapView:
        seed = int(self.env.scene_seed[e])
        cached = self._views.get(e)
        if cached is None or cached[0] != seed:
            cached = (seed, room_crop(self.env.privileged()["height"][e], px_per_m=self.px_per_m))
            self._views[e] = cached
        return cached[1]

    def topdown(self, obs: dict, e: int) -> np.ndarray:
        """Top-down map of env ``e`` now (route from ``obs``, full plan, trajectory, goal)."""
        p = self.env.privileged()
        pose = p["pose"][e]
        c, s = math.cos(pose[2]), math.sin(pose[2])
        r = np.asarray(obs["route"][e], np.float64)
        route = np.stack(
            [pose[0] + c * r[:, 0] - s * r[:, 1], pose[1] + s * r[:, 0] + c * r[:, 1]], 1
        )
        plan = grid.descend_path(p["cost_to_go"][e], float(pose[0]), float(pose[1]), 2000)
        if len(plan):
            plan = np.concatenate([plan, p["goal"][e][None, :2]], 0)
        return draw_topdown(
            p["height"][e],
            pose,
            self.env.env_bodies[e],
            goal=p["goal"][e],
            route=route,
            plan=plan,
            trajectory=np.array(self.trajectories[e]),
            view=self._view(e),
            goal_tolerance=self.env.cfg.goal_tolerance,
            actors=_actor_rows(p, e),
        )

    def caption(self, obs: dict, e: int, extra: str = "") -> str:
        """``embodiment | family | step | speed`` line for env ``e``."""
        vx, vy, wz = (float(v) for v in obs["speed"][e])
        text = (
            f"{self.env.env_bodies[e].name} | {self.env.env_family[e]} | "
            f"step {int(self.steps[e])} | v=({vx:+.2f}, {vy:+.2f}) m/s wz={wz:+.2f} rad/s"
        )
        return f"{text} | {extra}" if extra else text

    def frame(self, obs: dict, e: int, extra: str = "", height: int = 120) -> np.ndarray:
        """Composed frame of env ``e`` (see :func:`compose_frame`), with the caption."""
        if "rgb" in obs:
            rgb = obs["rgb"][e]
        else:
            h, w = obs["depth"].shape[1:3]
            rgb = np.zeros((h, w, 3), np.uint8)
        depth = obs["depth"][e] if "depth" in obs else None
        return compose_frame(
            rgb, depth, self.topdown(obs, e), self.caption(obs, e, extra), height=height
        )
