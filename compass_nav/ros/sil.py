"""Sim-in-the-loop over real DDS: sim bridge + navigator processes per embodiment.

:func:`run_sim_in_the_loop` starts, for each embodiment in turn, a ``sim_bridge`` and a
``navigator`` process (the same entry points ``ros2 launch compass_nav sim.launch.py``
starts) on their own ROS_DOMAIN_ID, counts the outcomes the bridge publishes on
``episode_status``, optionally records the camera stream of the first episode as a GIF, and
stops both processes (SIGINT: the navigator publishes a final zero command). Used by the
``compass-nav ros sil`` command (:mod:`compass_nav.ros.cli`), the ROS tests and the demo.
It refuses to run outside a private network namespace (:mod:`compass_nav.ros.netns`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from compass_nav.ros import qos
from compass_nav.ros.conversions import image_to_rgb
from compass_nav.ros.netns import require_private_network
from compass_nav.utils.config import check, check_at_least, check_positive, check_within
from compass_nav.utils.errors import ConfigError

__all__ = [
    "SilConfig",
    "body_files",
    "node_command",
    "run_sim_in_the_loop",
    "stop_process",
    "success_line",
    "summary_table",
]


@dataclasses.dataclass(frozen=True)
class SilConfig:
    """What to run.

    Attributes:
        embodiments: Bodies, one bridge/navigator pair each (run one after the other).
        episodes: Episodes per embodiment.
        model: Navigator ``model`` parameter ('' = shipped default, ``scripted:<name>``).
        family: Scene family of the bridge. split: 'train' or 'heldout' scene seeds.
        seed: Bridge episode-sequence seed.
        image_size: (height, width) of the simulated camera.
        realtime_factor: 0 = as fast as the navigator answers (lockstep), else paced.
        route_mode: 'planned' publishes the global plan on ``route``; 'mapless' does not.
        timeout_s: Wall-clock budget per embodiment.
        domain_id: ROS_DOMAIN_ID of every pair (they run one after the other).
        gif_dir: Write ``<embodiment>.gif`` of each first episode there (None = no GIFs).
        log_dir: Node logs (None = a temporary folder).
        navigator_params: More navigator parameters (override the runner's).
        bridge_params: More sim bridge parameters (e.g. ``max_episode_steps``).
        record: Record every topic of each embodiment's run into the rosbag2 MCAP folder
            ``<record>/<embodiment>`` (:mod:`compass_nav.ros.bag`); None = no recording.
    """

    embodiments: tuple[str, ...] = ("carter", "spot", "h1")
    episodes: int = 3
    model: str = ""
    family: str = "warehouse"
    split: str = "train"
    seed: int = 0
    image_size: tuple[int, int] = (64, 64)
    realtime_factor: float = 0.0
    route_mode: str = "planned"
    timeout_s: float = 120.0
    domain_id: int = 40
    gif_dir: str | None = None
    log_dir: str | None = None
    navigator_params: dict = dataclasses.field(default_factory=dict)
    bridge_params: dict = dataclasses.field(default_factory=dict)
    record: str | None = None

    def __post_init__(self) -> None:
        check(len(self.embodiments) >= 1, "embodiments", self.embodiments, "must not be empty")
        check_at_least("episodes", self.episodes, 1)
        check_at_least("realtime_factor", self.realtime_factor, 0)
        check_positive("timeout_s", self.timeout_s)
        check_within("domain_id", self.domain_id, 0, 232)
        check(
            self.route_mode in ("planned", "mapless"),
            "route_mode",
            self.route_mode,
            "must be 'planned' or 'mapless'",
        )


def node_command(module: str, params: dict, namespace: str = "") -> list[str]:
    """``python -m <module> --ros-args -p k:=v ... [-r __ns:=NS]`` for this interpreter."""
    cmd = [sys.executable, "-m", module, "--ros-args"]
    for key, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif value == "":
            value = "''"  # rcl parses override values as YAML; a bare `name:=` is an error
        cmd += ["-p", f"{key}:={value}"]
    if namespace:
        cmd += ["-r", f"__ns:={namespace}"]
    return cmd


def body_files(
    embodiments: tuple[str, ...], log_dir: Path, gif_dir: str | None, cwd: str | None = None
) -> list[tuple[str, str, dict[str, Path], Path | None]]:
    """Per embodiment: (node argument, label, node log paths, GIF path or None).

    A registered name stays as it is; an embodiment YAML path is resolved against ``cwd``
    (default: the caller's working directory) so the spawned nodes load the same file. The
    label, a file-name-safe form (the YAML file's stem for a path, numbered when two bodies
    share one), names the log files under ``log_dir`` and the GIF under ``gif_dir``, so
    they never land beside the YAML file or in a folder that does not exist.
    """
    base = Path(cwd or os.getcwd())
    out, taken = [], set()
    for body in embodiments:
        arg, stem = body, body
        if body.endswith((".yaml", ".yml")) or "/" in body:
            path = Path(body).expanduser()
            arg = str(path if path.is_absolute() else base / path)
            stem = path.stem
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "body"
        label, n = stem, 2
        while label in taken:
            label, n = f"{stem}_{n}", n + 1
        taken.add(label)
        logs = {name: log_dir / f"{label}_{name}.log" for name in ("navigator", "sim_bridge")}
        gif = Path(gif_dir) / f"{label}.gif" if gif_dir else None
        out.append((arg, label, logs, gif))
    return out


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (clean shutdown, final zero command), then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _alive(procs: list[subprocess.Popen], grace: float = 2.0) -> Callable[[], bool]:
    """A predicate: the navigator runs and the bridge runs or exited < ``grace`` s ago.

    The grace period lets the bridge's last latched results arrive after it exits.
    """
    ended: list[float] = []

    def alive() -> bool:
        if procs[0].poll() is not None:
            return False
        if procs[1].poll() is None:
            return True
        if not ended:
            ended.append(time.monotonic())
        return time.monotonic() - ended[0] < grace

    return alive


class _Listener:
    """Collects ``episode_status`` records (and first-episode frames) on one domain.

    Created before the nodes start, so that its subscription is discovered while the bridge
    runs: the bridge's latched results go with it when it exits.
    """

    def __init__(self, domain_id: int, gif_frames: list | None) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        self.records: list[dict] = []
        self._ctx = rclpy.Context()
        rclpy.init(context=self._ctx, domain_id=domain_id)
        self._node = rclpy.create_node("sil_listener", context=self._ctx)
        self._node.create_subscription(
            String,
            "episode_status",
            lambda m: self.records.append(json.loads(m.data)),
            qos.latched(100),
        )
        if gif_frames is not None:

            def on_image(msg: Image) -> None:
                if not self.records and len(gif_frames) < 300:
                    gif_frames.append(image_to_rgb(msg))

            self._node.create_subscription(Image, "image", on_image, qos.sensor())
        self._executor = SingleThreadedExecutor(context=self._ctx)
        self._executor.add_node(self._node)

    def wait_for_subscription(self, topic: str, deadline: float) -> bool:
        """Spin until something subscribes to ``topic`` (or the deadline passes)."""
        while self._node.count_subscribers(topic) < 1 and time.monotonic() < deadline:
            self._executor.spin_once(timeout_sec=0.05)
        return self._node.count_subscribers(topic) >= 1

    def collect(self, episodes: int, alive: Callable[[], bool], deadline: float) -> list[dict]:
        """Spin until ``episodes`` records arrived, the nodes ended or the deadline passed."""
        while len(self.records) < episodes and time.monotonic() < deadline and alive():
            self._executor.spin_once(timeout_sec=0.1)
        return self.records

    def close(self) -> None:
        """Destroy the node and its context."""
        import rclpy

        self._executor.shutdown()
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._ctx)


def run_sim_in_the_loop(cfg: SilConfig, progress: bool = True) -> list[dict]:
    """Run every embodiment's episodes over DDS; returns one record per episode.

    Each record is the bridge's ``episode_status`` JSON (outcome, steps, SPL, ...); an
    embodiment that runs out of time adds records with outcome ``"no result"`` so that a
    stuck run counts as a failure, never as a smaller denominator.

    Raises:
        PrivateNetworkError: outside a private network namespace.
    """
    require_private_network()
    log_dir = Path(cfg.log_dir or tempfile.mkdtemp(prefix="compass_nav_sil_")).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    files = body_files(cfg.embodiments, log_dir, cfg.gif_dir)
    if cfg.record:
        taken = [str(Path(cfg.record) / f[1]) for f in files if (Path(cfg.record) / f[1]).exists()]
        if taken:
            raise ConfigError(
                f"record={cfg.record!r}: bag folder(s) {', '.join(taken)} already exist; "
                "choose a new folder (a bag is never overwritten)"
            )
    results: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=cfg.episodes * len(cfg.embodiments), desc="sim-in-the-loop", unit="episode"
        )
    for body, (arg, label, log_paths, gif_path) in zip(cfg.embodiments, files, strict=True):
        domain = cfg.domain_id
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
        lockstep = cfg.realtime_factor == 0.0
        # In lockstep, stamped commands pair each observation with its own answer.
        nav = node_command(
            "compass_nav.ros.navigator_node",
            {
                "model": cfg.model,
                "embodiment": arg,
                "use_sim_time": True,
                "cmd_vel_stamped": lockstep,
                "sync_stamps": lockstep,
                # The bridge publishes reliable: lockstep must not lose an observation.
                "image_qos": "reliable",
                "odom_qos": "reliable",
                **cfg.navigator_params,
            },
        )
        bridge = node_command(
            "compass_nav.ros.sim_bridge_node",
            {
                "embodiment": arg,
                "family": cfg.family,
                "split": cfg.split,
                "seed": cfg.seed,
                "image_height": cfg.image_size[0],
                "image_width": cfg.image_size[1],
                "episodes": cfg.episodes,
                "exit_when_done": True,
                "lockstep": lockstep,
                "realtime_factor": cfg.realtime_factor,
                "cmd_vel_stamped": lockstep,
                "route_mode": cfg.route_mode,
                # The recorder's image subscription must be matched before the first frame, or
                # a short episode on a fast machine ends before it sees one (no GIF).
                # (and the bag recorder's, so the bag holds the first frame too).
                "min_image_subscribers": (
                    (1 + bool(cfg.gif_dir) + bool(cfg.record)) if cfg.gif_dir or cfg.record else 0
                ),
                **cfg.bridge_params,
            },
        )
        procs, logs = [], []
        frames: list | None = [] if cfg.gif_dir else None
        listener = _Listener(domain, frames)
        recorder = None
        deadline = time.monotonic() + cfg.timeout_s
        try:
            for name, cmd in (("navigator", nav), ("sim_bridge", bridge)):
                if name == "sim_bridge" and cfg.record:
                    # After the navigator subscribed (the bridge waits for ITS subscriptions,
                    # which the recorder's must not stand in for), before the bridge (whose
                    # first frame waits for the recorder's image subscription); stopped last,
                    # so it has the navigator's final zero command.
                    listener.wait_for_subscription("goal_pose", deadline)
                    logs.append(open(log_dir / f"{label}_bag.log", "w"))
                    bag = Path(cfg.record).resolve() / label
                    recorder = subprocess.Popen(
                        [sys.executable, "-m", "compass_nav.ros.bag", "record", "--out", str(bag)],
                        env=env,
                        stdout=logs[-1],
                        stderr=subprocess.STDOUT,
                    )
                    # It has found the navigator's topics once it listens to its commands
                    # (nothing else subscribes to cmd_vel before the bridge starts).
                    listener.wait_for_subscription("cmd_vel", deadline)
                logs.append(open(log_paths[name], "w"))
                procs.append(
                    subprocess.Popen(cmd, env=env, stdout=logs[-1], stderr=subprocess.STDOUT)
                )
            records = listener.collect(cfg.episodes, _alive(procs), deadline)
        finally:
            for p in procs:
                stop_process(p)
            if recorder is not None:
                time.sleep(0.3)  # the last messages in flight
                stop_process(recorder)
            listener.close()
            for log in logs:
                log.close()
        if recorder is not None and not (bag / "metadata.yaml").is_file():
            raise RuntimeError(
                f"the bag recorder did not finish {bag}: see {log_dir / f'{label}_bag.log'}"
            )
        for r in records:
            r.setdefault("embodiment", body)
        missing = cfg.episodes - len(records)
        records += [{"embodiment": body, "outcome": "no result"}] * max(missing, 0)
        results += records[: cfg.episodes]
        if bar is not None:
            bar.update(cfg.episodes)
        if frames and gif_path is not None:
            _write_gif(gif_path, frames)
    if bar is not None:
        bar.close()
    return results


def _write_gif(path: Path, frames: list) -> None:
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    scale = max(1, 192 // frames[0].shape[0])
    big = [np.repeat(np.repeat(f, scale, 0), scale, 1) for f in frames]
    imageio.mimsave(path, big, duration=0.1, loop=0)


def summary_table(records: list[dict]) -> str:
    """Per-embodiment success/collision/timeout counts and mean SPL, as aligned text."""
    rows = ["embodiment   episodes  success  collision  timeout  no-result  SPL"]
    for body in dict.fromkeys(r["embodiment"] for r in records):
        rs = [r for r in records if r["embodiment"] == body]
        count = {
            k: sum(r["outcome"] == k for r in rs)
            for k in ("success", "collision", "timeout", "no result")
        }
        spl = np.mean([r.get("spl") or 0.0 for r in rs])
        rows.append(
            f"{body:<12} {len(rs):>8} {count['success']:>8} {count['collision']:>10} "
            f"{count['timeout']:>8} {count['no result']:>10}  {spl:.3f}"
        )
    return "\n".join(rows)


def success_line(records: list[dict]) -> str:
    """``episodes=N success=K success_rate=R``: the machine-readable last line of a run."""
    wins = sum(r["outcome"] == "success" for r in records)
    return f"episodes={len(records)} success={wins} success_rate={wins / len(records):.3f}"
