"""Training the world model (and its inverse-dynamics checker) on recorded rollouts.

Wiring: ``compass-nav worldmodel train`` (:mod:`compass_nav.worldmodel.cli`) loads the
training rollouts of the pool's ``train`` policies (:mod:`compass_nav.worldmodel.rollouts`),
builds a :class:`WindowSampler` and calls :func:`train_world_model`, which writes one
checkpoint holding both networks, the resolved config and the training log.

Windows are ``rollout + 1`` consecutive frames of one episode; a fraction starts at the
episode's first frame (where imagination starts) and a fraction ends on a collision (rare
otherwise, and what the hazard judge must learn). Teacher forcing decays linearly to
``teacher_forcing_floor`` over the first ``teacher_forcing_until`` of training (scheduled
sampling); with a zero floor every later window is rolled out on the model's own latents.
The next-step speed in the action features is the body's actuator model's (noise-free),
never the recorded one: a recorded collision stops the body, and the judge must not learn
that from a signal imagination cannot give it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from compass_nav.contract.body import get_embodiment
from compass_nav.learning.common import CheckpointManager
from compass_nav.utils.atomic import atomic_save_torch
from compass_nav.utils.errors import DataError, ModelError
from compass_nav.utils.finite import check_loss, check_weights
from compass_nav.worldmodel.config import WorldModelPipelineConfig, from_dict, to_dict
from compass_nav.worldmodel.kinematics import ActuatorModel
from compass_nav.worldmodel.model import (
    InverseDynamics,
    WorldModel,
    action_features,
    frames_to_tensor,
)
from compass_nav.worldmodel.rollouts import Rollouts

__all__ = [
    "LoadedModel",
    "WindowSampler",
    "load_checkpoint",
    "step_features",
    "teacher_forcing",
    "train_world_model",
]

log = logging.getLogger(__name__)

#: Settings added after checkpoints were written, with the value those checkpoints were
#: trained with (a missing key would otherwise take today's default): the skip path
#: (architecture), the teacher-forcing floor and the depth loss.
LEGACY_SETTINGS = {
    ("model", "ref_skip"): False,
    ("train", "teacher_forcing_floor"): 0.0,
    ("train", "depth_l1"): 0.0,
}
IDM_WINDOW = 8  # transitions per inverse-dynamics window (flags use the worst window)
POS_WEIGHT = 10.0  # BCE weight of collision transitions


def hazard_prior_offset(
    sampler: WindowSampler,
    batch: int,
    collision_fraction: float,
    pos_weight: float,
    seed: int = 0,
    batches: int = 200,
) -> float:
    """Logit correction that undoes training's over-representation of collisions.

    Windows ending on a collision are over-sampled and positives are up-weighted in the BCE,
    so the hazard head learns odds ``pos_weight * odds_batch / odds_data`` times too high (a
    prior shift). Adding ``-log`` of that factor to its logits restores per-step collision
    probabilities at the data's own rate, which the product-of-survivals judge needs.
    """
    labels = sampler.collision.copy()
    labels[sampler.start + sampler.ep_len] = False
    n_trans = int(sampler.ep_len.sum())
    p_data = max(float(labels.sum()) / max(n_trans, 1), 1e-6)
    rng_state = sampler.rng
    sampler.rng = np.random.default_rng(seed + 1)
    pos = tot = 0.0
    for _ in range(batches):
        b = sampler.sample(batch, collision_fraction)
        pos += float((b["collision"] * b["mask"]).sum())
        tot += float(b["mask"].sum())
    sampler.rng = rng_state
    p_batch = min(max(pos / max(tot, 1.0), 1e-6), 1 - 1e-6)
    logit = lambda p: math.log(p / (1.0 - p))  # noqa: E731
    return -(math.log(pos_weight) + logit(p_batch) - logit(p_data))


def step_features(r: Rollouts, body) -> np.ndarray:
    """(S, 9) action features of every frame's outgoing transition (zeros on last frames)."""
    act = ActuatorModel(body, seed=0)
    act.noise = 0.0
    zeros = np.zeros((r.speed.shape[0], 3))
    _pose, v_next = act.step(
        zeros, r.speed.astype(np.float64), act.clip(r.action), np.ones(r.speed.shape[0], bool)
    )
    feats = action_features(r.action, r.speed, v_next.astype(np.float32), r.descriptor)
    last = r.start + r.length
    feats[last] = 0.0
    return feats


