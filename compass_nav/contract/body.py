"""Embodiments: the physical description of a robot body, one YAML file each.

Every body the simulator, the trainers and the ROS node know about is a file in the
top-level ``sim/embodiments/`` folder (found through :func:`compass_nav.utils.paths.sim_data_dir`).
Adding a robot is adding a file; nothing else changes. A user can also point at a file of
their own anywhere on disk (``--embodiment path/to/robot.yaml``).

The numeric :meth:`EmbodimentSpec.descriptor` is the ``embodiment`` observation: physical
quantities (limits, lag, footprint, camera mount), not a one-hot slot, so that a generalist
policy can be asked to drive a body it never trained on.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from compass_nav.utils.errors import ConfigError
from compass_nav.utils.paths import sim_data_dir

#: Kinds of body. Each kind fixes how commands become motion (see :data:`KIND_RULES`):
#: ``wheeled`` differential drive, ``holonomic`` mecanum/omni base, ``quadruped`` and
#: ``humanoid`` legged bodies behind a locomotion controller, ``ackermann`` car-like base
#: (steered front wheels: no turning in place, a minimum turning radius), ``tracked``
#: skid-steer vehicle (tracks slip in turns), ``compact`` small low differential-drive robot.
KINDS = ("wheeled", "holonomic", "quadruped", "humanoid", "ackermann", "tracked", "compact")
LEGGED_KINDS = ("quadruped", "humanoid")
SPLITS = ("train", "heldout")


@dataclasses.dataclass(frozen=True)
class FieldRange:
    """The envelope of one numeric body field: what it means, its unit and allowed range."""

    meaning: str
    unit: str
    low: float
    high: float

    def text(self) -> str:
        """``[low, high] unit`` for messages and tables."""
        return f"[{self.low:g}, {self.high:g}]" + (f" {self.unit}" if self.unit else "")


#: The documented envelope of every numeric field (docs/EMBODIMENTS.md has the same table,
#: generated from this one by :func:`envelope_table`). A body outside it is refused; the
#: procedural generator (:mod:`compass_nav.contract.body_generator`) samples inside it.
ENVELOPE: dict[str, FieldRange] = {
    "max_vx": FieldRange("forward speed limit", "m/s", 0.2, 3.0),
    "min_vx": FieldRange("reverse speed limit (<= 0)", "m/s", -1.0, 0.0),
    "max_vy": FieldRange("lateral speed limit (0: cannot strafe)", "m/s", 0.0, 1.0),
    "max_wz": FieldRange("yaw-rate limit", "rad/s", 0.2, 3.0),
    "max_ax": FieldRange("longitudinal acceleration limit", "m/s^2", 0.2, 4.0),
    "max_ay": FieldRange("lateral acceleration limit", "m/s^2", 0.0, 3.0),
    "max_awz": FieldRange("yaw acceleration limit", "rad/s^2", 0.5, 8.0),
    "max_decel": FieldRange(
        "longitudinal braking (deceleration) limit; 0 = same as max_ax", "m/s^2", 0.0, 8.0
    ),
    "lag_tau": FieldRange("first-order velocity response time constant", "s", 0.0, 0.6),
    "track_wn": FieldRange(
        "natural frequency of second-order velocity tracking (0 = first-order lag)",
        "rad/s",
        0.0,
        20.0,
    ),
    "track_zeta": FieldRange("damping ratio of second-order velocity tracking", "", 0.2, 1.5),
    "tracking_bias": FieldRange(
        "largest constant relative velocity bias per episode (legged)", "", 0.0, 0.15
    ),
    "tracking_drift": FieldRange(
        "relative std of the slow velocity drift (legged, 5 s correlation)", "", 0.0, 0.15
    ),
    "tracking_noise": FieldRange("relative std of per-step velocity tracking error", "", 0, 0.15),
    "command_latency": FieldRange("delay from command to actuation", "s", 0.0, 0.25),
    "min_turn_radius": FieldRange(
        "minimum turning radius (ackermann only; 0 = can turn in place)", "m", 0.0, 3.0
    ),
    "slip_yaw": FieldRange("share of the yaw rate lost to track slip (skid-steer)", "", 0.0, 0.5),
    "slip_lateral": FieldRange(
        "sideways skid per unit of vx*wz in turns (skid-steer)", "s", 0.0, 0.3
    ),
    "length": FieldRange("footprint length along x", "m", 0.2, 2.0),
    "width": FieldRange("footprint width along y", "m", 0.2, 1.5),
    "camera_height": FieldRange("camera height above the floor", "m", 0.2, 2.0),
    "camera_pitch": FieldRange("camera pitch, positive looks down", "rad", 0.0, 0.6),
    "camera_hfov_deg": FieldRange("camera horizontal field of view", "deg", 60.0, 120.0),
    "camera_x": FieldRange("camera offset ahead of the body centre", "m", -0.5, 1.0),
    "camera_bob": FieldRange("gait-induced vertical camera oscillation amplitude", "m", 0, 0.05),
    "camera_pitch_osc": FieldRange(
        "gait-induced camera pitch oscillation amplitude", "rad", 0, 0.1
    ),
    "camera_roll_osc": FieldRange("gait-induced camera roll oscillation amplitude", "rad", 0, 0.1),
    "stride_length": FieldRange(
        "distance per gait cycle (sets the oscillation rate)", "m", 0.2, 1.5
    ),
    "camera_near": FieldRange("nearest depth the camera reports", "m", 0.05, 1.0),
    "camera_far": FieldRange("farthest depth the camera reports", "m", 2.0, 50.0),
}


#: What each kind requires of the fields (``(low, high)`` overrides of :data:`ENVELOPE`) and
#: why: a body whose fields contradict its kind is refused with this reason.
KIND_RULES: dict[str, dict[str, tuple[tuple[float, float], str]]] = {}


def _rule(kinds, field, low, high, why):
    for k in kinds:
        KIND_RULES.setdefault(k, {})[field] = ((low, high), why)


_NONHOLO = ("wheeled", "ackermann", "tracked", "compact")
_rule(_NONHOLO, "max_vy", 0.0, 0.0, "a body of kind {kind} cannot move sideways: use 0")
_rule(_NONHOLO, "max_ay", 0.0, 0.0, "a body of kind {kind} has no lateral drive: use 0")
_rule(
    [k for k in KINDS if k != "ackermann"],
    "min_turn_radius",
    0.0,
    0.0,
    "only an ackermann body has a minimum turning radius: use 0",
)
_rule(("ackermann",), "min_turn_radius", 0.3, 3.0, "an ackermann body steers: give r_min")
_rule(
    [k for k in KINDS if k not in ("tracked", "wheeled", "compact")],
    "slip_yaw",
    0.0,
    0.0,
    "only skid-steer bodies (tracked, wheeled, compact) slip: use 0",
)
_rule(
    [k for k in KINDS if k not in ("tracked", "wheeled", "compact")],
    "slip_lateral",
    0.0,
    0.0,
    "only skid-steer bodies (tracked, wheeled, compact) slip: use 0",
)
_rule(("tracked",), "slip_yaw", 0.05, 0.5, "tracks always slip in turns: give 0.05-0.5")
for _f in (
    "track_wn",
    "tracking_bias",
    "tracking_drift",
    "camera_bob",
    "camera_pitch_osc",
    "camera_roll_osc",
):
    _rule(
        [k for k in KINDS if k not in LEGGED_KINDS],
        _f,
        0.0,
        0.0,
        f"only legged bodies (quadruped, humanoid) have a gait-driven {_f}: use 0",
    )
_rule(("compact",), "length", 0.2, 0.5, "a compact body is at most 0.5 m long")
_rule(("compact",), "width", 0.2, 0.5, "a compact body is at most 0.5 m wide")
_rule(("compact",), "camera_height", 0.2, 0.35, "a compact body has a low camera (<= 0.35 m)")


#: Order, meaning and unit of the descriptor vector (SI units; angles in radians). The first
#: 15 entries are the original schema (models exported before the longer descriptor declare
#: exactly those); entries are only ever appended. A runtime builds the vector a model asks
#: for by field NAME (:func:`select_descriptor`), so a model that declares fewer fields, or
#: another order, still gets what it was trained on.
DESCRIPTOR_DOC: dict[str, tuple[str, str]] = {
    "max_vx": ("forward speed limit", "m/s"),
    "min_vx": ("reverse speed limit (<= 0)", "m/s"),
    "max_vy": ("lateral speed limit (0 for non-holonomic bodies)", "m/s"),
    "max_wz": ("yaw-rate limit", "rad/s"),
    "max_ax": ("longitudinal acceleration limit", "m/s^2"),
    "max_ay": ("lateral acceleration limit", "m/s^2"),
    "max_awz": ("yaw acceleration limit", "rad/s^2"),
    "lag_tau": (
        "velocity response time constant (second-order bodies: the equivalent 2*zeta/wn)",
        "s",
    ),
    "length": ("footprint length along x", "m"),
    "width": ("footprint width along y", "m"),
    "camera_height": ("camera height above the floor", "m"),
    "camera_pitch": ("camera pitch, positive looks down", "rad"),
    "camera_hfov": ("camera horizontal field of view", "rad"),
    "camera_bob": ("vertical camera oscillation amplitude while walking", "m"),
    "holonomic": ("1 if the body follows lateral velocity commands, else 0", "flag"),
    # -- appended with the bodies that differ in kind --
    "command_latency": ("delay from command to actuation", "s"),
    "track_wn": ("second-order tracking natural frequency (0: first-order lag)", "rad/s"),
    "track_zeta": ("second-order tracking damping ratio (0 for first-order bodies)", ""),
    "tracking_bias": ("largest relative velocity bias per episode", ""),
    "tracking_drift": ("relative std of the slow velocity drift", ""),
    "max_decel": ("braking (deceleration) limit actually applied", "m/s^2"),
    "min_turn_radius": ("minimum turning radius (0: turns in place)", "m"),
    "slip_yaw": ("share of the yaw rate lost to skid-steer slip", ""),
    "slip_lateral": ("sideways skid per unit of vx*wz", "s"),
    "camera_pitch_osc": ("gait-induced camera pitch oscillation amplitude", "rad"),
    "camera_roll_osc": ("gait-induced camera roll oscillation amplitude", "rad"),
    **{f"kind_{k}": (f"1 if the body is of kind {k}, else 0", "flag") for k in KINDS},
}
DESCRIPTOR_FIELDS: tuple[str, ...] = tuple(DESCRIPTOR_DOC)
DESCRIPTOR_DIM = len(DESCRIPTOR_FIELDS)
#: The original 15-field schema (what ``models/default.onnx`` declares).
DESCRIPTOR_FIELDS_V1: tuple[str, ...] = DESCRIPTOR_FIELDS[:15]


#: Reference value and spread of each descriptor field (SI units), chosen to span the range of
#: plausible mobile robots rather than fitted to the registered ones.
DESCRIPTOR_NORM: dict[str, tuple[float, float]] = {
    "max_vx": (1.0, 0.5),
    "min_vx": (-0.3, 0.3),
    "max_vy": (0.3, 0.3),
    "max_wz": (1.2, 0.6),
    "max_ax": (1.2, 0.6),
    "max_ay": (0.6, 0.6),
    "max_awz": (2.0, 1.0),
    "lag_tau": (0.2, 0.15),
    "length": (0.7, 0.3),
    "width": (0.5, 0.2),
    "camera_height": (1.0, 0.5),
    "camera_pitch": (0.2, 0.2),
    "camera_hfov": (1.57, 0.3),
    "camera_bob": (0.02, 0.02),
    "holonomic": (0.5, 0.5),
    "command_latency": (0.08, 0.08),
    "track_wn": (3.0, 4.0),
    "track_zeta": (0.4, 0.4),
    "tracking_bias": (0.03, 0.05),
    "tracking_drift": (0.03, 0.05),
    "max_decel": (1.5, 1.0),
    "min_turn_radius": (0.3, 0.6),
    "slip_yaw": (0.1, 0.15),
    "slip_lateral": (0.04, 0.08),
    "camera_pitch_osc": (0.02, 0.03),
    "camera_roll_osc": (0.02, 0.03),
    **{f"kind_{k}": (0.15, 0.35) for k in KINDS},
}
DESCRIPTOR_REF: tuple[float, ...] = tuple(DESCRIPTOR_NORM[f][0] for f in DESCRIPTOR_FIELDS)
DESCRIPTOR_SCALE: tuple[float, ...] = tuple(DESCRIPTOR_NORM[f][1] for f in DESCRIPTOR_FIELDS)


def select_descriptor(
    descriptor: np.ndarray, fields: Sequence[str], source: Sequence[str] = DESCRIPTOR_FIELDS
) -> np.ndarray:
    """Pick the entries ``fields`` (by name) out of descriptors laid out as ``source``.

    Args:
        descriptor: (..., len(source)) descriptors.
        fields: Names the consumer (e.g. a model's metadata) expects, in its order.
        source: Names of ``descriptor``'s last axis (default: this package's full schema).

    Returns:
        (..., len(fields)) float32 (the input itself when the schemas are equal).

    Raises:
        ConfigError: A field ``source`` does not hold, naming it and the known fields.
    """
    fields, source = tuple(fields), tuple(source)
    d = np.asarray(descriptor, np.float32)
    if fields == source:
        return d
    unknown = [f for f in fields if f not in source]
    if unknown:
        raise ConfigError(
            f"embodiment descriptor field(s) {', '.join(map(repr, unknown))} are unknown to this "
            f"compass_nav; it knows: {', '.join(source)}"
        )
    return d[..., [source.index(f) for f in fields]]


@dataclasses.dataclass(frozen=True)
class EmbodimentSpec:
    """A robot body as the simulator and policies see it (:data:`ENVELOPE` bounds every field).

    Attributes:
        name: Registry name (the file stem for registered bodies).
        kind: One of :data:`KINDS`; the kind fixes which dynamics fields may be non-zero
            (:data:`KIND_RULES`).
        split: ``train`` bodies are used in training; ``heldout`` ones only for zero-shot tests.
        description: One line for listings.
        max_vx, min_vx, max_vy, max_wz: Velocity limits (m/s, rad/s); ``min_vx`` <= 0.
        max_ax, max_ay, max_awz: Acceleration limits (m/s^2, rad/s^2).
        max_decel: Longitudinal braking limit, m/s^2 (0: same as ``max_ax``). Sets the
            stopping distance v^2 / (2 max_decel).
        lag_tau: Time constant of the first-order response to velocity commands, s.
        track_wn, track_zeta: Second-order velocity tracking (legged bodies): natural
            frequency (rad/s; 0 keeps the first-order lag) and damping ratio.
        tracking_bias: Largest relative velocity bias, drawn per episode and axis (legged).
        tracking_drift: Relative std of a slow (5 s) random velocity drift (legged).
        tracking_noise: Relative standard deviation of per-step velocity tracking error.
        command_latency: Delay between a command and its actuation, s.
        min_turn_radius: Ackermann bodies: smallest turning radius, m (|wz| <= |vx| / r).
        slip_yaw: Skid-steer bodies: share of the yaw rate lost to slip.
        slip_lateral: Skid-steer bodies: sideways skid vy = -slip_lateral * vx * wz, s.
        length, width: Rectangular footprint, m (centred on the body frame).
        camera_height, camera_pitch, camera_hfov_deg, camera_x: Camera mount.
        camera_bob, camera_pitch_osc, camera_roll_osc: Gait-induced camera oscillation
            amplitudes (m, rad, rad) while walking, one cycle per ``stride_length`` metres.
        camera_near, camera_far: Depth range, m.
    """

    name: str
    kind: str
    split: str
    description: str
    max_vx: float
    min_vx: float
    max_vy: float
    max_wz: float
    max_ax: float
    max_ay: float
    max_awz: float
    lag_tau: float
    length: float
    width: float
    camera_height: float
    camera_pitch: float = 0.0
    camera_hfov_deg: float = 90.0
    camera_x: float = 0.0
    camera_bob: float = 0.0
    camera_near: float = 0.1
    camera_far: float = 20.0
    tracking_noise: float = 0.0
    max_decel: float = 0.0
    track_wn: float = 0.0
    track_zeta: float = 0.7
    tracking_bias: float = 0.0
    tracking_drift: float = 0.0
    command_latency: float = 0.0
    min_turn_radius: float = 0.0
    slip_yaw: float = 0.0
    slip_lateral: float = 0.0
    camera_pitch_osc: float = 0.0
    camera_roll_osc: float = 0.0
    stride_length: float = 0.6

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ConfigError:
            return ConfigError(
                f"embodiment {self.name!r}: {field}={getattr(self, field)!r}: {why}"
            )

        if self.kind not in KINDS:
            raise bad("kind", f"must be one of {', '.join(KINDS)}")
        if self.split not in SPLITS:
            raise bad("split", f"must be one of {', '.join(SPLITS)}")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise bad(f.name, "must be a finite number")
        for f, r in ENVELOPE.items():
            v = getattr(self, f)
            if not r.low <= v <= r.high:
                raise bad(f, f"outside the envelope {r.text()} ({r.meaning})")
        for f, ((lo, hi), why) in KIND_RULES.get(self.kind, {}).items():
            v = getattr(self, f)
            if not lo <= v <= hi:
                rng = f"{lo:g}" if lo == hi else f"[{lo:g}, {hi:g}]"
                raise bad(f, f"{why.format(kind=self.kind)} (kind {self.kind}: {rng})")
        if self.track_wn > 0 and self.track_wn < 2.0:
            raise bad("track_wn", "must be 0 (first-order lag) or within [2, 20] rad/s")
        if self.track_wn > 0 and self.lag_tau > 0:
            raise bad(
                "lag_tau",
                "a second-order body (track_wn > 0) has no first-order lag: use 0 "
                "(the descriptor reports the equivalent 2*zeta/wn)",
            )
        if 0 < self.max_decel < 0.3:
            raise bad("max_decel", "must be 0 (same as max_ax) or within [0.3, 8] m/s^2")
        if not self.camera_near < self.camera_far:
            raise bad("camera_far", "must exceed camera_near > 0")

    @property
    def holonomic(self) -> bool:
        """Whether the body follows lateral (vy) commands."""
        return self.max_vy > 0

    @property
    def legged(self) -> bool:
        """Whether the body walks (gait-driven camera motion, second-order tracking allowed)."""
        return self.kind in LEGGED_KINDS

    @property
    def brake_decel(self) -> float:
        """Deceleration limit applied when braking, m/s^2."""
        return self.max_decel if self.max_decel > 0 else self.max_ax

    @property
    def response_time(self) -> float:
        """First-order time constant, or a second-order body's equivalent 2*zeta/wn, s."""
        if self.track_wn > 0:
            return 2.0 * self.track_zeta / self.track_wn
        return self.lag_tau

    @property
    def circumscribed_radius(self) -> float:
        """Radius of the circle that contains the footprint, m."""
        return 0.5 * math.hypot(self.length, self.width)

    @property
    def inscribed_radius(self) -> float:
        """Radius of the largest circle inside the footprint, m."""
        return 0.5 * min(self.length, self.width)

    @property
    def action_low(self) -> np.ndarray:
        """Lower action limits (vx, vy, wz), float32."""
        return np.array([self.min_vx, -self.max_vy, -self.max_wz], np.float32)

    @property
    def action_high(self) -> np.ndarray:
        """Upper action limits (vx, vy, wz), float32."""
        return np.array([self.max_vx, self.max_vy, self.max_wz], np.float32)

    @property
    def accel_limits(self) -> np.ndarray:
        """Acceleration limits (ax, ay, awz), float32."""
        return np.array([self.max_ax, self.max_ay, self.max_awz], np.float32)

    def descriptor_values(self) -> dict[str, float]:
        """Every descriptor entry by name (:data:`DESCRIPTOR_DOC` gives meaning and unit)."""
        derived = {
            "lag_tau": self.response_time,
            "camera_hfov": math.radians(self.camera_hfov_deg),
            "holonomic": 1.0 if self.holonomic else 0.0,
            "track_zeta": self.track_zeta if self.track_wn > 0 else 0.0,
            "max_decel": self.brake_decel,
            **{f"kind_{k}": float(self.kind == k) for k in KINDS},
        }
        return {
            f: float(derived[f]) if f in derived else float(getattr(self, f))
            for f in DESCRIPTOR_FIELDS
        }

    def descriptor(self, fields: Sequence[str] = DESCRIPTOR_FIELDS) -> np.ndarray:
        """The numeric descriptor vector of ``fields`` (default: all, :data:`DESCRIPTOR_FIELDS`).

        Raises:
            ConfigError: A field name this package does not know (e.g. a model asking for a
                field of a newer schema).
        """
        values = self.descriptor_values()
        unknown = [f for f in fields if f not in values]
        if unknown:
            raise ConfigError(
                f"embodiment descriptor field(s) {', '.join(map(repr, unknown))} are unknown "
                f"to this compass_nav; it knows: {', '.join(DESCRIPTOR_FIELDS)}"
            )
        return np.array([values[f] for f in fields], np.float32)

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Clip (..., 3) actions to this body's limits; NaN stays NaN (callers reject it)."""
        return np.clip(action, self.action_low, self.action_high)

    def to_dict(self) -> dict:
        """Plain dict, as written in the YAML file."""
        return dataclasses.asdict(self)

    def content_hash(self) -> str:
        """SHA-256 (hex) of the body's physical content: every field but name/description/split."""
        data = {
            k: v for k, v in self.to_dict().items() if k not in ("name", "description", "split")
        }
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def envelope_table() -> str:
    """The envelope as a Markdown table (field, meaning, unit, range) for the docs."""
    rows = ["| field | meaning | unit | range |", "|---|---|---|---|"]
    for f, r in ENVELOPE.items():
        rows.append(f"| `{f}` | {r.meaning} | {r.unit or '-'} | {r.low:g} to {r.high:g} |")
    return "\n".join(rows)


