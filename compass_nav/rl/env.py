"""rsl-rl ``VecEnv`` over the embedded simulator, with the frozen IL base run inside it.

The base is frozen, so :class:`ResidualNavEnv` runs it once per env step (batched, no
gradients) and hands PPO features instead of images: observation groups ``head_input``
(policy state + goal + speed + descriptor, :func:`compass_nav.rl.modules.head_inputs`),
``base_action`` (the base's action in fractions of the body's limits) and ``privileged``
(simulator ground truth for the critic only, :func:`privileged_features`). PPO's updates are
then cheap MLP work over stored feature vectors.

Actions are fractions of the body's limits; the wrapper clamps them to [-1, 1] and scales
them to SI with the descriptor (so every command is within the body's limits).

Autoreset (gymnasium ``NEXT_STEP``): the step on which an episode ends is reported with
``done`` (and ``time_outs`` for truncations, which rsl-rl bootstraps). On the next step the
simulator ignores that env's action and resets it: the wrapper reports reward 0, not done,
and the new episode's first observation (the base's recurrent state is reset for it). The
action sampled at that one step has no effect on anything, so its advantage is independent
of the action: zero-mean noise in the policy gradient, not a bias.
"""

from __future__ import annotations

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from compass_nav.models.xmobility import XMobility
from compass_nav.models.xmobility import processing as P
from compass_nav.rl.modules import head_inputs
from compass_nav.rl.rewards import proximity_penalty
from compass_nav.sim.config import SimConfig
from compass_nav.sim.scenes import GRID_CELLS

__all__ = ["PRIVILEGED_DIM", "ResidualNavEnv", "privileged_features"]

_RING = 8  # directions probed around the robot
_RING_RADIUS = 0.5  # m
_GEO_CLIP = 20.0  # m of cost-to-go
PRIVILEGED_DIM = 2 + 2 * _RING + 3 + 1


def map_at_pose(sim, layer: str) -> np.ndarray:
    """(N,) value of a privileged map layer at the cell each robot's centre is in.

    ``layer``: ``cost_to_go`` (planner metres to the goal) or ``clearance`` (metres to the
    nearest obstacle).
    """
    p = sim.privileged()
    res, pose = p["resolution"], p["pose"]
    gi = np.clip((pose[:, 1] / res).astype(int), 0, GRID_CELLS - 1)
    gj = np.clip((pose[:, 0] / res).astype(int), 0, GRID_CELLS - 1)
    return p[layer][np.arange(pose.shape[0]), gi, gj]


def privileged_features(sim) -> np.ndarray:
    """Ground-truth features for the critic, (N, :data:`PRIVILEGED_DIM`) float32.

    Geodesic cost-to-go and clearance at the robot; on a ring of 8 directions 0.5 m around
    it (robot frame, counter-clockwise from straight ahead) the change of cost-to-go and the
    clearance, i.e. which way the map says to go and where obstacles are; the body velocity;
    and the fraction of the episode's step budget used (values depend on it near timeouts).
    """
    p = sim.privileged()
    pose, ctg, clear, res = p["pose"], p["cost_to_go"], p["clearance"], p["resolution"]
    n = pose.shape[0]
    rows = np.arange(n)[:, None]
    ang = pose[:, 2:3] + np.linspace(0, 2 * np.pi, _RING, endpoint=False)[None]
    xs = np.concatenate([pose[:, :1], pose[:, :1] + _RING_RADIUS * np.cos(ang)], 1)
    ys = np.concatenate([pose[:, 1:2], pose[:, 1:2] + _RING_RADIUS * np.sin(ang)], 1)
    gi = np.clip((ys / res).astype(int), 0, GRID_CELLS - 1)
    gj = np.clip((xs / res).astype(int), 0, GRID_CELLS - 1)
    raw = ctg[rows, gi, gj]
    geo = np.minimum(raw, _GEO_CLIP)  # forbidden cells (grid.INF) read as far away
    cl = np.clip(clear[rows, gi, gj], 0.0, 2.0)
    d_geo = np.clip((geo[:, 1:] - geo[:, :1]) / _RING_RADIUS, -2.0, 2.0)
    vel = p["velocity"] / np.array([1.5, 1.0, 2.0])
    budget = (sim.steps / sim.step_limit)[:, None]  # the episode's own time limit
    out = np.concatenate([geo[:, :1] / 10.0, cl[:, :1], d_geo, cl[:, 1:], vel, budget], 1)
    return out.astype(np.float32)


