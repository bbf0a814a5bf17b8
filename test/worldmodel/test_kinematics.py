"""Imagined proprioception: the actuator model, goal and route propagation, the judge rule."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.sim import kernels
from compass_nav.worldmodel.imagine import NeedsSimulator, imagine_episodes, outcomes
from compass_nav.worldmodel.kinematics import (
    ActuatorModel,
    Proprioception,
    _grid_frame,
    plan_cost_to_go,
)


def test_actuator_model_matches_the_simulator_kernel_without_obstacles():
    body = get_embodiment("carter")
    n = 5
    rng = np.random.default_rng(0)
    model = ActuatorModel(body, seed=0)
    model.noise = 0.0
    pose_k = np.tile([[12.0, 12.0, 0.3]], (n, 1))
    vel_k = np.zeros((n, 3))
    pose_m, vel_m = np.zeros((n, 3)), np.zeros((n, 3))
    pose_m[:, 2] = 0.3
    height = np.zeros((n, 240, 240), np.float32)
    for _ in range(30):
        cmd = model.clip(rng.uniform(-1.5, 1.5, (n, 3)))
        kernels.step_bodies(
            height,
            pose_k,
            vel_k,
            cmd,
            np.ones(n, bool),
            np.tile(model.lim, (n, 1)),
            np.tile(model.acc, (n, 1)),
            np.full(n, model.tau),
            np.tile([[body.length, body.width]], (n, 1)),
            np.zeros((n, 3)),
            0.1,
            2,
            np.zeros(n, bool),
        )
        pose_m, vel_m = model.step(pose_m, vel_m, cmd, np.ones(n, bool))
    np.testing.assert_allclose(vel_m, vel_k, atol=1e-9)
    np.testing.assert_allclose(pose_m[:, :2] + 12.0, pose_k[:, :2], atol=1e-9)


CARTER = get_embodiment("carter")


def test_replayed_commands_reproduce_goal_and_route(carter_rollouts):
    r = carter_rollouts("goal_seeker", 6, seed=1, steps=150)
    act = ActuatorModel(CARTER, seed=0)
    first = r.first_obs()
    pro = Proprioception(first["goal"], r.plan, r.plan_len, first["speed"])
    np.testing.assert_allclose(pro.route_obs(), first["route"], atol=1e-4)
    goal_err, route_err = [], []
    for t in range(int(r.length.max())):
        active = t < r.length
        rows = np.minimum(r.start + t, r.start + r.length)
        pro.pose, pro.vel = act.step(pro.pose, pro.vel, act.clip(r.action[rows]), active)
        nxt = np.minimum(rows + 1, r.start + r.length)
        goal_err.append(np.abs(pro.goal_obs() - r.goal[nxt])[active, :2].max(initial=0))
        route_err.append(np.abs(pro.route_obs() - r.route[nxt])[active].max(initial=0))
    # Tracking noise (2% on carter) makes odometry drift a little; routes re-project.
    assert max(goal_err) < 0.2
    assert np.median(route_err) < 0.2
    # Where the simulator reported success, the rule holds on the imagined state too
    # (within a couple of steps of noise).
    assert r.success.all()


def test_replanning_grid_lies_over_the_simulators_and_starts_on_the_plan(carter_rollouts):
    r = carter_rollouts("goal_seeker", 6, seed=3, steps=5, families=("warehouse", "office"))
    first = r.first_obs()
    fields = plan_cost_to_go(r.plan, r.plan_len, first["goal"], CARTER)
    for e in range(r.num_episodes):
        # The simulator's grid is world-aligned: in the start frame its axes lie at -yaw0.
        yaw0 = float(r.pose[r.start[e], 2])
        diff = (fields.angle[e] + yaw0) % (np.pi / 2)
        assert min(diff, np.pi / 2 - diff) < 1e-3
        assert _grid_frame(r.plan[e, : r.plan_len[e]]) == pytest.approx(fields.angle[e])
        # The plan's points are cell centres of the re-planning grid too.
        g = np.stack([fields.to_grid(e, x, y) for x, y in r.plan[e, : r.plan_len[e]]]) / 0.1
        np.testing.assert_allclose(g - np.floor(g), 0.5, atol=1e-3)
    # On its plan the body gets the simulator's route exactly.
    pro = Proprioception(first["goal"], r.plan, r.plan_len, first["speed"], cost_to_go=fields)
    np.testing.assert_allclose(pro.route_obs(), first["route"], atol=1e-3)


def test_replanned_routes_follow_the_simulator_where_the_body_strays(carter_rollouts):
    noisy = "degraded:goal_seeker?noise=0.8"
    r = carter_rollouts(noisy, 8, seed=5, steps=120, families=("warehouse", "office"))
    first = r.first_obs()
    rel, valid = r.start_frame_poses()
    fields = plan_cost_to_go(r.plan, r.plan_len, first["goal"], CARTER)
    pros = {
        "project": Proprioception(first["goal"], r.plan, r.plan_len, first["speed"]),
        "replan": Proprioception(
            first["goal"], r.plan, r.plan_len, first["speed"], cost_to_go=fields
        ),
    }
    errs = {k: [] for k in pros}
    strayed = []
    for t in range(rel.shape[1]):
        rows = np.minimum(r.start + t, r.start + r.length)
        off = np.array(
            [
                np.hypot(*(r.plan[e, : r.plan_len[e]] - rel[e, t, :2]).T).min()
                for e in range(r.num_episodes)
            ]
        )
        strayed.append(off[valid[:, t]] > 0.2)
        for k, pro in pros.items():
            pro.pose = rel[:, t]
            e = np.hypot(*(pro.route_obs()[:, :3] - r.route[rows, :3]).transpose(2, 0, 1))
            errs[k].append(e.mean(1)[valid[:, t]])
    strayed = np.concatenate(strayed)
    assert strayed.sum() > 50  # the noisy pursuer does leave its plan
    project, replan = (np.concatenate(errs[k])[strayed] for k in ("project", "replan"))
    # Away from the plan the simulator's route runs on towards the goal; projecting sends it
    # back to the old plan's nearest point, re-planning reproduces the simulator's.
    assert replan.mean() < 0.7 * project.mean()


@pytest.mark.slow
def test_imagination_runs_with_replanned_routes(tiny_model, tiny_run):
    from compass_nav.policies import make_policy
    from compass_nav.worldmodel.pool import load_split

    real = load_split(tiny_model.config, tiny_run / "data", "eval")["goal_seeker"]
    a = imagine_episodes(tiny_model, make_policy("goal_seeker"), real, 30, replan=True)
    b = imagine_episodes(tiny_model, make_policy("goal_seeker"), real, 30, replan=False)
    assert a.end.shape == (real.num_episodes,) and np.isfinite(a.logits).all()
    # Pursuit reads only the route: both rules drive it towards the goal from the start.
    assert (a.end > 0).all() and (b.end > 0).all()


def test_outcomes_hazard_and_threshold_rules(imagined):
    p = 0.1
    lg = np.log(p / (1 - p))
    im = imagined(
        [[lg, lg, lg, 9.0], [-30, -30, -30, -30], [lg, 3.0, lg, lg]],
        end=[3, 4, 2],
        reached=[True, False, False],
    )
    o = outcomes(im, mode="hazard")
    # Episode 0 reached the goal after 3 transitions of hazard 0.1 (step 4 is past its end).
    assert o["success"][0] == pytest.approx(0.9**3)
    assert o["collision"][0] == pytest.approx(1 - 0.9**3)
    # Episode 1: no hazard, never reached: a timeout.
    assert o["timeout"][1] == pytest.approx(1.0)
    # Episode 2: hazards 0.1 then sigmoid(3) within its 2 steps.
    s = 0.9 * (1 - 1 / (1 + np.exp(-3.0)))
    assert o["timeout"][2] == pytest.approx(s)
    total = o["success"] + o["collision"] + o["timeout"]
    np.testing.assert_allclose(total, 1.0)
    m = outcomes(im, mode="max")
    assert m["collision"][0] == pytest.approx(0.1)  # one near miss, however many steps
    assert m["collision"][2] == pytest.approx(1 / (1 + np.exp(-3.0)))
    np.testing.assert_allclose(m["success"] + m["collision"] + m["timeout"], 1.0)
    t = outcomes(im, mode="threshold", threshold=0.5)
    assert t["success"].tolist() == [1.0, 0.0, 0.0]
    assert t["collision"].tolist() == [0.0, 0.0, 1.0]
    # A large negative offset removes every contact.
    assert outcomes(im, offset=-40.0)["success"][0] == pytest.approx(1.0)


@pytest.mark.slow
def test_privileged_policies_cannot_act_in_imagination(tiny_model, tiny_run):
    from compass_nav.policies import make_policy
    from compass_nav.worldmodel.pool import load_split

    real = load_split(tiny_model.config, tiny_run / "data", "eval")["teacher"]
    with pytest.raises(NeedsSimulator):
        imagine_episodes(tiny_model, make_policy("teacher"), real, 5)


def test_depth_judge_rule(imagined):
    """``depth`` mode: a contact once the central depth falls below the calibrated distance."""
    from compass_nav.worldmodel.imagine import (
        DEPTH_CONTACT_M,
        DEPTH_SCALE_M,
        central_min_depth,
        outcomes,
    )

    frame = np.full((2, 8, 8), 5.0, np.float32)
    frame[0, 3, 4] = 0.3  # inside the central half
    frame[1, 0, 0] = 0.1  # at the border: not in front of the body
    assert np.allclose(central_min_depth(frame), [0.3, 5.0])
    dmin = np.array([[2.0, 0.45, 3.0], [2.0, 0.6, 0.3], [2.0, 1.0, 1.0]], np.float32)
    im = imagined(np.zeros((3, 3)), [3, 2, 3], [True, True, False], depth_min=dmin)
    o = outcomes(im, 0.0, "depth")  # contact below 0.5 m
    assert o["collision"].tolist() == [1.0, 0.0, 0.0]  # episode 1 ended before its 0.3 m
    assert o["success"].tolist() == [0.0, 1.0, 0.0] and o["timeout"].tolist() == [0, 0, 1.0]
    off = (0.7 - DEPTH_CONTACT_M) / DEPTH_SCALE_M  # contact below 0.7 m
    assert outcomes(im, off, "depth")["collision"].tolist() == [1.0, 1.0, 0.0]


def test_episode_brier_scores_each_paired_episode(imagined):
    """The judge-selection score: per-episode squared error, pooled over policies."""
    from types import SimpleNamespace

    from compass_nav.worldmodel.evaluate import episode_brier

    p = 0.1
    lg = np.log(p / (1 - p))
    # Policy A: two episodes reaching the goal, one with a hazard of 0.1 on its one step.
    a = imagined([[lg], [-40.0]], end=[1, 1], reached=[True, True])
    # Policy B: one episode that never reached the goal.
    b = imagined([[-40.0]], end=[1], reached=[False])
    real_a = SimpleNamespace(success=np.array([True, False]))
    real_b = SimpleNamespace(success=np.array([False]))
    # Predicted success: 0.9, ~1.0, 0.0 against 1, 0, 0.
    expected = ((0.9 - 1.0) ** 2 + (1.0 - 0.0) ** 2 + 0.0) / 3
    got = episode_brier([a, b], [real_a, real_b], 0.0, "hazard", 0.5)
    assert got == pytest.approx(expected, abs=1e-6)
    # Pairing matters: the same success rate with the outcomes on the other episodes scores
    # differently (here the pairs agree: (0.9 - 0)^2 + (1 - 1)^2 + 0).
    swapped = SimpleNamespace(success=np.array([False, True]))
    assert episode_brier([a, b], [swapped, real_b], 0.0, "hazard", 0.5) == pytest.approx(
        0.81 / 3, abs=1e-6
    )
    with pytest.raises(ValueError):
        episode_brier([a], [real_a, real_b], 0.0, "hazard", 0.5)