def descriptor_table() -> str:
    """The descriptor schema as a Markdown table (index, field, meaning, unit)."""
    rows = ["| # | field | meaning | unit |", "|---|---|---|---|"]
    for i, (f, (meaning, unit)) in enumerate(DESCRIPTOR_DOC.items()):
        rows.append(f"| {i} | `{f}` | {meaning} | {unit or '-'} |")
    return "\n".join(rows)


def embodiments_dir() -> Path:
    """Folder holding the registered embodiment files."""
    return sim_data_dir() / "embodiments"


def _from_mapping(data: dict, source: str) -> EmbodimentSpec:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of embodiment fields")
    names = {f.name for f in dataclasses.fields(EmbodimentSpec)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{source}: unknown field(s) {', '.join(unknown)}; valid fields: "
            f"{', '.join(sorted(names))}"
        )
    missing = sorted(
        f.name
        for f in dataclasses.fields(EmbodimentSpec)
        if f.name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    )
    if missing:
        raise ConfigError(f"{source}: missing field(s) {', '.join(missing)}")
    kwargs = {}
    for f in dataclasses.fields(EmbodimentSpec):
        if f.name not in data:
            continue
        v = data[f.name]
        if f.type in ("float", float):
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {f.name}={v!r}: must be a number") from None
        elif not isinstance(v, str):
            raise ConfigError(f"{source}: {f.name}={v!r}: must be a string")
        kwargs[f.name] = v
    return EmbodimentSpec(**kwargs)


