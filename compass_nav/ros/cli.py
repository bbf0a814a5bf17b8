"""The ``compass-nav ros sil|replay`` subcommands (registered through ``compass_nav.cli``).

Runs :func:`compass_nav.ros.sil.run_sim_in_the_loop`: for each embodiment a sim bridge and
a navigator process talk over DDS; prints a success table and optionally writes GIFs and a
JSON summary (``--record DIR``: a rosbag2 MCAP of every topic per embodiment); ``replay``
feeds such a bag back (:func:`compass_nav.ros.bag.replay`). Both must run inside a private
network namespace
(``scripts/netns_run.sh compass-nav ros sil ...``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compass_nav.utils.cli import (
    Stage,
    Verb,
    add_names,
    add_route_mode,
    add_split,
    config_from_args,
)

_EPILOG = """\
examples:
  scripts/netns_run.sh compass-nav ros sil --model scripted:goal_seeker
  scripts/netns_run.sh compass-nav ros sil --embodiments carter spot h1 scout --episodes 5 \\
      --family office --out runs/ros_sil

The same nodes run under `ros2 launch compass_nav sim.launch.py` where ROS 2's launch tools
are installed; this command needs only rclpy."""


def _sil_options(p: argparse.ArgumentParser) -> None:
    add_names(
        p,
        "--embodiments",
        ["carter", "spot", "h1"],
        "bodies: names, YAML paths, groups, random:<n>@seed=<s> (default: carter spot h1)",
    )
    p.add_argument("--episodes", type=int, default=3, help="episodes per embodiment")
    p.add_argument(
        "--model",
        default="",
        help="navigator model: path, scripted:<name>, or '' for the shipped default (default)",
    )
    p.add_argument("--family", default="warehouse", help="scene family")
    add_split(p, default="heldout", help="scene seeds (default: heldout)")
    p.add_argument("--seed", type=int, default=0, help="episode-sequence seed")
    p.add_argument(
        "--realtime-factor",
        type=float,
        default=0.0,
        help="0 = lockstep, as fast as the navigator answers (default)",
    )
    add_route_mode(p)
    p.add_argument("--domain-id", type=int, default=40, help="ROS_DOMAIN_ID to use")
    p.add_argument(
        "--timeout", type=float, default=300.0, help="wall-clock budget per embodiment, s"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for summary.json, node logs and one GIF per embodiment",
    )
    p.add_argument(
        "--record",
        metavar="DIR",
        default=None,
        help="record every topic of each run into a rosbag2 MCAP folder DIR/<embodiment> "
        "(ros2 bag info/play read it; compass-nav ros replay feeds it back)",
    )


def _run(args: argparse.Namespace) -> int:
    from compass_nav.contract.body import expand_embodiments
    from compass_nav.ros.sil import SilConfig, run_sim_in_the_loop, success_line, summary_table
    from compass_nav.utils.atomic import atomic_write_json

    out = args.out
    cfg = config_from_args(
        SilConfig,
        args,
        embodiments=expand_embodiments(args.embodiments),
        timeout_s=args.timeout,
        gif_dir=str(out) if out else None,
        log_dir=str(out / "logs") if out else None,
    )
    records = run_sim_in_the_loop(cfg)
    print(summary_table(records))
    if out:
        atomic_write_json(out / "summary.json", {"episodes": records})
        print(f"wrote {out}/summary.json, logs/ and <embodiment>.gif")
    print(success_line(records))
    return 0


def _replay_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("bag", type=Path, help="rosbag2 folder (MCAP or sqlite3)")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1)")
    p.add_argument(
        "--topics",
        nargs="+",
        default=None,
        metavar="TOPIC",
        help="topics to publish (default: camera, depth, odometry, goal and route topics "
        "found in the bag: /image /image/compressed /depth /camera_info /odom /goal_pose "
        "/route /scan /points /tf /tf_static)",
    )
    p.add_argument(
        "--timing",
        choices=("bag", "stamps"),
        default="bag",
        help="pace by the bag's receive times (bag, like ros2 bag play) or by the messages' "
        "header stamps (stamps: for lockstep sim-in-the-loop bags, whose receive times "
        "follow how fast the machine stepped)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        help="seconds to wait for the navigator's subscriptions before starting",
    )


def _replay(args: argparse.Namespace) -> int:
    from compass_nav.ros.bag import replay
    from compass_nav.ros.netns import require_private_network
    from compass_nav.utils.errors import ConfigError

    require_private_network()
    if not args.rate > 0:
        raise ConfigError(f"--rate={args.rate}: must be > 0")
    try:
        counts = replay(
            args.bag,
            rate=args.rate,
            topics=tuple(args.topics) if args.topics else None,
            wait_s=args.wait,
            timing=args.timing,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    for topic, n in counts.items():
        print(f"{topic}: {n} messages")
    return 0


#: ``compass-nav ros sil``.
STAGE = Stage(
    "ros",
    help="ROS 2: sim-in-the-loop over real DDS",
    description="The ROS 2 side of the stack (the nodes themselves run with ros2 run/launch).",
    verbs=(
        Verb(
            "sil",
            help="sim-in-the-loop over ROS 2: sim bridge + navigator processes per embodiment",
            description="Drive the embedded simulator through the ROS 2 navigator node, one "
            "sim bridge/navigator process pair per embodiment over real DDS, and report "
            "outcomes.",
            epilog=_EPILOG,
            handler=_run,
            options=_sil_options,
        ),
        Verb(
            "replay",
            help="feed a recorded bag's camera/odometry/goal topics to a running navigator",
            description="Publish the camera, depth, odometry, goal and route messages of a "
            "rosbag2 (e.g. one written by 'compass-nav ros sil --record') with their "
            "recorded timing, so a running navigator drives on them again. Run it inside "
            "the navigator's private network namespace and ROS_DOMAIN_ID.",
            epilog="examples:\n  scripts/netns_run.sh compass-nav ros replay runs/bags/carter "
            "--timing stamps",
            handler=_replay,
            options=_replay_options,
        ),
    ),
)
