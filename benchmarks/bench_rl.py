"""Throughput of residual PPO on this machine: where an iteration's time goes.

Runs a few PPO iterations (rollout in the feature env + update) and reports env-steps/s of
the whole loop, and the share of the simulator step, the frozen base's forward pass and the
PPO update. Prints its headline figures as the last line (``name=value`` pairs).

    .venv/bin/python benchmarks/bench_rl.py --base runs/il_carter --embodiment spot
"""

from __future__ import annotations

import argparse
import time

import torch

from compass_nav.rl.base import load_base
from compass_nav.rl.config import rl_preset
from compass_nav.rl.env import ResidualNavEnv
from compass_nav.rl.ppo import build_ppo
from compass_nav.rl.runner import rl_sim_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="random:default", help="IL checkpoint/run or random:<p>")
    ap.add_argument("--embodiment", default="spot")
    ap.add_argument("--num-envs", type=int, default=32)
    ap.add_argument("--steps-per-env", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = rl_preset(
        "default",
        base=args.base,
        embodiment=args.embodiment,
        num_envs=args.num_envs,
        steps_per_env=args.steps_per_env,
    )
    base = load_base(cfg.base)
    env = ResidualNavEnv(rl_sim_config(cfg, base.cfg), base, seed=0)
    alg = build_ppo(env, cfg.ppo, cfg.head, cfg.steps_per_env)
    timing = {"sim": 0.0, "base": 0.0}
    sim_step, observe = env.sim.step, env._observe

    def timed_sim(a):
        t0 = time.perf_counter()
        out = sim_step(a)
        timing["sim"] += time.perf_counter() - t0
        return out

    def timed_observe(obs):
        t0 = time.perf_counter()
        out = observe(obs)
        timing["base"] += time.perf_counter() - t0
        return out

    env.sim.step, env._observe = timed_sim, timed_observe
    obs = env.get_observations()
    alg.train_mode()
    t_update = 0.0
    t_start = time.perf_counter()
    for _ in range(args.iterations):
        with torch.inference_mode():
            for _ in range(args.steps_per_env):
                actions = alg.act(obs)
                obs, rew, dones, extras = env.step(actions)
                alg.process_env_step(obs, rew, dones, extras)
            alg.compute_returns(obs)
        t0 = time.perf_counter()
        alg.update()
        t_update += time.perf_counter() - t0
    wall = time.perf_counter() - t_start
    steps = args.iterations * args.num_envs * args.steps_per_env
    print(
        f"base={args.base} embodiment={args.embodiment} envs={args.num_envs} "
        f"steps={steps} wall={wall:.1f}s"
    )
    print(
        f"env_steps_per_s={steps / wall:.0f} sim_frac={timing['sim'] / wall:.2f} "
        f"base_frac={timing['base'] / wall:.2f} update_frac={t_update / wall:.2f} "
        f"min_per_1M_steps={1e6 / (steps / wall) / 60:.1f}"
    )


if __name__ == "__main__":
    main()
