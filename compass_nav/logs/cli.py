"""``compass-nav logs``: import robot logs (rosbag2, simulator), inspect them, cut start banks.

Registered by :mod:`compass_nav.cli` (``COMMAND_MODULES``):

* ``compass-nav logs import-bag BAG --body NAME|YAML --out DIR`` (:mod:`compass_nav.logs.bag`)
* ``compass-nav logs import-sim --policy P --embodiments A,B --episodes N --split S --out DIR``
  (:mod:`compass_nav.logs.sim`)
* ``compass-nav logs info DIR``
* ``compass-nav logs start-bank DIR [DIR...] --out BANK`` (:mod:`compass_nav.logs.startbank`)

Format and rules: ``docs/LOGS.md``. Heavy imports stay in the handlers.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from compass_nav.utils import jsonsafe
from compass_nav.utils.cli import Stage, Verb
from compass_nav.utils.errors import ConfigError

__all__ = ["STAGE"]


def _names(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{flag}={text!r}: give at least one name (comma-separated)")
    return names


def _image_size(text: str) -> tuple[int, int]:
    """``HxW`` -> (H, W) pixels."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--image-size={text!r}: expected HxW, e.g. 64x64") from None
    if not (16 <= h <= 480 and 16 <= w <= 480):
        raise ConfigError(f"--image-size={text!r}: each side must be within [16, 480] pixels")
    return h, w


def _command() -> str:
    return " ".join(shlex.quote(a) for a in ["compass-nav", *sys.argv[1:]])


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(jsonsafe.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k}={v}" for k, v in value.items())
            print(f"{key}: {inner}")
        elif isinstance(value, list) and len(value) > 8:
            print(f"{key}: {len(value)} items")
        else:
            print(f"{key}: {value}")


def _cmd_import_bag(args: argparse.Namespace) -> int:
    from compass_nav.logs.bag import BagImportConfig, BagTopics, import_bag

    topics = BagTopics(
        image=args.image_topic,
        depth=args.depth_topic,
        odom=args.odom_topic,
        cmd_vel=args.cmd_vel_topic,
        goal=args.goal_topic,
        route=args.route_topic,
        goal_status=args.goal_status_topic,
        episode_status=args.episode_status_topic,
        collision=args.collision_topic,
        camera_info=args.camera_info_topic,
    )
    cfg = BagImportConfig(
        topics=topics,
        control_hz=args.control_hz,
        sync_tolerance=args.sync_tolerance,
        max_gap=args.max_gap,
        timeout=args.timeout,
        require_depth=args.require_depth,
        min_steps=args.min_steps,
        clock_tolerance=args.clock_tolerance,
        split=args.split,
        robot=args.robot,
    )
    summary = import_bag(
        args.bag, args.body, args.out, cfg, progress=not args.quiet, command=_command()
    )
    _print_summary(summary, args.json)
    return 0


def _cmd_import_sim(args: argparse.Namespace) -> int:
    from compass_nav.logs.sim import import_sim

    summary = import_sim(
        args.policy,
        args.out,
        embodiments=_names(args.embodiments, "--embodiments"),
        families=_names(args.families, "--families"),
        episodes=args.episodes,
        split=args.split,
        seed=args.seed,
        image_size=_image_size(args.image_size),
        num_envs=args.num_envs,
        max_episode_steps=args.max_episode_steps,
        depth=not args.no_depth,
        progress=not args.quiet,
        command=_command(),
    )
    _print_summary(summary, args.json)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from compass_nav.logs.format import LogDataset

    ds = LogDataset(args.path)
    summary = ds.summary()
    if args.check:
        from compass_nav.utils.progress import progress_bar

        bar = progress_bar(len(ds), "check", "ep", not args.quiet)
        for i in range(len(ds)):
            ds[i]  # noqa: B018 - reading validates every array (DataError names the file)
            bar.update(1)
        bar.close()
        summary["checked"] = len(ds)
    summary["control_hz"] = ds.meta["control_hz"]
    summary["imports"] = len(ds.meta["imports"])
    _print_summary(summary, args.json)
    return 0


