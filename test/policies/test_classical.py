"""The classical local planner: camera model vs the renderer, costmap, closed-loop avoidance."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.evaluation import EvalConfig, evaluate
from compass_nav.policies import make_policy
from compass_nav.policies.classical import (
    ClassicalConfig,
    ClassicalPlanner,
    depth_scan,
    footprint_discs,
)
from compass_nav.sim import render as R
from compass_nav.sim.config import EpisodeSpec
from compass_nav.sim.scenes import GRID_CELLS, RESOLUTION
from compass_nav.sim.scenes.base import APPEARANCE_DIM
from compass_nav.utils.errors import ConfigError


def _render_depth(height: np.ndarray, pose, body, hw=(48, 48)) -> np.ndarray:
    """Depth image of ``height`` (G, G) with the simulator's own renderer."""
    app = np.zeros((1, APPEARANCE_DIM), np.float32)
    app[0, R._CEILH] = 10.0  # a high ceiling, out of the obstacle band
    app[0, R._LIGHT] = 1.0
    cams = np.array(
        [
            [
                body.camera_height,
                body.camera_pitch,
                np.radians(body.camera_hfov_deg),
                body.camera_x,
                body.camera_near,
                body.camera_far,
            ]
        ]
    )
    _, depth = R.render(
        height[None].astype(np.float32),
        np.zeros((1,) + height.shape, np.uint8),
        app,
        np.array([pose], np.float64),
        cams,
        np.zeros(1, np.int64),
        np.zeros(1, np.int64),
        hw,
        rgb=False,
    )
    return depth


@pytest.mark.parametrize("name", ["carter", "h1", "spot"])
def test_depth_scan_finds_a_box_where_the_renderer_put_it(name):
    """Back-projection uses the renderer's pinhole and pitch convention for every body."""
    body = get_embodiment(name)
    g = GRID_CELLS
    height = np.zeros((g, g), np.float32)
    # A 0.3 m high box spanning y in [-0.6, 0.6] m, front face 2.5 m ahead of the robot.
    x0, y0 = 10.0, 12.0
    i0, i1 = int((y0 - 0.6) / RESOLUTION), int((y0 + 0.6) / RESOLUTION)
    j0, j1 = int((x0 + 2.5) / RESOLUTION), int((x0 + 3.0) / RESOLUTION)
    height[i0:i1, j0:j1] = 0.3
    depth = _render_depth(height, (x0, y0, 0.0), body)
    descr = body.descriptor()[None]
    pts, ranges, _, _ = depth_scan(depth, descr, ClassicalConfig())
    hit = np.isfinite(ranges[0])
    assert hit.any(), "the box must be seen"
    p = pts[0, hit]
    # Every obstacle point lies on the box's front face (within a cell).
    assert np.all(np.abs(p[:, 0] - 2.5) < 0.12), p[:, 0]
    assert np.all(np.abs(p[:, 1]) < 0.65)
    # ... and the floor alone gives no obstacle at all.
    empty = _render_depth(np.zeros((g, g), np.float32), (x0, y0, 0.0), body)
    _, r_empty, _, _ = depth_scan(empty, descr, ClassicalConfig())
    assert not np.isfinite(r_empty).any()


def test_footprint_discs_cover_the_rectangle():
    for name in ("carter", "spot", "h1"):
        body = get_embodiment(name)
        centres, radius = footprint_discs(body.descriptor()[None])
        # Sample the rectangle's boundary: every point is inside some disc.
        xs = np.linspace(-body.length / 2, body.length / 2, 25)
        ys = np.linspace(-body.width / 2, body.width / 2, 25)
        pts = np.array([(x, y) for x in xs for y in ys])
        d = np.hypot(
            pts[:, None, 0] - centres[0, None, :, 0], pts[:, None, 1] - centres[0, None, :, 1]
        )
        assert (d.min(axis=1) <= radius[0] + 1e-6).all(), name
        assert radius[0] < body.circumscribed_radius  # tighter than one disc


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="grid_cells"):
        ClassicalConfig(grid_cells=5)
    with pytest.raises(ConfigError, match="sim_dt"):
        ClassicalConfig(horizon=0.5, sim_dt=1.0)


def test_registered_and_observation_only():
    pol = make_policy("classical")
    assert isinstance(pol, ClassicalPlanner)
    # Runs on a bare observation (no env bound): what a robot gives it.
    n, h, w = 2, 32, 32
    descr = np.stack([get_embodiment("carter").descriptor()] * n)
    obs = {
        "depth": np.zeros((n, h, w), np.float32),
        "speed": np.zeros((n, 3), np.float32),
        "route": np.tile(np.linspace(0.4, 4.0, 10)[None, :, None] * [1.0, 0.0], (n, 1, 1)),
        "goal": np.array([[5.0, 0.0, 0.0]] * n, np.float32),
        "embodiment": descr,
    }
    a = pol.act(obs, np.ones(n, bool))
    assert a.shape == (n, 3) and a.dtype == np.float32
    # Nothing seen, goal straight ahead: drive forward, no turning.
    assert (a[:, 0] > 0.5).all() and np.allclose(a[:, 2], 0.0, atol=0.35)


