"""The action-conditioned video world model, its contact hazard judge and the inverse dynamics.

Architecture (CPU-sized; sizes in :class:`~compass_nav.worldmodel.config.ModelConfig`)::

    frame x_t (RGB + inverse depth, 4 x S x S) --conv encoder--> z_t (latent, layer-normed)
    action a_t, speed v_t, next speed v_{t+1} --Fourier features + MLP--> e_t
    h_{t+1} = GRU(h_t, [FiLM(z_t; e_t), e_t])          (the action modulates the frame latent)
    z_{t+1} = LN(z_t + MLP([h_{t+1}, e_t]))             (prediction in latent space)
    x_{t+1} = conv decoder(z_{t+1});  hazard_t = sigmoid(MLP([h_{t+1}, e_t]))
    with ``ref_skip``: x_{t+1} = g * x_ref + (1 - g) * decoder(z_{t+1}) + r, where x_ref is the
    latest *real* frame (the last context frame while imagining, the previous frame when
    teacher-forced) and the per-pixel gate g and correction r come from a small conv net on
    [decoded, x_ref] told how far the latent moved from x_ref's (z_{t+1} - z_ref)

``observe`` replaces the predicted latent by the encoding of a real frame (context frames,
teacher forcing) and makes that frame the reference; ``imagine`` keeps its own prediction
(autoregressive rollout) and the reference; outside training, a transition that does not
move the camera (all speeds below ``STILL_SPEED``) keeps the latent, and while the camera has
not moved since the reference frame, that frame is the prediction (the scenes are static:
the static-camera rule, ``WorldModel.static_camera``); :meth:`WorldModel.render` draws a
state's frame (through the skip path when the model has one). The skip path lets the model
copy what has not changed since the last real frame, which a 384-number latent cannot
reproduce sharply: the pure decoder's ceiling is below a plain copy of the previous frame.
``loss`` rolls a window of real frames out in latent space with scheduled sampling, so that
training sees its own drift. The hazard head is the judge of contacts: the probability that the
transition collides (the simulator's collision flag), trained on real rollouts.

:class:`InverseDynamics` predicts the body's motion between two frames; on imagined frames
it tells whether the model still follows the commanded motion (``compass_nav.worldmodel
.imagine`` flags rollouts where it does not).

Frames: ``rgb`` uint8 (..., S, S, 3) and ``depth`` metres (..., S, S) become a float tensor
(..., 4, S, S) in [0, 1] by :func:`frames_to_tensor` (depth as ``1 / (1 + d)``, which
spends the range on what is near); :func:`tensor_to_frames` inverts it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from compass_nav.worldmodel.config import ModelConfig

__all__ = [
    "InverseDynamics",
    "State",
    "WorldModel",
    "action_features",
    "feature_limits",
    "frames_to_tensor",
    "tensor_to_frames",
]

FEATURE_DIM = 9  # (a_t, v_t, v_{t+1}), each (vx, vy, wz) normalised by the body's limits
#: A transition whose speeds (v_t and v_{t+1}, normalised) all stay below this does not move
#: the camera: about 1 mm/s for a 1.2 m/s body, 0.1 mm of travel per step.
STILL_SPEED = 1e-3


def frames_to_tensor(
    rgb: np.ndarray | torch.Tensor, depth: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """(..., S, S, 3) uint8 + (..., S, S) metres -> (..., 4, S, S) float32 in [0, 1]."""
    rgb_t = torch.as_tensor(np.asarray(rgb) if not torch.is_tensor(rgb) else rgb)
    d = torch.as_tensor(np.asarray(depth, np.float32) if not torch.is_tensor(depth) else depth)
    rgb_t = rgb_t.float().div(255.0).movedim(-1, -3)
    inv = 1.0 / (1.0 + d.float().clamp(min=0.0))
    return torch.cat([rgb_t, inv.unsqueeze(-3)], dim=-3)


def tensor_to_frames(x: torch.Tensor, far: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`frames_to_tensor`: uint8 RGB (..., S, S, 3), depth metres (..., S, S)."""
    x = x.detach().clamp(0.0, 1.0)
    rgb = (x[..., :3, :, :].movedim(-3, -1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
    depth = (1.0 / x[..., 3, :, :].clamp(min=1.0 / (1.0 + far)) - 1.0).cpu().numpy()
    return rgb, depth.astype(np.float32)


def action_features(
    action: np.ndarray, speed: np.ndarray, next_speed: np.ndarray, descriptor: np.ndarray
) -> np.ndarray:
    """(N, 9) float32: command, speed and next speed, each divided by the body's limits."""
    lim = feature_limits(descriptor)
    return np.concatenate([action / lim, speed / lim, next_speed / lim], -1).astype(np.float32)


def feature_limits(descriptor: np.ndarray) -> np.ndarray:
    """(N, 3) float32 scale of the action features: the body's (vx, vy, wz) limits."""
    d = np.atleast_2d(descriptor)
    return np.stack([d[:, 0], np.maximum(d[:, 2], 0.2), d[:, 3]], 1).astype(np.float32)


class FourierEmbedding(nn.Module):
    """Scalars -> [x, sin(2^k pi x / 2), cos(2^k pi x / 2)]_k -> MLP."""

    def __init__(self, in_dim: int, bands: int, out_dim: int) -> None:
        super().__init__()
        self.register_buffer("freqs", (2.0 ** torch.arange(bands)) * math.pi / 2.0)
        width = in_dim * (1 + 2 * bands)
        self.mlp = nn.Sequential(
            nn.Linear(width, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim), nn.SiLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ang = x.unsqueeze(-1) * self.freqs
        feats = torch.cat([x, ang.sin().flatten(-2), ang.cos().flatten(-2)], -1)
        return self.mlp(feats)


class _Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig, in_ch: int = 4) -> None:
        super().__init__()
        layers, c = [], in_ch
        for w in cfg.channels:
            layers += [nn.Conv2d(c, w, 4, 2, 1), nn.SiLU()]
            c = w
        self.conv = nn.Sequential(*layers)
        side = cfg.image_size // 2 ** len(cfg.channels)
        self.fc = nn.Linear(c * side * side, cfg.latent_dim)
        self.norm = nn.LayerNorm(cfg.latent_dim, elementwise_affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.fc(self.conv(x).flatten(1)))


class _Blend(nn.Module):
    """Skip path: per-pixel gate between the decoded frame and the reference real frame."""

    def __init__(self, cfg: ModelConfig, ch: int = 4) -> None:
        super().__init__()
        w = cfg.blend_channels
        self.ctx = nn.Linear(2 * cfg.latent_dim, w)
        self.conv1 = nn.Conv2d(2 * ch, w, 3, 1, 1)
        self.conv2 = nn.Conv2d(w, w, 3, 1, 1)
        self.out = nn.Conv2d(w, 1 + ch, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, content: torch.Tensor, ref: torch.Tensor, z: torch.Tensor, ref_z: torch.Tensor
    ) -> torch.Tensor:
        c = self.ctx(torch.cat([z, z - ref_z], -1))[:, :, None, None]
        h = F.silu(self.conv1(torch.cat([content, ref], 1)) + c)
        o = self.out(F.silu(self.conv2(h)))
        g = torch.sigmoid(o[:, :1])
        return (g * ref + (1.0 - g) * content + 0.1 * torch.tanh(o[:, 1:])).clamp(0.0, 1.0)


class _Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig, out_ch: int = 4) -> None:
        super().__init__()
        self.side = cfg.image_size // 2 ** len(cfg.channels)
        ch = list(cfg.channels)[::-1]
        self.c0 = ch[0]
        self.fc = nn.Linear(cfg.latent_dim, ch[0] * self.side * self.side)
        layers = []
        for i, w in enumerate(ch):
            nxt = ch[i + 1] if i + 1 < len(ch) else out_ch
            layers.append(nn.ConvTranspose2d(w, nxt, 4, 2, 1))
            if i + 1 < len(ch):
                layers.append(nn.SiLU())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.fc(z)).view(-1, self.c0, self.side, self.side)
        return torch.sigmoid(self.deconv(h))


