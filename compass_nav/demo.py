"""``compass-nav demo``: the README's main job (what ``scripts/main.sh`` runs).

Default (``--mode ros``): the sim-in-the-loop demo over ROS 2 — for each of several
embodiments a sim bridge node and a navigator node running the shipped model
(``models/default.onnx``) talk over real DDS (:mod:`compass_nav.ros.sil`); it prints a success
table and writes ``summary.json``, ``summary.md`` and one GIF per embodiment into ``--out``.
Must run inside a private network namespace (``scripts/main.sh`` does that).

``--mode sim`` drives a policy (the planner teacher by default) on held-out scenes for
several embodiments (one of them held out of training) in every scene family, and writes into
``--out``:

* ``summary.md`` / ``summary.json`` — success, collision, SPL and travel time per
  embodiment x family (also printed as a table);
* ``<embodiment>.gif`` — one recorded episode per family, back to back;
* ``grid.png`` — the top-down map of each recorded episode, embodiments x families.

The work is split so later stages can swap pieces: :func:`rollout` drives any
:class:`~compass_nav.policies.Policy` in a :class:`~compass_nav.sim.env.NavVectorEnv` (with the
episode runner, :class:`compass_nav.episodes.EpisodeRunner`) and
returns plain episode records and pictures; :func:`summarize` and :func:`write_outputs` know
nothing about where the episodes came from (a ROS 2 sim-in-the-loop run can feed them the
same records). Registered by :mod:`compass_nav.cli` through ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from compass_nav.utils.atomic import atomic_write_json, atomic_write_text
from compass_nav.utils.cli import add_names, add_route_mode, add_split, config_from_args
from compass_nav.utils.config import check, check_at_least, check_names, check_within
from compass_nav.utils.files import ensure_output_dir

__all__ = [
    "DemoConfig",
    "EpisodeRecord",
    "register",
    "rollout",
    "run_demo",
    "summarize",
    "write_outputs",
]


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """What the demo drives and records.

    Attributes:
        embodiments: Bodies to drive (registered names or YAML paths).
        families: Scene families.
        episodes: Counted episodes per embodiment x family.
        envs_per_pair: Parallel envs per embodiment x family.
        policy: Policy spec (``teacher`` at this stage).
        split: Scene seeds: ``heldout`` (never used in training) or ``train``.
        image_height, image_width: Ego camera size, px.
        seed: Reset seed (the whole run is deterministic under it).
        gif_stride: Record every k-th step in the GIFs (smaller files).
        out: Output folder.
    """

    embodiments: tuple[str, ...] = ("carter", "spot", "h1", "g1", "scout")
    families: tuple[str, ...] = ("warehouse", "office", "hall")
    episodes: int = 10
    envs_per_pair: int = 2
    policy: str = "teacher"
    split: str = "heldout"
    image_height: int = 96
    image_width: int = 160
    seed: int = 0
    gif_stride: int = 2
    out: str = "out/demo"

    def __post_init__(self) -> None:
        check_names("embodiments", self.embodiments)
        check_names("families", self.families)
        check_at_least("episodes", self.episodes, 1)
        check_within("envs_per_pair", self.envs_per_pair, 1, 64)
        check(
            self.split in ("train", "heldout"), "split", self.split, "must be 'train' or 'heldout'"
        )
        check_at_least("gif_stride", self.gif_stride, 1)


@dataclasses.dataclass(frozen=True)
class EpisodeRecord:
    """Outcome of one finished episode (what the summary needs, nothing simulator-specific)."""

    embodiment: str
    family: str
    scene_seed: int
    success: bool
    collision: bool
    timeout: bool
    spl: float
    time: float  # s
    path_length: float  # m
    ref_length: float  # m (planned path length at the start)


@dataclasses.dataclass
class RolloutResult:
    """Episode records plus the pictures of the first episode of every pair."""

    records: list[EpisodeRecord]
    frames: dict[tuple[str, str], list[np.ndarray]]  # (embodiment, family) -> GIF frames
    final_maps: dict[tuple[str, str], np.ndarray]  # top-down map at the episode's end
    outcomes: dict[tuple[str, str], str]  # outcome of the recorded episode


def rollout(cfg: DemoConfig, progress: bool = True) -> RolloutResult:
    """Drive ``cfg.policy`` until every pair has ``cfg.episodes`` finished episodes.

    Each env slot runs a fixed quota of episodes and only those count, so quick (successful)
    episodes are not over-represented. The first env of every (embodiment, family) pair is
    filmed for its first episode.
    """
    from compass_nav.episodes import EpisodeHook, EpisodeRunner, SlotQuota
    from compass_nav.policies import make_policy
    from compass_nav.sim.env import NavVectorEnv
    from compass_nav.sim.mdp.terminations import episode_outcome
    from compass_nav.sim.viz import EpisodeDrawer
    from compass_nav.utils.progress import progress_bar

    pairs = len(cfg.embodiments) * len(cfg.families)
    n_env = pairs * cfg.envs_per_pair
    env = NavVectorEnv(
        num_envs=n_env,
        embodiments=cfg.embodiments,
        families=cfg.families,
        split=cfg.split,
        image_height=cfg.image_height,
        image_width=cfg.image_width,
    )
    policy = make_policy(cfg.policy)
    policy.bind(env)
    # Slots e and e + pairs serve the same pair (see SimConfig); the first `extra` groups of
    # `pairs` slots take one more episode so that every pair gets exactly cfg.episodes.
    quota = SlotQuota.spread(cfg.episodes, n_env, groups=pairs, seed=cfg.seed)
    names = [b.name for b in env.env_bodies]
    filmed = {e: (names[e], str(env.env_family[e])) for e in range(pairs)}
    result = RolloutResult([], {k: [] for k in filmed.values()}, {}, {})
    rec = EpisodeDrawer(env)

    class Film(EpisodeHook):
        """Films the first episode of each pair's first slot; keeps every counted record."""

        def on_reset(self, runner, obs):
            rec.observe(obs, runner.start)
            for e, key in filmed.items():
                result.frames[key].append(rec.frame(obs, e))

        def after_step(self, runner, obs, reward, terminated, truncated, info):
            # The slots pending before this step were reset by it: new episodes start.
            rec.observe(obs, runner.pending)
            for e, key in filmed.items():
                if key in result.outcomes:
                    continue
                if runner.ended[e]:
                    ended = episode_outcome(info, e)
                    result.outcomes[key] = ended
                    result.frames[key].append(rec.frame(obs, e, extra=ended))
                    result.final_maps[key] = rec.topdown(obs, e)
                elif runner.steps % cfg.gif_stride == 0:
                    result.frames[key].append(rec.frame(obs, e))

        def on_episode(self, runner, episode):
            result.records.append(
                EpisodeRecord(
                    embodiment=episode.body,
                    family=episode.family,
                    scene_seed=episode.scene_seed,
                    success=episode.success,
                    collision=episode.collision,
                    timeout=episode.timeout,
                    spl=episode.spl,
                    time=episode.time,
                    path_length=episode.path_length,
                    ref_length=episode.ref_length,
                )
            )
            bar.update(1)

    with progress_bar(int(quota.counts.sum()), f"demo ({cfg.policy})", "ep", progress) as bar:
        EpisodeRunner(env, policy.act, quota, [Film()]).run()
    return result


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def summarize(
    records: list[EpisodeRecord], embodiments: tuple[str, ...], families: tuple[str, ...]
) -> list[dict]:
    """One row per embodiment x family (in the given order) plus one ``all`` row per body.

    Row keys: ``embodiment``, ``family``, ``episodes``, ``success``, ``collision``,
    ``timeout`` (rates), ``spl`` (mean over all episodes, 0 for failures), ``time_s`` (mean
    travel time of successful episodes; NaN when none succeeded).
    """
    rows = []
    for body in embodiments:
        for fam in (*families, "all"):
            sel = [
                r for r in records if r.embodiment == body and (fam == "all" or r.family == fam)
            ]
            n = len(sel)
            rows.append(
                {
                    "embodiment": body,
                    "family": fam,
                    "episodes": n,
                    "success": _mean([r.success for r in sel]),
                    "collision": _mean([r.collision for r in sel]),
                    "timeout": _mean([r.timeout for r in sel]),
                    "spl": _mean([r.spl for r in sel]),
                    "time_s": _mean([r.time for r in sel if r.success]),
                }
            )
    return rows