def test_avoids_the_obstacle_the_blind_follower_hits():
    """Office, validation split, mapless route: the straight line is blocked.

    The blind route follower drives into the obstacle; the classical planner sees it in the
    depth image and reaches the goal, on the very same episode.
    """
    ep = EpisodeSpec(
        split="validation",
        families=("office",),
        route_mode="mapless",
        image_height=32,
        image_width=32,
        max_episode_steps=200,
    )
    cfg = EvalConfig(embodiments=("carter",), episode=ep, episodes=1, gifs=0, workers=1)
    blind = evaluate("goal_seeker", cfg, progress=False).records[0]
    seen = evaluate("classical", cfg, progress=False).records[0]
    assert blind["scene_seed"] == seen["scene_seed"] and blind["line_blocked"]
    assert blind["collision"] and not blind["success"]
    assert seen["success"] and not seen["collision"]


def test_costmap_follows_odometry_and_clears_what_it_sees_through():
    """Stored points move opposite to the robot's motion; seen-through ones are dropped."""
    pol = ClassicalPlanner(memory_steps=5)
    w = 4
    pol._reset_state(1, w)
    hfov = np.array([np.radians(90.0)])
    none = np.full((1, w, 2), np.nan)
    wall = np.zeros((1, w))  # every column sees an obstacle at once: nothing is cleared
    blind = np.zeros((1, w))
    pol._mem[0, 0, 0] = (-2.0, 0.0)  # behind the robot, out of view
    pol._mem[0, 0, 1] = (0.0, 2.0)  # on its left, out of view
    pol._prev_speed[:] = (1.0, 0.0, 0.0)
    pol._head = 1
    pol._update_costmap(np.array([[1.0, 0.0, 0.0]]), none, wall, blind, hfov)  # 0.1 s ahead
    assert np.allclose(pol._mem[0, 0, 0], (-2.1, 0.0))
    pol._prev_speed[:] = (0.0, 0.0, np.pi / 2)
    for _ in range(10):  # a quarter turn left in place (1 s)
        pol._head = 1
        occ = pol._update_costmap(np.array([[0.0, 0.0, np.pi / 2]]), none, wall, blind, hfov)
    assert np.allclose(pol._mem[0, 0, 0], (0.0, 2.1), atol=1e-6)
    assert np.allclose(pol._mem[0, 0, 1], (2.0, 0.1), atol=1e-6)  # now ahead
    g = pol.cfg.grid_cells
    assert occ[0, g // 2 + 1, g // 2 + 20] and occ.sum() == 2
    # The scan now sees nothing ahead (free to the horizon): the point ahead is cleared.
    pol._prev_speed[:] = 0.0
    pol._head = 2  # standing still refreshes the latest slot (1), not the stored one (0)
    occ = pol._update_costmap(np.zeros((1, 3)), none, np.full((1, w), np.inf), blind, hfov)
    assert np.isnan(pol._mem[0, 0, 1]).all() and occ.sum() == 1


def test_richer_descriptors_are_used_by_name():
    """Fields beyond the first 15 (here: a car-like minimum turning radius) are read by name."""
    from compass_nav.contract.body import DESCRIPTOR_FIELDS_V1
    from compass_nav.policies.classical import optional_field

    rover = get_embodiment("rover")
    assert rover.min_turn_radius > 0
    old = rover.descriptor()[None, : len(DESCRIPTOR_FIELDS_V1)]
    assert not optional_field(old, "min_turn_radius").any()  # a 15-field descriptor: zeros
    descr = rover.descriptor()[None].astype(np.float64)
    r = rover.min_turn_radius
    assert optional_field(descr, "min_turn_radius")[0] == pytest.approx(r)
    cmds = ClassicalPlanner()._candidates(descr)
    # No command turns tighter than the radius; nothing turns in place.
    assert (np.abs(cmds[0, :, 2]) <= np.abs(cmds[0, :, 0]) / r + 1e-6).all()
    assert (np.abs(cmds[0, :, 2]) > 0).any()


def test_a_car_and_a_diff_drive_body_in_one_batch_get_finite_candidates():
    """A mixed batch (one body with a turning radius, one without) samples no NaN command."""
    descr = np.stack([get_embodiment(n).descriptor() for n in ("rover", "carter")]).astype(
        np.float64
    )
    cmds = ClassicalPlanner()._candidates(descr)
    assert np.isfinite(cmds).all()
    # The differential-drive body keeps its in-place turns, the car has none.
    in_place = (cmds[..., 0] == 0) & (cmds[..., 1] == 0)
    assert (np.abs(cmds[1][in_place[1], 2]) > 0).any()
    assert (cmds[0][in_place[0], 2] == 0).all()
