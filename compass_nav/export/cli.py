"""``compass-nav export onnx|tensorrt|show`` (listed in ``compass_nav.cli.COMMAND_MODULES``).

``export onnx`` exports a checkpoint (any kind with a builder in
:mod:`compass_nav.runtime.sources`) with :func:`compass_nav.export.onnx_export.export_onnx`,
then checks open-loop parity against the torch runtime on freshly recorded episodes
(:mod:`compass_nav.export.parity`) and, with ``--closed-loop-episodes N``, closed-loop
success of both. ``export tensorrt`` builds a cached engine from an exported ONNX file
(:func:`compass_nav.runtime.tensorrt_runtime.build_engine`), or exits 2 saying exactly what
is missing. ``export show FILE`` prints an exported model's metadata. Heavy imports happen inside
the handler so that ``compass-nav --help`` stays fast.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from compass_nav.utils.cli import Stage, Verb
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import ensure_output_file

_EPILOG = """\
examples:
  compass-nav export onnx --checkpoint runs/il_carter --out models/default.onnx
  compass-nav export onnx --checkpoint runs/il_carter/model.pt --out /tmp/il.onnx \\
      --closed-loop-episodes 210
  compass-nav export tensorrt --onnx models/default.onnx --fp16
  compass-nav export show models/default.onnx

