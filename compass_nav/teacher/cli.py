"""``compass-nav teacher``: record demonstrations of the planner teacher and inspect them.

Registered by :mod:`compass_nav.cli` (listed in ``COMMAND_MODULES``):

* ``compass-nav teacher demos --out DIR --episodes N ...`` records finished episodes into a
  demonstrations folder (:func:`compass_nav.data.record_episodes`, format in
  ``docs/DATASET.md``). Re-running the same command resumes: finished episodes are kept and
  only the missing ones are recorded. Ctrl-C stops cleanly, keeping every finished episode.
* ``compass-nav teacher info DIR`` prints the dataset's counts per embodiment and family.

Heavy imports (simulator, numba kernels, torch) happen inside the handlers so that
``compass-nav --help`` stays fast.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from compass_nav.utils import jsonsafe
from compass_nav.utils.cli import (
    SIM_ROUTE_MODES,
    Stage,
    Verb,
    add_route_mode,
    add_split,
    config_from_args,
)
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import ensure_output_dir

__all__ = ["STAGE", "parse_image_size", "parse_names"]


def parse_image_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``64x64``) into (height, width) pixels.

    Raises:
        ConfigError: Naming ``--image-size`` and the value when it is not two positive ints.
    """
    parts = text.lower().split("x")
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--image-size={text!r}: expected HEIGHTxWIDTH, e.g. 64x64") from None
    if h <= 0 or w <= 0:
        raise ConfigError(f"--image-size={text!r}: height and width must be positive")
    return h, w