def _fmt(v: float, pct: bool = False) -> str:
    if v != v:  # NaN
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.2f}"


_COLUMNS = ("embodiment", "family", "episodes", "success", "collision", "SPL", "time s")


def _row_cells(r: dict) -> list[str]:
    return [
        r["embodiment"],
        r["family"],
        str(r["episodes"]),
        _fmt(r["success"], True),
        _fmt(r["collision"], True),
        _fmt(r["spl"]),
        _fmt(r["time_s"]),
    ]


def markdown_table(rows: list[dict]) -> str:
    """The summary rows as a GitHub markdown table."""
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for r in rows:
        cells = _row_cells(r)
        if r["family"] == "all":
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict], title: str) -> None:
    """Print the summary rows with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for k, col in enumerate(_COLUMNS):
        table.add_column(col, justify="left" if k < 2 else "right")
    for r in rows:
        table.add_row(
            *_row_cells(r),
            style="bold" if r["family"] == "all" else None,
            end_section=r["family"] == "all",
        )
    Console().print(table)


def _pad_to(images: list[np.ndarray], height: int, width: int) -> list[np.ndarray]:
    out = []
    for im in images:
        canvas = np.full((height, width, 3), 25, np.uint8)
        canvas[: im.shape[0], : im.shape[1]] = im[:height, :width]
        out.append(canvas)
    return out


def _grid_image(cfg: DemoConfig, result: RolloutResult, cell_height: int = 220) -> np.ndarray:
    """Embodiments (rows) x families (columns) of top-down maps, each captioned."""
    from compass_nav.sim.viz import caption_bar, hstack_images

    rows = []
    for body in cfg.embodiments:
        cells = []
        for fam in cfg.families:
            key = (body, fam)
            img = result.final_maps.get(key)
            if img is None:  # the filmed episode did not finish (cannot happen with quotas)
                img = np.full((cell_height, cell_height, 3), 25, np.uint8)
            cells.append(img)
        row = hstack_images(cells, cell_height, gap=6)
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    parts = []
    for body, row in zip(cfg.embodiments, rows, strict=True):
        label = " | ".join(
            f"{fam}: {result.outcomes.get((body, fam), '?')}" for fam in cfg.families
        )
        parts.append(caption_bar(f"{body}  --  {label}", width, 24))
        parts.extend(_pad_to([row], cell_height, width))
    return np.concatenate(parts, 0)


def write_outputs(cfg: DemoConfig, result: RolloutResult, rows: list[dict]) -> list[Path]:
    """Write summary.md/json, one GIF per embodiment and grid.png into ``cfg.out``."""
    from compass_nav.sim.viz import write_gif, write_png

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for body in cfg.embodiments:
        frames = [f for fam in cfg.families for f in result.frames[(body, fam)]]
        h = max(f.shape[0] for f in frames)
        w = max(f.shape[1] for f in frames)
        name = Path(body).stem  # a YAML path gives its file name
        files.append(
            write_gif(_pad_to(frames, h, w), out / f"{name}.gif", fps=10.0 / cfg.gif_stride)
        )
    files.append(write_png(_grid_image(cfg, result), out / "grid.png"))
    header = (
        f"# Demo: {cfg.policy} on {cfg.split} scenes\n\n"
        f"{cfg.episodes} episodes per embodiment x family, reset seed {cfg.seed}, "
        f"ego camera {cfg.image_height}x{cfg.image_width}. Success needs the goal "
        "within 0.5 m, heading within 0.1 rad and the body stopped. SPL: success "
        "weighted by planned / driven path length. time s: mean travel time of the "
        "successful episodes.\n\n"
    )
    md = out / "summary.md"
    atomic_write_text(md, header + markdown_table(rows))
    js = out / "summary.json"
    json_rows = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in rows
    ]  # NaN is not JSON
    atomic_write_json(
        js,
        {
            "config": dataclasses.asdict(cfg),
            "rows": json_rows,
            "episodes": [dataclasses.asdict(r) for r in result.records],
        },
    )
    return [*files, md, js]


def run_demo(cfg: DemoConfig, progress: bool = True) -> list[dict]:
    """Roll out, print the table, write every output; returns the summary rows."""
    from compass_nav.contract.body import get_embodiment

    # Unknown names fail here, listing the known ones; YAML paths become their body names.
    names = tuple(get_embodiment(b).name for b in cfg.embodiments)
    result = rollout(cfg, progress=progress)
    cfg = dataclasses.replace(cfg, embodiments=names)
    rows = summarize(result.records, names, cfg.families)
    files = write_outputs(cfg, result, rows)
    print_table(
        rows,
        f"{cfg.policy} on {cfg.split} scenes ({cfg.episodes} episodes per embodiment x family)",
    )
    for f in files:
        print(f"wrote {f}")
    return rows


def run_ros_demo(args: argparse.Namespace) -> int:
    """Sim-in-the-loop over DDS with the shipped model; prints and writes the table."""
    from compass_nav.episodes import check_names
    from compass_nav.ros.sil import SilConfig, run_sim_in_the_loop, success_line, summary_table

    check_names(families=args.families, embodiments=args.embodiments)  # before writing
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config_from_args(
        SilConfig, args, family=args.families[0], gif_dir=str(out), log_dir=str(out / "logs")
    )
    model = args.model or "models/default.onnx (shipped)"
    print(
        f"sim-in-the-loop over ROS 2: model {model}, {len(cfg.embodiments)} embodiments x "
        f"{cfg.episodes} episodes, {cfg.family} scenes ({cfg.split} seeds), "
        f"{cfg.route_mode} route"
    )
    records = run_sim_in_the_loop(cfg)
    table = summary_table(records)
    print(table)
    atomic_write_json(out / "summary.json", {"mode": "ros", "model": model, "episodes": records})
    atomic_write_text(out / "summary.md", f"# Sim-in-the-loop over ROS 2 ({model})\n\n{table}\n")
    print(f"wrote {out}/summary.json, summary.md, logs/ and <embodiment>.gif")
    if cfg.record:
        print(f"recorded rosbag2 (MCAP) runs under {cfg.record}/<embodiment>")
    print(success_line(records))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from compass_nav.contract.body import expand_embodiments
    from compass_nav.sim.cli import parse_size

    ensure_output_dir(args.out, "--out")
    args.embodiments = list(expand_embodiments(args.embodiments))
    if args.mode == "ros":
        return run_ros_demo(args)

    size = parse_size(args.size)
    cfg = config_from_args(DemoConfig, args, image_height=size[0], image_width=size[1])
    run_demo(cfg, progress=not args.no_progress)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compass-nav demo``."""
    d = DemoConfig()
    p = subparsers.add_parser(
        "demo",
        help="end-to-end demo: the shipped model over ROS 2 in the simulator",
        description="--mode ros (default): sim bridge + navigator nodes over real DDS with the "
        "shipped model, one pair per embodiment (scout is held out of training); "
        "prints a success table, writes summary.md/json and one GIF per "
        "embodiment into --out. Run it inside a private network namespace "
        "(scripts/main.sh does). --mode sim: drive --policy (the planner teacher) "
        "directly in the simulator over every scene family; writes one GIF per "
        "embodiment, grid.png and summary.md/json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--mode",
        choices=("ros", "sim"),
        default="ros",
        help="ros: sim-in-the-loop over DDS; sim: in-process simulator rollout",
    )
    p.add_argument(
        "--model",
        default="",
        help="ros mode: navigator model ('' = shipped default, scripted:<name>)",
    )
    p.add_argument("--domain-id", type=int, default=40, help="ros mode: ROS_DOMAIN_ID")
    p.add_argument(
        "--record",
        metavar="DIR",
        default=None,
        help="ros mode: record every topic into a rosbag2 MCAP per embodiment, DIR/<embodiment>",
    )
    add_route_mode(p, help="ros mode: publish the global plan on `route`, or go mapless")
    add_names(
        p, "--embodiments", d.embodiments, "bodies to drive (registered names or YAML paths)"
    )
    add_names(
        p, "--families", d.families, "scene families (ros mode uses the first)", metavar="FAMILY"
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=d.episodes,
        help="episodes per embodiment x family (ros mode: per embodiment)",
    )
    p.add_argument(
        "--envs-per-pair",
        type=int,
        default=d.envs_per_pair,
        help="parallel envs per embodiment x family",
    )
    p.add_argument("--policy", default=d.policy, help="policy spec")
    add_split(p, default=d.split, help="scene seeds")
    p.add_argument("--seed", type=int, default=d.seed, help="reset seed")
    p.add_argument(
        "--size", default=f"{d.image_height}x{d.image_width}", help="ego camera HEIGHTxWIDTH"
    )
    p.add_argument("--out", default=d.out, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)
