"""``compass-nav worldmodel ...``: offline policy evaluation with a video world model.

Registered through :data:`compass_nav.cli.COMMAND_MODULES`. Subcommands::

    collect    record the pool's ground truth and the training rollouts   (pool.py)
    train      train the world model + inverse dynamics on the rollouts    (train.py)
    evaluate   imagine every pool policy, score, write the report          (evaluate.py)
    run        the three in a row (``--preset tiny`` finishes in about a minute)

Configs: ``--preset`` picks a starting point (``default`` or ``tiny``), ``--config`` merges a
YAML file over it, ``--set section.key=value`` overrides single fields; ``--add-policy
SPEC[:ROLE]`` appends a pool member (e.g. an IL checkpoint). ``train`` stores the resolved
config in the checkpoint; ``evaluate`` uses the checkpoint's, with ``--set evaluate.*``
overrides only.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from compass_nav.utils.cli import Stage, Verb, add_overrides
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import ensure_output_dir, ensure_output_file

log = logging.getLogger(__name__)

DEFAULT_WORKDIR = Path("runs/worldmodel")


def resolve_config(
    preset_name: str = "default",
    config: str | None = None,
    overrides: list[str] | None = None,
    add_policies: list[str] | None = None,
):
    """Preset, then YAML file, then ``key=value`` overrides, then extra pool policies."""
    import dataclasses

    from compass_nav.utils.config import resolve_config
    from compass_nav.worldmodel.config import PoolPolicy, WorldModelPipelineConfig

    cfg = resolve_config(
        WorldModelPipelineConfig,
        preset=preset_name,
        presets="worldmodel",
        config_file=config,
        overrides=overrides or (),
    )
    extra = []
    for item in add_policies or []:
        spec, sep, role = item.rpartition(":")
        if not sep or role not in ("train", "heldout"):
            spec, role = item, "heldout"
        extra.append(PoolPolicy(spec, role))
    if not extra:
        return cfg
    pool = dataclasses.replace(cfg.pool, policies=(*cfg.pool.policies, *extra))
    return dataclasses.replace(cfg, pool=pool)


def with_evaluate_overrides(cfg, overrides: list[str]):
    """A checkpoint's config with ``evaluate.key=value`` overrides applied.

    Raises:
        ConfigError: an override outside ``evaluate`` (the rest comes from the checkpoint).
    """
    from compass_nav.utils.config import config_to_dict, resolve_config
    from compass_nav.worldmodel.config import WorldModelPipelineConfig

    bad = [o for o in overrides if not o.startswith("evaluate.")]
    if bad:
        raise ConfigError(
            f"--set {bad[0]!r}: evaluate accepts only evaluate.* overrides (the "
            "rest of the config comes from the checkpoint)"
        )
    if not overrides:
        return cfg
    return resolve_config(WorldModelPipelineConfig, base=config_to_dict(cfg), overrides=overrides)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        default="default",
        help="starting config of configs/presets/worldmodel.yaml: default, tiny, ... "
        "(default: %(default)s)",
    )
    p.add_argument("--config", help="YAML file merged over the preset")
    add_overrides(p, "--set train.steps=2000", dest="overrides")
    p.add_argument(
        "--add-policy",
        action="append",
        default=[],
        metavar="SPEC[:ROLE]",
        help="append a pool policy, ROLE 'train' or 'heldout' (default heldout)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _collect(args: argparse.Namespace) -> int:
    from compass_nav.worldmodel.pool import collect_pool

    cfg = resolve_config(args.preset, args.config, args.overrides, args.add_policy)
    ensure_output_dir(args.data, "--data")
    out = collect_pool(cfg, args.data, progress=not args.no_progress)
    for spec, row in out["ground_truth"].items():
        print(f"{row['role']:8s} SR {row['success']:.3f}  coll {row['collision']:.3f}  {spec}")
    print(
        f"ground truth written to {Path(args.data) / 'ground_truth.json'} ({out['seconds']:.0f} s)"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    from compass_nav.worldmodel.pool import load_split
    from compass_nav.worldmodel.train import train_world_model

    cfg = resolve_config(args.preset, args.config, args.overrides, args.add_policy)
    ensure_output_file(args.out, "--out")
    rolls = list(load_split(cfg, args.data, "train").values())
    summary = train_world_model(cfg, rolls, args.out, progress=not args.no_progress)
    f = summary["final"]
    print(
        f"trained in {summary['train_seconds'] / 60:.1f} min wall "
        f"({summary['train_cpu_seconds'] / 60:.1f} min CPU) on {summary['frames']} frames; "
        f"final pred mse {f.get('pred', float('nan')):.4f}, collision bce "
        f"{f.get('collision', float('nan')):.3f}; wrote {args.out}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import dataclasses

    from compass_nav.worldmodel.evaluate import evaluate_pool
    from compass_nav.worldmodel.report import headline, write_report
    from compass_nav.worldmodel.train import load_checkpoint

    ensure_output_dir(args.out, "--out")
    loaded = load_checkpoint(args.model)
    loaded.config = with_evaluate_overrides(loaded.config, args.overrides)
    extra = getattr(args, "add_policy", None) or []
    if extra and not getattr(args, "_pool_has_extras", False):
        from compass_nav.worldmodel.config import PoolPolicy

        known = {p.spec for p in loaded.config.pool.policies}
        added = []
        for item in extra:
            spec, sep, role = item.rpartition(":")
            if not sep or role not in ("train", "heldout"):
                spec, role = item, "heldout"
            if spec not in known:
                added.append(PoolPolicy(spec, role))
        pool = dataclasses.replace(
            loaded.config.pool, policies=loaded.config.pool.policies + tuple(added)
        )
        loaded.config = dataclasses.replace(loaded.config, pool=pool)
    results = evaluate_pool(loaded, args.data, progress=not args.no_progress)
    files = write_report(results, args.out)
    print(f"report written to {args.out}: {', '.join(v for v in files.values() if v)}")
    print(" ".join(f"{k}={v:.4g}" for k, v in headline(results).items()))
    return 0


def _run(args: argparse.Namespace) -> int:
    work = ensure_output_dir(args.workdir, "--workdir")
    t0 = time.time()
    args.data = str(work / "data")
    args.out = str(work / "model.pt")
    _collect(args)
    _train(args)
    args.model, args.out = args.out, str(work / "report")
    args.overrides = [o for o in args.overrides if o.startswith("evaluate.")]
    args._pool_has_extras = True  # the checkpoint's pool already lists --add-policy entries
    code = _evaluate(args)
    print(f"pipeline finished in {(time.time() - t0) / 60:.1f} min")
    return code


def _collect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=str(DEFAULT_WORKDIR / "data"),
        help="output folder (default: %(default)s); finished files are reused",
    )
    _add_config_args(p)


def _train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_WORKDIR / "data"), help="collected data")
    p.add_argument("--out", default=str(DEFAULT_WORKDIR / "model.pt"), help="checkpoint path")
    _add_config_args(p)


def _evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=str(DEFAULT_WORKDIR / "model.pt"), help="checkpoint")
    p.add_argument("--data", default=str(DEFAULT_WORKDIR / "data"), help="collected data")
    p.add_argument("--out", default=str(DEFAULT_WORKDIR / "report"), help="report folder")
    add_overrides(
        p, "--set evaluate.bootstrap=500", dest="overrides", metavar="evaluate.KEY=VALUE"
    )
    p.add_argument(
        "--add-policy",
        action="append",
        default=[],
        metavar="SPEC[:ROLE]",
        help="also evaluate this policy (its ground truth must have been collected "
        "with the same --add-policy); a policy the model trained on must "
        "have been in the training pool, so extras are normally heldout",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workdir",
        default=str(DEFAULT_WORKDIR),
        help="folder for data/, model.pt and report/ (default: %(default)s)",
    )
    _add_config_args(p)


#: ``compass-nav worldmodel {collect,train,evaluate,run}``.
STAGE = Stage(
    "worldmodel",
    help="offline policy evaluation with an action-conditioned video model",
    description=__doc__.split("\n\n")[0].replace("``", ""),
    verbs=(
        Verb(
            "collect",
            help="record the pool's ground truth and training rollouts",
            handler=_collect,
            options=_collect_options,
        ),
        Verb(
            "train",
            help="train the world model on the collected rollouts",
            handler=_train,
            options=_train_options,
        ),
        Verb(
            "evaluate",
            help="imagine the pool, compare with the ground truth",
            handler=_evaluate,
            options=_evaluate_options,
        ),
        Verb(
            "run",
            help="collect, train and evaluate in one go",
            handler=_run,
            options=_run_options,
        ),
    ),
)
