"""The geometric contact judge: depth back-projection, footprint clearance, the ``map`` rule."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.scenes import RESOLUTION, list_families
from compass_nav.worldmodel.geometry import (
    MAX_CLEARANCE_M,
    DepthProjector,
    ObstacleMap,
    footprint_lattice,
)


def _scene_cells(env, e, px, py):
    """Robot-frame points of env ``e`` (at its pose) -> (in an obstacle cell, in or next to
    one) of the simulator's own grid."""
    x, y, yaw = env.pose[e, 0], env.pose[e, 1], env.pose[e, 2]
    i = np.floor((y + np.sin(yaw) * px + np.cos(yaw) * py) / RESOLUTION).astype(int)
    j = np.floor((x + np.cos(yaw) * px - np.sin(yaw) * py) / RESOLUTION).astype(int)
    occ = env.height > 0
    g = occ.shape[1] - 1
    near = np.zeros(e.size, bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            near |= occ[e, np.clip(i + di, 0, g), np.clip(j + dj, 0, g)]
    return occ[e, np.clip(i, 0, g), np.clip(j, 0, g)], near


def _two_per_family(body_name: str, size: int, seed: int):
    """Two envs of ``body_name`` per scene family, ``size`` px square, reset with ``seed``."""
    fams = tuple(list_families())
    env = NavVectorEnv(
        num_envs=2 * len(fams),
        embodiments=(body_name,),
        families=fams,
        image_height=size,
        image_width=size,
    )
    obs, _ = env.reset(seed=seed)
    return env, obs


@pytest.mark.parametrize("body_name", ["carter", "h1"])  # h1: camera pitched down, high
def test_back_projection_lands_on_obstacle_cells(body_name):
    """Obstacle points from rendered depth fall on (or next to) the scene's obstacle cells."""
    env, obs = _two_per_family(body_name, 32, seed=3)
    proj = DepthProjector(get_embodiment(body_name), 32)
    e, px, py = proj.obstacle_points(obs["depth"])
    assert e.size > 100  # every scene shows obstacles within 4 m somewhere
    _exact, near = _scene_cells(env, e, px, py)
    assert near.mean() > 0.97, near.mean()


def test_floor_only_frame_has_no_obstacles():
    """A frame of bare floor (depth of the floor plane at every lower row) maps nothing."""
    body = get_embodiment("carter")
    proj = DepthProjector(body, 16)
    # Depth of the floor plane: range t with camera_height + slope * t = 0.
    t = np.where(proj.slope < 0, -body.camera_height / np.minimum(proj.slope, -1e-9), 0.0)
    depth = np.where(proj.slope < 0, t / proj.range_per_depth, 0.0)[None].astype(np.float32)
    e, _, _ = proj.obstacle_points(depth)
    assert e.size == 0


def test_footprint_lattice_signed_distance():
    pts, dist = footprint_lattice(1.0, 0.5, margin=0.3, step=0.05)

    # Hand cases: the centre is 0.25 m inside (nearest edge: the long side), a point 0.2 m
    # ahead of the front edge is 0.2 m out, a corner point 0.1 m out on both axes is 0.141.
    def at(x, y):
        k = np.argmin(np.hypot(pts[:, 0] - x, pts[:, 1] - y))
        assert np.hypot(pts[k, 0] - x, pts[k, 1] - y) < 1e-9
        return dist[k]

    assert at(0.0, 0.0) == pytest.approx(-0.25)
    assert at(0.7, 0.0) == pytest.approx(0.2)
    assert at(0.6, 0.35) == pytest.approx(np.hypot(0.1, 0.1))
    assert dist.max() <= 0.3 + 1e-9


def test_clearance_to_one_obstacle_cell():
    """One mapped cell ahead: clearance is its nearest lattice point's distance. An
    unobserved cell needs ``min_views`` predicted frames; a measured cell overrides them."""
    body = get_embodiment("carter")
    proj = DepthProjector(body, 8)
    m = ObstacleMap(2, proj, length=1.0, width=0.5, min_views=2)
    key = m._cells(np.array([0.75]), np.array([0.05]))[0][0]  # a cell 0.2-0.3 m ahead
    pose = np.zeros((2, 3))
    m.pred[0, key] = 1  # one predicted frame: not enough
    assert m.clearance(pose).tolist() == [MAX_CLEARANCE_M, MAX_CLEARANCE_M]
    m.pred[0, key] = 2
    clr = m.clearance(pose)
    assert 0.15 <= clr[0] <= 0.26 and clr[1] == MAX_CLEARANCE_M
    assert m.clearance(pose, predicted=False)[0] == MAX_CLEARANCE_M  # measured cells only
    # Driving 0.4 m forward puts the cell inside the footprint: negative clearance.
    assert m.clearance(np.array([[0.4, 0.0, 0.0], [0.4, 0.0, 0.0]]))[0] < 0
    # Turned by 90 degrees the cell is beside the body, 0.5 m from its long side: clear.
    assert m.clearance(np.array([[0.0, 0.0, np.pi / 2]] * 2))[0] == MAX_CLEARANCE_M
    # A measured free cell overrides the predictions; a measured obstacle counts alone.
    m.observed[0, key] = True
    assert m.clearance(pose)[0] == MAX_CLEARANCE_M
    m.real[1, key] = m.observed[1, key] = True
    assert 0.15 <= m.clearance(pose, predicted=False)[1] <= 0.26


@pytest.mark.parametrize("body_name", ["carter", "h1"])
def test_measured_free_cells_are_free(body_name):
    """Cells a real frame marks as seen free hold no obstacle in the scene, and most are not
    even next to one (their obstacle cells: the back-projection test above)."""
    body = get_embodiment(body_name)
    env, obs = _two_per_family(body_name, 32, seed=4)
    n = env.num_envs
    m = ObstacleMap(n, DepthProjector(body, 32), body.length, body.width)
    m.add_real(np.zeros((n, 3)), obs["depth"], start=True)
    free = m.observed & ~m.real
    assert free.sum(1).min() > 50  # every episode sees some floor
    e, cell = np.nonzero(free)
    # Map cell -> world: start-frame cell centre, rotated and moved by the start pose.
    gi, gj = np.divmod(cell, m.g)
    sx = (gj + 0.5) * m.res - m.half
    sy = (gi + 0.5) * m.res - m.half
    exact, hit = _scene_cells(env, e, sx, sy)
    assert exact.mean() < 0.01, exact.mean()  # seen-free cells are free
    assert hit.mean() < 0.2, hit.mean()  # and mostly not even next to an obstacle


def test_map_judge_rule(imagined):
    """``map`` mode: a contact once clearance falls below the calibrated distance."""
    from compass_nav.worldmodel.imagine import MAP_CONTACT_M, MAP_SCALE_M, outcomes

    clr = np.array([[0.3, -0.02, 0.3], [0.3, 0.05, -0.1], [0.4, 0.4, 0.4]], np.float32)
    im = imagined(
        np.zeros((3, 3)),
        [3, 2, 3],
        [True, True, False],
        clearance=clr,
        clearance_first=np.full_like(clr, 1),
    )
    o = outcomes(im, 0.0, "map")  # contact below 0 m
    assert o["collision"].tolist() == [1.0, 0.0, 0.0]  # episode 1 ended before its -0.1 m
    assert o["success"].tolist() == [0.0, 1.0, 0.0] and o["timeout"].tolist() == [0, 0, 1.0]
    off = (0.1 - MAP_CONTACT_M) / MAP_SCALE_M  # contact below 0.1 m
    assert outcomes(im, off, "map")["collision"].tolist() == [1.0, 1.0, 0.0]
    assert outcomes(im, off, "map_first")["collision"].tolist() == [0.0, 0.0, 0.0]
    # map_max: measured geometry decides (episode 0 touches), else the largest hazard.
    im.clearance_first = np.array(
        [[0.3, -0.05, 0.3], [0.3, 0.3, 0.3], [0.4, 0.4, 0.4]], np.float32
    )
    im.logits = np.log(
        np.array([[0.1, 0.1, 0.1], [0.2, 0.5, 0.9], [0.3, 0.1, 0.1]])
        / (1 - np.array([[0.1, 0.1, 0.1], [0.2, 0.5, 0.9], [0.3, 0.1, 0.1]]))
    )
    np.testing.assert_allclose(outcomes(im, 0.0, "map_max")["collision"], [1.0, 0.5, 0.3])
    with pytest.raises(ValueError):
        outcomes(imagined(np.zeros((1, 1)), [1], [True]), 0.0, "map")


def test_recorded_scene_seed_is_the_episodes_own(carter_rollouts, small_sim_config):
    """Slots that end early auto-reset into new scenes; each episode keeps its first scene."""
    r = carter_rollouts("wall", 4, seed=5, steps=30)
    env = NavVectorEnv(
        small_sim_config((16, 16), num_envs=4, split="heldout", max_episode_steps=30)
    )
    obs, _ = env.reset(seed=5 * 1000)
    assert r.scene_seed.tolist() == env.scene_seed.tolist()
    np.testing.assert_array_equal(r.depth[r.start], obs["depth"].astype(np.float16))


def test_sweep_judge_weights_hazard_by_ground_covered(imagined):
    """``sweep``: a step's hazard counts per ground swept, so a slow body is not penalised for
    taking more steps and a turning one is charged for its corners' sweep."""
    from compass_nav.worldmodel.imagine import SWEEP_REF_M, outcomes, swept_distance

    v = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.3, 0.4, 0.0]])
    np.testing.assert_allclose(swept_distance(v, v, radius=0.5), [0.1, 0.05, 0.05])
    lg = np.log(0.1 / 0.9)
    im = imagined(
        np.full((2, 2), lg),
        [2, 2],
        [True, True],
        sweep=np.array([[1.0, 1.0], [0.5, 0.5]], np.float32) * SWEEP_REF_M,
    )
    np.testing.assert_allclose(outcomes(im, 0.0, "sweep")["success"], [0.81, 0.9], rtol=1e-6)
    np.testing.assert_allclose(outcomes(im, 0.0, "hazard")["success"], [0.81, 0.81], rtol=1e-6)


