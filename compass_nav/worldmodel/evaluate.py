"""Offline policy evaluation: imagined vs real success across the pool, video quality, judge.

Wiring: ``compass-nav worldmodel evaluate`` (:mod:`compass_nav.worldmodel.cli`) loads a
checkpoint (:func:`compass_nav.worldmodel.train.load_checkpoint`) and the pool's ground truth
(:func:`compass_nav.worldmodel.pool.load_split`) and calls :func:`evaluate_pool`, which

1. imagines every pool policy's episodes closed-loop from their real first frames
   (:func:`compass_nav.worldmodel.imagine.imagine_episodes`); policies that read the
   simulator's privileged state are listed as not evaluable in imagination;
2. calibrates the hazard judge with one logit offset fitted on the ``train`` policies only
   (their imagined vs real success rates), for each judge mode; ``judge='auto'`` keeps the
   mode that fits the train policies best by ``evaluate.judge_rule`` (paired-episode Brier
   score by default; held-out figures of every mode are reported as an ablation, never used
   to choose); then scores every policy;
3. compares predicted and real per-policy success rates with the rank/correlation metrics of
   :mod:`compass_nav.worldmodel.metrics`, each with a 95% bootstrap interval over policies
   and the episodes within them, for all / ``train`` / ``heldout`` policies;
4. measures video quality (PSNR, SSIM on RGB) at the configured horizons, autoregressive and
   teacher-forced, against copy-last-frame and shuffled-action baselines, on recorded
   windows of the ``train`` policies (in distribution) and of the ``heldout`` policies;
5. measures the judge on real rollouts (hazards on real frames) and the inverse-dynamics
   flags on imagined ones;

and hands the result to :mod:`compass_nav.worldmodel.report` (JSON, markdown, plots, GIFs).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from compass_nav.contract.body import get_embodiment
from compass_nav.policies import make_policy
from compass_nav.worldmodel import metrics as M
from compass_nav.worldmodel.imagine import (
    AUTO_MODES,
    JUDGE_MODES,
    GeometryJudge,
    Imagined,
    NeedsSimulator,
    central_min_depth,
    imagine_episodes,
    outcomes,
    swept_distance,
)
from compass_nav.worldmodel.kinematics import ActuatorModel, Proprioception
from compass_nav.worldmodel.model import frames_to_tensor
from compass_nav.worldmodel.pool import ground_truth_row, load_split
from compass_nav.worldmodel.rollouts import Rollouts
from compass_nav.worldmodel.train import LoadedModel, step_features
from compass_nav.worldmodel.warp import EgoWarp, feature_motion, odometry_poses

__all__ = [
    "calibrate_offset",
    "episode_brier",
    "evaluate_pool",
    "judge_on_real",
    "rank_metrics",
    "video_quality",
]

log = logging.getLogger(__name__)

RANK_METRICS = {
    "pearson": M.pearson,
    "spearman": M.spearman,
    "kendall": M.kendall,
    "mmrv": M.mmrv,
    "pairwise_accuracy": M.pairwise_accuracy,
    "mae": M.mae,
}


def rank_metrics(real: np.ndarray, pred: np.ndarray, n_boot: int, seed: int) -> dict:
    """Every rank metric with its 95% bootstrap interval (policies and episodes resampled).

    Args:
        real: (P, E) real per-episode success (0/1).
        pred: (P, E) predicted per-episode success probability.
        n_boot: Bootstrap resamples.
        seed: Resampling seed.
    """
    out = {"policies": int(real.shape[0])}
    for name, fn in RANK_METRICS.items():
        v, lo, hi = M.bootstrap_ci(fn, real, pred, n_boot=n_boot, seed=seed, unit="both")
        out[name] = {"value": v, "ci95": [lo, hi]}
    return out


def calibrate_offset(
    ims: list[Imagined], real_sr: np.ndarray, mode: str, threshold: float
) -> tuple[float, float]:
    """Hazard logit offset minimising the squared success-rate error on the given policies.

    Returns:
        (offset, mean squared success-rate error at that offset).
    """
    grid = np.linspace(-12.0, 8.0, 201)
    best, best_err = 0.0, np.inf
    for b in grid:
        pred = np.array([outcomes(im, b, mode, threshold)["success"].mean() for im in ims])
        err = float(((pred - real_sr) ** 2).mean())
        if err < best_err - 1e-12:
            best, best_err = float(b), err
    return best, best_err


def episode_brier(
    ims: list[Imagined], reals: list[Rollouts], offset: float, mode: str, threshold: float
) -> float:
    """Mean squared error of each paired episode's predicted success against its real outcome.

    Episode ``i`` of a policy is imagined from the first frame of its real episode ``i``, so
    every pair is evidence about the judge (and the model), not only the policy's mean.
    """
    errs = [
        (outcomes(im, offset, mode, threshold)["success"] - r.success.astype(np.float64)) ** 2
        for im, r in zip(ims, reals, strict=True)
    ]
    return float(np.concatenate(errs).mean())


def _windows(rolls: list[Rollouts], horizon: int, count: int, rng) -> list[tuple[Rollouts, int]]:
    """Recorded windows of ``horizon`` transitions, as (rollouts, first frame row).

    Episodes are drawn in proportion to the number of windows they hold (with replacement),
    the start uniformly within the episode.
    """
    cands = [(r, i) for r in rolls for i in range(r.num_episodes) if r.length[i] >= horizon]
    if not cands:
        return []
    w = np.array([r.length[i] - horizon + 1 for r, i in cands], np.float64)
    pick = rng.choice(len(cands), size=count, replace=True, p=w / w.sum())
    out = []
    for k in pick:
        r, i = cands[k]
        t0 = int(rng.integers(0, r.length[i] - horizon + 1))
        out.append((r, int(r.start[i] + t0)))
    return out


@torch.no_grad()
def video_quality(
    loaded: LoadedModel,
    rolls: list[Rollouts],
    horizons: tuple[int, ...],
    count: int,
    seed: int = 0,
    ego_warp: str = "off",
    snap_floor: bool = False,
) -> dict:
    """PSNR/SSIM of predicted RGB at each horizon: model vs copy-last-frame vs shuffled actions.

    Autoregressive (``ar``): from one real frame, the model feeds on its own predictions for
    ``h`` steps. Teacher-forced (``tf``): one-step prediction of frame ``h`` from the real
    frames before it. The copy baseline repeats the context frame (``ar``) or the previous real
    frame (``tf``); the shuffled baseline is the same model given another window's action
    features (a cyclic shift over windows). With ``ego_warp`` other than ``off`` every
    predicted frame shows the reference real frame (the context frame, or the previous real
    frame when teacher-forced) warped by the odometry the action features carry (their
    speeds, integrated; :class:`~compass_nav.worldmodel.warp.EgoWarp`) wherever it covers the
    view, so the shuffled baseline also moves the camera as the other window did;
    autoregressive rollouts compose frames exactly as imagination does (``snap_floor`` as
    there).

    Returns:
        ``{"windows": n, "horizons": [...], "<mode>": {"model"|"copy"|"shuffled":
        {"psnr": [...], "ssim": [...]}}}`` with one value per horizon (mean over windows).
    """
    model = loaded.model
    body = get_embodiment(loaded.config.pool.embodiment)
    H = max(horizons)
    rng = np.random.default_rng(seed)
    wins = _windows(rolls, H, count, rng)
    if len(wins) < 2:
        return {"windows": len(wins), "horizons": list(horizons), "skipped": "too few windows"}
    feats_by_roll = {id(r): step_features(r, body) for r, _ in wins}
    rows = np.stack([s + np.arange(H + 1) for _, s in wins])
    rgb = np.stack([r.rgb[row] for (r, _), row in zip(wins, rows, strict=True)])
    depth = np.stack(
        [r.depth[row].astype(np.float32) for (r, _), row in zip(wins, rows, strict=True)]
    )
    feats = np.stack(
        [feats_by_roll[id(r)][row[:-1]] for (r, _), row in zip(wins, rows, strict=True)]
    )
    x = frames_to_tensor(rgb, depth)  # (B, H+1, 4, S, S)
    f = torch.from_numpy(feats)
    f_shuf = torch.roll(f, 1, dims=0)
    real_rgb = rgb.astype(np.float64) / 255.0

    def to_rgb(t: torch.Tensor) -> np.ndarray:
        return t[:, :3].permute(0, 2, 3, 1).double().numpy()

    descr = np.atleast_2d(wins[0][0].descriptor)[:1]

    def rollout(feat: torch.Tensor, teacher: bool) -> list[np.ndarray]:
        state = model.initial(x[:, 0])
        # odometry of the features' speeds (the shuffled baseline moves as its actions say)
        poses = odometry_poses(feature_motion(feat.numpy(), descr))
        ego = EgoWarp(body, ego_warp, x[:, 0], depth[:, 0], poses[:, 0], snap_floor=snap_floor)
        preds = []
        for t in range(H):
            nxt, _ = model.imagine(state, feat[:, t])
            if teacher and t > 0:
                ego.reset(x[:, t], depth[:, t], poses[:, t])
            frame = ego(model.render(nxt), poses[:, t + 1])
            preds.append(to_rgb(frame))
            if teacher:
                state = model.with_real(nxt.h, x[:, t + 1])
            elif ego.reanchor:
                state = model.with_real(nxt.h, frame)
            else:
                state = nxt
        return preds

    out: dict = {"windows": len(wins), "horizons": list(horizons)}
    for mode, teacher in (("ar", False), ("tf", True)):
        res = {}
        for name, feat in (("model", f), ("shuffled", f_shuf)):
            preds = rollout(feat, teacher)
            res[name] = {
                "psnr": [float(M.psnr(preds[h - 1], real_rgb[:, h]).mean()) for h in horizons],
                "ssim": [float(M.ssim(preds[h - 1], real_rgb[:, h]).mean()) for h in horizons],
            }
        copy_src = [real_rgb[:, 0] if not teacher else real_rgb[:, h - 1] for h in horizons]
        res["copy"] = {
            "psnr": [
                float(M.psnr(c, real_rgb[:, h]).mean())
                for c, h in zip(copy_src, horizons, strict=True)
            ],
            "ssim": [
                float(M.ssim(c, real_rgb[:, h]).mean())
                for c, h in zip(copy_src, horizons, strict=True)
            ],
        }
        out[mode] = res
    return out


@torch.no_grad()
def judge_on_real(
    loaded: LoadedModel,
    rolls: dict[str, Rollouts],
    offset: float,
    mode: str,
    threshold: float,
    seed: int = 0,
) -> dict:
    """The judge on real rollouts: hazards from real frames, success rule on replayed odometry.

    For each real episode the world model observes the recorded frames and commands
    (teacher forcing) and the hazard head scores every transition; the success rule runs on
    odometry integrated from the recorded commands by the actuator model. The predicted
    outcome is a collision if the judge says so (same rule as in imagination), else success if
    the rule held before the real episode's end, else timeout.

    Returns:
        ``collision_accuracy``, ``collision_balanced_accuracy``, ``collision_auroc`` (of
        P(collision)), ``outcome_accuracy`` (success/collision/timeout), ``episodes``.
    """
    model = loaded.model
    body = get_embodiment(loaded.config.pool.embodiment)
    p_coll, true_coll, pred_out, true_out = [], [], [], []
    for r in rolls.values():
        feats = step_features(r, body)
        n = r.num_episodes
        T = int(r.length.max())
        first = r.first_obs()
        state = model.initial(frames_to_tensor(first["rgb"], first["depth"]))
        logits = np.zeros((n, T), np.float32)
        depth_min = np.full((n, T), np.inf, np.float32)
        sweep = np.zeros((n, T), np.float32)
        act = ActuatorModel(body, seed=seed)
        pro = Proprioception(first["goal"], r.plan, r.plan_len, first["speed"])
        reached = np.zeros(n, bool)
        geo = GeometryJudge(body, first["depth"].astype(np.float32), T, r.plan, r.plan_len)
        for t in range(T):
            active = t < r.length
            rows = np.minimum(r.start + t, r.start + r.length)
            nxt_rows = np.minimum(rows + 1, r.start + r.length)
            d1 = r.depth[nxt_rows].astype(np.float32)
            x1 = frames_to_tensor(r.rgb[nxt_rows], d1)
            state, logit = model.observe(state, torch.from_numpy(feats[rows]), x1)
            logits[:, t] = logit.numpy()
            depth_min[:, t] = central_min_depth(d1)
            v_prev = pro.vel.copy()
            pro.pose, pro.vel = act.step(pro.pose, pro.vel, act.clip(r.action[rows]), active)
            sweep[:, t] = swept_distance(v_prev, pro.vel, body.circumscribed_radius)
            reached |= pro.reached() & active
            geo.step(t, pro.pose, d1, active, measured=True)
        im = Imagined(
            logits=logits,
            end=r.length.copy(),
            reached=reached,
            idm_error=np.zeros(n),
            steps=0,
            seconds=0.0,
            frames={},
            depth_min=depth_min,
            sweep=sweep,
            **geo.judged(),
        )
        o = outcomes(im, offset, mode, threshold)
        p_coll.append(o["collision"])
        true_coll.append(r.collision_end)
        pred_out.append(np.stack([o["success"], o["collision"], o["timeout"]], 1).argmax(1))
        true_out.append(np.where(r.success, 0, np.where(r.collision_end, 1, 2)))
    pc, tc = np.concatenate(p_coll), np.concatenate(true_coll)
    po, to = np.concatenate(pred_out), np.concatenate(true_out)
    yhat = pc > 0.5
    tpr = float(yhat[tc].mean()) if tc.any() else float("nan")
    tnr = float((~yhat[~tc]).mean()) if (~tc).any() else float("nan")
    return {
        "episodes": int(len(tc)),
        "collision_accuracy": float((yhat == tc).mean()),
        "collision_balanced_accuracy": float(np.nanmean([tpr, tnr])),
        "collision_recall": tpr,
        "collision_specificity": tnr,
        "collision_auroc": _auroc(pc, tc),
        "outcome_accuracy": float((po == to).mean()),
    }


def _auroc(score: np.ndarray, label: np.ndarray) -> float:
    pos, neg = score[label], score[~label]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = M.rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def evaluate_pool(loaded: LoadedModel, data: str | Path, progress: bool = True) -> dict:
    """Run the whole offline evaluation (see the module docstring); returns the results dict."""
    cfg = loaded.config
    ec, pc = cfg.evaluate, cfg.pool
    torch.set_num_threads(cfg.train.threads)
    loaded.model.static_camera = ec.static_camera
    truth = load_split(cfg, data, "eval")
    roles = {p.spec: p.role for p in pc.policies}
    imagined: dict[str, Imagined] = {}
    not_evaluable: dict[str, str] = {}
    idm_window = int(loaded.info.get("idm", {}).get("window", 8))
    t0 = time.time()
    for spec, real in tqdm(truth.items(), desc="imagining", disable=not progress, unit="policy"):
        try:
            imagined[spec] = imagine_episodes(
                loaded,
                make_policy(spec),
                real,
                pc.max_episode_steps,
                seed=ec.seed,
                keep_frames=tuple(range(ec.gifs)),
                idm_window=idm_window,
                measured_depth=ec.measured_depth,
                ego_warp=ec.ego_warp,
                snap_floor=ec.snap_floor,
                replan=ec.replan,
            )
        except NeedsSimulator as exc:
            not_evaluable[spec] = str(exc)
    imagine_seconds = time.time() - t0

    train_specs = [s for s in imagined if roles[s] == "train"]
    heldout_specs = [s for s in imagined if roles[s] == "heldout"]
    # Judge modes: each calibrated on the train policies only; 'auto' keeps the best fit.
    modes = JUDGE_MODES if ec.judge == "auto" else (ec.judge,)
    choosable = AUTO_MODES if ec.judge == "auto" else (ec.judge,)
    ablation = {}
    for mode in modes:
        off, err = 0.0, float("nan")
        if ec.calibrate and train_specs:
            off, err = calibrate_offset(
                [imagined[s] for s in train_specs],
                np.array([truth[s].success.mean() for s in train_specs]),
                mode,
                ec.threshold,
            )
        row = {"offset": off, "train_mse": err, "train_brier": float("nan")}
        if train_specs:
            row["train_brier"] = episode_brier(
                [imagined[s] for s in train_specs],
                [truth[s] for s in train_specs],
                off,
                mode,
                ec.threshold,
            )
        if len(heldout_specs) >= 2:
            r = np.array([truth[s].success.mean() for s in heldout_specs])
            q = np.array(
                [
                    outcomes(imagined[s], off, mode, ec.threshold)["success"].mean()
                    for s in heldout_specs
                ]
            )
            row.update(
                heldout_pearson=M.pearson(r, q), heldout_mmrv=M.mmrv(r, q), heldout_mae=M.mae(r, q)
            )
        ablation[mode] = row
    key = "train_brier" if ec.judge_rule == "episode_brier" else "train_mse"
    judge_mode = min(choosable, key=lambda m: np.nan_to_num(ablation[m][key], nan=np.inf))
    offset = ablation[judge_mode]["offset"]
    idm_ref = float(loaded.info.get("idm", {}).get("window_error_p99", np.inf))
    per_policy = {}
    for spec, real in truth.items():
        row = {"role": roles[spec], "real": ground_truth_row(real)}
        if spec in imagined:
            im = imagined[spec]
            o = outcomes(im, offset, judge_mode, ec.threshold)
            flagged = im.idm_error > idm_ref
            w = o["success"]
            row["predicted"] = {
                "success": float(o["success"].mean()),
                "collision": float(o["collision"].mean()),
                "timeout": float(o["timeout"].mean()),
                "time_success": float((im.time * w).sum() / w.sum()) if w.sum() > 1e-9 else None,
                "idm_flagged": float(flagged.mean()),
                "steps_per_second": im.steps_per_second,
            }
        else:
            row["predicted"] = None
            row["not_evaluable"] = not_evaluable.get(spec, "")
        per_policy[spec] = row

    groups = {"all": list(imagined), "train": train_specs, "heldout": heldout_specs}
    correlation = {}
    for g, specs in groups.items():
        if len(specs) < 2:
            correlation[g] = {"policies": len(specs), "skipped": "fewer than 2 policies"}
            continue
        real = np.stack([truth[s].success.astype(np.float64) for s in specs])
        pred = np.stack(
            [outcomes(imagined[s], offset, judge_mode, ec.threshold)["success"] for s in specs]
        )
        correlation[g] = rank_metrics(real, pred, ec.bootstrap, ec.seed)
        correlation[g]["specs"] = specs

    vq = {}
    for g, role in (("in_distribution", "train"), ("heldout_policies", "heldout")):
        rolls = [truth[s] for s in truth if roles[s] == role]
        vq[g] = video_quality(
            loaded,
            rolls,
            ec.horizons,
            ec.video_windows,
            ec.seed,
            ego_warp=ec.ego_warp,
            snap_floor=ec.snap_floor,
        )
    judge = judge_on_real(loaded, truth, offset, judge_mode, ec.threshold, ec.seed)

    total_steps = sum(im.steps for im in imagined.values())
    total_secs = sum(im.seconds for im in imagined.values())
    return {
        "config": {
            "judge": judge_mode,
            "judge_setting": ec.judge,
            "judge_rule": ec.judge_rule,
            "threshold": ec.threshold,
            "hazard_offset": offset,
            "judge_modes": ablation,
            "calibrated_on": train_specs,
            "image_size": pc.image_size,
            "embodiment": pc.embodiment,
            "episodes_per_policy": pc.eval_episodes,
            "ego_warp": ec.ego_warp,
            "snap_floor": ec.snap_floor,
            "replan": ec.replan,
            "static_camera": ec.static_camera,
        },
        "per_policy": per_policy,
        "not_evaluable": not_evaluable,
        "correlation": correlation,
        "video": vq,
        "judge_real": judge,
        "imagination": {
            "steps": total_steps,
            "seconds": total_secs,
            "steps_per_second": total_steps / max(total_secs, 1e-9),
            "wall_seconds": imagine_seconds,
        },
        "training": {k: v for k, v in loaded.info.items() if k != "history"},
        "_imagined": imagined,
        "_truth": truth,
    }