The ONNX graph has named inputs (rgb uint8 NHWC, depth float32 m, speed, route, goal,
embodiment, prev_action, recurrent state) and outputs (action, path, new state), a dynamic
batch axis, opset 18, and compass_nav.* metadata; see docs/EXPORT.md."""

#: Open-loop parity threshold (max |onnx - torch| action, SI units).
PARITY_TOL = 1e-4


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", metavar="RUN_OR_PT", help="onnx: a run folder or a .pt checkpoint"
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="onnx: the .onnx to write; tensorrt: also copy the engine here",
    )
    p.add_argument(
        "--opset",
        type=int,
        default=None,
        help="onnx: ONNX opset, >= 18 (default 18, the tested one)",
    )
    p.add_argument(
        "--parity-steps",
        type=int,
        default=128,
        help="onnx: recorded steps of the open-loop parity check (0 skips it)",
    )
    p.add_argument(
        "--parity-envs", type=int, default=4, help="onnx: parallel envs of the parity recording"
    )
    p.add_argument(
        "--closed-loop-episodes",
        type=int,
        default=0,
        metavar="N",
        help="onnx: also compare closed-loop success of torch and ONNX on N "
        "paired episodes (carter, every family; 0 = skip)",
    )
    p.add_argument("--report", metavar="JSON", help="write the export/parity figures here")
    p.add_argument("--onnx", metavar="FILE", help="tensorrt: the exported .onnx file")
    p.add_argument("--fp16", action="store_true", help="tensorrt: allow FP16 kernels")
    p.add_argument(
        "--max-batch", type=int, default=64, help="tensorrt: largest batch of the engine's profile"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _show(args: argparse.Namespace) -> int:
    from compass_nav.runtime.onnx_runtime import read_onnx_metadata
    from compass_nav.runtime.tensorrt_runtime import read_engine_sidecar

    path = args.model
    if Path(path).suffix == ".onnx":
        meta = read_onnx_metadata(path)
    else:
        from compass_nav.runtime.metadata import parse_metadata

        meta = parse_metadata(read_engine_sidecar(path).get("metadata_props", {}), path)
    props = meta.to_props()
    width = max(len(k) for k in props)
    for k, v in props.items():
        print(f"{k:<{width}}  {v}")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    from compass_nav.export.onnx_export import OPSET, export_onnx
    from compass_nav.runtime.sources import load_exportable

    if not args.checkpoint or not args.out:
        raise ConfigError("export onnx needs --checkpoint RUN_OR_PT and --out FILE.onnx")
    _check_outputs(args)
    module = load_exportable(args.checkpoint)
    opset = args.opset or OPSET
    # Recorded in the file: the options that determine its content, spelled as a command
    # that reproduces it (the same whether the CLI ran as a program or in-process).
    command = shlex.join(
        [
            "compass-nav",
            "export",
            "onnx",
            "--checkpoint",
            str(args.checkpoint),
            "--out",
            str(args.out),
            "--opset",
            str(opset),
        ]
    )
    rep = export_onnx(module, args.out, opset=opset, command=command)
    print(
        f"wrote {rep.path} ({rep.size_bytes / 1e6:.2f} MB, {rep.nodes} nodes, opset "
        f"{rep.opset}, kind {rep.metadata.kind}); onnx.checker passed; self-check max |diff| "
        f"{rep.max_abs_diff:.2e}"
    )
    figures = {
        "path": str(rep.path),
        "size_mb": rep.size_bytes / 1e6,
        "nodes": rep.nodes,
        "opset": rep.opset,
        "self_check_max_abs_diff": rep.max_abs_diff,
        "export_seconds": rep.seconds,
    }
    code = 0
    if args.parity_steps > 0:
        from compass_nav.export.parity import record, replay
        from compass_nav.runtime.factory import RuntimePolicy
        from compass_nav.runtime.onnx_runtime import OnnxRuntime
        from compass_nav.runtime.torch_runtime import TorchRuntime
        from compass_nav.sim.config import SimConfig

        torch_rt = TorchRuntime(module)
        onnx_rt = OnnxRuntime(rep.path)
        sim = SimConfig()  # the camera size evaluation uses: the runtimes resize as on a robot
        rec = record(
            RuntimePolicy(TorchRuntime(module)),
            steps=args.parity_steps,
            num_envs=args.parity_envs,
            image_hw=(sim.image_height, sim.image_width),
        )
        code = 0
        # Twice: resetting rows where episodes start (as a robot does), and carrying the
        # state through the whole recording (the longest recurrent chain it allows).
        for reset in (True, False):
            par = replay(torch_rt, onnx_rt, rec, reset_at_starts=reset)
            ok = par.max_abs_action <= PARITY_TOL
            print(
                f"open-loop parity over {par.steps} steps x {par.envs} envs "
                f"({'state reset at episode starts' if reset else 'state never reset'}, "
                f"longest recurrent run {par.longest_run}): max |action diff| "
                f"{par.max_abs_action:.2e}, max |path diff| {par.max_abs_path:.2e} -> "
                f"{'OK' if ok else 'FAILED'} (tolerance {PARITY_TOL:g})"
            )
            figures["parity" if reset else "parity_chain"] = par.as_dict()
            code = code or (0 if ok else 1)
    if args.closed_loop_episodes > 0:
        from compass_nav.export.parity import closed_loop

        cl = closed_loop(
            args.checkpoint,
            str(rep.path),
            episodes=args.closed_loop_episodes,
            progress=not args.no_progress,
        )
        (lo_a, hi_a), (lo_b, hi_b) = cl.sr_ci
        print(
            f"closed loop, {cl.episodes} paired episodes: torch SR {cl.sr[0]:.3f} "
            f"[{lo_a:.3f}, {hi_a:.3f}], onnx SR {cl.sr[1]:.3f} [{lo_b:.3f}, {hi_b:.3f}], "
            f"same outcome in {cl.agree:.1%} -> {'OK' if cl.overlap else 'DIFFERENT'}"
        )
        figures["closed_loop"] = cl.as_dict()
        code = code or (0 if cl.overlap else 1)
    if args.report:
        from compass_nav.utils.atomic import atomic_write_json

        atomic_write_json(args.report, figures)
    return code


def _export_tensorrt(args: argparse.Namespace) -> int:
    from compass_nav.runtime.tensorrt_runtime import build_engine

    if not args.onnx:
        raise ConfigError("export tensorrt needs --onnx FILE.onnx (an exported model)")
    _check_outputs(args)
    engine = build_engine(args.onnx, fp16=args.fp16, out=args.out, max_batch=args.max_batch)
    print(f"wrote {engine} ({'fp16' if args.fp16 else 'fp32'}, batch 1..{args.max_batch})")
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unwritable ``--out``/``--report`` files before any work."""
    for flag, path in (("--out", args.out), ("--report", args.report)):
        if path:
            ensure_output_file(path, flag)


def _show_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="an exported .onnx or engine file")


#: ``compass-nav export {onnx,tensorrt,show}``.
STAGE = Stage(
    "export",
    help="export a trained policy to ONNX, or build a TensorRT engine from one",
    description="Export a checkpoint to ONNX (pinned opset, named tensors, dynamic batch, "
    "metadata, onnx.checker, parity against torch), or build a TensorRT engine from an "
    "exported ONNX file where TensorRT and a CUDA GPU exist.",
    verbs=(
        Verb(
            "onnx",
            help="export a checkpoint or run folder to ONNX and check parity",
            description="Export a checkpoint or run folder to ONNX and check parity.",
            epilog=_EPILOG,
            handler=_export_onnx,
            options=_add_options,
        ),
        Verb(
            "tensorrt",
            help="build a cached TensorRT engine from an exported ONNX file",
            description="Build a cached TensorRT engine from an exported ONNX file.",
            epilog=_EPILOG,
            handler=_export_tensorrt,
            options=_add_options,
        ),
        Verb(
            "show", help="print an exported model's metadata", handler=_show, options=_show_options
        ),
    ),
)


__all__ = ["PARITY_TOL", "STAGE"]
