"""``line_blocked``: the body's disc swept along the straight start -> goal segment.

Hand-built occupancy grids with the simulator's own clearance field; then the env's per-slot
flag against the same computation on the scene it reset into, and its step ``info``.
"""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.sim.env import NavVectorEnv, clearance_field, line_blocked
from compass_nav.sim.scenes import GRID_CELLS, RESOLUTION

CARTER = get_embodiment("carter").circumscribed_radius


def _grid(*boxes: tuple[float, float, float, float]) -> np.ndarray:
    """Occupancy with obstacle boxes (x0, y0, x1, y1) in metres; the rest free."""
    occ = np.zeros((GRID_CELLS, GRID_CELLS), bool)
    for x0, y0, x1, y1 in boxes:
        i0, i1, j0, j1 = (round(v / RESOLUTION) for v in (y0, y1, x0, x1))
        occ[i0:i1, j0:j1] = True
    return occ


def test_pillar_on_the_line_blocks_and_beside_it_does_not():
    clear = clearance_field(_grid((10.0, 10.0, 10.4, 10.4)))  # a 0.4 m pillar
    assert line_blocked(clear, (8.0, 10.2), (12.0, 10.2), CARTER)
    assert line_blocked(clear, (12.0, 10.2, 1.0), (8.0, 10.2, -2.0), CARTER)  # poses work too
    # 2 m beside the pillar: clear for the body.
    assert not line_blocked(clear, (8.0, 12.4), (12.0, 12.4), CARTER)


def test_passing_close_depends_on_the_body_radius():
    clear = clearance_field(_grid((10.0, 10.0, 10.4, 10.4)))
    # The line passes 0.35 m from the pillar's face: a 0.2 m disc fits, a 0.45 m one does not.
    start, goal = (8.0, 10.75), (12.0, 10.75)
    assert not line_blocked(clear, start, goal, 0.2)
    assert line_blocked(clear, start, goal, 0.45)


def test_thin_wall_between_start_and_goal_is_found():
    # A one-cell wall crossed diagonally: sampling every 0.05 m cannot step over it.
    clear = clearance_field(_grid((10.0, 5.0, 10.1, 15.0)))
    assert line_blocked(clear, (7.0, 7.0), (13.0, 13.0), 0.01)
    # The same segment with the wall's gap where it crosses: clear.
    gap = clearance_field(_grid((10.0, 5.0, 10.1, 8.0), (10.0, 12.0, 10.1, 15.0)))
    assert not line_blocked(gap, (7.0, 7.0), (13.0, 13.0), CARTER)


def test_start_equal_to_goal_checks_the_point():
    clear = clearance_field(_grid((10.0, 10.0, 10.4, 10.4)))
    assert not line_blocked(clear, (5.0, 5.0), (5.0, 5.0), CARTER)
    assert line_blocked(clear, (10.2, 10.2), (10.2, 10.2), CARTER)


@pytest.mark.parametrize("body", ["carter", "spot"])
def test_env_flag_is_the_computation_on_the_reset_scene(body):
    env = NavVectorEnv(
        num_envs=6,
        embodiments=(body,),
        image_height=16,
        image_width=16,
        render_rgb=False,
        max_episode_steps=2,
    )
    r = get_embodiment(body).circumscribed_radius
    flags = []
    for seed in range(4):
        env.reset(seed=seed)
        priv = env.privileged()
        expect = [
            line_blocked(priv["clearance"][e], priv["pose"][e], priv["goal"][e], r)
            for e in range(env.num_envs)
        ]
        assert env.line_blocked.tolist() == expect
        flags += expect
        before = env.line_blocked.copy()
        env.step(np.zeros((env.num_envs, 3)))
        _, _, _, _, info = env.step(np.zeros((env.num_envs, 3)))  # every slot times out
        assert info["_episode"].all()
        assert info["line_blocked"].tolist() == before.tolist()  # the ended episodes' flags
    # Over 24 episodes both strata occur (the statistic is not constant).
    assert any(flags) and not all(flags)
