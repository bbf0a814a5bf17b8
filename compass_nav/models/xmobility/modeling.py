"""The X-Mobility-style world-model policy: image/speed encoders, an RSSM, route fusion, heads.

Data flow of one control step (shapes for batch B; sizes from :class:`XMobilityConfig`)::

    rgb+depth --processing--> CNN encoder ---------------- e (embed_dim) ---+
    speed ------------------> speed MLP ------------------ s (speed_dim) ---+--> posterior
    z[t-1], a[t-1] --> MLP --> GRU h[t-1] -> h[t] (deter_dim) --> prior  ----+      |
                                                                                    v
                                           latent [h, z] (deter_dim + stoch_dim)  z[t]
    route (K, 2) + goal (x, y, cos, sin) --> route MLP --- r (route_dim)
    fusion MLP([h, z, r, s]) --> policy state (policy_state_dim)   <- residual RL reads this
        --> action head (tanh, fractions of the body's limits) --> processing.scale_action
        --> path head (first P waypoints of the *planned* route, robot frame)
    decoder([h, z]) --> depth image (recon_size^2)                    (training signal only)

The narrow API (shared with the later video world model): :meth:`XMobility.initial`,
:meth:`XMobility.observe` (one step, control), :meth:`XMobility.imagine` (latent rollout with
the prior), :meth:`XMobility.loss` (sequences). :meth:`XMobility.step` is the export-friendly
single step with explicit recurrent tensors; the checkpoint loader
(:mod:`compass_nav.models.checkpoint_policy`) and the ONNX export call it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from compass_nav.models.xmobility import processing as P
from compass_nav.models.xmobility.configuration import XMobilityConfig

__all__ = ["RSSMState", "XMobility", "count_parameters"]


class RSSMState(NamedTuple):
    """Recurrent state: ``h`` (B, deter_dim) GRU state, ``z`` (B, stoch_dim) latent sample."""

    h: torch.Tensor
    z: torch.Tensor


def _mlp(inp: int, hidden: int, out: int, final_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Linear(inp, hidden),
        nn.LayerNorm(hidden),
        nn.SiLU(),
        nn.Linear(hidden, out),
    ]
    if final_act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """Stride-2 convolutions (kernel 4) then a linear embedding: (B, C, H, W) -> (B, E)."""

    def __init__(self, cfg: XMobilityConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = cfg.image_channels
        for c in cfg.encoder_channels:
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.SiLU()]
            c_in = c
        self.convs = nn.Sequential(*layers)
        k = 2 ** len(cfg.encoder_channels)
        flat = c_in * (cfg.image_height // k) * (cfg.image_width // k)
        self.out = nn.Sequential(
            nn.Linear(flat, cfg.embed_dim), nn.LayerNorm(cfg.embed_dim), nn.SiLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.out(self.convs(x).flatten(1))


class DepthDecoder(nn.Module):
    """Latent (B, latent_dim) -> depth image (B, 1, recon_size, recon_size)."""

    def __init__(self, cfg: XMobilityConfig) -> None:
        super().__init__()
        ch = cfg.decoder_channels
        self._c0 = ch[0]
        self._s0 = cfg.recon_size // 2 ** len(ch)
        self.inp = nn.Linear(cfg.latent_dim, ch[0] * self._s0 * self._s0)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(ch, ch[1:], strict=False):
            layers += [nn.SiLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        layers += [nn.SiLU(), nn.ConvTranspose2d(ch[-1], 1, 4, stride=2, padding=1)]
        self.deconvs = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = self.inp(latent).view(-1, self._c0, self._s0, self._s0)
        return self.deconvs(x)


class LayerNormGRUCell(nn.Module):
    """GRU cell with layer normalisation (as in DreamerV3), built from linear ops only.

    Written out rather than ``nn.GRUCell`` so that it exports to ONNX as plain MatMul/Sigmoid
    nodes and so that the update gate can start biased towards keeping the state.
    """

    def __init__(self, inp: int, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(inp + hidden, 3 * hidden, bias=False)
        self.norm = nn.LayerNorm(3 * hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:  # noqa: D102
        parts = self.norm(self.linear(torch.cat([x, h], -1)))
        reset, cand, update = parts.chunk(3, -1)
        reset = torch.sigmoid(reset)
        cand = torch.tanh(reset * cand)
        update = torch.sigmoid(update - 1.0)
        return update * cand + (1.0 - update) * h


def _gaussian(stats: torch.Tensor, min_std: float) -> tuple[torch.Tensor, torch.Tensor]:
    mean, raw = stats.chunk(2, -1)
    return mean, F.softplus(raw) + min_std


def _kl(mean_q, std_q, mean_p, std_p) -> torch.Tensor:
    """KL(q || p) of diagonal Gaussians, summed over the last axis."""
    var_ratio = (std_q / std_p) ** 2
    t = ((mean_q - mean_p) / std_p) ** 2
    return 0.5 * (var_ratio + t - 1.0 - torch.log(var_ratio)).sum(-1)


class XMobility(nn.Module):
    """World-model policy (see the module docstring for the data flow)."""

    def __init__(self, cfg: XMobilityConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden_dim
        self.encoder = ImageEncoder(cfg)
        self.speed_encoder = nn.Sequential(nn.Linear(3, cfg.speed_dim), nn.SiLU())
        self.route_encoder = _mlp(2 * cfg.route_points + 4, h, cfg.route_dim, final_act=True)
        self.img_in = nn.Sequential(nn.Linear(cfg.stoch_dim + 3, h), nn.LayerNorm(h), nn.SiLU())
        self.gru = LayerNormGRUCell(h, cfg.deter_dim)
        self.prior_net = _mlp(cfg.deter_dim, h, 2 * cfg.stoch_dim)
        self.post_net = _mlp(cfg.deter_dim + cfg.embed_dim + cfg.speed_dim, h, 2 * cfg.stoch_dim)
        if cfg.body_dim:
            from compass_nav.contract.body import DESCRIPTOR_REF, DESCRIPTOR_SCALE

            d = cfg.descriptor_dim
            self.register_buffer("body_ref", torch.tensor(DESCRIPTOR_REF[:d]), persistent=False)
            self.register_buffer(
                "body_scale", torch.tensor(DESCRIPTOR_SCALE[:d]), persistent=False
            )
            self.body_encoder = _mlp(d, cfg.route_dim, cfg.body_dim, final_act=True)
        self.fusion = _mlp(
            cfg.latent_dim + cfg.route_dim + cfg.speed_dim + cfg.body_dim,
            h,
            cfg.policy_state_dim,
            final_act=True,
        )
        self.action_head = _mlp(cfg.policy_state_dim, h, 3)
        self.path_head = _mlp(cfg.policy_state_dim, h, 2 * cfg.path_points)
        self.decoder = DepthDecoder(cfg)
        self._depth_cfg = dataclasses.replace(cfg, use_rgb=False, use_depth=True)

    # ------------------------------------------------------------------ building blocks
    def initial(self, batch_size: int) -> RSSMState:
        """Zero recurrent state for ``batch_size`` rows (what every episode starts from)."""
        p = next(self.parameters())
        return RSSMState(
            p.new_zeros(batch_size, self.cfg.deter_dim),
            p.new_zeros(batch_size, self.cfg.stoch_dim),
        )

    def encode(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-step features of a batch (any leading shape is flattened to B).

        Returns:
            ``image`` (B, C, h, w) processed input, ``embed`` (B, embed_dim + speed_dim)
            posterior input, ``speed`` (B, speed_dim), ``route`` (B, route_dim) and, with
            ``body_dim``, ``body`` (B, body_dim).
        """
        image = P.image_input(obs.get("rgb"), obs.get("depth"), self.cfg)
        speed = self.speed_encoder(P.speed_features(obs["speed"], self.cfg))
        rg = torch.cat(
            [P.route_features(obs["route"], self.cfg), P.goal_features(obs["goal"], self.cfg)], 1
        )
        embed = self.encoder(image)
        feats = {
            "image": image,
            "embed": torch.cat([embed, speed], 1),
            "speed": speed,
            "route": self.route_encoder(rg),
        }
        if self.cfg.body_dim:
            body = (obs["embodiment"].float() - self.body_ref) / self.body_scale
            feats["body"] = self.body_encoder(body)
        return feats

    def _transition(self, state: RSSMState, prev_u: torch.Tensor) -> torch.Tensor:
        return self.gru(self.img_in(torch.cat([state.z, prev_u], -1)), state.h)

    def _posterior(self, h: torch.Tensor, embed: torch.Tensor):
        return _gaussian(self.post_net(torch.cat([h, embed], -1)), self.cfg.min_std)

    def _prior(self, h: torch.Tensor):
        return _gaussian(self.prior_net(h), self.cfg.min_std)

    def heads(
        self,
        latent: torch.Tensor,
        route: torch.Tensor,
        speed: torch.Tensor,
        body: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Policy state (B, policy_state_dim), tanh action (B, 3), normalised path (B, 2P)."""
        parts = [latent, route, speed] + ([body] if body is not None else [])
        ps = self.fusion(torch.cat(parts, -1))
        return ps, torch.tanh(self.action_head(ps)), self.path_head(ps)

    # ------------------------------------------------------------------ narrow API
    def observe(
        self,
        obs: dict[str, torch.Tensor],
        prev_action: torch.Tensor,
        state: RSSMState,
        is_first: torch.Tensor,
        sample: bool = False,
    ) -> tuple[RSSMState, dict[str, torch.Tensor]]:
        """One control step: filter the latent with a new observation and act.

        Args:
            obs: Batched tensors (``rgb`` uint8 (B,H,W,3), ``depth`` (B,H,W), ``speed``,
                ``route``, ``goal``, ``embodiment``), see :func:`processing.obs_to_tensors`.
            prev_action: (B, 3) previous command, SI (ignored where ``is_first``).
            state: Recurrent state from :meth:`initial` or the previous call.
            is_first: (B,) bool, rows starting a new episode: their state is reset first.
            sample: Sample the posterior (training) instead of taking its mean (control).

        Returns:
            ``(state, outputs)``: outputs ``action`` (B, 3) SI clipped to the body,
            ``action_norm`` (B, 3) fractions of the limits, ``path`` (B, P, 2) metres,
            ``policy_state`` (B, policy_state_dim), ``latent`` (B, latent_dim).
        """
        keep = (~is_first.bool()).float().unsqueeze(-1)
        state = RSSMState(state.h * keep, state.z * keep)
        feats = self.encode(obs)
        emb = obs["embodiment"]
        prev_u = P.normalise_action(prev_action, emb) * keep
        h = self._transition(state, prev_u)
        mean, std = self._posterior(h, feats["embed"])
        z = mean + std * torch.randn_like(std) if sample else mean
        latent = torch.cat([h, z], -1)
        ps, u, path = self.heads(latent, feats["route"], feats["speed"], feats.get("body"))
        out = {
            "action": P.scale_action(u, emb),
            "action_norm": u,
            "path": P.unnormalise_path(path, self.cfg),
            "policy_state": ps,
            "latent": latent,
        }
        return RSSMState(h, z), out

    def imagine(
        self,
        policy_fn: Callable[[torch.Tensor], torch.Tensor],
        state: RSSMState,
        horizon: int,
        sample: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Roll the latent forward with the prior, no observations (dreaming).

        Args:
            policy_fn: Maps a latent (B, latent_dim) to actions as fractions of the limits
                (B, 3) in [-1, 1] (the body is unknown to the latent dynamics).
            state: Start state (e.g. from :meth:`observe`).
            horizon: Steps to imagine.
            sample: Sample the prior instead of following its mean.

        Returns:
            ``latent`` (H, B, latent_dim), ``action_norm`` (H, B, 3) (the action taken
            *into* each latent), ``depth`` (H, B, 1, r, r) decoded depth images.
        """
        latents, actions = [], []
        latent = torch.cat(state, -1)
        for _ in range(horizon):
            u = policy_fn(latent)
            h = self._transition(state, u)
            mean, std = self._prior(h)
            z = mean + std * torch.randn_like(std) if sample else mean
            state = RSSMState(h, z)
            latent = torch.cat([h, z], -1)
            latents.append(latent)
            actions.append(u)
        lat = torch.stack(latents)
        depth = self.decoder(lat.flatten(0, 1)).unflatten(0, lat.shape[:2])
        return {"latent": lat, "action_norm": torch.stack(actions), "depth": depth}

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Imitation + world-model loss over sequences.

        Args:
            batch: Tensors with leading (B, L): ``rgb`` (B,L,H,W,3) uint8, ``depth``
                (B,L,H,W), ``speed`` (B,L,3), ``route`` (B,L,K,2) the route the policy sees,
                ``goal`` (B,L,3), ``embodiment`` (B,L,D), ``prev_action`` (B,L,3) SI,
                ``action`` (B,L,3) teacher action SI, ``path`` (B,L,P,2) planned-route
                waypoints (metres), ``is_first`` (B,L) bool (True at every sequence start and
                episode boundary).

        Returns:
            ``(total, terms)``: the weighted scalar loss to minimise, and floats for logging
            (each unweighted term, plus ``action_mae`` in SI units).
        """
        cfg = self.cfg
        b, n = batch["speed"].shape[:2]
        flat = {k: v.flatten(0, 1) for k, v in batch.items()}
        feats = self.encode(flat)
        embed = feats["embed"].unflatten(0, (b, n))
        emb = flat["embodiment"]
        prev_u = P.normalise_action(flat["prev_action"], emb).unflatten(0, (b, n))
        keep = (~batch["is_first"].bool()).float().unsqueeze(-1)

        state = self.initial(b)
        hs, zs, post, prior = [], [], [], []
        for t in range(n):
            state = RSSMState(state.h * keep[:, t], state.z * keep[:, t])
            h = self._transition(state, prev_u[:, t] * keep[:, t])
            mean_q, std_q = self._posterior(h, embed[:, t])
            z = mean_q + std_q * torch.randn_like(std_q)
            state = RSSMState(h, z)
            hs.append(h)
            zs.append(z)
            post.append((mean_q, std_q))
            prior.append(self._prior(h))
        latent = torch.cat([torch.stack(hs, 1), torch.stack(zs, 1)], -1).flatten(0, 1)
        mq, sq = (torch.stack(x, 1) for x in zip(*post, strict=True))
        mp, sp = (torch.stack(x, 1) for x in zip(*prior, strict=True))

        _, u, path = self.heads(latent, feats["route"], feats["speed"], feats.get("body"))
        target_u = P.normalise_action(flat["action"], emb)
        action_loss = F.mse_loss(u, target_u)
        path_loss = F.mse_loss(path, P.normalise_path(flat["path"][:, : cfg.path_points], cfg))
        # KL balancing: train the prior towards the posterior faster than the reverse.
        kl_prior = _kl(mq.detach(), sq.detach(), mp, sp)
        kl_post = _kl(mq, sq, mp.detach(), sp.detach())
        kl_loss = (
            cfg.kl_balance * torch.clamp(kl_prior, min=cfg.free_nats).mean()
            + (1.0 - cfg.kl_balance) * torch.clamp(kl_post, min=cfg.free_nats).mean()
        )
        # Summed over pixels (a Gaussian log-likelihood, as in Dreamer): a per-pixel mean is
        # so small next to the KL that the latent stops carrying what the camera sees.
        # An RGB-only model still learns to predict depth (the demonstrations record it): the
        # target is the recorded depth, processed as a depth-reading model would see it.
        image = feats["image"]
        if not cfg.use_depth:
            image = P.image_input(None, flat["depth"], self._depth_cfg)
        err = self.decoder(latent) - P.depth_target(image, cfg)
        recon_loss = err.square().sum((1, 2, 3)).mean()
        w = cfg.loss
        total = w.action * action_loss + w.path * path_loss + w.kl * kl_loss + w.recon * recon_loss
        with torch.no_grad():
            mae = (P.scale_action(u, emb) - flat["action"].float()).abs().mean()
        terms = {
            "total": total.item(),
            "action": action_loss.item(),
            "path": path_loss.item(),
            "kl": kl_prior.mean().item(),
            "recon": recon_loss.item(),
            "action_mae": mae.item(),
        }
        return total, terms

    # ------------------------------------------------------------------ export contract
    def step(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        speed: torch.Tensor,
        route: torch.Tensor,
        goal: torch.Tensor,
        embodiment: torch.Tensor,
        prev_action: torch.Tensor,
        h: torch.Tensor,
        z: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Deterministic single control step with explicit recurrent tensors (export path).

        The caller starts an episode with zeros for ``prev_action``, ``h`` and ``z`` and feeds
        back ``action``, ``h_new`` and ``z_new``. The posterior mean is used (no sampling).

        Args:
            rgb: (B, H, W, 3) uint8 camera image.
            depth: (B, H, W) depth, metres.
            speed: (B, 3) body (vx, vy, wz).
            route: (B, K, 2) robot-frame route waypoints.
            goal: (B, 3) robot-frame goal (x, y, yaw).
            embodiment: (B, D) body descriptor (its limits scale and clip the action).
            prev_action: (B, 3) previous command, SI.
            h: (B, deter_dim) GRU state.
            z: (B, stoch_dim) latent.

        Returns:
            ``action`` (B, 3) SI clipped to the body, ``path`` (B, P, 2) metres,
            ``h_new``, ``z_new``.
        """
        obs = {
            "rgb": rgb,
            "depth": depth,
            "speed": speed,
            "route": route,
            "goal": goal,
            "embodiment": embodiment,
        }
        first = torch.zeros(speed.shape[0], dtype=torch.bool, device=speed.device)
        state, out = self.observe(obs, prev_action, RSSMState(h, z), first)
        return out["action"], out["path"], state.h, state.z

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the recurrent tensors of :meth:`step`, in order."""
        return ("h", "z")


def count_parameters(module: nn.Module, inference_only: bool = False) -> int:
    """Parameters of ``module``; ``inference_only`` leaves out the training-only decoder."""
    return sum(
        p.numel()
        for name, p in module.named_parameters()
        if not (inference_only and name.startswith("decoder."))
    )
