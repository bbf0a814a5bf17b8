"""Closed-loop imagined episodes: a policy drives inside the world model from real first frames.

Wiring: :mod:`compass_nav.worldmodel.evaluate` calls :func:`imagine_episodes` once per pool
policy with that policy's ground-truth rollouts (for their first observations and start plans)
and turns the returned :class:`Imagined` into predicted outcomes with :func:`outcomes`.

Each step the policy sees an observation built entirely from imagination: ``rgb`` and
``depth`` decoded from the predicted latent, ``speed``/``goal``/``route`` from the body's
actuator model and odometry (:mod:`compass_nav.worldmodel.kinematics`), the body's
``embodiment`` descriptor. Its command drives the actuator model and conditions the world
model, which predicts the next latent and the hazard that this transition collides.

The imagined trajectory never stops at a predicted collision: contacts only end an episode
in the *judgement*, so one pass yields the per-step hazard logits, the footprint's clearance
to the obstacle map (:class:`GeometryJudge`) and the ground swept, up to the step where the
success rule holds (or the step budget ends), and :func:`outcomes` scores them afterwards in
any judge mode and under any calibration offset without re-imagining.

Policies that read the simulator's privileged state (the planner teacher and its variants)
cannot act here: binding them raises :class:`NeedsSimulator` (see docs/WORLDMODEL.md).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from compass_nav.contract.body import get_embodiment
from compass_nav.planner.cost import planner_radii
from compass_nav.utils.errors import ModelError
from compass_nav.worldmodel.config import JUDGE_MODES
from compass_nav.worldmodel.geometry import DepthProjector, ObstacleMap
from compass_nav.worldmodel.kinematics import ActuatorModel, Proprioception, plan_cost_to_go
from compass_nav.worldmodel.model import action_features, frames_to_tensor, tensor_to_frames
from compass_nav.worldmodel.rollouts import Rollouts
from compass_nav.worldmodel.warp import EgoWarp

__all__ = [
    "AUTO_MODES",
    "JUDGE_MODES",
    "GeometryJudge",
    "Imagined",
    "NeedsSimulator",
    "imagine_episodes",
    "outcomes",
    "plan_band",
    "swept_distance",
]

#: The modes ``judge='auto'`` chooses among (:data:`JUDGE_MODES` is defined with the config).
#: ``map_first`` (the obstacle map of the real first frame alone, no predicted frame) is an
#: ablation: it shows what the predicted frames add.
AUTO_MODES = tuple(m for m in JUDGE_MODES if m != "map_first")

#: ``depth`` judge: contact when the nearest depth in the centre of the camera image falls
#: below ``DEPTH_CONTACT_M + offset * DEPTH_SCALE_M`` (the offset is calibrated like the
#: hazard logits'; on real carter rollouts contacts show 0.36-0.46 m, near misses >= 0.5 m).
DEPTH_CONTACT_M = 0.5
DEPTH_SCALE_M = 0.05
#: ``map`` judges: contact once the footprint's clearance to the obstacle map
#: (:mod:`compass_nav.worldmodel.geometry`) falls below ``MAP_CONTACT_M + offset *
#: MAP_SCALE_M``; 0 m is the simulator's own rule on the mapped cells.
MAP_CONTACT_M = 0.0
MAP_SCALE_M = 0.02
#: ``sweep`` judge: each step's hazard counts in proportion to the distance the footprint
#: sweeps in it (travel plus rotation times the circumscribed radius), per this reference
#: (about one step of a 1 m/s body): contact risk grows with the ground covered, not with time.
SWEEP_REF_M = 0.1


def plan_band(body) -> float:
    """Width of the start plan's graded clearance band beyond the inscribed radius, m.

    ``map_prior_band``: beyond the inscribed radius the simulator's planner charges a high
    cost up to the circumscribed radius + a margin
    (:func:`compass_nav.planner.cost.planner_radii`).
    """
    r_in, r_out = planner_radii(body)
    return max(r_out - r_in, 0.0)


def swept_distance(v0: np.ndarray, v1: np.ndarray, radius: float, dt: float = 0.1) -> np.ndarray:
    """(N,) distance the footprint sweeps in one step from body velocity ``v0`` to ``v1``, m."""
    v = 0.5 * (np.asarray(v0, np.float64) + np.asarray(v1, np.float64))
    return (np.hypot(v[:, 0], v[:, 1]) + np.abs(v[:, 2]) * radius) * dt


def central_min_depth(depth: np.ndarray) -> np.ndarray:
    """(..., S, S) depth, m -> (...,) nearest depth in the central half of the image."""
    S0, S1 = depth.shape[-2:]
    c = depth[..., S0 // 4 : S0 - S0 // 4, S1 // 4 : S1 - S1 // 4]
    return c.reshape(*c.shape[:-2], -1).min(-1)


class NeedsSimulator(ModelError):
    """The policy asked for the simulator's privileged state, which imagination lacks."""