def load_embodiment_file(path: str | Path) -> EmbodimentSpec:
    """Load one embodiment YAML file (registered or the user's own)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"embodiment file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}
    return _from_mapping(data, str(path))


#: Bodies made in this process (:func:`register_embodiment`), looked up after the files.
_GENERATED: dict[str, EmbodimentSpec] = {}


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, EmbodimentSpec]:
    folder = embodiments_dir()
    specs = {}
    for path in sorted(folder.glob("*.yaml")):
        spec = load_embodiment_file(path)
        if spec.name != path.stem:
            raise ConfigError(f"{path}: name {spec.name!r} must match the file name")
        specs[spec.name] = spec
    if not specs:
        raise ConfigError(f"no embodiment files found in {folder}")
    return specs


def register_embodiment(spec: EmbodimentSpec) -> None:
    """Make a generated body known by name in this process (e.g. a sweep's random bodies).

    The body is data, like a YAML file; registering it lets the simulator and the episode
    seeds refer to it by its name rather than by a file path. It replaces an earlier
    generated body of the same name; a registered file of the same name cannot be replaced.

    Raises:
        ConfigError: ``spec.name`` is the name of a body from ``sim/embodiments/``.
    """
    if spec.name in _registry():
        raise ConfigError(f"embodiment {spec.name!r}: a registered body has this name")
    _GENERATED[spec.name] = spec


def list_embodiments(split: str | None = None) -> list[str]:
    """Registered embodiment names, optionally only those of one split."""
    return [n for n, s in _registry().items() if split is None or s.split == split]


def get_embodiment(name_or_path: str | EmbodimentSpec) -> EmbodimentSpec:
    """Look up a registered embodiment by name, or load a YAML file path.

    Raises:
        ConfigError: for an unknown name, listing the known ones.
    """
    if isinstance(name_or_path, EmbodimentSpec):
        return name_or_path
    key = str(name_or_path)
    reg = _registry()
    if key in reg:
        return reg[key]
    if key in _GENERATED:
        return _GENERATED[key]
    if _is_path(key):
        return load_embodiment_file(key)
    from compass_nav.contract.body_generator import body_from_name

    generated = body_from_name(key)
    if generated is not None:
        return generated
    raise ConfigError(
        f"unknown embodiment {key!r}; known embodiments: {', '.join(reg)} "
        "(or give the path of a YAML file, or random-s<seed>-i<index>)"
    )


def _is_path(key: str) -> bool:
    return key.endswith((".yaml", ".yml")) or "/" in key


#: Groups an ``--embodiments`` list may name.
GROUPS = ("all", "train", "heldout")


def expand_embodiments(values: Sequence[str]) -> tuple[str, ...]:
    """Resolve an ``--embodiments`` list into body names, checking every one.

    Each value is a registered name, a YAML path (kept as given, so that every process
    reloads the file), a group (``all``, ``train``, ``heldout``: the registered bodies of
    that split) or ``random:<n>`` / ``random:<n>@seed=<s>``: ``n`` procedural bodies drawn
    from the envelope with seed ``s`` (default 0), named ``random-s<s>-i<k>``
    (:mod:`compass_nav.contract.body_generator`). Repeats are dropped, order kept.

    Raises:
        ConfigError: An unknown name, an unreadable or invalid file (naming the field, the
            value and the allowed range), a malformed ``random:`` spec, or an empty list.
    """
    from compass_nav.contract.body_generator import parse_random_spec

    out: list[str] = []
    for v in values:
        v = str(v).strip()
        if v in GROUPS:
            names = list_embodiments(None if v == "all" else v)
        else:
            names = parse_random_spec(v) or [v]
        for n in names:
            get_embodiment(n)
            if n not in out:
                out.append(n)
    if not out:
        raise ConfigError("embodiments: expected at least one body")
    return tuple(out)


def body_key(name_or_path: str | EmbodimentSpec) -> str:
    """The key that stands for a body in episode seeds and caches.

    A registered or generated body is keyed by its name (stable: the name determines it). A
    body given as a file is keyed by its content, ``file-<sha256 prefix>`` of every physical
    field (:meth:`EmbodimentSpec.content_hash`): the same file moved or copied elsewhere
    gets the same episodes, an edited one gets new ones.
    """
    if isinstance(name_or_path, EmbodimentSpec):
        spec = name_or_path
        if _registry().get(spec.name) == spec or _GENERATED.get(spec.name) == spec:
            return spec.name
        from compass_nav.contract.body_generator import body_from_name

        if body_from_name(spec.name) == spec:
            return spec.name
        return f"file-{spec.content_hash()[:16]}"
    key = str(name_or_path)
    if not _is_path(key) or key in _registry() or key in _GENERATED:
        return key
    return f"file-{get_embodiment(key).content_hash()[:16]}"
