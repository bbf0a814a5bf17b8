"""``compass-nav sim``: look at the embedded simulator.

Registered by :mod:`compass_nav.cli` (listed in ``COMMAND_MODULES``):

* ``compass-nav sim list`` — registered embodiments (split, kind, limits, footprint, camera)
  and scene families.
* ``compass-nav sim view`` — drive one episode with any policy (``teacher`` by default) and
  write ``ego_rgb.png``, ``ego_depth.png``, ``topdown.png``, ``frame.png`` (the three side by
  side) and ``episode.gif`` into ``--out``.
* ``compass-nav sim difficulty`` — how hard a scenario suite is per body and family
  (:mod:`compass_nav.sim.difficulty`): straight line / stale route clear, route length and
  tortuosity, moving-obstacle encounters, the blind route follower's success.

Unknown embodiment, family or policy names raise :class:`~compass_nav.utils.errors.ConfigError`
in the simulator/policy registries; the top-level CLI prints them as
``compass-nav: error: ...`` with the known names.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from compass_nav.sim.suites import add_moving_obstacles, add_suite
from compass_nav.utils.cli import (
    SIM_ROUTE_MODES,
    Stage,
    Verb,
    add_names,
    add_route_mode,
    add_split,
)
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import ensure_output_dir, ensure_output_file

__all__ = ["STAGE", "parse_size", "view_episode"]


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``96x160``) into (height, width) pixels.

    Raises:
        ConfigError: naming ``--size`` and the value when it is not two positive integers.
    """
    parts = text.lower().split("x")
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--size={text!r}: expected HEIGHTxWIDTH, e.g. 96x160") from None
    if h <= 0 or w <= 0:
        raise ConfigError(f"--size={text!r}: height and width must be positive")
    return h, w