class _ImaginedEnv:
    """What a policy may ask of "its env" during imagination: the body, not the world."""

    def __init__(self, body, n: int) -> None:
        self.num_envs = n
        self.env_bodies = [body] * n
        self.bodies = [body]

    def privileged(self):
        raise NeedsSimulator("policy reads the simulator's privileged state")


@dataclasses.dataclass
class Imagined:
    """Result of imagining ``E`` episodes of one policy.

    Attributes:
        logits: (E, T) hazard logits per transition (valid for steps < ``end``).
        end: (E,) transitions imagined (the success step, or the step budget).
        reached: (E,) bool, the success rule held at step ``end``.
        idm_error: (E,) largest windowed inverse-dynamics error of the rollout.
        steps: Total imagined episode-steps.
        seconds: Wall time of the imagination.
        frames: {episode index: (T+1, S, S, 3) uint8} for the requested episodes.
        depth_min: (E, T) nearest central depth of the frame after each transition, m
            (:func:`central_min_depth`; what the ``depth`` judge reads), or None.
        clearance: (E, T) footprint clearance after each transition to the obstacle map:
            measured cells from the real frame(s), predicted frames for the rest, m (the
            ``map`` judge), or None.
        clearance_first: (E, T) the same against the measured cells alone (``map_first``,
            ``map_max``).
        sweep: (E, T) distance the footprint sweeps in each transition, m (``sweep``), or None.
        unknown: (E, T) cells the footprint has entered unknown by each transition: neither
            measured by the real frame(s) nor on the start plan's free corridor
            (``map_prior``), or None.
        unknown_band: (E, T) the same, each cell weighted by how far it lies into the start
            plan's clearance band (``map_prior_band``), or None.
    """

    logits: np.ndarray
    end: np.ndarray
    reached: np.ndarray
    idm_error: np.ndarray
    steps: int
    seconds: float
    frames: dict[int, np.ndarray]
    depth_min: np.ndarray | None = None
    clearance: np.ndarray | None = None
    clearance_first: np.ndarray | None = None
    sweep: np.ndarray | None = None
    unknown: np.ndarray | None = None
    unknown_band: np.ndarray | None = None

    @property
    def steps_per_second(self) -> float:
        """Imagined episode-steps per second."""
        return self.steps / max(self.seconds, 1e-9)

    @property
    def time(self) -> np.ndarray:
        """(E,) imagined travel time, s (10 Hz)."""
        return self.end * 0.1