def test_measured_depth_reproduces_the_real_frame():
    """Depth that a real frame's measured cells determine matches that frame where they
    determine it; elsewhere the given (predicted) depth is kept unless it is nearer than the
    free stretch measured along its ray."""
    body = get_embodiment("h1")
    env, obs = _two_per_family("h1", 32, seed=4)
    n = env.num_envs
    m = ObstacleMap(n, DepthProjector(body, 32), body.length, body.width)
    m.add_real(np.zeros((n, 3)), obs["depth"], start=True)
    guess = np.full_like(obs["depth"], -1.0)
    depth, measured = m.measured_depth(np.zeros((n, 3)), guess)
    assert 0.3 < measured.mean() < 1.0
    rel = np.abs(depth - obs["depth"])[measured] / obs["depth"][measured]
    assert np.median(rel) < 0.03 and np.quantile(rel, 0.9) < 0.1, np.quantile(rel, [0.5, 0.9])
    assert (depth[~measured] >= 0.0).all()  # no nearer than the free stretch measured
    far = np.full_like(obs["depth"], 50.0)
    depth, measured = m.measured_depth(np.zeros((n, 3)), far)
    assert (depth[~measured] == 50.0).all()  # a prediction beyond it is kept


@pytest.mark.parametrize("body_name", ["carter", "spot"])
def test_plan_corridor_is_free(body_name):
    """The disc of the inscribed radius along each start plan holds no obstacle cell."""
    from compass_nav.worldmodel.rollouts import _plan_in_start_frame

    body = get_embodiment(body_name)
    env, _ = _two_per_family(body_name, 16, seed=6)
    n = env.num_envs
    plans = [_plan_in_start_frame(env, e) for e in range(n)]
    m = ObstacleMap(n, DepthProjector(body, 16), body.length, body.width)
    m.add_plan(
        np.stack([p[0] for p in plans]), np.array([p[1] for p in plans]), body.inscribed_radius
    )
    assert all(p[1] >= 2 for p in plans)
    assert m.corridor.sum(1).min() > 20  # every plan covers ground
    e, cell = np.nonzero(m.corridor)
    gi, gj = np.divmod(cell, m.g)
    sx, sy = (gj + 0.5) * m.res - m.half, (gi + 0.5) * m.res - m.half
    exact, _near = _scene_cells(env, e, sx, sy)
    # A corridor cell's centre is within the inscribed radius of the plan, whose points keep
    # that radius (plus 2 cm) from obstacle cells: only cell quantisation can touch one.
    assert exact.mean() < 0.01, exact.mean()


