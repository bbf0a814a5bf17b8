"""A runtime over a scripted policy: no model file, same interface (tests, bring-up)."""

from __future__ import annotations

import numpy as np

from compass_nav.contract.body import DESCRIPTOR_FIELDS
from compass_nav.contract.policy import PolicyRuntime
from compass_nav.contract.spec import InputSpec, RuntimeOutput
from compass_nav.policies import make_policy


class ScriptedRuntime(PolicyRuntime):
    """Wraps an observation-only scripted policy (e.g. ``goal_seeker``) as a runtime."""

    def __init__(
        self,
        policy: str = "goal_seeker",
        image_hw: tuple[int, int] = (64, 64),
        control_hz: float = 10.0,
        route_points: int = 10,
    ) -> None:
        if policy == "teacher":
            raise ValueError("the teacher needs the simulator's privileged view: not a runtime")
        self.policy = make_policy(policy)
        self.name = f"scripted:{policy}"
        self.spec = InputSpec(
            image_hw[0], image_hw[1], True, False, route_points, control_hz, DESCRIPTOR_FIELDS, 0
        )
        self._start: np.ndarray | None = None

    def reset(self, mask=None) -> None:
        self._start = None if mask is None else np.asarray(mask, bool)

    def step(self, obs):
        b = obs["goal"].shape[0]
        start = np.ones(b, bool) if self._start is None else self._start
        self._start = np.zeros(b, bool)
        action = self.policy.act(obs, start)
        d = obs["embodiment"]
        low = np.stack([d[:, 1], -d[:, 2], -d[:, 3]], 1)
        high = np.stack([d[:, 0], d[:, 2], d[:, 3]], 1)
        return RuntimeOutput(np.clip(action, low, high).astype(np.float32), None)
