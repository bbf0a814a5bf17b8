"""Throughput and size of demonstration recording (teacher, RGB-D, one embodiment).

Runs, each into a fresh temporary folder:
  sim_only     the env + teacher loop without recording (the ceiling)
  inline       record, compressing and writing in the loop (writer_threads=0)
  threaded     record, one background writer thread (the default)
  raw          record without compression (writer thread)
  workers2     two recorder worker processes (half the slots and one numba thread each)

and prints episodes/s, env-steps/s and MB per 100 episodes for each. The last line holds the
headline figures of the CLI's default (two workers, compressed).

    nice -n 10 .venv/bin/python benchmarks/bench_demos.py --episodes 200
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def _cfg(args, num_envs: int):
    from compass_nav.sim.config import SimConfig

    return SimConfig(
        num_envs=num_envs,
        embodiments=(args.embodiment,),
        image_height=args.size,
        image_width=args.size,
    )


def _folder_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*.npz")) / 1e6


def _sim_only(args) -> dict:
    from compass_nav.sim.env import NavVectorEnv
    from compass_nav.teacher import Teacher

    env = NavVectorEnv(_cfg(args, args.num_envs))
    teacher = Teacher(env)
    env.reset(seed=0)
    episodes = steps = 0
    t0 = time.perf_counter()
    while episodes < args.episodes:
        _, _, _, _, info = env.step(teacher.act())
        episodes += int(info["_episode"].sum())
        steps += env.num_envs
    secs = time.perf_counter() - t0
    return {
        "eps_s": episodes / secs,
        "steps_s": steps / secs,
        "mb_100": float("nan"),
        "seconds": secs,
    }


def _record(args, root: Path, num_envs: int, episodes: int, seed: int, **kw) -> dict:
    from compass_nav.data import record_episodes

    r = record_episodes(
        "teacher", root, _cfg(args, num_envs), episodes, seed=seed, progress=False, **kw
    )
    return {
        "eps_s": r.written / r.seconds,
        "steps_s": r.env_steps / r.seconds,
        "mb_100": _folder_mb(root) / r.written * 100,
        "seconds": r.seconds,
        "steps_per_ep": r.recorded_steps / r.written,
        "sr": r.successes / r.written,
    }


def _cpu_seconds() -> float:
    """User+system CPU time of this process and its waited-for children (recorder workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--embodiment", default="carter")
    parser.add_argument("--variants", default="sim_only,inline,threaded,raw,workers2")
    args = parser.parse_args()
    variants = args.variants.split(",")
    # Warm the numba caches so the first variant is not charged for loading them.
    with tempfile.TemporaryDirectory() as tmp:
        _record(args, Path(tmp) / "warm", 2, 2, 99)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k, v in enumerate(variants):
            folder = tmp / f"{k}_{v}"
            cpu0 = _cpu_seconds()
            if v == "sim_only":
                out[v] = _sim_only(args)
            elif v == "inline":
                out[v] = _record(args, folder, args.num_envs, args.episodes, 1, writer_threads=0)
            elif v == "threaded":
                out[v] = _record(args, folder, args.num_envs, args.episodes, 1, writer_threads=1)
            elif v == "raw":
                out[v] = _record(args, folder, args.num_envs, args.episodes, 1, compress=False)
            elif v == "workers2":
                out[v] = _record(args, folder, args.num_envs, args.episodes, 1, workers=2)
            else:
                raise SystemExit(f"unknown variant {v!r}")
            r = out[v]
            r["cpu_ms_per_step"] = (_cpu_seconds() - cpu0) / (r["steps_s"] * r["seconds"]) * 1e3
            extra = "".join(f" {k}={r[k]:.3f}" for k in ("steps_per_ep", "sr") if k in r)
            print(
                f"{v:<9} episodes/s {r['eps_s']:7.2f}  env-steps/s {r['steps_s']:8.0f}  "
                f"MB/100 episodes {r['mb_100']:7.1f}  seconds {r['seconds']:6.1f}  "
                f"CPU ms/env-step {r['cpu_ms_per_step']:.2f}{extra}",
                flush=True,
            )
    head = out.get("workers2") or out.get("threaded") or next(iter(out.values()))
    print(
        f"episodes_per_s={head['eps_s']:.2f} env_steps_per_s={head['steps_s']:.0f} "
        f"mb_per_100_episodes={head['mb_100']:.1f} episodes={args.episodes} "
        f"num_envs={args.num_envs} size={args.size}"
    )


if __name__ == "__main__":  # the guard also keeps spawned recorder workers from re-running
    from compass_nav.plugins import register_all

    register_all()  # the policies make_policy knows, as the command line registers them
    main()