@dataclasses.dataclass
class State:
    """Recurrent state of a batch.

    Attributes:
        h: (B, hidden) recurrent state.
        z: (B, latent) current frame latent.
        ref_x: (B, 4, S, S) latest real frame (the skip path's reference), or None.
        ref_z: (B, latent) its latent, or None.
        still: (B,) bool, the camera has not moved since ``ref_x`` was taken, or None.
    """

    h: torch.Tensor
    z: torch.Tensor
    ref_x: torch.Tensor | None = None
    ref_z: torch.Tensor | None = None
    still: torch.Tensor | None = None


class WorldModel(nn.Module):
    """Latent video predictor with an action-modulated transition and a contact hazard head.

    The narrow API: :meth:`initial` (start from real frames), :meth:`observe` (advance with a
    real next frame), :meth:`imagine` (advance on the model's own prediction),
    :meth:`render` (a state's frame), :meth:`decode` (a latent's frame, no skip path),
    :meth:`hazard`, :meth:`loss`.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        #: Added to hazard logits outside training: training over-samples collisions and
        #: up-weights them, which inflates the odds; see ``train.hazard_prior_offset``.
        self.hazard_bias = 0.0
        #: Static-camera rule (outside training): the scenes are static, so a camera that
        #: has not moved since its reference frame sees that frame again, and a transition
        #: that does not move the camera keeps the frame latent. Set by the evaluation
        #: (``evaluate.static_camera``); the learned parts are the same either way.
        self.static_camera = True
        self.encoder = _Encoder(cfg)
        self.decoder = _Decoder(cfg)
        self.blend = _Blend(cfg) if cfg.ref_skip else None
        self.action = FourierEmbedding(FEATURE_DIM, cfg.fourier_bands, cfg.action_dim)
        self.film = nn.Linear(cfg.action_dim, 2 * cfg.latent_dim)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.h0 = nn.Linear(cfg.latent_dim, cfg.hidden_dim)
        self.gru = nn.GRUCell(cfg.latent_dim + cfg.action_dim, cfg.hidden_dim)
        self.delta = nn.Sequential(
            nn.Linear(cfg.hidden_dim + cfg.action_dim, cfg.hidden_dim),
            nn.SiLU(),
            nn.Linear(cfg.hidden_dim, cfg.latent_dim),
        )
        self.norm = nn.LayerNorm(cfg.latent_dim, elementwise_affine=False)
        self.hazard_head = nn.Sequential(
            nn.Linear(cfg.hidden_dim + cfg.action_dim + cfg.latent_dim, 128),
            nn.SiLU(),
            nn.Linear(128, 1),
        )

    # -- API ---------------------------------------------------------------------------------
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 4, S, S) -> (B, latent)."""
        return self.encoder(frames)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) -> (B, 4, S, S) in [0, 1]."""
        return self.decoder(z)

    def render(self, state: State) -> torch.Tensor:
        """The frame of a state (B, 4, S, S) in [0, 1], through the skip path if any."""
        content = self.decoder(state.z)
        if self.blend is not None and state.ref_x is not None:
            content = self.blend(content, state.ref_x, state.z, state.ref_z)
        if self.static_camera and state.still is not None and state.ref_x is not None:
            content = torch.where(state.still[:, None, None, None], state.ref_x, content)
        return content

    def initial(self, frames: torch.Tensor) -> State:
        """State from the first real frames (B, 4, S, S); they become the reference."""
        z = self.encode(frames)
        return State(torch.tanh(self.h0(z)), z, frames, z, self._all_still(z))

    def with_real(self, h: torch.Tensor, frames: torch.Tensor) -> State:
        """State with recurrent ``h`` on the real ``frames`` (their latent, as reference)."""
        z = self.encode(frames)
        return State(h, z, frames, z, self._all_still(z))

    @staticmethod
    def _all_still(z: torch.Tensor) -> torch.Tensor:
        return torch.ones(z.shape[0], dtype=torch.bool, device=z.device)

    def _transition(self, state: State, feats: torch.Tensor):
        e = self.action(feats)
        gamma, beta = self.film(e).chunk(2, -1)
        x = state.z * (1.0 + gamma) + beta
        h = self.gru(torch.cat([x, e], -1), state.h)
        z = self.norm(state.z + self.delta(torch.cat([h, e], -1)))
        logit = self.hazard_head(torch.cat([h, e, state.z], -1)).squeeze(-1)
        return h, z, logit

    def imagine(self, state: State, feats: torch.Tensor) -> tuple[State, torch.Tensor]:
        """One autoregressive step: (next state on the predicted latent, hazard logit (B,)).

        The logit includes :attr:`hazard_bias`, the prior correction set after training.
        """
        h, z, logit = self._transition(state, feats)
        still = state.still
        if self.static_camera:
            moving = (feats[:, 3:].abs() > STILL_SPEED).any(-1)
            z = torch.where(moving[:, None], z, state.z)
            still = None if still is None else still & ~moving
        return State(h, z, state.ref_x, state.ref_z, still), logit + self.hazard_bias

    def observe(
        self, state: State, feats: torch.Tensor, next_frames: torch.Tensor
    ) -> tuple[State, torch.Tensor]:
        """One step whose next latent is the encoding of the real ``next_frames``."""
        h, _z, logit = self._transition(state, feats)
        return self.with_real(h, next_frames), logit + self.hazard_bias

    @staticmethod
    def hazard(logit: torch.Tensor) -> torch.Tensor:
        """Collision probability of a transition."""
        return torch.sigmoid(logit)

    def loss(
        self,
        frames: torch.Tensor,
        feats: torch.Tensor,
        collision: torch.Tensor,
        teacher_forcing: float,
        weights: dict[str, float],
        pos_weight: float = 10.0,
        pred_frames: int = 0,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Multi-step latent rollout loss on a batch of real windows.

        The window's first frame is encoded (with gradient) and the rest is rolled out in
        latent space; real latents of later frames (encoded without gradient) are the latent
        targets and the teacher-forcing inputs. Decoding is the expensive part, so only
        ``pred_frames`` predicted steps per window are decoded for the pixel loss (all when
        0); latent and hazard losses cover every step, which is what lets windows be long.
        With the skip path, each predicted frame is rendered against the latest real frame
        the rollout was given (the window's first, or the last teacher-forced one).

        Args:
            frames: (B, L, 4, S, S) real frames.
            feats: (B, L-1, 9) action features of the transitions.
            collision: (B, L-1) float, 1 where the transition collided.
            teacher_forcing: Probability (per window and step) of feeding the real latent
                instead of the prediction (scheduled sampling; 0 = pure rollout).
            weights: ``recon``, ``pred``, ``latent``, ``collision`` loss weights; optional
                ``depth_l1`` (> 0: the predicted depth channel's absolute error times this
                replaces its squared error).
            pos_weight: Weight of positive (collision) transitions in the BCE.
            pred_frames: Predicted steps decoded per window (0: all).
            mask: (B, L-1) float, 0 on padded transitions past an episode's end (windows
                of episodes shorter than the window); all ones when ``None``.

        Returns:
            (total loss, dict of the parts as floats).
        """
        B, L = frames.shape[:2]
        with torch.no_grad():
            z_target = self.encode(frames[:, 1:].flatten(0, 1)).view(B, L - 1, -1)
        # Reconstruct two frames per window (the first, where imagination starts, and one at
        # random) with gradient through the encoder.
        pick = torch.randint(1, L, (B,))
        x_rec = torch.cat([frames[:, 0], frames[torch.arange(B), pick]])
        z_rec = self.encode(x_rec)
        recon = F.mse_loss(self.decode(z_rec), x_rec)
        z0 = z_rec[:B]
        state = State(torch.tanh(self.h0(z0)), z0)
        preds, logits = [], []
        ref_idx = torch.zeros(B, dtype=torch.long)  # latest real frame given, per window
        ref_z = z0
        ref_idxs, ref_zs = [], []
        for t in range(L - 1):
            h, z_pred, logit = self._transition(state, feats[:, t])
            preds.append(z_pred)
            logits.append(logit)
            ref_idxs.append(ref_idx)
            ref_zs.append(ref_z)
            if teacher_forcing > 0.0:
                use_real = (torch.rand(B, 1) < teacher_forcing).float()
                z_next = use_real * z_target[:, t] + (1.0 - use_real) * z_pred
                ref_idx = torch.where(use_real[:, 0] > 0, t + 1, ref_idx)
                ref_z = use_real * z_target[:, t] + (1.0 - use_real) * ref_z
            else:
                z_next = z_pred
            state = State(h, z_next)
        z_pred = torch.stack(preds, 1)
        steps = torch.arange(L - 1)
        if 0 < pred_frames < L - 1:
            steps = torch.sort(torch.randperm(L - 1)[:pred_frames]).values
        if mask is None:
            mask = torch.ones(B, L - 1)
        m = mask[:, steps]
        zs = z_pred[:, steps].flatten(0, 1)
        x_hat = self.decode(zs)
        if self.blend is not None:
            idx = torch.stack(ref_idxs, 1)[:, steps]  # (B, k)
            ref_x = frames[torch.arange(B)[:, None], idx].flatten(0, 1)
            rz = torch.stack(ref_zs, 1)[:, steps].flatten(0, 1)
            x_hat = self.blend(x_hat, ref_x, zs, rz)
        diff = x_hat - frames[:, 1:][:, steps].flatten(0, 1)
        w_l1 = float(weights.get("depth_l1", 0.0))
        if w_l1 > 0.0:  # the depth channel's median, not its mean (TrainConfig.depth_l1)
            err = torch.cat([diff[:, :3].pow(2), w_l1 * diff[:, 3:].abs()], 1).mean((1, 2, 3))
        else:
            err = diff.pow(2).mean((1, 2, 3))
        pred = (err * m.flatten()).sum() / m.sum().clamp(min=1.0)
        latent = ((z_pred - z_target).pow(2).mean(-1) * mask).sum() / mask.sum().clamp(min=1.0)
        bce = F.binary_cross_entropy_with_logits(
            torch.stack(logits, 1),
            collision,
            pos_weight=torch.tensor(pos_weight),
            reduction="none",
        )
        coll = (bce * mask).sum() / mask.sum().clamp(min=1.0)
        total = (
            weights["recon"] * recon
            + weights["pred"] * pred
            + weights["latent"] * latent
            + weights["collision"] * coll
        )
        parts = {
            "recon": recon.item(),
            "pred": pred.item(),
            "latent": latent.item(),
            "collision": coll.item(),
        }
        return total, parts


class InverseDynamics(nn.Module):
    """Two consecutive frames -> the body's mean velocity between them (normalised, 3)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        layers, c = [], 8
        for w in cfg.idm_channels:
            layers += [nn.Conv2d(c, w, 4, 2, 1), nn.SiLU()]
            c = w
        self.conv = nn.Sequential(*layers)
        side = cfg.image_size // 2 ** len(cfg.idm_channels)
        self.fc = nn.Sequential(nn.Linear(c * side * side, 128), nn.SiLU(), nn.Linear(128, 3))

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """(B, 4, S, S) x 2 -> (B, 3)."""
        return self.fc(self.conv(torch.cat([x0, x1], 1)).flatten(1))
