"""The planner teacher succeeds on a small seeded set of held-out goals.

A quick version of ``benchmarks/bench_teacher.py`` (which runs 200 goals per family on every
body): 12 episodes per family for a wheeled body and a humanoid.
"""

from __future__ import annotations

import numpy as np

from compass_nav.sim.env import NavVectorEnv
from compass_nav.teacher import Teacher


def test_teacher_succeeds_on_seeded_goals():
    bodies, families = ("carter", "h1"), ("warehouse", "office", "hall")
    slots, quota = 4, 3  # 4 envs per pair x 3 episodes each = 12 episodes per pair
    n = len(bodies) * len(families) * slots
    env = NavVectorEnv(
        num_envs=n,
        embodiments=bodies,
        families=families,
        split="heldout",
        image_height=16,
        image_width=16,
        render_rgb=False,
    )
    teacher = Teacher(env)
    env.reset(seed=123)
    done = np.zeros(n, int)
    results: dict[tuple[str, str], list[bool]] = {}
    for _ in range(quota * 300 + 10):
        _, _, _, _, info = env.step(teacher.act())
        for e in np.flatnonzero(info["_episode"] & (done < quota)):
            key = (env.env_bodies[e].name, str(info["family"][e]))
            results.setdefault(key, []).append(bool(info["success"][e]))
            assert not info["collision"][e], key
            done[e] += 1
        if (done >= quota).all():
            break
    assert sorted(results) == sorted((b, f) for b in bodies for f in families)
    for key, outcomes in results.items():
        assert len(outcomes) == slots * quota
        assert np.mean(outcomes) >= 0.9, (key, outcomes)