def parse_names(text: str, option: str) -> tuple[str, ...]:
    """Split a comma-separated list (``carter,spot``), rejecting an empty one."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{option}={text!r}: expected a comma-separated list of names")
    return names


def _command_line(args: argparse.Namespace, cfg) -> str:
    """The resolved command (every option spelled out), stored in meta.json."""
    parts = [
        "compass-nav",
        "teacher",
        "demos",
        "--out",
        str(args.out),
        "--episodes",
        str(args.episodes),
        "--embodiments",
        ",".join(cfg.embodiments),
        "--families",
        ",".join(cfg.families),
        "--num-envs",
        str(cfg.num_envs),
        "--seed",
        str(args.seed),
        "--image-size",
        args.image_size,
        "--suite",
        cfg.suite,
        "--route-mode",
        cfg.route_mode,
        "--moving-obstacles",
        str(cfg.moving_obstacles),
        "--split",
        cfg.split,
        "--max-episode-steps",
        str(cfg.max_episode_steps),
        "--policy",
        args.policy,
    ]
    parts += ["--only-success"] * args.only_success + ["--no-compress"] * args.no_compress
    return shlex.join(parts)


def _cmd_demos(args: argparse.Namespace) -> int:
    from compass_nav.data import format_summary, record_episodes
    from compass_nav.data.format import list_episode_files
    from compass_nav.sim.config import EpisodeSpec

    ensure_output_dir(args.out, "--out")
    h, w = parse_image_size(args.image_size)
    if args.episodes < 1:
        raise ConfigError(f"--episodes={args.episodes!r}: must be >= 1")
    from compass_nav.sim.scenes import training_families
    from compass_nav.sim.suites import resolve_suite_defaults

    if args.families is None:
        args.families = ",".join(training_families())  # never the held-out family
    resolve_suite_defaults(args)
    families = parse_names(args.families, "--families")
    episode = config_from_args(EpisodeSpec, args, families=families, image_height=h, image_width=w)
    from compass_nav.contract.body import expand_embodiments

    bodies = expand_embodiments(parse_names(args.embodiments, "--embodiments"))
    cfg = episode.sim_config(args.num_envs, bodies)
    command = _command_line(args, cfg)
    try:
        result = record_episodes(
            args.policy,
            args.out,
            cfg,
            args.episodes,
            seed=args.seed,
            only_success=args.only_success,
            compress=not args.no_compress,
            writer_threads=args.writer_threads,
            workers=args.workers,
            progress=not args.quiet,
            command=command,
        )
    except KeyboardInterrupt:
        kept = len(list_episode_files(args.out))
        print(
            f"interrupted: {kept} finished episodes kept in {args.out}; run the same "
            "command again to record the missing ones",
            file=sys.stderr,
        )
        return 130
    from compass_nav.data.format import read_meta

    print(format_summary(read_meta(args.out)["counts"]))
    if result.existing >= result.requested:
        print(f"{args.out} already holds {result.existing} finished episodes: nothing to record")
        return 0
    secs = max(result.seconds, 1e-9)
    print(
        f"episodes={result.total} written={result.written} seconds={result.seconds:.1f} "
        f"episodes_per_s={result.written / secs:.2f} "
        f"env_steps_per_s={result.env_steps / secs:.0f} "
        f"success_rate_written={result.successes / max(result.written, 1):.3f}"
    )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from compass_nav.data import DemoDataset, format_summary

    ds = DemoDataset(args.path)
    summary = ds.summary()
    if args.json:
        print(jsonsafe.dumps(summary, indent=2))
        return 0
    meta = ds.meta
    h, w = meta["image_size"]
    print(
        f"{args.path}: {meta['format']} v{meta['version']}, policy {meta['policy']}, "
        f"{h}x{w} images, route mode {meta['route_mode']}, split "
        f"{meta['sim_config']['split']}"
    )
    print(format_summary(summary))
    return 0


def _demos_options(p: argparse.ArgumentParser) -> None:
    from compass_nav.sim.suites import add_moving_obstacles, add_suite

    p.add_argument("--out", required=True, help="dataset folder (created or resumed)")
    p.add_argument(
        "--episodes", type=int, required=True, help="finished episodes the folder should hold"
    )
    p.add_argument(
        "--embodiments",
        default="carter",
        help="comma-separated bodies: names, YAML paths, groups (all, train, heldout), "
        "random:<n>@seed=<s>",
    )
    p.add_argument(
        "--families",
        default=None,
        help="comma-separated scene families (default: the training families)",
    )
    p.add_argument("--num-envs", type=int, default=16, help="parallel env slots")
    p.add_argument("--seed", type=int, default=0, help="base seed")
    p.add_argument("--image-size", default="64x64", help="camera HEIGHTxWIDTH")
    add_suite(p, default="v1")
    add_route_mode(
        p,
        default=None,
        choices=SIM_ROUTE_MODES,
        help="route observation stored as 'route' (route_mapless is always stored too; "
        "default: the suite's, v1 planned, v2 stale_map)",
    )
    add_moving_obstacles(p)
    add_split(
        p,
        help="scene seeds to draw from (validation: for model selection)",
        choices=("train", "validation", "heldout"),
    )
    p.add_argument(
        "--max-episode-steps", type=int, default=300, help="steps before an episode times out"
    )
    p.add_argument(
        "--policy",
        default="teacher",
        help="policy spec: teacher, goal_seeker, a checkpoint or model path",
    )
    p.add_argument("--only-success", action="store_true", help="write only successful episodes")
    p.add_argument(
        "--no-compress",
        action="store_true",
        help="store episodes uncompressed (about twice the size)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="recorder processes sharing the env slots (1: deterministic file "
        "order, all in this process)",
    )
    p.add_argument(
        "--writer-threads",
        type=int,
        default=1,
        help="background threads compressing and writing episodes (0: inline)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _info_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="dataset folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


#: ``compass-nav teacher {demos,info}``.
STAGE = Stage(
    "teacher",
    help="record planner-teacher demonstrations and inspect them",
    description="Record demonstrations of the privileged planner teacher (or any policy) "
    "in the embedded simulator, and inspect recorded datasets.",
    verbs=(
        Verb(
            "demos",
            help="record demonstrations (resumable)",
            description="Record finished episodes into a demonstrations folder (format: "
            "docs/DATASET.md). Re-running with the same --out and settings resumes; "
            "Ctrl-C keeps every finished episode.",
            handler=_cmd_demos,
            options=_demos_options,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        ),
        Verb(
            "info",
            help="summarise a demonstrations folder",
            description="Print counts, steps and outcome rates per embodiment and scene family.",
            handler=_cmd_info,
            options=_info_options,
        ),
    ),
)
