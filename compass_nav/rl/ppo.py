"""PPO wiring: rsl-rl's algorithm and rollout storage around the residual actor.

rsl-rl-lib 5.5 expresses residual PPO without changes: its :class:`rsl_rl.algorithms.PPO`
accepts any actor and critic that implement its model interface, so the algorithm (losses,
adaptive learning rate, GAE, storage, minibatches) is rsl-rl's and only the actor
(:class:`compass_nav.rl.actor.ResidualActor`) is ours. The loop, logging and checkpoints are
our runner's (:mod:`compass_nav.rl.runner`) rather than rsl-rl's ``OnPolicyRunner``, which
writes checkpoints non-atomically, keeps no RNG state and has no progress bar.
"""

from __future__ import annotations

import dataclasses

from rsl_rl.algorithms import PPO
from rsl_rl.env import VecEnv
from rsl_rl.storage import RolloutStorage

from compass_nav.rl.actor import ResidualActor, make_critic
from compass_nav.rl.config import HeadConfig, PPOConfig
from compass_nav.rl.env import ResidualNavEnv
from compass_nav.rl.modules import EXTRA_INPUT_DIM

__all__ = ["build_ppo"]


def build_ppo(
    env: ResidualNavEnv | VecEnv,
    ppo: PPOConfig,
    head: HeadConfig,
    steps_per_env: int,
    device: str = "cpu",
) -> PPO:
    """rsl-rl PPO with a zero-initialised residual actor and a privileged critic.

    Args:
        env: The feature env (its first observation sizes the networks and the storage);
            any rsl-rl ``VecEnv`` with the observation groups of :class:`ResidualNavEnv`.
        ppo: Algorithm settings.
        head: Residual head settings.
        steps_per_env: Rollout length (storage is ``[steps_per_env, num_envs, ...]``).
        device: Torch device.
    """
    obs = env.get_observations()
    actor = ResidualActor.build(obs["head_input"].shape[1] - EXTRA_INPUT_DIM, head)
    critic = make_critic(obs, ppo)
    storage = RolloutStorage("rl", env.num_envs, steps_per_env, obs, [env.num_actions], device)
    # Every PPOConfig field but the critic's widths (used above) is a keyword of rsl-rl's PPO.
    settings = dataclasses.asdict(ppo)
    del settings["critic_hidden_dims"]
    return PPO(actor, critic, storage, **settings, device=device)
