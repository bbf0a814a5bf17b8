"""Every caller of the episode runner gives the same results as its former hand-written loop.

Small runs (few envs and episodes, 32x32 images) of the evaluation harness, the demonstration
recorder, DAgger rounds, world-model rollouts and the demo, reduced to numbers: per-episode
records exactly, arrays as shape, dtype and two sums. ``reference.json`` holds the numbers
the hand-written autoreset loops produced before they moved onto
:class:`compass_nav.episodes.EpisodeRunner`; ``python test/episodes/test_runner_parity.py
[NAME...]`` prints the current ones in the same form.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest


def digest(x) -> list:
    """Shape, dtype and two rounded sums of an array (stable across runs on one machine)."""
    a = np.asarray(x)
    if a.dtype.kind in "US":
        return [list(a.shape), str(a.dtype.kind), sorted({str(v) for v in a.ravel()})]
    f = a.astype(np.float64)
    return [
        list(a.shape),
        str(a.dtype),
        round(float(f.sum()), 3),
        round(float(np.abs(f).sum()), 3),
    ]


def _rec(r: dict) -> dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()}


def evaluation() -> list:
    from compass_nav.evaluation.config import EvalConfig
    from compass_nav.evaluation.harness import evaluate
    from compass_nav.sim.config import EpisodeSpec

    out = []
    for pol, envs in (("teacher", 4), ("goal_seeker", 8)):
        cfg = EvalConfig(
            embodiments=("carter", "spot"),
            episode=EpisodeSpec(
                split="heldout",
                families=("warehouse", "office"),
                image_height=32,
                image_width=32,
                max_episode_steps=40,
            ),
            episodes=3,
            num_envs=envs,
            workers=1,
            gifs=1,
            bootstrap=100,
        )
        res = evaluate(pol, cfg, progress=False)
        out.append([_rec(r) for r in res.records])
        out.append(
            [
                res.env_steps,
                [
                    [
                        c.record["cell"],
                        c.record["episode"],
                        digest(c.rgb),
                        digest(c.depth),
                        digest(c.poses),
                    ]
                    for c in res.clips
                ],
            ]
        )
    return out


def recorder() -> dict:
    from compass_nav.data import format as fmt
    from compass_nav.data import record_episodes
    from compass_nav.sim.config import SimConfig

    cfg = SimConfig(
        num_envs=3,
        embodiments=("carter",),
        families=("warehouse", "hall"),
        image_height=32,
        image_width=32,
        max_episode_steps=80,
    )
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, pol, kw in (
            ("all", "goal_seeker", {}),
            ("success", "teacher", {"only_success": True}),
        ):
            root = Path(tmp) / name
            r = record_episodes(pol, root, cfg, 5, seed=3, writer_threads=0, progress=False, **kw)
            eps = []
            for _, p in fmt.list_episode_files(root):
                steps, arrays, attrs = fmt.read_episode(p)
                ep = {**steps, **arrays}
                eps.append(
                    {
                        "attrs": {
                            k: (digest(v) if isinstance(v, np.ndarray) else v)
                            for k, v in sorted(attrs.items())
                        },
                        "arrays": {k: digest(v) for k, v in sorted(ep.items())},
                    }
                )
            out[name] = {
                "result": [r.written, r.successes, r.recorded_steps, r.env_steps],
                "episodes": eps,
            }
    return json.loads(json.dumps(out, default=_json_default))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return digest(o)
    raise TypeError(type(o))


def dagger() -> list:
    import torch

    from compass_nav.il.dagger import DaggerConfig, collect_round
    from compass_nav.models.xmobility import XMobility, preset
    from compass_nav.sim.config import EpisodeSpec

    out = []
    cfg = DaggerConfig(
        episodes=5,
        num_envs=3,
        episode=EpisodeSpec(
            families=("hall", "office"), max_episode_steps=25, image_height=0, image_width=0
        ),
    )
    torch.manual_seed(0)
    for model in (None, XMobility(preset("debug")).eval()):
        eps, stats = collect_round(
            model,
            cfg,
            ("carter",),
            1,
            seed=2,
            image_hw=(32, 32),
            route_points=10,
            route_spacing=0.4,
            progress=False,
        )
        # Planned rollouts: the path target is the route (the reference predates the key).
        assert all(np.array_equal(ep["path"], ep["route"]) for ep in eps)
        out.append(
            {
                "stats": {k: round(v, 6) for k, v in stats.items()},
                "episodes": [
                    {k: digest(v) for k, v in sorted(ep.items()) if k != "path"} for ep in eps
                ],
            }
        )
    return out


def rollouts() -> dict:
    import dataclasses

    from compass_nav.worldmodel.rollouts import record_rollouts

    out = {}
    for spec in ("teacher", "goal_seeker"):
        r = record_rollouts(
            spec,
            "carter",
            ("warehouse", "hall"),
            "train",
            3,
            seed=1,
            image_size=32,
            max_episode_steps=30,
            block=2,
        )
        out[spec] = {
            f.name: digest(getattr(r, f.name)) for f in dataclasses.fields(r) if f.name != "spec"
        }
    return out


def demo() -> dict:
    from compass_nav.demo import DemoConfig, rollout

    cfg = DemoConfig(
        embodiments=("carter", "spot"),
        families=("hall",),
        episodes=3,
        envs_per_pair=2,
        image_height=32,
        image_width=32,
        gif_stride=3,
    )
    res = rollout(cfg, progress=False)
    import dataclasses

    return {
        "records": [_rec(dataclasses.asdict(r)) for r in res.records],
        "frames": {"/".join(k): [len(v), digest(np.stack(v))] for k, v in res.frames.items()},
        "maps": {"/".join(k): digest(v) for k, v in res.final_maps.items()},
        "outcomes": {"/".join(k): v for k, v in res.outcomes.items()},
    }


REFERENCE = Path(__file__).with_name("reference.json")


def _same(got, want, where: str = "") -> None:
    """Assert equal structure; floats within 1e-6 relative (sums may round differently)."""
    if isinstance(want, float) or isinstance(got, float):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-6), where
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for k in want:
            _same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


@pytest.mark.slow
@pytest.mark.parametrize("name", ["evaluation", "recorder", "dagger", "rollouts", "demo"])
def test_same_results_as_the_hand_written_loops(name: str) -> None:
    want = json.loads(REFERENCE.read_text())[name]
    got = json.loads(json.dumps(CAPTURES[name](), default=_json_default))
    _same(got, want, name)


CAPTURES = {
    "evaluation": evaluation,
    "recorder": recorder,
    "dagger": dagger,
    "rollouts": rollouts,
    "demo": demo,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(CAPTURES)
    for n in names:
        print(n, json.dumps(json.loads(json.dumps(CAPTURES[n](), default=_json_default))))
