"""How faithfully imagination's route rule reproduces the simulator's routes (train policies).

Imagination has no map, so the ``route`` a policy observes is rebuilt from the start plan
(:mod:`compass_nav.worldmodel.kinematics`). Two rules:

* ``project``: the start plan followed from its nearest point (``evaluate.replan=false``);
* ``replan``: the simulator's planner and route rule on a clearance estimated from the start
  plan (``evaluate.replan=true``; :func:`~compass_nav.worldmodel.kinematics.plan_cost_to_go`).

Two measurements, on recorded rollouts only (no world model):

1. **Routes at real poses.** At every recorded step the rule is given the body's real pose
   (start frame) and its route is compared with the one the simulator handed the policy:
   mean distance of the first three waypoints, m, by how far the body was from its start plan.
2. **Closed loop, no images.** Policies that read no image (the ``goal_seeker`` family) are
   driven by the body's actuator model and the rule alone from the real first observations;
   their reach rate and travel time are compared with the simulator's (real success plus
   collisions, since the collision ends a real episode that might have arrived).

By default both run on the pool's ``train`` policies' world-model training rollouts (the
pre-registered route criterion in BENCHMARKS.md: the rule with the lower mean waypoint error
there is the one held-out sets are imagined with); ``--specs``/``--split`` look at others.

    nice -n 5 .venv/bin/python benchmarks/bench_wm_route_fidelity.py \\
        --model runs/worldmodel/model_v7.pt
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.plugins import register_all
from compass_nav.policies import make_policy
from compass_nav.worldmodel.imagine import NeedsSimulator, _ImaginedEnv
from compass_nav.worldmodel.kinematics import ActuatorModel, Proprioception, plan_cost_to_go
from compass_nav.worldmodel.rollouts import load_rollouts, rollout_path
from compass_nav.worldmodel.train import load_checkpoint

BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.8), (0.8, np.inf))
RULES = ("project", "replan")
#: Policies that read no image: imagination of them is kinematics and route alone.
PROPRIOCEPTIVE = ("goal_seeker",)


def plan_distance(r, rel: np.ndarray) -> np.ndarray:
    """(E, T+1) distance of each recorded pose from its episode's start plan, m."""
    out = np.full(rel.shape[:2], np.inf)
    for e in range(r.num_episodes):
        m = int(r.plan_len[e])
        if m >= 2:
            pl = r.plan[e, :m].astype(np.float64)
            out[e] = np.hypot(
                rel[e, :, None, 0] - pl[None, :, 0], rel[e, :, None, 1] - pl[None, :, 1]
            ).min(1)
    return out


def route_errors(r, body) -> dict[str, np.ndarray]:
    """{rule: (K, 2) [waypoint error m, distance from plan m]} over all recorded steps."""
    first = r.first_obs()
    fields = plan_cost_to_go(r.plan, r.plan_len, first["goal"], body)
    pros = {
        "project": Proprioception(first["goal"], r.plan, r.plan_len, first["speed"]),
        "replan": Proprioception(
            first["goal"], r.plan, r.plan_len, first["speed"], cost_to_go=fields
        ),
    }
    rel, valid = r.start_frame_poses()
    dplan = plan_distance(r, rel)
    out = {k: [] for k in pros}
    for t in range(rel.shape[1]):
        rows = np.minimum(r.start + t, r.start + r.length)
        real = r.route[rows, :3].astype(np.float64)
        for k, pro in pros.items():
            pro.pose = rel[:, t]
            q = pro.route_obs()[:, :3].astype(np.float64)
            err = np.hypot(q[..., 0] - real[..., 0], q[..., 1] - real[..., 1]).mean(1)
            out[k].append(np.stack([err, dplan[:, t]], 1)[valid[:, t]])
    return {k: np.concatenate(v) for k, v in out.items()}