class ResidualNavEnv(VecEnv):
    """Batched navigation env whose observations are frozen-base features (module doc).

    Args:
        sim_config: Simulator settings (embodiments, families, route mode, image size...).
        base: The frozen X-Mobility base (eval mode, no gradients needed).
        seed: Seed of the first reset.
        proximity_weight, proximity_margin: Reward every step times
            :func:`~compass_nav.rl.rewards.proximity_penalty` of the map clearance at the
            robot (privileged; 0 disables it).
        device: Torch device of the returned tensors.
    """

    def __init__(
        self,
        sim_config: SimConfig,
        base: XMobility,
        seed: int = 0,
        proximity_weight: float = 0.0,
        proximity_margin: float = 0.3,
        device: str = "cpu",
    ) -> None:
        from compass_nav.sim.env import NavVectorEnv

        self.sim = NavVectorEnv(sim_config)
        self.cfg = sim_config
        self.base = base.eval()
        self.device = device
        self.num_envs = sim_config.num_envs
        self.num_actions = 3
        self.max_episode_length = sim_config.max_episode_steps
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        n = self.num_envs
        self.state = base.initial(n)
        self.prev_action = torch.zeros(n, 3)
        self._first = np.ones(n, bool)
        self._pending = np.zeros(n, bool)
        self.proximity_weight = proximity_weight
        self.proximity_margin = proximity_margin
        obs, _ = self.sim.reset(seed=seed)
        self._radius = np.array([b.circumscribed_radius for b in self.sim.env_bodies])
        self._return = np.zeros(self.num_envs)
        self.last_obs = obs
        self._obs = self._observe(obs)

    @property
    def bodies(self) -> list:
        """Embodiment spec of each env slot."""
        return self.sim.env_bodies

    @property
    def descriptors(self) -> torch.Tensor:
        """(N, D) embodiment descriptor of each env slot."""
        return self._embodiment

    def _observe(self, obs: dict[str, np.ndarray]) -> TensorDict:
        t = P.obs_to_tensors(obs, self.device)
        first = torch.as_tensor(self._first, device=self.device)
        with torch.no_grad():
            self.state, out = self.base.observe(t, self.prev_action, self.state, first)
            x = head_inputs(out["policy_state"], t["goal"], t["speed"], t["embodiment"])
        self._embodiment = t["embodiment"]
        priv = torch.as_tensor(privileged_features(self.sim), device=self.device)
        return TensorDict(
            {"head_input": x, "base_action": out["action_norm"], "privileged": priv},
            batch_size=[self.num_envs],
            device=self.device,
        )

    def get_observations(self) -> TensorDict:
        """Features of the current observation of every env."""
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Apply actions (N, 3) in fractions of the limits; see the module doc for autoreset.

        Returns:
            ``(obs, rewards (N,), dones (N,), extras)``; extras hold ``time_outs`` (N,) and
            ``episode``: per finished episode arrays ``success``, ``collision``,
            ``timeout``, ``return`` (including the progress term), ``length``,
            ``embodiment_index``.
        """
        with torch.no_grad():
            u = torch.clamp(actions.to(self.device).float(), -1.0, 1.0)
            command = P.scale_action(u, self._embodiment)
        obs, reward, terminated, truncated, info = self.sim.step(command.cpu().numpy())
        resetting = self._pending
        ended = info["_episode"]
        if self.proximity_weight:
            shaping = self.proximity_weight * proximity_penalty(
                map_at_pose(self.sim, "clearance"), self._radius, self.proximity_margin
            )
            reward = reward + np.where(resetting, 0.0, shaping)
        self._return = np.where(resetting, 0.0, self._return) + reward
        self.prev_action = torch.where(
            torch.as_tensor(resetting, device=self.device)[:, None],
            torch.zeros_like(command),
            command,
        )
        self._first = resetting.copy()
        self._pending = ended.copy()
        self.last_obs = obs
        self._obs = self._observe(obs)
        self.episode_length_buf = torch.as_tensor(self.sim.steps, device=self.device)
        ep = info["episode"]
        extras = {
            "time_outs": torch.as_tensor(truncated, device=self.device),
            "episode": {
                "success": ep["success"][ended],
                "collision": ep["collision"][ended],
                "timeout": truncated[ended],
                "return": self._return[ended],
                "length": ep["l"][ended],
                "embodiment_index": info["embodiment_index"][ended],
            },
        }
        return (
            self._obs,
            torch.as_tensor(reward, dtype=torch.float32, device=self.device),
            torch.as_tensor(ended, device=self.device),
            extras,
        )