def outcomes(
    im: Imagined, offset: float = 0.0, mode: str = "hazard", threshold: float = 0.5
) -> dict[str, np.ndarray]:
    """Predicted per-episode outcome probabilities from imagined hazards.

    Args:
        im: The imagined episodes.
        offset: Calibration offset added to every hazard logit.
        mode: ``hazard``: P(no contact before the end) = prod(1 - p_t), so P(success) is that
            survival where the success rule was reached (treats steps as independent
            evidence); ``max``: P(contact) = max_t p_t (treats a near miss spread over many
            steps as one piece of evidence); ``threshold``: a contact on the first transition
            whose hazard exceeds ``threshold`` (outcomes are 0/1); ``depth``: a contact once
            the predicted central depth falls below ``DEPTH_CONTACT_M + offset *
            DEPTH_SCALE_M`` (a rule on predicted quantities, not the hazard head; 0/1);
            ``map``: a contact once the footprint comes closer than ``MAP_CONTACT_M + offset *
            MAP_SCALE_M`` to the obstacle map (cells the real first frame measured, predicted
            depth at the imagined poses for the rest; 0/1); ``map_first``: the same with the
            measured cells alone; ``map_max``: a contact where the measured cells show one
            (clearance below ``MAP_CONTACT_M``, not calibrated), else the ``max`` hazard: the
            measurement decides where the camera has seen, the hazard head elsewhere;
            ``map_prior``: a contact where the measured cells show one, else an occupancy
            prior on the ground the footprint entered without anyone having seen it: each
            cell that neither a real frame measured nor the start plan's free corridor covers
            is occupied with probability ``1 - exp(-exp(offset))``, independently (survival
            ``exp(-exp(offset) * cells)``; a body that stays on ground the camera or the
            route vouched for is safe however long it takes, one that turns into ground
            nobody looked at takes the scene's odds); ``map_prior_band``: the same, with each
            unknown cell weighted by how far it lies into the planner's clearance band beyond
            the corridor (0 at the inscribed radius, 1 from the circumscribed radius + 5 cm
            on: :func:`plan_band`), where plans keep away from obstacles if they can;
            ``sweep``: like ``hazard``, with each step's survival raised to the power of the
            distance its footprint sweeps over ``SWEEP_REF_M`` (a slow body is not at more risk
            per metre; a jittering one sweeps more ground).
        threshold: Hazard probability for ``threshold`` mode.

    Returns:
        ``success``, ``collision``, ``timeout``: (E,) float in [0, 1] summing to 1.
    """
    if mode not in JUDGE_MODES:
        raise ValueError(f"mode={mode!r}: must be one of {JUDGE_MODES}")
    E, T = im.logits.shape
    valid = np.arange(T)[None, :] < im.end[:, None]
    if mode == "depth":
        if im.depth_min is None:
            raise ValueError("mode='depth' needs Imagined.depth_min")
        near = im.depth_min.astype(np.float64) < DEPTH_CONTACT_M + offset * DEPTH_SCALE_M
        survive = (~(near & valid).any(1)).astype(np.float64)
    elif mode in ("map", "map_first"):
        clr = im.clearance if mode == "map" else im.clearance_first
        if clr is None:
            raise ValueError(f"mode={mode!r} needs Imagined.clearance/clearance_first")
        near = clr.astype(np.float64) < MAP_CONTACT_M + offset * MAP_SCALE_M
        survive = (~(near & valid).any(1)).astype(np.float64)
    elif mode in ("map_prior", "map_prior_band"):
        unknown = im.unknown if mode == "map_prior" else im.unknown_band
        if im.clearance_first is None or unknown is None:
            raise ValueError(
                f"mode={mode!r} needs Imagined.clearance_first and the unknown "
                "cells entered (.unknown / .unknown_band)"
            )
        seen = ((im.clearance_first.astype(np.float64) < MAP_CONTACT_M) & valid).any(1)
        last = np.clip(im.end - 1, 0, T - 1)
        exposure = np.where(im.end > 0, unknown[np.arange(E), last], 0.0).astype(np.float64)
        survive = np.where(seen, 0.0, np.exp(-np.exp(offset) * exposure))
    elif mode == "map_max":
        if im.clearance_first is None:
            raise ValueError("mode='map_max' needs Imagined.clearance_first")
        seen = (im.clearance_first.astype(np.float64) < MAP_CONTACT_M) & valid
        p = 1.0 / (1.0 + np.exp(-(im.logits.astype(np.float64) + offset)))
        survive = np.where(seen.any(1), 0.0, 1.0 - np.where(valid, p, 0.0).max(1))
    else:
        p = 1.0 / (1.0 + np.exp(-(im.logits.astype(np.float64) + offset)))
        p = np.where(valid, p, 0.0)
        if mode == "hazard":
            survive = np.exp(np.log1p(-np.clip(p, 0.0, 1.0 - 1e-12)).sum(1))
        elif mode == "sweep":
            if im.sweep is None:
                raise ValueError("mode='sweep' needs Imagined.sweep")
            w = im.sweep.astype(np.float64) / SWEEP_REF_M
            survive = np.exp((w * np.log1p(-np.clip(p, 0.0, 1.0 - 1e-12))).sum(1))
        elif mode == "max":
            survive = 1.0 - p.max(1)
        else:  # threshold
            survive = (~(p > threshold).any(1)).astype(np.float64)
    success = np.where(im.reached, survive, 0.0)
    timeout = np.where(im.reached, 0.0, survive)
    return {"success": success, "collision": 1.0 - survive, "timeout": timeout}


