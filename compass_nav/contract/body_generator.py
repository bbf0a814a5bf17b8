"""Procedural bodies: random draws inside the documented envelope, for training.

``random:<n>@seed=<s>`` on any ``--embodiments`` option (see
:func:`compass_nav.contract.body.expand_embodiments`) stands for the ``n`` bodies
``random-s<s>-i0`` ... ``random-s<s>-i<n-1>``. Each name determines its body: body ``i`` of
seed ``s`` is drawn from ``numpy.random.default_rng([s, i])``, so any process (an evaluation
worker, a resumed run) rebuilds the same body from its name, and ``random:10@seed=3`` is the
first ten bodies of ``random:50@seed=3``.

A draw first picks a kind (uniformly over :data:`~compass_nav.contract.body.KINDS`), then
samples the fields that kind allows (an Ackermann base has no lateral limit and a turning
radius, only skid-steer bodies slip, only legged ones have second-order tracking, bias,
drift and gait camera motion), each within :data:`~compass_nav.contract.body.ENVELOPE` and
the kind's rules; the result passes the same validation as a YAML file. Sizes stay small
enough for the doors of the registered scene families (width <= 0.8 m, length <= 1.2 m).
"""

from __future__ import annotations

import re

import numpy as np

from compass_nav.contract.body import KINDS, EmbodimentSpec
from compass_nav.utils.errors import ConfigError

#: Name of generated body ``index`` of ``seed``.
NAME_PATTERN = re.compile(r"^random-s(\d+)-i(\d+)$")
#: ``random:<n>`` or ``random:<n>@seed=<s>`` in an ``--embodiments`` list.
SPEC_PATTERN = re.compile(r"^random:(\d+)(?:@seed=(\d+))?$")
#: Most bodies one ``random:<n>`` may draw.
MAX_DRAWS = 10_000


def random_name(seed: int, index: int) -> str:
    """Name of generated body ``index`` of ``seed`` (it determines the body)."""
    return f"random-s{int(seed)}-i{int(index)}"


def parse_random_spec(text: str) -> list[str] | None:
    """Names of ``random:<n>[@seed=<s>]`` (seed 0 when omitted); None if ``text`` is not one.

    Raises:
        ConfigError: ``random:`` with a malformed count or seed, or ``n`` outside 1..10000.
    """
    if not text.startswith("random:"):
        return None
    m = SPEC_PATTERN.match(text)
    if not m:
        raise ConfigError(
            f"embodiments: {text!r}: expected random:<n> or random:<n>@seed=<s> "
            "(e.g. random:50@seed=3)"
        )
    n, seed = int(m.group(1)), int(m.group(2) or 0)
    if not 1 <= n <= MAX_DRAWS:
        raise ConfigError(f"embodiments: {text!r}: n={n} must be within [1, {MAX_DRAWS}]")
    return [random_name(seed, i) for i in range(n)]


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def generate_body(seed: int, index: int) -> EmbodimentSpec:
    """Body ``index`` of ``seed``: a kind, then every field that kind allows (see module doc)."""
    rng = np.random.default_rng([int(seed), int(index)])
    kind = KINDS[int(rng.integers(len(KINDS)))]
    legged = kind in ("quadruped", "humanoid")
    f: dict = {"kind": kind}
    if legged or kind == "compact":
        f["max_vx"] = _u(rng, 0.3, 1.0)
    else:
        f["max_vx"] = _u(rng, 0.5, 2.0)
    f["min_vx"] = -_u(rng, 0.1, 0.5)
    f["max_wz"] = _u(rng, 0.6, 2.5)
    f["max_ax"] = _u(rng, 0.5, 2.5)
    f["max_awz"] = _u(rng, 1.0, 6.0)
    f["max_decel"] = round(min(f["max_ax"] * float(rng.uniform(1.0, 2.5)), 8.0), 3)
    f["command_latency"] = _u(rng, 0.0, 0.25)
    f["tracking_noise"] = _u(rng, 0.0, 0.08)
    f["max_vy"] = 0.0
    f["max_ay"] = 0.0
    f["lag_tau"] = _u(rng, 0.04, 0.3)
    if kind == "holonomic":
        f["max_vy"] = _u(rng, 0.3, 0.9)
        f["max_ay"] = _u(rng, 0.5, 2.0)
    if legged:
        f["max_vy"] = _u(rng, 0.1, 0.5)
        f["max_ay"] = _u(rng, 0.3, 1.2)
        if rng.random() < 0.5:
            f["lag_tau"] = 0.0
            f["track_wn"] = _u(rng, 3.0, 10.0)
            f["track_zeta"] = _u(rng, 0.4, 1.0)
        else:
            f["lag_tau"] = _u(rng, 0.15, 0.45)
        f["tracking_bias"] = _u(rng, 0.0, 0.1)
        f["tracking_drift"] = _u(rng, 0.0, 0.08)
        f["camera_bob"] = _u(rng, 0.0, 0.04)
        f["camera_pitch_osc"] = _u(rng, 0.0, 0.05)
        f["camera_roll_osc"] = _u(rng, 0.0, 0.06)
        f["stride_length"] = _u(rng, 0.3, 0.9)
    if kind == "ackermann":
        f["min_turn_radius"] = _u(rng, 0.4, 1.2)
    if kind in ("wheeled", "compact"):
        f["slip_yaw"] = _u(rng, 0.0, 0.1)
    if kind == "tracked":
        f["slip_yaw"] = _u(rng, 0.05, 0.4)
        f["slip_lateral"] = _u(rng, 0.0, 0.12)
    if kind == "compact":
        f["length"], f["width"] = _u(rng, 0.2, 0.5), _u(rng, 0.2, 0.5)
        f["camera_height"] = _u(rng, 0.2, 0.35)
    else:
        f["length"] = _u(rng, 0.35, 1.2)
        f["width"] = _u(rng, 0.35, 0.8)
        lo, hi = (1.0, 2.0) if kind == "humanoid" else (0.25, 1.2)
        f["camera_height"] = _u(rng, lo, hi)
    f["camera_pitch"] = _u(rng, 0.0, 0.5 if kind == "humanoid" else 0.35)
    f["camera_hfov_deg"] = _u(rng, 60.0, 120.0, 1)
    return EmbodimentSpec(
        name=random_name(seed, index),
        split="train",
        description=f"procedural {kind} body {index} of seed {seed}",
        **f,
    )


def body_from_name(name: str) -> EmbodimentSpec | None:
    """The generated body a ``random-s<seed>-i<index>`` name stands for (None otherwise)."""
    m = NAME_PATTERN.match(name)
    if not m:
        return None
    return generate_body(int(m.group(1)), int(m.group(2)))
