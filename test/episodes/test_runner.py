"""The episode runner's own contract: start flags, quotas, stopping, kept arrays."""

from __future__ import annotations

import numpy as np

from compass_nav.episodes import CellQueue, EpisodeHook, EpisodeRunner, OpenQuota, SlotQuota
from compass_nav.policies import make_policy
from compass_nav.sim.env import NavVectorEnv


def _env(n: int = 3, steps: int = 12) -> NavVectorEnv:
    return NavVectorEnv(
        num_envs=n,
        families=("hall",),
        image_height=16,
        image_width=16,
        max_episode_steps=steps,
    )


class _Trace(EpisodeHook):
    """Per slot: the start flags the policy saw, and the live steps between ends."""

    def __init__(self, n: int) -> None:
        self.starts = [[] for _ in range(n)]
        self.live = [[] for _ in range(n)]

    def before_step(self, runner, obs, action):
        for e in range(runner.num_envs):
            self.starts[e].append(bool(runner.start[e]))
            self.live[e].append(bool(runner.live[e]))


def test_start_flags_mark_first_observations_and_quotas_are_exact() -> None:
    env = _env()
    pol = make_policy("goal_seeker")
    pol.bind(env)
    trace = _Trace(3)
    quota = SlotQuota([2, 1, 0], seed=4)
    episodes = EpisodeRunner(env, pol.act, quota, [trace], keep=("goal",)).run()
    assert sorted((ep.slot, ep.index) for ep in episodes) == [(0, 0), (0, 1), (1, 0)]
    first = [ep for ep in episodes if ep.slot == 0 and ep.index == 0][0]
    # Slot 0: start on step 0, then on the first observation after its reset step.
    s = trace.starts[0]
    assert s[0] and not any(s[1 : first.steps + 1])
    assert s[first.steps + 1]  # the reset step's obs is the old final one: no start yet...
    assert not trace.live[0][first.steps]  # ...and it is not live (its action is ignored)
    assert trace.live[0][first.steps + 1]
    assert not any(trace.live[2])  # a slot with no quota never records
    for ep in episodes:
        assert ep.arrays["goal"].shape == (ep.steps, 3)
        assert ep.arrays["final_goal"].shape == (3,)
        assert ep.final_distance == np.hypot(*ep.arrays["final_goal"][:2])
        assert [ep.success, ep.collision, ep.timeout].count(True) == 1


def test_cell_queue_seeds_episodes_by_key_whatever_the_slot_count() -> None:
    def run(n: int) -> dict:
        env = _env(n)
        pol = make_policy("teacher")
        pol.bind(env)
        quota = CellQueue(np.zeros(n, int), 4, lambda c, i: [9, c, i])
        return {
            ep.index: (ep.scene_seed, ep.steps) for ep in EpisodeRunner(env, pol.act, quota).run()
        }

    one, three = run(1), run(3)
    assert sorted(one) == [0, 1, 2, 3]
    # The start/goal/scene of episode i is fixed by its key; the teacher is deterministic.
    assert {i: v[0] for i, v in one.items()} == {i: v[0] for i, v in three.items()}


def test_a_hook_ends_the_run_and_should_stop_is_polled() -> None:
    env = _env()
    pol = make_policy("goal_seeker")
    pol.bind(env)

    class StopAfterTwo(EpisodeHook):
        def on_episode(self, runner, episode):
            return len(seen.append(episode) or seen) >= 2

    seen: list = []
    runner = EpisodeRunner(env, pol.act, OpenQuota(3, seed=1), [StopAfterTwo()])
    assert len(runner.run()) == 2
    runner = EpisodeRunner(env, pol.act, OpenQuota(3, seed=1), should_stop=lambda: True)
    assert runner.run() == [] and runner.steps == 0
