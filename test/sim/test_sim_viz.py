"""Pictures of the simulator: top-down map geometry, composed frames, GIFs, the recorder."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.scenes.base import GRID_CELLS
from compass_nav.sim.viz import (
    EpisodeDrawer,
    MapView,
    compose_frame,
    depth_to_rgb,
    draw_topdown,
    room_crop,
    write_gif,
    write_png,
)
from compass_nav.teacher import Teacher


def _empty_room() -> np.ndarray:
    h = np.full((GRID_CELLS, GRID_CELLS), 3.0, np.float32)
    h[100:140, 80:160] = 0.0  # free interior: x in [8, 16), y in [10, 14)
    h[110:115, 90:95] = 0.5  # a low box
    return h


def test_map_view_geometry():
    view = MapView(0.0, 0.0, 10.0, 5.0, px_per_m=10)
    assert view.size == (50, 100)
    px = view.to_px(np.array([[0.0, 0.0], [10.0, 5.0], [2.0, 1.0]]))
    np.testing.assert_array_equal(px, [[0, 50], [100, 0], [20, 40]])  # y points up


def test_room_crop_frames_the_free_space():
    view = room_crop(_empty_room(), margin=0.5, px_per_m=10)
    assert (view.x0, view.y0) == (7.5, 9.5)
    assert (view.x1, view.y1) == (16.5, 14.5)


def test_topdown_draws_robot_goal_and_heights():
    height = _empty_room()
    body = get_embodiment("carter")
    view = room_crop(height, margin=0.5, px_per_m=20)
    img = draw_topdown(
        height,
        (10.0, 12.0, 0.0),
        body,
        goal=(14.0, 12.0, 0.0),
        route=np.array([[10.5, 12.0], [11.0, 12.0]]),
        trajectory=np.array([[9.0, 12.0], [10.0, 12.0]]),
        view=view,
    )
    assert img.shape == (*view.size, 3) and img.dtype == np.uint8
    col, row = view.to_px(np.array([10.0, 12.0]))
    r, g, b = img[row, col].astype(int)
    assert r > 150 and g < 120  # the body rectangle is drawn red at its pose
    gc, gr = view.to_px(np.array([14.0 - 0.5, 12.0]))  # goal circle at 0.5 m
    assert img[gr, gc, 1] > img[gr, gc, 0]  # green
    # Obstacles are shaded by height: the tall wall darker than the low box.
    wc, wr = view.to_px(np.array([7.7, 12.0]))
    bc, br = view.to_px(np.array([9.25, 11.25]))
    assert img[wr, wc].mean() < img[br, bc].mean() < 235


def test_topdown_draws_actors_with_their_velocity():
    height = _empty_room()
    view = room_crop(height, margin=0.5, px_per_m=20)
    body = get_embodiment("carter")
    plain = draw_topdown(height, (9.0, 11.0, 0.0), body, view=view)
    # A person at (13, 12.5) walking +x at 1 m/s; an unused slot (radius 0) is skipped.
    actors = np.array([[13.0, 12.5, 1.0, 0.0, 0.3], [11.0, 11.0, 0.0, 0.0, 0.0]])
    img = draw_topdown(height, (9.0, 11.0, 0.0), body, view=view, actors=actors)
    col, row = view.to_px(np.array([13.0 + 0.3, 12.5]))  # on its outline
    r, g, b = img[row, col].astype(int)
    assert b > g + 60 and r > g + 30  # purple
    tip_c, tip_r = view.to_px(np.array([13.8, 12.5]))  # the arrow towards 1 s ahead
    assert (
        img[tip_r - 1 : tip_r + 2, tip_c - 1 : tip_c + 2]
        != plain[tip_r - 1 : tip_r + 2, tip_c - 1 : tip_c + 2]
    ).any()
    empty_c, empty_r = view.to_px(np.array([11.0 + 0.3, 11.0]))
    np.testing.assert_array_equal(img[empty_r, empty_c], plain[empty_r, empty_c])


def test_depth_colormap_and_frame_composition():
    depth = np.linspace(0.0, 8.0, 24 * 32, dtype=np.float32).reshape(24, 32)
    rgb = depth_to_rgb(depth)
    assert rgb.shape == (24, 32, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 0).all()  # no hit -> black
    assert not np.array_equal(rgb[1, 0], rgb[-1, -1])  # near and far differ
    ego = np.zeros((24, 32, 3), np.uint8)
    topdown = np.zeros((100, 150, 3), np.uint8)
    frame = compose_frame(ego, depth, topdown, "carter | hall | step 3", height=60)
    # Ego views stacked (60 + 4 + 60), map beside them at that height, caption on top.
    assert frame.shape[0] == 22 + 124
    assert frame.shape[1] == 80 + 4 + round(150 * 124 / 100)


def test_write_gif_and_png(tmp_path):
    frames = [np.full((20, 30, 3), k * 40, np.uint8) for k in range(4)]
    path = write_gif(frames, tmp_path / "a" / "ep.gif", fps=5)
    back = iio.imread(path, index=None)
    assert back.shape[:3] == (4, 20, 30)
    png = write_png(frames[2], tmp_path / "one.png")
    np.testing.assert_array_equal(iio.imread(png)[..., :3], frames[2])


def test_recorder_follows_episodes(small_sim_config):
    env = NavVectorEnv(small_sim_config((32, 48), embodiments=("spot",), max_episode_steps=6))
    teacher = Teacher(env)
    obs, _ = env.reset(seed=2)
    rec = EpisodeDrawer(env)
    start = np.ones(2, bool)
    rec.observe(obs, start)
    prev_ended = np.zeros(2, bool)
    lengths = []
    for _ in range(8):
        obs, _, _, _, info = env.step(teacher.act())
        rec.observe(obs, prev_ended)
        lengths.append(len(rec.trajectories[0]))
        prev_ended = info["_episode"].copy()
    # 6 steps of the first episode (+ its start), then the reset restarts the trajectory.
    assert lengths[:6] == [2, 3, 4, 5, 6, 7] and lengths[6] == 1
    np.testing.assert_allclose(rec.trajectories[0][-1], env.pose[0, :2])
    frame = rec.frame(obs, 1, extra="x")
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[0] > 2 * 120
    assert "spot | office | step" in rec.caption(obs, 1)