class WindowSampler:
    """Random windows of ``length`` frames from a list of rollouts (all in memory).

    Args:
        rollouts: Training rollouts (same embodiment).
        body: Their embodiment spec.
        length: Frames per window (``rollout + 1``).
        seed: Sampling seed.
    """

    def __init__(self, rollouts: list[Rollouts], body, length: int, seed: int = 0) -> None:
        if not rollouts:
            raise DataError("no training rollouts")
        self.length = int(length)
        joined = Rollouts.concat(rollouts)
        self.rgb, self.depth = joined.rgb, joined.depth
        self.speed = joined.speed
        self.feats = step_features(joined, body)
        self.collision = joined.collision
        self.descriptor = joined.descriptor
        # Episodes shorter than a window are padded with their last frame (masked out of
        # the losses): short episodes are mostly early collisions, which the judge needs.
        ok = joined.length >= 1
        if not ok.any():
            raise DataError("no episode has a transition")
        self.start = joined.start[ok]
        self.ep_len = joined.length[ok]
        self.coll_eps = np.flatnonzero(joined.collision_end[ok])
        w = np.maximum(self.ep_len - self.length + 2, 1).astype(np.float64)
        self.p = w / w.sum()
        self.rng = np.random.default_rng(seed)
        self.num_frames = int(self.rgb.shape[0])

    def sample(
        self, batch: int, collision_fraction: float = 0.0, first_fraction: float = 0.2
    ) -> dict[str, torch.Tensor]:
        """A batch of windows.

        Returns:
            ``frames`` (B, L, 4, S, S), ``feats`` (B, L-1, 9), ``collision`` (B, L-1),
            ``speed`` (B, L, 3), ``mask`` (B, L-1) (0 on padding past an episode's end).
        """
        rng = self.rng
        eps = rng.choice(len(self.start), size=batch, p=self.p)
        span = np.maximum(self.ep_len[eps] - self.length + 2, 1)
        t0 = (rng.random(batch) * span).astype(np.int64)
        t0[rng.random(batch) < first_fraction] = 0
        n_coll = int(round(collision_fraction * batch)) if len(self.coll_eps) else 0
        if n_coll:
            ce = rng.choice(self.coll_eps, size=n_coll)
            eps[:n_coll] = ce
            t0[:n_coll] = np.maximum(self.ep_len[ce] - self.length + 1, 0)
        offs = t0[:, None] + np.arange(self.length)[None]
        last = self.ep_len[eps][:, None]
        rows = self.start[eps][:, None] + np.minimum(offs, last)
        mask = (offs[:, 1:] <= last).astype(np.float32)
        frames = frames_to_tensor(self.rgb[rows], self.depth[rows].astype(np.float32))
        return {
            "frames": frames,
            "feats": torch.from_numpy(self.feats[rows[:, :-1]]),
            "collision": torch.from_numpy(self.collision[rows[:, :-1]].astype(np.float32)),
            "speed": torch.from_numpy(self.speed[rows].astype(np.float32)),
            "mask": torch.from_numpy(mask),
        }


@dataclasses.dataclass
class LoadedModel:
    """A trained checkpoint: networks in eval mode plus what evaluation needs."""

    model: WorldModel
    idm: InverseDynamics
    config: WorldModelPipelineConfig
    info: dict


