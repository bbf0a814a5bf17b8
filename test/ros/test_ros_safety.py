"""The safety layer and command shaper without ROS: geometry, zones, ramps, idle silence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.ros.safety import (
    CommandShaper,
    DepthCamera,
    SafetyLayer,
    SafetySettings,
    clearance,
    depth_points,
    parse_sources,
    scan_points,
)
from compass_nav.utils.errors import ConfigError

CARTER = get_embodiment("carter")


def settings(**kw) -> SafetySettings:
    base = dict(length=0.7, width=0.55, accel=(1.5, 0.0))
    return SafetySettings(**{**base, **kw})


def wall_depth(cam: DepthCamera, h: int, w: int, wall_x: float) -> np.ndarray:
    """z-depth image of a vertical wall at body x = wall_x (floor where the wall is not)."""
    f = 0.5 * w / math.tan(0.5 * cam.hfov)
    b = (0.5 * h - (np.arange(h) + 0.5)) / f
    cp, sp = math.cos(cam.pitch), math.sin(cam.pitch)
    fx = cp + b * sp
    fz = -sp + b * cp
    d_wall = (wall_x - cam.x) / fx
    d_floor = np.where(fz < 0, cam.height / np.maximum(-fz, 1e-9), np.inf)
    d = np.minimum(np.where(fx > 0, d_wall, np.inf), d_floor)
    return np.repeat(d[:, None], w, 1).astype(np.float32)


def test_depth_points_find_a_wall_and_ignore_the_floor():
    cam = DepthCamera(0.1, CARTER.camera_height, CARTER.camera_pitch, math.radians(92))
    depth = wall_depth(cam, 48, 64, wall_x=1.5)
    pts = depth_points(depth, cam)
    on_wall = np.abs(pts[:, 0] - 1.5) < 1e-4
    assert on_wall.sum() > 100 and pts[on_wall, 2].max() > 1.0
    np.testing.assert_allclose(pts[~on_wall, 2], 0.0, atol=1e-4)  # the rest is floor
    c = clearance(pts, settings())
    assert c.front == pytest.approx(1.5 - 0.35, abs=1e-4)
    assert math.isinf(c.rear) and math.isinf(c.left) and math.isinf(c.right)
    # No return (0, NaN, inf) is no obstacle.
    assert depth_points(np.zeros((8, 8), np.float32), cam).shape == (0, 3)
    assert depth_points(np.full((8, 8), np.nan, np.float32), cam).shape == (0, 3)


def test_large_depth_images_are_strided():
    cam = DepthCamera(0.0, 0.5, 0.0, math.radians(90))
    pts = depth_points(np.full((480, 640), 3.0, np.float32), cam)
    assert 4000 < len(pts) <= 8192


def test_zones_stop_slow_and_allow_turning_away():
    layer = SafetyLayer(settings(), ("scan",))
    # An obstacle 0.1 m ahead of the front edge (stop zone): no forward motion, turning ok,
    # reversing ok.
    layer.update("scan", np.array([[0.35 + 0.1, 0.0, 0.3]]), now=0.0)
    cmd, why, hard = layer.apply(np.array([1.0, 0.0, 0.8]), (1.2, 0.0), now=0.0)
    assert cmd[0] == 0.0 and cmd[2] == 0.8 and hard and "stop" in why and "ahead" in why
    cmd, why, hard = layer.apply(np.array([-0.2, 0.0, 0.0]), (1.2, 0.0), now=0.0)
    assert cmd[0] == -0.2 and why == "" and not hard
    # In the slow zone: scaled, and never faster than braking within the gap allows.
    layer.update("scan", np.array([[0.35 + 0.4, 0.0, 0.3]]), now=0.0)
    cmd, why, hard = layer.apply(np.array([1.2, 0.0, 0.0]), (1.2, 0.0), now=0.0)
    frac = (0.4 - 0.2) / (0.6 - 0.2)
    assert cmd[0] == pytest.approx(min(1.2 * frac, math.sqrt(2 * 1.5 * 0.2)))
    assert "slow" in why and not hard
    # Beside the corridor: ignored for forward motion.
    layer.update("scan", np.array([[1.0, 0.6, 0.3]]), now=0.0)
    cmd, why, _ = layer.apply(np.array([1.0, 0.0, 0.0]), (1.2, 0.0), now=0.0)
    assert cmd[0] == 1.0 and why == ""
    assert layer.interventions == 2


def test_silent_source_blocks_translation_unless_lockstep():
    layer = SafetyLayer(settings(timeout=0.5), ("depth",))
    assert layer.unheard() == ["depth"]
    cmd, why, _ = layer.apply(np.array([1.0, 0.0, 0.0]), (1.2, 0.0), now=0.0)
    assert cmd[0] == 1.0  # never heard: protects nothing, blocks nothing
    layer.update("depth", np.zeros((0, 3)), now=0.0)
    cmd, why, hard = layer.apply(np.array([1.0, 0.0, 0.5]), (1.2, 0.0), now=1.0)
    assert cmd[0] == 0.0 and cmd[2] == 0.5 and hard and "silent" in why
    cmd, _, _ = layer.apply(np.array([1.0, 0.0, 0.5]), (1.2, 0.0), now=1.0, check_stale=False)
    assert cmd[0] == 1.0


def test_scan_points_use_the_mount():
    pts = scan_points(
        np.array([1.0, np.inf, 0.01]), 0.0, math.pi / 2, 0.05, 10.0, (0.2, 0, 0.3, 0)
    )
    np.testing.assert_allclose(pts, [[1.2, 0.0, 0.3]])


def test_settings_and_sources_are_checked():
    with pytest.raises(ConfigError, match="safety_slow_distance"):
        settings(stop_distance=0.5, slow_distance=0.4)
    assert parse_sources("depth, scan") == ("depth", "scan")
    assert parse_sources("none") == ()
    with pytest.raises(ValueError, match="lidar"):
        parse_sources("depth,lidar")


def test_shaper_ramps_stops_within_the_limits_and_goes_quiet_when_idle():
    shaper = CommandShaper((1.5, 0.0, 3.0), 10.0, publish_when_idle=False)
    out = [shaper(np.array([1.2, 0.0, 0.0]), idle=False) for _ in range(10)]
    assert out[-1][0] == pytest.approx(1.2)
    # Goal reached / cancel: the target drops to zero; the command ramps at max_ax / rate.
    ramp = []
    for _ in range(12):
        cmd = shaper(np.zeros(3), idle=True)
        if cmd is None:
            break
        ramp.append(cmd[0])
    assert ramp[0] == pytest.approx(1.05) and ramp[-1] == 0.0
    assert np.all(np.diff([1.2, *ramp]) >= -0.15 - 1e-9)
    # One final zero, then silence while idle; a new command publishes again.
    assert ramp.count(0.0) == 1
    assert shaper(np.zeros(3), idle=True) is None
    assert shaper(np.array([0.5, 0.0, 0.0]), idle=False)[0] == pytest.approx(0.15)
    # Emergency (stop zone): translation cut at once, rotation still ramps.
    shaper.last = np.array([0.8, 0.0, 1.0])
    cmd = shaper(np.array([0.0, 0.0, -1.0]), idle=False, emergency=True)
    assert cmd[0] == 0.0 and cmd[2] == pytest.approx(0.7)
    # publish_when_idle keeps the zero stream (the old behaviour); ramp=False jumps.
    old = CommandShaper((1.5, 0.0, 3.0), 10.0, publish_when_idle=True)
    old.last = np.array([1.0, 0.0, 0.0])
    assert old(np.zeros(3), idle=True, ramp=False)[0] == 0.0
    assert old(np.zeros(3), idle=True) is not None


@pytest.mark.ros
@pytest.mark.slow
def test_safety_layer_stops_before_the_obstacle_a_straight_driver_hits(tmp_path, domain_id):
    """The scripted 'wall' policy drives straight at full speed; in the sim loop (real DDS,
    depth from the bridge) it collides without the safety layer and stops short with it."""
    from compass_nav.ros.sil import SilConfig, run_sim_in_the_loop

    def run(safety: bool) -> dict:
        cfg = SilConfig(
            embodiments=("carter",),
            episodes=1,
            model="scripted:wall",
            family="hall",
            domain_id=domain_id,
            timeout_s=90.0,
            log_dir=str(tmp_path / f"logs_{safety}"),
            navigator_params={"safety_enabled": safety},
            bridge_params={"max_episode_steps": 60},
        )
        (record,) = run_sim_in_the_loop(cfg, progress=False)
        return record

    blind = run(False)
    assert blind["outcome"] == "collision", blind
    safe = run(True)
    # It drove most of the way at speed, then stopped short and stayed (the episode times out).
    assert safe["outcome"] == "timeout", safe
    assert safe["path_length"] > 0.75 * blind["path_length"], (blind, safe)


def test_point_cloud_fields_offsets_and_errors():
    from sensor_msgs.msg import PointCloud2, PointField

    from compass_nav.ros.output_stage import cloud_to_points

    pts = np.array([[1.0, 0.0, 0.3], [np.nan, 0.0, 0.0], [0.5, -0.2, 1.0]], np.float32)
    rows = np.zeros(3, np.dtype({"names": ["x", "y", "z", "i"], "formats": ["<f4"] * 4}))
    rows["x"], rows["y"], rows["z"], rows["i"] = pts[:, 0], pts[:, 1], pts[:, 2], 7.0
    msg = PointCloud2(height=1, width=3, point_step=16, row_step=48, is_dense=False)
    msg.fields = [
        PointField(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate("xyzi")
    ]
    msg.data = rows.tobytes()
    np.testing.assert_allclose(cloud_to_points(msg), pts[[0, 2]])  # NaN point dropped
    msg.fields = msg.fields[:2]
    with pytest.raises(ValueError, match="x, y, z"):
        cloud_to_points(msg)
    msg.fields = [
        PointField(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate("xyz")
    ]
    msg.data = rows.tobytes()[:20]
    with pytest.raises(ValueError, match="expected 48"):
        cloud_to_points(msg)


def test_output_parameters_are_declared_once_described_and_documented():
    from pathlib import Path

    from compass_nav.ros.output_stage import output_params
    from compass_nav.ros.params import navigator_params

    specs = navigator_params(CARTER) + output_params(CARTER)
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    docs = (Path(__file__).parents[2] / "docs" / "ROS.md").read_text()
    yaml = (Path(__file__).parents[2] / "launch" / "navigator_params.yaml").read_text()
    for s in output_params(CARTER):
        assert s.description
        assert f"| `{s.name}` |" in docs, s.name
    for name in ("safety_enabled", "safety_sources", "smooth_stop", "publish_when_idle"):
        assert f"    {name}:" in yaml, name