@torch.no_grad()
def imagine_episodes(
    loaded,
    policy,
    real: Rollouts,
    max_steps: int,
    seed: int = 0,
    keep_frames: tuple[int, ...] = (),
    planned: bool = True,
    idm_window: int = 8,
    measured_depth: bool = False,
    ego_warp: str = "off",
    snap_floor: bool = False,
    replan: bool = False,
) -> Imagined:
    """Imagine every episode of ``real`` (from its first frame) with ``policy`` in the loop.

    Args:
        loaded: :class:`~compass_nav.worldmodel.train.LoadedModel`.
        policy: A :class:`~compass_nav.policies.Policy`; it is bound to an imagination-only
            env (body, no world).
        real: Ground-truth rollouts whose first observations and start plans seed imagination.
        max_steps: Step budget (the simulator's ``max_episode_steps``).
        seed: Seed of the actuator model's tracking noise.
        keep_frames: Episode indices whose imagined RGB frames are returned (for GIFs).
        planned: Routes follow the start plan (the simulator's ``planned`` mode) or go
            straight to the goal.
        idm_window: Transitions per inverse-dynamics window.
        measured_depth: The policy's ``depth`` is what the real first frame's measured cells
            determine where they do (:meth:`~compass_nav.worldmodel.geometry.ObstacleMap
            .measured_depth`), the prediction elsewhere; the world model still runs on its own
            frames.
        ego_warp: ``off``: the model's frames. ``warp``: every imagined frame shows the real
            first frame warped to the imagined pose through its own depth wherever that
            covers the view (:mod:`compass_nav.worldmodel.warp`), the model's prediction
            elsewhere. ``reanchor``: the same, and the model continues from that composed
            frame (it is encoded as if observed), so that its next prediction starts from
            mostly real pixels instead of its own drifting latent. ``memory``: as
            ``reanchor``, and pixels the first frame does not cover come from the previous
            imagined frame warped by the last step where it covers them.
        snap_floor: Warped floor pixels show the floor depth along their own ray instead of
            the nearest floor point that landed in them (see
            :meth:`~compass_nav.worldmodel.warp.FrameWarper.warp`).
        replan: Planned routes re-plan from the imagined pose as the simulator's do (the
            planner on a clearance estimated from the start plan:
            :func:`~compass_nav.worldmodel.kinematics.plan_cost_to_go`) instead of following
            the start plan from its nearest point.

    Raises:
        NeedsSimulator: the policy reads privileged simulator state.
    """
    model, idm = loaded.model, loaded.idm
    body = get_embodiment(loaded.config.pool.embodiment)
    n = real.num_episodes
    first = real.first_obs()
    descr = first["embodiment"]
    lim = np.array([descr[0, 0], max(descr[0, 2], 0.2), descr[0, 3]], np.float32)
    try:
        policy.bind(_ImaginedEnv(body, n))
    except NeedsSimulator:
        raise
    except AttributeError as exc:
        raise NeedsSimulator(f"policy needs more of the simulator than the body ({exc})") from None
    act_model = ActuatorModel(body, seed=seed)
    fields = (
        plan_cost_to_go(real.plan, real.plan_len, first["goal"], body)
        if planned and replan
        else None
    )
    pro = Proprioception(
        first["goal"],
        real.plan if planned else None,
        real.plan_len if planned else None,
        first["speed"],
        route_points=real.route.shape[1],
        cost_to_go=fields,
    )
    x = frames_to_tensor(first["rgb"], first["depth"])
    state = model.initial(x)
    ego = EgoWarp(body, ego_warp, x, first["depth"], np.zeros((n, 3)), snap_floor=snap_floor)
    obs = dict(first)
    obs["route"] = pro.route_obs()
    logits = np.zeros((n, max_steps), np.float32)
    end = np.full(n, max_steps, np.int64)
    reached = np.zeros(n, bool)
    active = np.ones(n, bool)
    idm_err = np.zeros((n, max_steps), np.float32)
    depth_min = np.full((n, max_steps), np.inf, np.float32)
    sweep = np.zeros((n, max_steps), np.float32)
    maps = GeometryJudge(
        body,
        first["depth"],
        max_steps,
        real.plan if planned else None,
        real.plan_len if planned else None,
    )
    kept = {i: [first["rgb"][i]] for i in keep_frames if 0 <= i < n}
    steps = 0
    t0 = time.perf_counter()
    for t in range(max_steps):
        if not active.any():
            break
        start = np.full(n, t == 0)
        action = np.asarray(policy.act(obs, start), np.float32)
        cmd = act_model.clip(action)
        v_prev = pro.vel.copy()
        pro.pose, pro.vel = act_model.step(pro.pose, pro.vel, cmd, active)
        sweep[:, t] = swept_distance(v_prev, pro.vel, body.circumscribed_radius)
        feats = action_features(
            cmd.astype(np.float32), v_prev.astype(np.float32), pro.vel.astype(np.float32), descr
        )
        state, logit = model.imagine(state, torch.from_numpy(feats))
        x_next = ego(model.render(state), pro.pose)
        if ego.reanchor:
            state = model.with_real(state.h, x_next)
        motion = torch.from_numpy(((v_prev + pro.vel) * 0.5 / lim).astype(np.float32))
        err = (idm(x, x_next) - motion).abs()[:, [0, 2]].mean(1).numpy()
        x = x_next
        logits[:, t] = logit.numpy()
        idm_err[:, t] = err
        steps += int(active.sum())
        done_now = pro.reached() & active
        reached |= done_now
        end[done_now] = t + 1
        active &= ~done_now
        rgb, depth = tensor_to_frames(x, far=body.camera_far)
        if measured_depth:
            depth, _ = maps.map.measured_depth(pro.pose, depth)
        depth_min[:, t] = central_min_depth(depth)
        maps.step(t, pro.pose, depth, active | done_now)
        for i in kept:
            if t < end[i]:
                kept[i].append(rgb[i])
        obs = {
            "rgb": rgb,
            "depth": depth,
            "speed": pro.vel.astype(np.float32),
            "goal": pro.goal_obs(),
            "route": pro.route_obs(),
            "embodiment": descr,
        }
    seconds = time.perf_counter() - t0
    # Largest mean error over any idm_window consecutive transitions before the end.
    valid = np.arange(max_steps)[None, :] < end[:, None]
    e = np.where(valid, idm_err, 0.0)
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(e, 1)], 1)
    w = max(1, min(idm_window, max_steps))
    win = (c[:, w:] - c[:, :-w]) / w
    win_valid = np.arange(max_steps - w + 1)[None, :] + w <= np.maximum(end, w)[:, None]
    worst = np.where(win_valid, win, 0.0).max(1)
    return Imagined(
        logits=logits,
        end=end,
        reached=reached,
        idm_error=worst,
        steps=steps,
        seconds=seconds,
        frames={i: np.stack(v) for i, v in kept.items()},
        depth_min=depth_min,
        sweep=sweep,
        **maps.judged(),
    )


