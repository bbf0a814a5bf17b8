"""Navigator latency, sustainable rate and CPU use over real DDS (run inside a netns).

    scripts/netns_run.sh .venv/bin/python benchmarks/bench_ros.py [--model scripted:goal_seeker]
    scripts/netns_run.sh .venv/bin/python benchmarks/bench_ros.py --model '' --sizes 64x64 \
        --sweep --busy          # quiet and with one competing busy process, shipped model

For each run a fresh navigator process (image-triggered, TwistStamped commands carrying the
stamp of the image that caused them) is fed odometry + camera images by this process at a
fixed rate, with a goal far ahead so it never stops driving. Reported per run:

* node latency: image callback entry -> command published, inside the node (no transport),
  p50/p99 from the node's own diagnostics (``step_latency_ms_*``);
* end-to-end latency: publish here -> command received here (two DDS hops included);
* delivered: commands received / images sent (a depth image goes with every camera image,
  read only by models that use depth); CPU: the node's utime+stime from
  /proc/<pid>/stat over the run, as % of one core.

First at the control rate (10 Hz) for each image size, then a sweep of rates at the first
size: the highest sustainable rate is the highest one where >= 99% of images got a command
and the end-to-end p99 stays below the period. The last line holds the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image
from std_msgs.msg import String
from tqdm import tqdm

from compass_nav.ros import conversions as conv
from compass_nav.ros import qos
from compass_nav.ros.netns import require_private_network
from compass_nav.ros.sil import node_command, stop_process

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, s (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Feeder:
    """Publishes odometry + images and records stamped commands and diagnostics."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        n = self.node = rclpy.create_node("bench_feeder", context=self.ctx)
        self.image_pub = n.create_publisher(Image, "image", qos.sensor())
        self.depth_pub = n.create_publisher(Image, "depth", qos.sensor())
        self.odom_pub = n.create_publisher(Odometry, "odom", qos.sensor())
        self.goal_pub = n.create_publisher(PoseStamped, "goal_pose", qos.reliable())
        self.recv: dict[tuple[int, int], float] = {}
        self.status: list[dict] = []
        self.diag: dict[str, str] = {}
        n.create_subscription(TwistStamped, "cmd_vel", self._on_cmd, qos.command())
        n.create_subscription(
            String, "goal_status", lambda m: self.status.append(json.loads(m.data)), qos.latched()
        )
        n.create_subscription(DiagnosticArray, "diagnostics", self._on_diag, qos.reliable())
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(n)

    def _on_cmd(self, msg: TwistStamped) -> None:
        s = msg.header.stamp
        self.recv.setdefault((s.sec, s.nanosec), time.perf_counter())

    def _on_diag(self, msg: DiagnosticArray) -> None:
        self.diag = {kv.key: kv.value for kv in msg.status[0].values}

    def spin_until(self, pred, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            self.ex.spin_once(timeout_sec=0.01)
        return bool(pred())

    def close(self) -> None:
        self.ex.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def run(model: str, rate: float, n: int, size: tuple[int, int], domain: int, log: Path) -> dict:
    """One navigator process fed ``n`` images at ``rate`` Hz; returns the measurements."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    params = dict(
        model=model,
        embodiment="carter",
        cmd_vel_stamped=True,
        control_rate_hz=float(rate),
        stale_timeout=2.0,
        diagnostics_period=0.25,
        # This feeder publishes reliably and sends its first odometry once: a best-effort
        # subscription (the node's default) could lose it before matching.
        image_qos="reliable",
        odom_qos="reliable",
    )
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            node_command("compass_nav.ros.navigator_node", params),
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    f = Feeder(domain)
    h, w = size
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    depth = np.random.default_rng(1).uniform(0.5, 8.0, (h, w)).astype(np.float32)
    pose, speed = np.zeros(3), np.zeros(3)
    try:
        ok = f.spin_until(
            lambda: (
                f.image_pub.get_subscription_count() > 0
                and f.goal_pub.get_subscription_count() > 0
            ),
            60.0,
        )
        if not ok:
            raise RuntimeError(f"navigator did not come up; see {log}")
        f.odom_pub.publish(
            conv.odometry_msg(pose, speed, conv.sec_to_stamp(1.0), "odom", "base_link")
        )
        goal = PoseStamped()
        goal.header.frame_id = "odom"
        goal.pose.position.x = 1000.0
        goal.pose.orientation.w = 1.0
        f.goal_pub.publish(goal)
        if not f.spin_until(lambda: f.status and f.status[-1]["goal_id"] >= 1, 10.0):
            raise RuntimeError("goal not accepted")
        sent: dict[tuple[int, int], float] = {}
        t_sim, period = 1.0, 1.0 / rate
        warm = max(10, int(rate))  # about one second of warm-up, not measured
        cpu0 = t0 = None
        start = time.perf_counter()
        for i in range(warm + n):
            if i == warm:
                cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            due = start + i * period
            while (now := time.perf_counter()) < due:
                f.ex.spin_once(timeout_sec=min(due - now, 0.005))
            t_sim += period
            stamp = conv.sec_to_stamp(t_sim)
            f.odom_pub.publish(conv.odometry_msg(pose, speed, stamp, "odom", "base_link"))
            f.depth_pub.publish(conv.depth_to_msg(depth, stamp, "camera"))  # if the model reads it
            msg = conv.rgb_to_msg(rgb, stamp, "camera")
            if i >= warm:
                sent[(stamp.sec, stamp.nanosec)] = time.perf_counter()
            f.image_pub.publish(msg)
            f.ex.spin_once(timeout_sec=0.0)
        f.spin_until(lambda: all(k in f.recv for k in sent), 1.0)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        target = warm + n
        f.spin_until(lambda: int(f.diag.get("commands_published", 0)) >= target, 3.0)
        diag = dict(f.diag)
    finally:
        f.close()
        stop_process(proc)
    e2e = np.array([f.recv[k] - t for k, t in sent.items() if k in f.recv]) * 1e3

    def num(key: str) -> float:
        try:
            return float(diag.get(key, "nan"))
        except ValueError:  # 'n/a': the node never stepped
            return float("nan")

    # The node keeps the last 500 steps: percentiles cover the run when n >= 500, else the
    # run plus part of the warm-up (which only lowers p99 if warm-up was faster).
    return {
        "rate_hz": rate,
        "size": f"{w}x{h}",
        "images": n,
        "delivered": len(e2e) / n,
        "node_p50_ms": num("step_latency_ms_p50"),
        "node_p99_ms": num("step_latency_ms_p99"),
        "inference_p99_ms": num("inference_ms_p99"),
        "e2e_p50_ms": float(np.percentile(e2e, 50)) if len(e2e) else float("nan"),
        "e2e_p99_ms": float(np.percentile(e2e, 99)) if len(e2e) else float("nan"),
        "cpu_pct": 100.0 * cpu / wall,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model",
        default="scripted:goal_seeker",
        help="navigator model parameter (default: scripted:goal_seeker)",
    )
    ap.add_argument(
        "--sizes",
        nargs="+",
        default=["64x64", "320x240"],
        help="image sizes WxH for the control-rate runs (first: sweep size)",
    )
    ap.add_argument(
        "--control-images", type=int, default=200, help="images per control-rate run (10 Hz)"
    )
    ap.add_argument(
        "--sweep",
        nargs="*",
        type=float,
        default=[50, 100, 200, 400, 800],
        help="rates for the sustainable-rate sweep, Hz",
    )
    ap.add_argument("--sweep-seconds", type=float, default=2.5, help="length of a sweep run")
    ap.add_argument(
        "--busy",
        action="store_true",
        help="also repeat the first control-rate run with one competing busy process "
        "(a Python spin loop) and print both figures (quiet and contended)",
    )
    ap.add_argument("--domain-id", type=int, default=77)
    ap.add_argument("--log-dir", type=Path, default=Path("/tmp/bench_ros_logs"))
    args = ap.parse_args()
    require_private_network()
    args.log_dir.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(v) for v in s.split("x"))[::-1] for s in args.sizes]
    jobs = [(10.0, args.control_images, s) for s in sizes]
    jobs += [(r, int(r * args.sweep_seconds), sizes[0]) for r in args.sweep]
    rows = []
    for i, (rate, n, size) in enumerate(tqdm(jobs, desc="navigator runs", unit="run")):
        rows.append(
            run(args.model, rate, n, size, args.domain_id, args.log_dir / f"run{i}_{rate:g}hz.log")
        )
    busy_row = None
    if args.busy:
        spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1.0)
            busy_row = run(
                args.model,
                10.0,
                args.control_images,
                sizes[0],
                args.domain_id,
                args.log_dir / "run_busy_10hz.log",
            )
        finally:
            spin.kill()
            spin.wait()
    head = (
        "rate_hz",
        "size",
        "images",
        "delivered",
        "node_p50_ms",
        "node_p99_ms",
        "inference_p99_ms",
        "e2e_p50_ms",
        "e2e_p99_ms",
        "cpu_pct",
    )
    print(
        f"model={args.model} python={sys.version.split()[0]} "
        f"loadavg={os.getloadavg()[0]:.2f} cores={os.cpu_count()}"
    )
    print(" ".join(f"{k:>16}" for k in head))
    for r in rows:
        print(
            " ".join(f"{r[k]:>16.3f}" if isinstance(r[k], float) else f"{r[k]:>16}" for k in head)
        )
    ok = [
        r["rate_hz"]
        for r in rows[len(sizes) :]
        if r["delivered"] >= 0.99 and r["e2e_p99_ms"] < 1e3 / r["rate_hz"]
    ]
    c = rows[0]
    print(
        f"model={args.model} size={c['size']} rate_hz=10 node_p50_ms={c['node_p50_ms']:.3f} "
        f"node_p99_ms={c['node_p99_ms']:.3f} e2e_p50_ms={c['e2e_p50_ms']:.3f} "
        f"e2e_p99_ms={c['e2e_p99_ms']:.3f} cpu_pct_10hz={c['cpu_pct']:.1f} "
        f"max_sustained_hz={max(ok) if ok else 0:g}"
    )
    if busy_row is not None:
        b = busy_row
        print(
            f"model={args.model} size={b['size']} rate_hz=10 contended(1 busy process) "
            f"node_p50_ms={b['node_p50_ms']:.3f} node_p99_ms={b['node_p99_ms']:.3f} "
            f"e2e_p99_ms={b['e2e_p99_ms']:.3f} delivered={b['delivered']:.3f} "
            f"quiet_node_p99_ms={c['node_p99_ms']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
