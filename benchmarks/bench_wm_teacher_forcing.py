"""Does keeping some teacher forcing late in training help one-step (teacher-forced) video?

Continues a trained world model for a few CPU-minutes (one arm per run; the arms share
weights and seed): with ``--floor 0`` no teacher forcing, the control, which is what the end
of a default run trains; with a floor, that share of steps gets real frames. Then measures
RGB PSNR on windows of the *training* rollouts; the evaluation split is left alone, so
choosing the floor here does not look at the data the report scores. Prints a JSON line,
then the headline pairs: PSNR at horizons 1/8/16/32, autoregressive (``ar``) and
teacher-forced (``tf``), for the model and the copy-last-frame baseline (the JSON also has
the shuffled-action baseline). Run the arms side by side on two cores:

    .venv/bin/python benchmarks/bench_wm_teacher_forcing.py --floor 0.0 --out /tmp/tf0.pt &
    .venv/bin/python benchmarks/bench_wm_teacher_forcing.py --floor 0.2 --out /tmp/tf2.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from compass_nav.worldmodel.evaluate import video_quality
from compass_nav.worldmodel.pool import load_split
from compass_nav.worldmodel.train import load_checkpoint, train_world_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="runs/worldmodel/model_v4.pt", help="starting weights")
    ap.add_argument("--data", default="runs/worldmodel/data")
    ap.add_argument("--floor", type=float, required=True, help="teacher forcing kept (0: none)")
    ap.add_argument("--minutes", type=float, default=4.0, help="CPU-minutes of training")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--out", required=True, help="where the continued checkpoint goes")
    ap.add_argument("--windows", type=int, default=96)
    args = ap.parse_args()
    cfg = load_checkpoint(args.model).config
    rolls = list(load_split(cfg, args.data, "train").values())
    tc = dataclasses.replace(
        cfg.train,
        init=args.model,
        teacher_forcing_floor=args.floor,
        teacher_forcing_until=0.0,
        max_cpu_minutes=args.minutes,
        lr=args.lr,
        idm_steps=20,
        checkpoint_every=0,
        seed=7,
    )
    train_world_model(dataclasses.replace(cfg, train=tc), rolls, args.out, progress=False)
    torch.set_num_threads(1)
    vq = video_quality(load_checkpoint(args.out), rolls, (1, 8, 16, 32), args.windows, seed=11)
    res = {
        m: {p: [round(v, 2) for v in vq[m][p]["psnr"]] for p in ("model", "copy", "shuffled")}
        for m in ("ar", "tf")
    }
    print(
        json.dumps(
            {"floor": args.floor, "minutes": args.minutes, "horizons": [1, 8, 16, 32], **res}
        )
    )
    print(
        " ".join(
            [f"floor={args.floor}"]
            + [
                f"psnr_{m}{h}_{p}={res[m][p][i]}"
                for m in ("ar", "tf")
                for p in ("model", "copy")
                for i, h in enumerate((1, 8, 16, 32))
            ]
        )
    )


if __name__ == "__main__":
    main()