class GeometryJudge:
    """The obstacle map of a batch of episodes and its per-step footprint clearances.

    ``clearance`` (the ``map`` judge): cells the real frames measured, and predicted frames
    for the cells they did not; ``clearance_first`` (``map_first``, and the geometric half of
    ``map_max``): measured cells only. Used by imagination (one real frame, then predicted
    ones) and by :func:`compass_nav.worldmodel.evaluate.judge_on_real` (real frames only).

    ``unknown`` (the ``map_prior`` judge): cells the footprint has entered that neither a real
    frame measured nor the start plan's free corridor covers (each counted once).

    Args:
        body: The embodiment (camera model, footprint).
        first_depth: (N, S, S) the real first frames' depth, m (seen from the start pose).
        steps: Transitions to keep clearances for.
        plans, plan_len: The start plans (start frame) and their valid points: the disc of
            the body's inscribed radius along them is free (the planner's guarantee). None:
            no plan is known.
    """

    def __init__(
        self,
        body,
        first_depth: np.ndarray,
        steps: int,
        plans: np.ndarray | None = None,
        plan_len: np.ndarray | None = None,
    ) -> None:
        n, size = first_depth.shape[0], first_depth.shape[-1]
        self.map = ObstacleMap(n, DepthProjector(body, size), body.length, body.width)
        self.map.add_real(np.zeros((n, 3)), first_depth, start=True)
        if plans is not None and plan_len is not None:
            self.map.add_plan(plans, plan_len, body.inscribed_radius, band=plan_band(body))
        self.clearance = np.full((n, steps), np.inf, np.float32)
        self.clearance_first = np.full((n, steps), np.inf, np.float32)
        self.unknown = np.zeros((n, steps), np.float32)
        self.unknown_band = np.zeros((n, steps), np.float32)

    def step(
        self, t: int, pose: np.ndarray, depth: np.ndarray, rows: np.ndarray, measured: bool = False
    ) -> None:
        """Adds the frame after transition ``t`` (seen from ``pose``) and records clearances.

        Args:
            t: Transition index.
            pose: (N, 3) poses after the transition, start frame.
            depth: (N, S, S) the frames after it, m.
            rows: (N,) bool, episodes still running.
            measured: The frames are real (judge on real rollouts), not predicted.
        """
        if measured:
            self.map.add_real(pose, depth, rows=rows)
        else:
            self.map.add(pose, depth, rows=rows)
        self.clearance[:, t] = self.map.clearance(pose)
        self.clearance_first[:, t] = self.map.clearance(pose, predicted=False)
        self.unknown[:, t], self.unknown_band[:, t] = self.map.enter(pose, rows)

    def judged(self) -> dict[str, np.ndarray]:
        """The per-step arrays the map judges read, as :class:`Imagined` fields."""
        return {
            "clearance": self.clearance,
            "clearance_first": self.clearance_first,
            "unknown": self.unknown,
            "unknown_band": self.unknown_band,
        }