def _family_summary(name: str) -> str:
    try:
        module = importlib.import_module(f"compass_nav.sim.scenes.{name}")
    except ModuleNotFoundError:
        return ""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def _cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from compass_nav.contract.body import get_embodiment, list_embodiments
    from compass_nav.sim.scenes import heldout_families, list_families

    # A pipe or a log file gets rich's 80 columns by default: too narrow for this table.
    probe = Console()
    console = probe if probe.is_terminal else Console(width=160)
    table = Table(title="Embodiments (sim/embodiments/*.yaml)", title_justify="left")
    for col, justify in (
        ("name", "left"),
        ("split", "left"),
        ("kind", "left"),
        ("vx m/s", "right"),
        ("vy m/s", "right"),
        ("wz rad/s", "right"),
        ("accel x/y/wz", "right"),
        ("lag s", "right"),
        ("footprint m", "right"),
        ("camera h/pitch/hfov", "right"),
        ("description", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=col != "description")
    for name in list_embodiments():
        b = get_embodiment(name)
        table.add_row(
            b.name,
            b.split,
            b.kind,
            f"{b.min_vx:+.2f}..{b.max_vx:.2f}",
            f"±{b.max_vy:.2f}",
            f"±{b.max_wz:.2f}",
            f"{b.max_ax:.1f}/{b.max_ay:.1f}/{b.max_awz:.1f}",
            f"{b.lag_tau:.2f}",
            f"{b.length:.2f}x{b.width:.2f}",
            f"{b.camera_height:.2f} m/{b.camera_pitch:.2f}/{b.camera_hfov_deg:.0f}°",
            b.description,
        )
    console.print(table)
    fam = Table(title="Scene families (compass_nav/sim/scenes/)", title_justify="left")
    fam.add_column("family")
    fam.add_column("split")
    fam.add_column("what it generates")
    held = set(heldout_families())
    for name in list_families():
        split = "heldout (evaluation only)" if name in held else "train"
        fam.add_row(name, split, _family_summary(name))
    console.print(fam)
    return 0


def view_episode(
    embodiment: str,
    family: str,
    seed: int = 0,
    policy: str = "teacher",
    steps: int = 150,
    route_mode: str = "planned",
    size: tuple[int, int] = (96, 160),
    suite: str = "v1",
    split: str = "train",
    out: str | Path = "out/sim_view",
    snapshot_step: int = -1,
    fps: float = 10.0,
    moving_obstacles: int = 0,
    gif_stride: int = 1,
) -> dict:
    """Drive one episode and write its pictures.

    Args:
        embodiment: Registered name or YAML path.
        family: Scene family.
        seed: Env reset seed (selects the scene and the start/goal task).
        policy: Policy spec for :func:`compass_nav.policies.make_policy`.
        steps: Most steps to drive; the episode may end earlier.
        route_mode: ``planned``, ``stale_map`` or ``mapless``.
        size: Ego image (height, width).
        suite: Scenario suite (``v1`` or ``v2``).
        split: ``train`` or ``heldout`` scene seeds.
        out: Output folder.
        snapshot_step: Step whose images become the PNGs (-1 or past the end: the last one).
        fps: GIF frame rate.
        moving_obstacles: People and carts in the episode (:mod:`compass_nav.sim.actors`).
        gif_stride: Every this many frames goes into the GIF (played at ``fps / gif_stride``,
            so it keeps the episode's pace); a smaller file for a long episode.

    Returns:
        Summary: ``steps`` driven, ``outcome`` (success/collision/timeout/running), ``spl``,
        ``files`` written.
    """
    import numpy as np

    from compass_nav.policies import make_policy
    from compass_nav.sim.env import NavVectorEnv
    from compass_nav.sim.mdp.terminations import episode_outcome
    from compass_nav.sim.viz import (
        EpisodeDrawer,
        compose_frame,
        depth_to_rgb,
        write_gif,
        write_png,
    )

    if steps < 1:
        raise ConfigError(f"--steps={steps}: must be >= 1")
    if gif_stride < 1:
        raise ConfigError(f"--gif-stride={gif_stride}: must be >= 1")
    env = NavVectorEnv(
        num_envs=1,
        embodiments=(embodiment,),
        families=(family,),
        split=split,
        route_mode=route_mode,
        suite=suite,
        image_height=size[0],
        image_width=size[1],
        moving_obstacles=moving_obstacles,
    )
    pol = make_policy(policy)
    pol.bind(env)
    obs, _ = env.reset(seed=seed)
    rec = EpisodeDrawer(env)
    start = np.ones(1, bool)
    outcome, spl = "running", 0.0
    frames: list[np.ndarray] = []
    snapshot = None
    for t in range(steps + 1):
        if t:
            action = pol.act(obs, start)
            start = np.zeros(1, bool)
            obs, _, term, trunc, info = env.step(action)
            if info["_episode"][0]:
                outcome = episode_outcome(info, 0)
                spl = float(info["episode"]["spl"][0])
        rec.observe(obs, start)
        topdown = rec.topdown(obs, 0)
        extra = "" if outcome == "running" else outcome
        frames.append(
            compose_frame(obs["rgb"][0], obs["depth"][0], topdown, rec.caption(obs, 0, extra))
        )
        if snapshot_step < 0 or t <= snapshot_step:
            snapshot = (obs, topdown, frames[-1])
        if t and (term[0] or trunc[0]):
            break
    snap_obs, snap_map, snap_frame = snapshot
    out = Path(out)
    files = [
        write_png(snap_obs["rgb"][0], out / "ego_rgb.png"),
        write_png(depth_to_rgb(snap_obs["depth"][0]), out / "ego_depth.png"),
        write_png(snap_map, out / "topdown.png"),
        write_png(snap_frame, out / "frame.png"),
        write_gif(frames[::gif_stride], out / "episode.gif", fps / gif_stride),
    ]
    return {
        "steps": len(frames) - 1,
        "outcome": outcome,
        "spl": spl,
        "files": [str(f) for f in files],
    }


def _cmd_view(args: argparse.Namespace) -> int:
    from compass_nav.sim.suites import get_suite

    if args.moving_obstacles is None:
        args.moving_obstacles = get_suite(args.suite).moving_obstacles
    ensure_output_dir(args.out, "--out")
    result = view_episode(
        embodiment=args.embodiment,
        family=args.family,
        seed=args.seed,
        policy=args.policy,
        steps=args.steps,
        route_mode=args.route_mode,
        size=parse_size(args.size),
        suite=args.suite,
        split=args.split,
        out=args.out,
        snapshot_step=args.snapshot_step,
        fps=args.fps,
        moving_obstacles=args.moving_obstacles,
        gif_stride=args.gif_stride,
    )
    print(
        f"{args.embodiment} in {args.family} (seed {args.seed}, policy {args.policy}): "
        f"{result['outcome']} after {result['steps']} steps, SPL {result['spl']:.2f}"
    )
    for f in result["files"]:
        print(f"  wrote {f}")
    return 0


def _view_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embodiment", default="carter", help="registered name or YAML path")
    p.add_argument("--family", default="warehouse", help="scene family")
    p.add_argument("--seed", type=int, default=0, help="reset seed (scene and task)")
    p.add_argument(
        "--policy",
        default="teacher",
        help="policy spec: teacher, standstill, wall, goal_seeker or a model path",
    )
    p.add_argument("--steps", type=int, default=150, help="most steps to drive")
    add_route_mode(p, choices=SIM_ROUTE_MODES)
    add_suite(p)
    add_split(p, choices=("train", "heldout", "validation"))
    p.add_argument("--size", default="96x160", help="ego image HEIGHTxWIDTH")
    p.add_argument(
        "--snapshot-step", type=int, default=-1, help="step shown in the PNGs (-1: the last one)"
    )
    p.add_argument("--fps", type=float, default=10.0, help="GIF frame rate")
    add_moving_obstacles(p)
    p.add_argument(
        "--gif-stride", type=int, default=1, help="every Nth frame into the GIF (smaller file)"
    )
    p.add_argument("--out", default="out/sim_view", help="output folder")


def _cmd_difficulty(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from compass_nav.sim.difficulty import DifficultyConfig, format_rows, measure
    from compass_nav.sim.scenes import list_families
    from compass_nav.utils.atomic import atomic_write_text

    if args.json:
        ensure_output_file(args.json, "--json")
    embodiments = _embodiment_names(args.embodiments)
    cfg = DifficultyConfig(
        embodiments=embodiments,
        families=tuple(args.families or list_families()),
        split=args.split,
        suite=args.suite,
        route_mode=args.route_mode,
        episodes=args.episodes,
        slots=args.slots,
        seed=args.seed,
        moving_obstacles=args.moving_obstacles,
    )
    result = measure(cfg)
    header, rows = format_rows(result)
    probe = Console()
    console = probe if probe.is_terminal else Console(width=160)
    table = Table(
        title=f"Difficulty: suite {cfg.suite}, {cfg.route_mode} routes, {cfg.split} scenes, "
        f"{cfg.episodes} episodes per cell (targets: line clear <= 0.30, stale route clear "
        f"<= 0.40, follower SR <= 0.40)",
        title_justify="left",
    )
    for col in header:
        table.add_column(col, justify="left" if col in ("embodiment", "family") else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1, allow_nan=False) + "\n")
        print(f"wrote {args.json}")
    return 0


def _embodiment_names(values: list[str]) -> tuple[str, ...]:
    from compass_nav.contract.body import list_embodiments

    out: list[str] = []
    for v in values:
        names = (
            list_embodiments(None if v == "all" else v)
            if v in ("all", "train", "heldout")
            else [v]
        )
        out += [n for n in names if n not in out]
    return tuple(out)


def _difficulty_options(p: argparse.ArgumentParser) -> None:
    add_names(p, "--embodiments", ["all"], "bodies, or all/train/heldout (all)")
    p.add_argument(
        "--families", nargs="+", default=None, metavar="FAMILY", help="scene families (all)"
    )
    add_split(
        p,
        default="heldout",
        help="scene seeds: heldout (report once), validation (for tuning), train",
        choices=("heldout", "validation", "train"),
    )
    add_suite(p, default="v2")
    add_route_mode(
        p,
        default="stale_map",
        choices=SIM_ROUTE_MODES,
        help="the route the blind follower drives (stale_map)",
    )
    p.add_argument("--episodes", type=int, default=100, help="episodes per body x family")
    p.add_argument("--slots", type=int, default=8, help="env slots per body x family")
    add_moving_obstacles(p)
    p.add_argument("--seed", type=int, default=0, help="reset seed")
    p.add_argument("--json", default=None, help="also write the result (and records) here")


#: ``compass-nav sim {list,view,difficulty}``.
STAGE = Stage(
    "sim",
    help="embedded simulator: list bodies and scenes, view an episode, measure difficulty",
    description="Look at the embedded simulator: registered embodiments and scene "
    "families, and pictures/GIFs of an episode driven by a policy.",
    verbs=(
        Verb(
            "list",
            help="registered embodiments and scene families",
            description="Print the registered embodiments (split, kind, velocity and "
            "acceleration limits, footprint, camera) and the scene families.",
            handler=_cmd_list,
        ),
        Verb(
            "view",
            help="drive one episode and write PNGs and a GIF",
            description="Drive one episode with a policy and write ego_rgb.png, ego_depth.png, "
            "topdown.png (robot footprint, camera view, route, plan, trajectory, "
            "goal), frame.png (all three) and episode.gif into --out.",
            handler=_cmd_view,
            options=_view_options,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        ),
        Verb(
            "difficulty",
            help="how hard a scenario suite is, per body and family",
            description="Run the blind route follower (goal_seeker) on every body x family "
            "and print the share of episodes whose straight line and stale route are clear, "
            "the median route length and tortuosity, moving-obstacle encounters and the "
            "follower's success, with the stale-map suite's targets.",
            handler=_cmd_difficulty,
            options=_difficulty_options,
        ),
    ),
)