def test_unknown_cells_entered_count_once():
    """``enter`` counts footprint cells neither measured nor on the plan's corridor, once;
    the weighted count discounts cells in the plan's clearance band."""
    body = get_embodiment("carter")
    m = ObstacleMap(2, DepthProjector(body, 16), body.length, body.width)
    plans = np.zeros((2, 3, 2))
    plans[0] = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]
    band = 0.2
    m.add_plan(plans, np.array([3, 0]), body.inscribed_radius, band=band)  # 1: no plan
    # Weights: 0 inside the corridor, rising across the band, 1 beyond it and off the plan.
    gi, gj = np.divmod(np.arange(m.g * m.g), m.g)
    cy = (gi + 0.5) * m.res - m.half
    cx = (gj + 0.5) * m.res - m.half
    on_line = (cx > 0.2) & (cx < 1.8)  # beside the middle of the plan: distance = |y|
    for y, w in ((0.35, (0.35 - body.inscribed_radius) / band), (0.65, 1.0)):
        cells = on_line & np.isclose(np.abs(cy), y)
        np.testing.assert_allclose(m.plan_weight[0, cells], w, atol=1e-6)
    assert (m.plan_weight[1] == 1).all()
    inner = int((m.lattice_dist <= 0).sum())
    first, first_w = m.enter(np.zeros((2, 3)))
    assert 0 < first[0] < first[1]  # on the plan only the corners stick out
    assert first[1] <= inner  # lattice points share 0.1 m cells
    assert first_w[0] < first[0] and first_w[1] == first[1]
    for x in np.arange(0.1, 1.05, 0.1):  # drive a metre along the plan
        ahead, ahead_w = m.enter(np.array([[x, 0.0, 0.0], [x, 0.0, 0.0]]))
    assert ahead[0] - first[0] < 0.25 * (ahead[1] - first[1])  # the corridor vouches
    assert 50 < ahead[1] - first[1] < 70  # a metre of 0.55-0.6 m-wide ground: ~60 cells
    again, _ = m.enter(np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]))
    assert again.tolist() == ahead.tolist()  # ground already entered counts once
    # Measured ground is known too: a frame of bare floor ahead of episode 1.
    proj = m.proj
    t = np.where(proj.slope < 0, -body.camera_height / np.minimum(proj.slope, -1e-9), 0.0)
    floor = np.where(proj.slope < 0, t / proj.range_per_depth, 0.0).astype(np.float32)
    m2 = ObstacleMap(1, proj, body.length, body.width)
    m2.add_real(np.zeros((1, 3)), floor[None], start=True)
    assert m2.enter(np.zeros((1, 3)))[0][0] == 0  # the start footprint is known free
    # Floor seen ahead (rays sampled every 5 cm may miss a cell or two of the 48).
    assert m2.enter(np.array([[1.5, 0.0, 0.0]]))[0][0] <= 3