def _cmd_start_bank(args: argparse.Namespace) -> int:
    from compass_nav.logs.startbank import build_start_bank

    summary = build_start_bank(
        args.logs,
        args.out,
        frames=args.frames,
        splits=_names(args.split, "--split") if args.split else (),
        robots=_names(args.robot, "--robot") if args.robot else (),
        max_starts=args.max_starts,
        progress=not args.quiet,
    )
    _print_summary(summary, args.json)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _bag_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("bag", help="rosbag2 folder or file (MCAP or sqlite3)")
    p.add_argument("--body", required=True, help="the robot's body: registered name or YAML path")
    p.add_argument("--out", required=True, help="log dataset folder (created or appended to)")
    t = p.add_argument_group("topics (relative names get a leading '/'; '' = not in the bag)")
    t.add_argument("--image-topic", default="image", help="sensor_msgs/Image or CompressedImage")
    t.add_argument("--depth-topic", default="depth", help="sensor_msgs/Image 32FC1 or 16UC1")
    t.add_argument("--odom-topic", default="odom", help="nav_msgs/Odometry")
    t.add_argument("--cmd-vel-topic", default="cmd_vel", help="geometry_msgs/Twist[Stamped]")
    t.add_argument("--goal-topic", default="goal_pose", help="geometry_msgs/PoseStamped")
    t.add_argument("--route-topic", default="route", help="nav_msgs/Path (optional)")
    t.add_argument(
        "--goal-status-topic", default="goal_status", help="navigator's std_msgs/String JSON"
    )
    t.add_argument(
        "--episode-status-topic",
        default="episode_status",
        help="sim bridge's std_msgs/String JSON outcomes (optional)",
    )
    t.add_argument("--collision-topic", default="", help="std_msgs/Bool contact flag (optional)")
    t.add_argument(
        "--camera-info-topic",
        default="camera_info",
        help="sensor_msgs/CameraInfo, checked against the body's camera (optional)",
    )
    p.add_argument("--control-hz", type=float, default=10.0, help="control rate of the log, Hz")
    p.add_argument(
        "--sync-tolerance",
        type=float,
        default=0.0,
        help="frame-to-tick and depth-to-frame tolerance, s (0: a quarter period)",
    )
    p.add_argument("--max-gap", type=float, default=0.5, help="longest bridged gap, s")
    p.add_argument("--timeout", type=float, default=0.0, help="episode timeout, s (0: none)")
    p.add_argument("--require-depth", action="store_true", help="a bag without depth is an error")
    p.add_argument("--min-steps", type=int, default=2, help="shortest episode imported")
    p.add_argument(
        "--clock-tolerance",
        type=float,
        default=1.0,
        help="largest median offset of a stamped stream from the camera's clock, s",
    )
    p.add_argument("--split", default="unlabelled", help="split label of the episodes")
    p.add_argument("--robot", default="", help="robot name (default: the body's name)")
    _common(p)


def _sim_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", required=True, help="policy spec (goal_seeker, teacher, a .pt...)")
    p.add_argument("--embodiments", default="carter", help="comma-separated bodies")
    p.add_argument("--families", default="warehouse,office,hall", help="scene families")
    p.add_argument("--episodes", type=int, default=8, help="episodes to import")
    p.add_argument(
        "--split", default="train", choices=("train", "validation", "heldout"), help="scenes"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the episode sequence")
    p.add_argument("--image-size", default="64x64", help="HxW camera frames")
    p.add_argument(
        "--num-envs", type=int, default=0, help="simulator slots (0: one per family x body)"
    )
    p.add_argument("--max-episode-steps", type=int, default=300, help="steps before a timeout")
    p.add_argument("--no-depth", action="store_true", help="log no depth (an RGB-only robot)")
    p.add_argument("--out", required=True, help="log dataset folder (created or appended to)")
    _common(p)


def _info_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="log dataset folder")
    p.add_argument("--check", action="store_true", help="read and validate every episode")
    _common(p)


def _bank_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("logs", nargs="+", help="log dataset folder(s)")
    p.add_argument("--out", required=True, help="start bank file (.npz)")
    p.add_argument("--frames", type=int, default=1, help="context frames per start")
    p.add_argument("--split", default="", help="keep these splits (comma-separated)")
    p.add_argument("--robot", default="", help="keep these robots (comma-separated)")
    p.add_argument("--max-starts", type=int, default=0, help="at most this many (0: all)")
    _common(p)


#: ``compass-nav logs {import-bag,import-sim,info,start-bank}``.
STAGE = Stage(
    "logs",
    help="import robot logs (rosbag2, simulator) and cut start banks",
    description="Robot logs in one dataset format (docs/LOGS.md): import rosbag2 files and "
    "simulator rollouts, inspect them, and cut start banks for offline evaluation.",
    verbs=(
        Verb(
            "import-bag",
            help="import a rosbag2 file (MCAP or sqlite3)",
            description="Cut a rosbag2 file into episodes at goal messages, resample every "
            "stream to the control rate and append the episodes to a log dataset. Every "
            "problem of the bag is listed at once; nothing is written unless all of it imports.",
            handler=_cmd_import_bag,
            options=_bag_options,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        ),
        Verb(
            "import-sim",
            help="run a policy in the simulator and log what a robot would",
            description="Run episodes of a policy in the embedded simulator and append the "
            "log-visible fields (frames, odometry, commands, goal, route, body) with the "
            "simulator's outcome labels to a log dataset.",
            handler=_cmd_import_sim,
            options=_sim_options,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        ),
        Verb(
            "info",
            help="summarise a log dataset",
            description="Counts by outcome, source, robot, body and split.",
            handler=_cmd_info,
            options=_info_options,
        ),
        Verb(
            "start-bank",
            help="cut start states from logged episodes",
            description="Extract the first frame(s), speed, goal, route and body of each "
            "logged episode into one start-bank file, so a policy that never ran can be "
            "started in imagination.",
            handler=_cmd_start_bank,
            options=_bank_options,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        ),
    ),
)
