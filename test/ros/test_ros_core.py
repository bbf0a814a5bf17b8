"""Navigator decision logic and observation geometry without ROS (fast, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract.body import DESCRIPTOR_FIELDS, get_embodiment
from compass_nav.contract.policy import PolicyRuntime
from compass_nav.contract.spec import InputSpec, RuntimeOutput
from compass_nav.planner import grid
from compass_nav.ros.navigator_core import (
    CommandLimiter,
    NavigatorCore,
    NavigatorSettings,
    open_runtime,
)
from compass_nav.ros.observation import goal_in_robot_frame, planned_route, straight_route
from compass_nav.ros.params import check_value, navigator_params, sim_bridge_params
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.scenes import GRID_CELLS
from compass_nav.utils.errors import ConfigError, ModelError

CARTER = get_embodiment("carter")


class FixedRuntime(PolicyRuntime):
    """Returns a fixed action; records resets and observations."""

    def __init__(self, action=(2.0, 0.5, 3.0), fail: Exception | None = None):
        self.spec = InputSpec(16, 16, True, False, 10, 10.0, DESCRIPTOR_FIELDS, 0)
        self.action = np.array([action], np.float32)
        self.fail = fail
        self.resets = 0
        self.seen: list[dict] = []

    def reset(self, mask=None):
        self.resets += 1

    def step(self, obs):
        if self.fail:
            raise self.fail
        self.seen.append(obs)
        return RuntimeOutput(self.action.copy(), np.zeros((1, 4, 2), np.float32))


def settings(**kw) -> NavigatorSettings:
    base = dict(
        low=tuple(CARTER.action_low),
        high=tuple(CARTER.action_high),
        accel=tuple(CARTER.accel_limits),
    )
    return NavigatorSettings(**{**base, **kw})


def core_with_inputs(runtime=None, **kw) -> tuple[NavigatorCore, PolicyRuntime]:
    rt = runtime or FixedRuntime()
    core = NavigatorCore(rt, CARTER.descriptor(), settings(**kw))
    feed(core, 0.0)
    core.set_goal(np.array([3.0, 0.0, 0.0]))
    return core, rt


def feed(core: NavigatorCore, now: float, pose=(0.0, 0.0, 0.0)) -> None:
    core.on_odometry(np.array(pose), np.zeros(3), now)
    core.on_image(np.zeros((16, 16, 3), np.uint8), now)


def test_commands_are_clamped_and_acceleration_limited():
    core, _ = core_with_inputs()
    cmds = []
    for i in range(15):
        feed(core, 0.1 * i)
        d = core.step(0.1 * i)
        assert d.stepped and d.status.state == "active"
        cmds.append(d.cmd)
    cmds = np.array(cmds)
    assert (cmds <= CARTER.action_high + 1e-9).all() and (cmds >= CARTER.action_low - 1e-9).all()
    assert cmds[-1, 0] == pytest.approx(CARTER.max_vx) and cmds[-1, 1] == 0.0
    step = np.abs(np.diff(np.vstack([np.zeros(3), cmds]), axis=0))
    assert (step <= CARTER.accel_limits / 10.0 + 1e-9).all()


def test_limiter_follows_shrunk_limits_at_once():
    lim = CommandLimiter(settings())
    for _ in range(20):
        lim(np.array([1.2, 0.0, 1.5]))
    lim.configure(settings(high=(0.2, 0.0, 0.5)))
    np.testing.assert_allclose(lim(np.array([1.2, 0.0, 1.5])), [0.2, 0.0, 0.5])


def test_stale_inputs_stop_and_resume_with_fresh_state():
    core, rt = core_with_inputs(stale_timeout=0.3)
    assert core.step(0.0).stepped
    d = core.step(0.5)  # nothing new for 0.5 s
    assert not d.stepped and (d.cmd == 0).all()
    assert d.status.state == "stopped" and "image stale" in d.status.reason
    assert "odom stale" in d.status.reason
    resets = rt.resets
    feed(core, 0.6)
    d = core.step(0.6)
    assert d.stepped and d.status.state == "active" and rt.resets == resets + 1
    # The limiter restarts from zero after a stop.
    assert d.cmd[0] == pytest.approx(CARTER.max_ax / 10.0)


def test_bad_input_holds_until_a_good_one():
    core, _ = core_with_inputs()
    core.on_bad_input("image", "garbage", 0.0)
    d = core.step(0.0)
    assert d.status.state == "stopped" and "bad image: garbage" in d.status.reason
    feed(core, 0.1)
    assert core.step(0.1).stepped


def test_goal_reached_cancel_reject():
    core, _ = core_with_inputs()
    feed(core, 0.0, pose=(2.7, 0.1, 0.05))
    d = core.step(0.0)
    assert d.status.state == "reached" and (d.cmd == 0).all() and core.goal is None
    assert d.status.distance == pytest.approx(np.hypot(0.3, 0.1), abs=1e-6)
    assert core.step(0.0).status.state == "reached"  # stays stopped
    core.set_goal(np.array([5.0, 0.0, 0.0]))
    assert core.step(0.0).stepped
    assert core.cancel() and not core.cancel()
    assert core.step(0.0).status.state == "cancelled"
    core.reject_goal("frame 'map' unknown")
    d = core.step(0.0)
    assert d.status.state == "rejected" and "map" in d.status.reason and (d.cmd == 0).all()


def test_heading_must_match_unless_ignored():
    core, _ = core_with_inputs()
    feed(core, 0.0, pose=(2.9, 0.0, 1.0))
    assert core.step(0.0).status.state == "active"
    core.configure(settings(heading_tolerance=3.2))
    assert core.step(0.0).status.state == "reached"


def test_runtime_failures_stop_the_robot():
    core, _ = core_with_inputs(FixedRuntime(fail=RuntimeError("boom")))
    d = core.step(0.0)
    assert d.status.state == "stopped" and "boom" in d.status.reason and (d.cmd == 0).all()
    core, _ = core_with_inputs(FixedRuntime(action=(np.nan, 0.0, 0.0)))
    d = core.step(0.0)
    assert d.status.state == "stopped" and "invalid action" in d.status.reason


def test_route_used_only_when_it_ends_at_the_goal():
    core, rt = core_with_inputs()
    core.on_route(np.array([[0.0, 0.0], [1.5, 1.0], [3.0, 0.0]]))
    core.step(0.0)
    assert core.route_note == "planned route"
    assert rt.seen[-1]["route"][0, 3, 1] > 0.3  # bends through (1.5, 1.0)
    core.on_route(np.array([[0.0, 0.0], [0.0, 5.0]]))
    core.step(0.0)
    assert "route ignored" in core.route_note
    np.testing.assert_allclose(rt.seen[-1]["route"][0, :, 1], 0.0, atol=1e-6)


def test_settings_errors_name_the_field():
    with pytest.raises(ConfigError, match="high.vx"):
        settings(high=(-1.0, 0.0, 1.0))
    with pytest.raises(ConfigError, match="stale_timeout"):
        settings(stale_timeout=0.0)


def test_open_runtime_scripted_and_errors():
    rt = open_runtime("scripted:goal_seeker", "carter")
    assert rt.spec.route_points == 10 and rt.spec.control_hz == 10.0
    with pytest.raises(ModelError, match="no_such_policy"):
        open_runtime("scripted:no_such_policy", "carter")


@pytest.mark.parametrize("mode", ["mapless", "planned"])
def test_route_and_goal_match_the_simulator(mode):
    """The navigator's geometry gives the observation the simulator gives at reset."""
    env = NavVectorEnv(
        num_envs=2,
        embodiments=("carter",),
        families=("office", "hall"),
        route_mode=mode,
        image_height=16,
        image_width=16,
    )
    obs, _ = env.reset(seed=3)
    k, spacing = env.cfg.route_points, env.cfg.route_spacing
    for e in range(2):
        pose, goal = env.pose[e], env.goal[e]
        np.testing.assert_allclose(goal_in_robot_frame(pose, goal), obs["goal"][e], atol=1e-5)
        if mode == "mapless":
            route = straight_route(pose, goal, k, spacing)
        else:  # what the sim bridge publishes on 'route'
            plan = grid.descend_path(env.cost_to_go[e], pose[0], pose[1], 4 * GRID_CELLS)
            pts = np.vstack([pose[None, :2], plan[1:], goal[None, :2]])
            route, _ = planned_route(pts, pose, goal, k, spacing)
        np.testing.assert_allclose(route, obs["route"][e], atol=1e-4)