def test_map_prior_judge_rule(imagined):
    """``map_prior``: measured contact, else survival exp(-exp(offset) * unknown cells)."""
    from compass_nav.worldmodel.imagine import outcomes

    clr = np.array(
        [[0.3, -0.05, 0.3], [0.3, 0.3, 0.3], [0.4, 0.4, 0.4], [0.3, 0.3, -0.1]], np.float32
    )
    unknown = np.array([[0, 5, 9], [0, 10, 20], [3, 30, 60], [0, 0, 0]], np.float32)
    im = imagined(
        np.zeros((4, 3)),
        [3, 2, 3, 2],
        [True, True, False, True],
        clearance_first=clr,
        unknown=unknown,
    )
    off = np.log(0.01)
    im.unknown_band = unknown * 0.5
    np.testing.assert_allclose(
        outcomes(im, off, "map_prior_band")["success"], [0.0, np.exp(-0.05), 0.0, 1.0]
    )
    o = outcomes(im, off, "map_prior")
    # Episode 1 ended after 2 transitions: 10 unknown cells; episode 3's contact came later.
    np.testing.assert_allclose(o["collision"], [1.0, 1 - np.exp(-0.1), 1 - np.exp(-0.6), 0.0])
    np.testing.assert_allclose(o["success"], [0.0, np.exp(-0.1), 0.0, 1.0])
    np.testing.assert_allclose(o["timeout"], [0.0, 0.0, np.exp(-0.6), 0.0])
    with pytest.raises(ValueError, match="unknown"):
        outcomes(
            imagined(np.zeros((1, 1)), [1], [True], clearance_first=np.ones((1, 1))),
            0.0,
            "map_prior",
        )