def _progress(step: int, steps: int, elapsed: float, budget: float) -> float:
    """Training progress in [0, 1]: steps done or time budget used, whichever leads."""
    frac = step / max(steps, 1)
    if budget > 0:
        frac = max(frac, elapsed / budget)
    return frac


def _learning_rate(peak: float, frac: float, warmup: float = 0.03, floor: float = 0.05) -> float:
    """Linear warm-up, then cosine decay to ``floor * peak``."""
    if frac < warmup:
        return peak * max(frac / warmup, 0.02)
    t = (frac - warmup) / (1.0 - warmup)
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


def teacher_forcing(frac: float, until: float, floor: float = 0.0) -> float:
    """Teacher-forcing probability at training progress ``frac``.

    1 at the start, decaying linearly to ``floor`` at ``until``; ``until`` 0: ``floor``
    throughout.
    """
    if until <= 0.0:
        return floor
    return max(floor, 1.0 - frac / until)


def _idm_target(speed: torch.Tensor, descriptor: np.ndarray) -> torch.Tensor:
    d = descriptor
    lim = torch.tensor([d[0], max(d[2], 0.2), d[3]], dtype=torch.float32)
    return 0.5 * (speed[:, :-1] + speed[:, 1:]) / lim


def train_world_model(
    cfg: WorldModelPipelineConfig, rollouts: list[Rollouts], out: str | Path, progress: bool = True
) -> dict:
    """Train the world model and the inverse-dynamics model; write the checkpoint.

    Args:
        cfg: Pipeline config (``model`` and ``train`` sections are used).
        rollouts: Rollouts of the pool's ``train`` policies.
        out: Checkpoint path (``.pt``).
        progress: Show a progress bar.

    Returns:
        The training summary (also stored in the checkpoint): wall time, final losses, IDM
        error statistics.
    """
    tc = cfg.train
    torch.manual_seed(tc.seed)
    torch.set_num_threads(tc.threads)
    body = get_embodiment(cfg.pool.embodiment)
    sampler = WindowSampler(rollouts, body, tc.rollout + 1, seed=tc.seed)
    model = WorldModel(cfg.model)
    partial = partial_path(out)
    resumed = _load_partial(partial, cfg) if partial.is_file() else None
    warm = _warm_start(model, tc.init) if tc.init and resumed is None else None
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    weights = {
        "recon": tc.w_recon,
        "pred": tc.w_pred,
        "latent": tc.w_latent,
        "collision": tc.w_collision,
        "depth_l1": tc.depth_l1,
    }
    budget = tc.max_cpu_minutes * 60.0
    history: list[dict] = []
    running: dict[str, float] = {}
    first_step, wall_before, cpu_before = 0, 0.0, 0.0
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        opt.load_state_dict(resumed["opt"])
        warm = resumed["warm"]
        history, running = resumed["history"], resumed["running"]
        first_step = int(resumed["step"])
        wall_before, cpu_before = float(resumed["wall"]), float(resumed["cpu"])
        torch.set_rng_state(resumed["torch_rng"])
        sampler.rng.bit_generator.state = resumed["sampler_rng"]
        log.info("resuming world-model training from %s at step %d", partial, first_step)
    t_start = time.time() - wall_before
    cpu_start = time.process_time() - cpu_before
    bar = tqdm(
        range(first_step, tc.steps),
        desc="world model",
        disable=not progress,
        unit="step",
        initial=first_step,
        total=tc.steps,
    )
    steps_done = first_step
    for step in bar:
        frac = _progress(step, tc.steps, time.process_time() - cpu_start, budget)
        if frac >= 1.0:
            break
        for group in opt.param_groups:
            group["lr"] = _learning_rate(tc.lr, frac)
        tf = teacher_forcing(frac, tc.teacher_forcing_until, tc.teacher_forcing_floor)
        batch = sampler.sample(tc.batch, tc.collision_windows)
        loss, parts = model.loss(
            batch["frames"],
            batch["feats"],
            batch["collision"],
            tf,
            weights,
            pos_weight=POS_WEIGHT,
            pred_frames=tc.pred_frames,
            mask=batch["mask"],
        )
        check_loss("world model", step, loss, parts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        steps_done = step + 1
        for k, v in parts.items():
            running[k] = 0.95 * running.get(k, v) + 0.05 * v
        if step % tc.log_every == 0 or step == tc.steps - 1:
            history.append(
                {
                    "step": step,
                    "progress": frac,
                    "teacher_forcing": tf,
                    "seconds": time.time() - t_start,
                    "cpu_seconds": time.process_time() - cpu_start,
                    **running,
                }
            )
            bar.set_postfix(pred=f"{running['pred']:.4f}", coll=f"{running['collision']:.3f}")
        if tc.checkpoint_every and steps_done % tc.checkpoint_every == 0:
            check_weights("world model", steps_done, model)
            atomic_save_torch(
                {
                    "config": to_dict(cfg),
                    "step": steps_done,
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "history": history,
                    "running": running,
                    "wall": time.time() - t_start,
                    "cpu": time.process_time() - cpu_start,
                    "torch_rng": torch.get_rng_state(),
                    "sampler_rng": sampler.rng.bit_generator.state,
                    "warm": warm,
                },
                partial,
            )
    bar.close()
    if running:
        history.append(
            {
                "step": steps_done - 1,
                "progress": 1.0,
                "teacher_forcing": tc.teacher_forcing_floor,
                "seconds": time.time() - t_start,
                "cpu_seconds": time.process_time() - cpu_start,
                **running,
            }
        )
    check_weights("world model", steps_done, model)
    wm_time = time.time() - t_start
    wm_cpu = time.process_time() - cpu_start
    model.eval()

    prior = hazard_prior_offset(sampler, tc.batch, tc.collision_windows, POS_WEIGHT, tc.seed)
    model.hazard_bias = prior
    idm = InverseDynamics(cfg.model)
    idm_stats = _train_idm(idm, model, sampler, tc, body, progress)
    check_weights("inverse dynamics", tc.idm_steps, idm)
    summary = {
        "train_seconds": time.time() - t_start,
        "world_model_seconds": wm_time,
        "world_model_cpu_seconds": wm_cpu,
        "train_cpu_seconds": time.process_time() - cpu_start,
        "load_average": os.getloadavg(),
        "steps": steps_done,
        "frames": sampler.num_frames,
        "episodes": int(sum(r.num_episodes for r in rollouts)),
        "final": history[-1] if history else {},
        "history": history,
        "idm": idm_stats,
        "hazard_prior_offset": prior,
        "warm_start": warm,
        "resumed_from_step": first_step if resumed is not None else None,
        "torch_threads": torch.get_num_threads(),
    }
    atomic_save_torch(
        {
            "model": model.state_dict(),
            "idm": idm.state_dict(),
            "config": to_dict(cfg),
            "info": summary,
        },
        out,
    )
    partial.unlink(missing_ok=True)
    return summary


def partial_path(out: str | Path) -> Path:
    """Where training keeps its resumable state next to checkpoint ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _load_partial(path: Path, cfg: WorldModelPipelineConfig) -> dict:
    """The resumable state of an interrupted run with the same config.

    Raises:
        ModelError: unreadable file, or a run with other settings (names the file).
    """
    state = CheckpointManager.load(path)  # a named ModelError for a corrupt file
    if not isinstance(state, dict) or state.get("config") != to_dict(cfg):
        raise ModelError(
            f"{path} holds an interrupted run with other settings; train with "
            "the same settings to resume it, or delete the file to start afresh"
        )
    return state


def _warm_start(model: WorldModel, path: str) -> dict:
    """Copy every weight of ``path``'s world model whose name and shape match ``model``'s.

    Raises:
        ModelError: unreadable checkpoint, or nothing in it fits this architecture.
    """
    src = load_checkpoint(path)
    own = model.state_dict()
    theirs = src.model.state_dict()
    fit = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    if not fit:
        raise ModelError(f"train.init={path}: no weight of that checkpoint fits this model")
    model.load_state_dict(fit, strict=False)
    fresh = sorted({k.split(".")[0] for k in own if k not in fit})
    log.info("warm start from %s: %d tensors copied, fresh: %s", path, len(fit), fresh or "none")
    return {
        "from": str(path),
        "copied": len(fit),
        "fresh": fresh,
        "source_cpu_minutes": src.info.get("world_model_cpu_seconds", 0.0) / 60.0,
    }


def _train_idm(
    idm: InverseDynamics, model: WorldModel, sampler: WindowSampler, tc, body, progress: bool
) -> dict:
    """Fit the inverse dynamics on real and reconstructed frame pairs; error statistics."""
    opt = torch.optim.AdamW(idm.parameters(), lr=1e-3, weight_decay=1e-5)
    bar = tqdm(range(tc.idm_steps), desc="inverse dynamics", disable=not progress, unit="step")
    for step in bar:
        b = sampler.sample(tc.batch, 0.0)
        x = b["frames"][:, :2]
        target = _idm_target(b["speed"][:, :2], sampler.descriptor)[:, 0]
        with torch.no_grad():
            rec = model.decode(model.encode(x.flatten(0, 1))).view_as(x)
        x0 = torch.cat([x[:, 0], rec[:, 0]])
        x1 = torch.cat([x[:, 1], rec[:, 1]])
        loss = torch.nn.functional.mse_loss(idm(x0, x1), torch.cat([target, target]))
        check_loss("inverse dynamics", step, loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    idm.eval()
    # Error of the motion read off reconstructed real frames: the reference for flags.
    window = min(IDM_WINDOW, sampler.length - 1)
    errs = []
    with torch.no_grad():
        for _ in range(8):
            b = sampler.sample(tc.batch, 0.0)
            full = b["mask"][:, :window].min(1).values > 0
            x = b["frames"][full, : window + 1]
            if len(x) == 0:
                continue
            rec = model.decode(model.encode(x.flatten(0, 1))).view_as(x)
            target = _idm_target(b["speed"][full, : window + 1], sampler.descriptor)
            pred = idm(rec[:, :-1].flatten(0, 1), rec[:, 1:].flatten(0, 1)).view_as(target)
            errs.append((pred - target).abs()[..., [0, 2]].mean(-1).mean(-1))
    e = torch.cat(errs).numpy() if errs else np.full(1, np.inf)
    return {
        "window_error_mean": float(e.mean()),
        "window_error_p99": float(np.quantile(e, 0.99)),
        "window": int(window),
    }


def load_checkpoint(path: str | Path) -> LoadedModel:
    """Load a checkpoint written by :func:`train_world_model`.

    Raises:
        ModelError: missing or unreadable file, or not a world-model checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"world-model checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ModelError(f"{path}: cannot read checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or not {"model", "idm", "config"} <= set(ckpt):
        raise ModelError(f"{path}: not a world-model checkpoint (keys model/idm/config)")
    saved = ckpt["config"]
    if isinstance(saved, dict):
        for (section, key), value in LEGACY_SETTINGS.items():
            if isinstance(saved.get(section), dict) and key not in saved[section]:
                saved = {**saved, section: {**saved[section], key: value}}
    cfg = from_dict(saved)
    model = WorldModel(cfg.model)
    model.load_state_dict(ckpt["model"])
    idm = InverseDynamics(cfg.model)
    idm.load_state_dict(ckpt["idm"])
    model.hazard_bias = float(ckpt.get("info", {}).get("hazard_prior_offset", 0.0))
    model.eval()
    idm.eval()
    return LoadedModel(model, idm, cfg, ckpt.get("info", {}))
