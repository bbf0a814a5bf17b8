"""Moving obstacles: people and carts stamped into the simulator's grids.

Random episodes check the invariants (actors move, stay on free floor, are reproducible from
the seed, meet the robot); scripted ones check what an actor does to a step: it shows in the
depth image, running into it is a ``moving_collision``, and the teacher passes a person
walking towards it down a corridor.
"""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.planner import grid
from compass_nav.planner.cost import planner_cost
from compass_nav.sim import actors as A
from compass_nav.sim.config import MAX_MOVING_OBSTACLES, SimConfig
from compass_nav.sim.env import NavVectorEnv, clearance_field, scene_with_clearance
from compass_nav.sim.scenes import GRID_CELLS, RESOLUTION
from compass_nav.teacher.avoid import AvoidConfig
from compass_nav.teacher.teacher import Teacher
from compass_nav.utils.errors import ConfigError


def _env(n=4, movers=3, bodies=("carter",), **kw) -> NavVectorEnv:
    return NavVectorEnv(
        SimConfig(
            num_envs=n,
            embodiments=bodies,
            moving_obstacles=movers,
            image_height=24,
            image_width=32,
            **kw,
        )
    )


def _actor_cells(env: NavVectorEnv, e: int) -> np.ndarray:
    """Flat indices of the cells env ``e``'s actors cover now."""
    act = env.actors
    return np.concatenate([act.cells[e, a, : act.ncell[e, a]] for a in range(act.count)])


def test_actors_move_and_stay_on_free_floor():
    env = _env()
    env.reset(seed=3)
    assert (env.actors.kind != A.NONE).sum() >= 6, "most slots get an actor"
    start = env.actors.pos.copy()
    alive = env.actors.kind != A.NONE
    still = np.zeros((env.num_envs, 3))
    for _ in range(40):
        env.step(still)  # the robots stand: every actor walks round them
        for e in range(env.num_envs):
            scene, _ = scene_with_clearance(str(env.env_family[e]), int(env.scene_seed[e]))
            cells = _actor_cells(env, e)
            assert cells.size > 0 or not (env.actors.kind[e] != A.NONE).any()
            # Stamped on free floor only, with the actors' heights.
            assert (scene.height.ravel()[cells] == 0).all()
            assert (env.height[e].ravel()[cells] > 0.8).all()
            # Every other cell is the scene's: nothing left behind where actors were.
            rest = np.ones(GRID_CELLS * GRID_CELLS, bool)
            rest[cells] = False
            np.testing.assert_array_equal(env.height[e].ravel()[rest], scene.height.ravel()[rest])
    moved = np.hypot(*(env.actors.pos - start).T).T
    assert (moved[alive] > 0.5).mean() > 0.5, "most actors walked away from their spawn"
    speeds = np.hypot(*env.actors.vel.T).T
    assert speeds.max() <= 1.5 + 1e-6