def closed_loop(spec: str, r, body, rule: str, max_steps: int, seed: int = 0) -> np.ndarray:
    """(E,) imagined reach step (0: never) of a policy that reads no image, under a rule."""
    first = r.first_obs()
    n = r.num_episodes
    policy = make_policy(spec)
    policy.bind(_ImaginedEnv(body, n))
    fields = plan_cost_to_go(r.plan, r.plan_len, first["goal"], body) if rule == "replan" else None
    act = ActuatorModel(body, seed=seed)
    pro = Proprioception(
        first["goal"],
        r.plan,
        r.plan_len,
        first["speed"],
        route_points=r.route.shape[1],
        cost_to_go=fields,
    )
    obs = dict(first, route=pro.route_obs())
    active, end = np.ones(n, bool), np.zeros(n, np.int64)
    for t in range(max_steps):
        a = np.asarray(policy.act(obs, np.full(n, t == 0)), np.float32)
        pro.pose, pro.vel = act.step(pro.pose, pro.vel, act.clip(a), active)
        done = pro.reached() & active
        end[done] = t + 1
        active &= ~done
        if not active.any():
            break
        obs = dict(
            obs, speed=pro.vel.astype(np.float32), goal=pro.goal_obs(), route=pro.route_obs()
        )
    return end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="world-model checkpoint (for its pool)")
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    ap.add_argument("--split", default="train", choices=("train", "eval"))
    ap.add_argument("--specs", nargs="+", help="policies (default: the pool's train policies)")
    args = ap.parse_args()
    cfg = load_checkpoint(args.model).config
    body = get_embodiment(cfg.pool.embodiment)
    specs = args.specs or [p.spec for p in cfg.pool.policies if p.role == "train"]
    t0 = time.time()
    errs = {k: [] for k in RULES}
    print(
        "routes at the recorded poses: mean error of the first three waypoints, m, by "
        "distance from the start plan " + " ".join(f"[{a:g},{b:g})" for a, b in BINS)
    )
    loops = []
    for spec in specs:
        path = rollout_path(args.data, args.split, spec)
        if not path.is_file():
            print(f"  {spec}: no {args.split} recording at {path}, skipped")
            continue
        r = load_rollouts(path)
        if not (r.plan_len >= 2).any():
            continue
        e = route_errors(r, body)
        row = f"  {spec:46s}"
        for k in RULES:
            errs[k].append(e[k])
            by = [e[k][(e[k][:, 1] >= a) & (e[k][:, 1] < b), 0] for a, b in BINS]
            row += (
                f" | {k} {e[k][:, 0].mean():.3f} ("
                + " ".join(f"{x.mean():.3f}" if len(x) else "  -  " for x in by)
                + ")"
            )
        print(row, flush=True)
        base = spec.removeprefix("degraded:").split("?")[0]
        if base in PROPRIOCEPTIVE:
            loops.append((spec, r))
    summary = {}
    for k in RULES:
        a = np.concatenate(errs[k])
        summary[k] = float(a[:, 0].mean())
        by = [a[(a[:, 1] >= lo) & (a[:, 1] < hi), 0] for lo, hi in BINS]
        print(
            f"all {k:8s} mean {summary[k]:.4f} m over {len(a)} steps; by distance from "
            "the plan: "
            + ", ".join(
                f"[{lo:g},{hi:g}) {x.mean():.3f} (n={len(x)})"
                for (lo, hi), x in zip(BINS, by, strict=True)
                if len(x)
            )
        )
    print("closed loop without images (reach rate, mean steps of reached episodes):")
    for spec, r in loops:
        real_reach = r.success | r.collision_end
        row = (
            f"  {spec:46s} real success {r.success.mean():.3f} (+collisions "
            f"{real_reach.mean():.3f}) steps {r.length[r.success].mean():6.1f}"
        )
        for k in RULES:
            try:
                end = closed_loop(spec, r, body, k, cfg.pool.max_episode_steps)
            except NeedsSimulator:
                continue
            ok = end > 0
            row += (
                f" | {k} {ok.mean():.3f} steps {end[ok].mean() if ok.any() else float('nan'):6.1f}"
            )
        print(row, flush=True)
    chosen = min(RULES, key=lambda k: summary[k])
    print(f"{time.time() - t0:.0f} s")
    print(
        f"route_rule={chosen} replan={int(chosen == 'replan')} "
        + " ".join(f"{k}={v:.4f}" for k, v in summary.items())
    )


if __name__ == "__main__":
    register_all()  # the policies make_policy knows, as the command line registers them
    main()