def test_parameter_specs():
    specs = navigator_params(CARTER)
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert all(s.description for s in specs + sim_bridge_params())
    by = {s.name: s for s in specs}
    assert by["max_vx"].default == CARTER.max_vx and by["min_vx"].default == CARTER.min_vx
    assert check_value(by["max_vx"], 1.0, CARTER) == ""
    assert "embodiment 'carter'" in check_value(by["max_vx"], 2.0, CARTER)
    assert "min_vx" in check_value(by["min_vx"], -1.0, CARTER)
    assert "one of" in check_value(by["trigger"], "sometimes")
    assert "within" in check_value(by["goal_tolerance"], 50.0)


def test_node_command_quotes_empty_strings():
    from compass_nav.ros.sil import node_command

    cmd = node_command("compass_nav.ros.navigator_node", {"model": "", "autostart": False})
    assert cmd[-4:] == ["-p", "model:=''", "-p", "autostart:=false"]


def test_the_shipped_model_stops_on_bad_inputs_and_drives_through_nan_depth():
    """With the real runtime: NaN depth pixels (32FC1 "no return") still drive with a finite
    command; a NaN speed stops the robot with the runtime's named error, and the next good
    input drives again from a fresh state."""
    rt = open_runtime("", "carter")
    spec = rt.spec
    core = NavigatorCore(rt, CARTER.descriptor(), settings())
    h, w = spec.image_height, spec.image_width

    def inputs(now, speed=(0.0, 0.0, 0.0), depth=None):
        core.on_odometry(np.zeros(3), np.array(speed), now)
        if spec.uses_rgb:
            core.on_image(np.full((h, w, 3), 120, np.uint8), now)
        if spec.uses_depth:
            d = np.full((h, w), 3.0, np.float32) if depth is None else depth
            core.on_depth(d, now)

    core.set_goal(np.array([3.0, 0.0, 0.0]))
    depth = np.full((h, w), 3.0, np.float32)
    depth[: h // 2] = np.nan
    inputs(0.0, depth=depth)
    d = core.step(0.0)
    assert d.status.state == "active" and np.isfinite(d.cmd).all(), d.status
    inputs(0.1, speed=(np.nan, 0.0, 0.0))
    d = core.step(0.1)
    assert d.status.state == "stopped" and (d.cmd == 0).all()
    assert "InvalidObservationError" in d.status.reason and "'speed'" in d.status.reason
    inputs(0.2)
    d = core.step(0.2)
    assert d.status.state == "active" and np.isfinite(d.cmd).all()