def test_actors_are_reproducible_from_the_seed():
    runs = []
    for _ in range(2):
        env = _env(n=3)
        env.reset(seed=11)
        teacher = Teacher(env)
        for _ in range(25):
            env.step(teacher.act())
        runs.append((env.actors.pos.copy(), env.actors.kind.copy(), env.height.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


def test_off_by_default_and_the_task_draws_come_first():
    plain = NavVectorEnv(SimConfig(num_envs=3, image_height=16, image_width=16))
    movers = NavVectorEnv(
        SimConfig(num_envs=3, image_height=16, image_width=16, moving_obstacles=2)
    )
    plain.reset(seed=5)
    movers.reset(seed=5)
    # Actors draw from the env's generator after the task: the same scenes, starts and goals.
    np.testing.assert_array_equal(plain.pose, movers.pose)
    np.testing.assert_array_equal(plain.goal, movers.goal)
    np.testing.assert_array_equal(plain.scene_seed, movers.scene_seed)
    assert plain.actors.count == 0
    p = plain.privileged()
    assert p["actors_pos"].shape == (3, 0, 2) and p["actors_radius"].shape == (3, 0)
    _, _, _, _, info = plain.step(np.zeros((3, 3)))
    assert not info["moving_encounter"].any() and not info["moving_collision"].any()


def test_bad_count_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match="moving_obstacles"):
        SimConfig(moving_obstacles=-1)
    with pytest.raises(ConfigError, match="moving_obstacles"):
        SimConfig(moving_obstacles=MAX_MOVING_OBSTACLES + 1)


def test_privileged_view_describes_every_actor():
    env = _env(n=2)
    env.reset(seed=1)
    env.step(np.zeros((2, 3)))
    p = env.privileged()
    assert p["actors_pos"].shape == (2, 3, 2) and p["actors_vel"].shape == (2, 3, 2)
    used = p["actors_kind"] != A.NONE
    assert (p["actors_radius"][used] >= 0.25).all() and (p["actors_radius"][~used] == 0).all()


def _clear_ahead(env: NavVectorEnv, e: int, reach: float) -> bool:
    """The floor along the robot's heading is free for ``reach`` m (0.6 m wide)."""
    x, y, yaw = env.pose[e]
    c, s = np.cos(yaw), np.sin(yaw)
    for d in np.arange(0.0, reach, 0.05):
        for off in (-0.3, 0.0, 0.3):
            px, py = x + c * d - s * off, y + s * d + c * off
            if env.height[e, int(py / RESOLUTION), int(px / RESOLUTION)] > 0:
                return False
    return True


def _open_start(seed0: int = 0) -> tuple[NavVectorEnv, int]:
    """A one-env carter episode (no random actors) whose first 3.5 m ahead are free."""
    for seed in range(seed0, seed0 + 40):
        env = _env(n=1, movers=1)
        env.reset(seed=seed)
        env.actors.place(0, 0, env.height[0], env.material[0], A.NONE, (0, 0), (1, 0), 0.0)
        if _clear_ahead(env, 0, 3.5):
            return env, seed
    raise AssertionError("no start with 3.5 m of free floor ahead")


def _ahead(env: NavVectorEnv, d: float) -> np.ndarray:
    x, y, yaw = env.pose[0]
    return np.array([x + d * np.cos(yaw), y + d * np.sin(yaw)])


def test_a_person_shows_in_the_depth_image():
    env, _ = _open_start()
    still = np.zeros((1, 3))
    before, *_ = env.step(still)
    env.actors.place(
        0, 0, env.height[0], env.material[0], A.PERSON, _ahead(env, 1.5), (1, 0), 0.0, delay=99
    )
    after, *_ = env.step(still)
    h, w = after["depth"].shape[1:]
    centre = after["depth"][0, h // 3 : 2 * h // 3, w // 2 - 2 : w // 2 + 2]
    # The person's front is 1.5 m minus its radius away (z-depth from the camera).
    cam_x = env.env_bodies[0].camera_x
    assert np.median(centre) == pytest.approx(1.5 - 0.28 - cam_x, abs=0.12)
    assert np.median(before["depth"][0, h // 3 : 2 * h // 3, w // 2 - 2 : w // 2 + 2]) > 2.0
    assert (after["rgb"][0] != before["rgb"][0]).any()


def test_running_into_a_person_is_a_moving_collision():
    env, _ = _open_start()
    env.actors.place(
        0, 0, env.height[0], env.material[0], A.PERSON, _ahead(env, 1.6), (1, 0), 0.0, delay=999
    )
    full = np.array([[env.env_bodies[0].action_high[0], 0.0, 0.0]])
    for _ in range(40):
        _, _, term, trunc, info = env.step(full)
        if term[0] or trunc[0]:
            break
    assert info["collision"][0] and info["moving_collision"][0]
    # The robot stopped at the person: its front is within a step of the person's outline.
    gap = A._gap_to_body(*_ahead_of_pose(env), 0.28, *env.pose[0], *(0.5 * env._dims[0]))
    assert gap < 0.15


def _ahead_of_pose(env):
    return env.actors.pos[0, 0, 0], env.actors.pos[0, 0, 1]


def test_a_wall_collision_is_not_a_moving_collision():
    env, _ = _open_start()
    env.actors.place(
        0, 0, env.height[0], env.material[0], A.PERSON, _ahead(env, 1.6), (1, 0), 0.0, delay=999
    )
    back = np.array([[env.env_bodies[0].action_low[0], 0.0, 0.0]])  # reverse, away from it
    for _ in range(200):
        _, _, term, trunc, info = env.step(back)
        if term[0] or trunc[0]:
            break
    if info["collision"][0]:
        assert not info["moving_collision"][0]


def test_encounters_are_recorded_in_most_teacher_episodes():
    env = _env(n=6, movers=3, bodies=("carter", "spot"))
    teacher = Teacher(env)
    env.reset(seed=2)
    ended, met = 0, 0
    for _ in range(300):
        _, _, _, _, info = env.step(teacher.act())
        done = info["_episode"]
        ended += int(done.sum())
        met += int((done & info["moving_encounter"]).sum())
        if ended >= 12:
            break
    assert ended >= 6
    assert met / ended >= 0.5


def _corridor_env(width: float = 2.0) -> NavVectorEnv:
    """Carter at one end of a ``width`` m wide, 14 m long corridor; the goal at the other."""
    env = _env(n=1, movers=1)
    env.reset(seed=0)
    G = GRID_CELLS
    height = np.full((G, G), 2.5, np.float32)
    y0, y1, x0, x1 = 11.0 - 0.5 * width, 11.0 + 0.5 * width, 4.0, 18.0
    height[
        int(y0 / RESOLUTION) : int(y1 / RESOLUTION), int(x0 / RESOLUTION) : int(x1 / RESOLUTION)
    ] = 0
    env.height[0] = height
    env.material[0] = np.where(height > 0, 2, 0)
    clear = clearance_field(height > 0)
    env.clearance[0] = clear
    body = env.env_bodies[0]
    goal = np.array([16.5, 11.0, 0.0])
    ctg = grid.dijkstra(
        planner_cost(clear, body), int(goal[1] / RESOLUTION), int(goal[0] / RESOLUTION)
    )
    env.cost_to_go[0] = ctg
    env.pose[0] = (5.5, 11.0, 0.0)
    env.goal[0] = goal
    env.geo[0] = ctg[int(11.0 / RESOLUTION), int(5.5 / RESOLUTION)]
    env.ref_length[0] = 11.0
    env.actors.ncell[0] = 0
    env.actors.kind[0] = A.NONE
    return env


def _head_on(avoid: AvoidConfig | None) -> tuple[dict, float, float]:
    """Carter drives a 1.8 m corridor while a person walks its centre line towards it.

    Returns the final step's info, the closest gap between them (m) and how far the robot
    left the centre line (m).
    """
    env = _corridor_env(1.8)
    env.actors.place(
        0, 0, env.height[0], env.material[0], A.PERSON, (15.0, 11.0), (-1, 0), 1.0,
        waypoints=[(4.5, 11.0)],
    )  # fmt: skip
    teacher = Teacher(env, avoid=avoid)
    closest, dodge = np.inf, 0.0
    for _ in range(300):
        _, _, term, trunc, info = env.step(teacher.act())
        if term[0] or trunc[0]:
            break
        gap = A._gap_to_body(*env.actors.pos[0, 0], 0.28, *env.pose[0], *(0.5 * env._dims[0]))
        closest = min(closest, gap)
        dodge = max(dodge, abs(env.pose[0, 1] - 11.0))
    return info, closest, dodge


def test_teacher_passes_a_person_walking_head_on_down_a_corridor():
    info, closest, dodge = _head_on(None)
    assert info["success"][0], "the teacher reaches the goal"
    assert not info["collision"][0]
    assert info["moving_encounter"][0]
    assert 0.0 < closest < 1.0, "they met"
    assert dodge > 0.15, "the robot left the centre line to pass"
    # The same tracker blind to the person (its check reaches nowhere) runs into them.
    info, _, _ = _head_on(AvoidConfig(reach=1e-9))
    assert info["collision"][0] and info["moving_collision"][0]


def test_an_actor_pacing_in_front_of_a_waiting_robot_leaves_after_lingering():
    """A person walking free in a corridor the robot faces bounces between its ends; it leaves
    at the latest LINGER_STEPS after its free walk, even in the robot's sight."""
    env = _corridor_env(1.8)
    env.actors.place(
        0, 0, env.height[0], env.material[0], A.PERSON, (8.0, 11.0), (1, 0), 0.5,
    )  # fmt: skip
    still = np.zeros((1, 3))
    in_sight = []
    steps = 0
    while steps < A.FREE_WALK_STEPS + A.LINGER_STEPS + 5:
        env.step(still)
        steps += 1
        if env.actors.kind[0, 0] == A.NONE:
            break
        dx, dy = env.actors.pos[0, 0] - env.pose[0, :2]
        in_sight.append(abs(np.arctan2(dy, dx) - env.pose[0, 2]) < 1.0)
    assert env.actors.kind[0, 0] == A.NONE, "the person left"
    assert steps >= A.FREE_WALK_STEPS + A.LINGER_STEPS - 1, "it lingered, then left"
    assert all(in_sight), "it stayed in the robot's sight all along (it left by lingering)"


def test_a_cart_the_walls_wedge_gives_up_its_route_and_leaves():
    """A cart whose waypoints lead through a gap it does not fit, boxed in by walls on every
    side, does not stand there for ever: after PATIENCE steps it gives up its waypoints, after
    as many more it ends its walk, and it leaves (out of the robot's sight)."""
    env = _corridor_env(1.8)
    # A pocket just larger than the cart, behind the robot (which faces +x from x = 5.5 m).
    x0, x1, y0, y1 = 1.0, 2.1, 14.0, 14.7
    env.height[0, int(y0 / RESOLUTION) : int(y1 / RESOLUTION),
               int(x0 / RESOLUTION) : int(x1 / RESOLUTION)] = 0  # fmt: skip
    centre = (0.5 * (x0 + x1), 0.5 * (y0 + y1))
    env.actors.place(
        0, 0, env.height[0], env.material[0], A.CART, centre, (1, 0), 1.5,
        size=(0.5, 0.3), tall=1.0, waypoints=[(6.0, 14.35), (6.0, 11.0)],
    )  # fmt: skip
    start = env.actors.pos[0, 0].copy()
    still = np.zeros((1, 3))
    left = None
    for step in range(1, 4 * A.PATIENCE):
        env.step(still)
        if env.actors.kind[0, 0] == A.NONE:
            left = step
            break
        np.testing.assert_array_equal(env.actors.pos[0, 0], start)  # wedged: it cannot move
        if step == A.PATIENCE - 1:
            assert env.actors.wp_i[0, 0] == 0, "it keeps its route while it waits"
    assert left is not None, "the wedged cart left the scene"
    assert 2 * A.PATIENCE - 2 <= left <= 2 * A.PATIENCE + 2
