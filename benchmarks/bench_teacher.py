"""Teacher success rate on held-out scenes for every registered embodiment and scene family.

Drives :class:`compass_nav.teacher.Teacher` in :class:`compass_nav.sim.env.NavVectorEnv`
(``split='heldout'``: scene seeds never used in training) and counts exactly ``--episodes``
seeded goals per (embodiment, family) pair. Every env slot runs a fixed quota of episodes and
only those are counted, so short (successful) episodes are not over-represented the way they
would be by "stop after the first N finished episodes".

The teacher needs no images, so the camera is shrunk to a 16x16 depth image (rendering is
benchmarked by ``bench_sim.py``). Prints a table with 95% Wilson intervals and, as its last
line, ``name=value`` pairs.

    nice -n 10 .venv/bin/python benchmarks/bench_teacher.py            # 200 goals per pair
    .venv/bin/python benchmarks/bench_teacher.py --episodes 20 --embodiments carter h1
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from tqdm import tqdm

from compass_nav.contract.body import get_embodiment, list_embodiments
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.scenes import list_families
from compass_nav.teacher import Teacher


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (well behaved near 0 and 1)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def run(
    embodiments: list[str], families: list[str], episodes: int, slots: int, seed: int, split: str
) -> dict[tuple[str, str], dict[str, list]]:
    """Roll the teacher out; returns per-(embodiment, family) lists of episode outcomes."""
    n_env = len(embodiments) * len(families) * slots
    env = NavVectorEnv(
        num_envs=n_env,
        embodiments=tuple(embodiments),
        families=tuple(families),
        split=split,
        image_height=16,
        image_width=16,
        render_rgb=False,
        render_depth=True,
    )
    teacher = Teacher(env)
    env.reset(seed=seed)
    quota = np.full(n_env, episodes // slots)
    quota[: episodes % slots * len(embodiments) * len(families)] += 1
    # Slot e serves pair (body e // F % E, family e % F); the first `episodes % slots`
    # groups of E*F slots take one extra episode so each pair gets exactly `episodes`.
    done = np.zeros(n_env, np.int64)
    names = [b.name for b in env.env_bodies]
    results: dict[tuple[str, str], dict[str, list]] = {
        (b, f): {"success": [], "collision": [], "timeout": [], "spl": [], "time": []}
        for b in embodiments
        for f in families
    }
    total = int(quota.sum())
    with tqdm(total=total, desc="teacher episodes", unit="ep") as bar:
        while (done < quota).any():
            _, _, _, _, info = env.step(teacher.act())
            ended = info["_episode"]
            for e in np.flatnonzero(ended & (done < quota)):
                r = results[(names[e], str(info["family"][e]))]
                ep = info["episode"]
                r["success"].append(bool(ep["success"][e]))
                r["collision"].append(bool(ep["collision"][e]))
                r["timeout"].append(bool(info["timeout"][e]))
                r["spl"].append(float(ep["spl"][e]))
                r["time"].append(float(ep["time"][e]))
                done[e] += 1
                bar.update(1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--embodiments",
        nargs="+",
        default=None,
        help="bodies to test (default: every registered one)",
    )
    parser.add_argument(
        "--families", nargs="+", default=None, help="scene families (default: all)"
    )
    parser.add_argument("--episodes", type=int, default=200, help="goals per pair (200)")
    parser.add_argument("--slots", type=int, default=8, help="parallel envs per pair (8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="heldout", choices=("train", "heldout"))
    args = parser.parse_args()
    bodies = args.embodiments or list_embodiments()
    families = args.families or list_families()
    for b in bodies:
        get_embodiment(b)  # fail early on a typo, listing the known names

    t0 = time.perf_counter()
    results = run(bodies, families, args.episodes, args.slots, args.seed, args.split)
    wall = time.perf_counter() - t0

    header = (
        f"{'embodiment':<10} {'split':<7} {'family':<10} {'n':>4} {'success':>8} "
        f"{'95% CI':>15} {'collide':>8} {'timeout':>8} {'SPL':>6} {'time s':>7}"
    )
    print(header)
    print("-" * len(header))
    worst = 1.0
    all_s, all_n = 0, 0
    summary = {}
    for b in bodies:
        split = get_embodiment(b).split
        for f in families:
            r = results[(b, f)]
            n = len(r["success"])
            s = int(sum(r["success"]))
            lo, hi = wilson_interval(s, n)
            sr = s / max(n, 1)
            worst = min(worst, sr)
            all_s += s
            all_n += n
            succ_time = [t for t, ok in zip(r["time"], r["success"], strict=True) if ok]
            print(
                f"{b:<10} {split:<7} {f:<10} {n:>4} {sr:>8.3f} "
                f"{f'[{lo:.3f}, {hi:.3f}]':>15} {np.mean(r['collision']):>8.3f} "
                f"{np.mean(r['timeout']):>8.3f} {np.mean(r['spl']):>6.3f} "
                f"{np.mean(succ_time) if succ_time else float('nan'):>7.1f}"
            )
            summary[f"{b}_{f}"] = sr
    below = [k for k, v in summary.items() if v < 0.95]
    print(f"pairs below 95%: {', '.join(below) if below else 'none'}; wall {wall:.0f} s")
    print(
        f"teacher_success_min={worst:.3f} teacher_success_mean={all_s / max(all_n, 1):.3f} "
        f"episodes={all_n} pairs_below_95={len(below)}"
    )


if __name__ == "__main__":
    main()
