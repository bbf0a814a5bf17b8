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
import math
from pathlib import Path

import numpy as np
import yaml

from compass_nav.utils.errors import ConfigError
from compass_nav.utils.paths import sim_data_dir

KINDS = ("wheeled", "holonomic", "quadruped", "humanoid")
SPLITS = ("train", "heldout")

#: Order and meaning of the descriptor vector (SI units; angles in radians).
DESCRIPTOR_FIELDS: tuple[str, ...] = (
    "max_vx",  # forward speed limit, m/s
    "min_vx",  # reverse speed limit (<= 0), m/s
    "max_vy",  # lateral speed limit, m/s (0 for non-holonomic bodies)
    "max_wz",  # yaw-rate limit, rad/s
    "max_ax",  # longitudinal acceleration limit, m/s^2
    "max_ay",  # lateral acceleration limit, m/s^2
    "max_awz",  # yaw acceleration limit, rad/s^2
    "lag_tau",  # first-order velocity response time constant, s
    "length",  # footprint length along x, m
    "width",  # footprint width along y, m
    "camera_height",  # m above the floor
    "camera_pitch",  # rad, positive pitches the camera down
    "camera_hfov",  # rad
    "camera_bob",  # vertical camera oscillation amplitude while walking, m
    "holonomic",  # 1.0 if the body follows lateral velocity commands
)
DESCRIPTOR_DIM = len(DESCRIPTOR_FIELDS)


@dataclasses.dataclass(frozen=True)
class EmbodimentSpec:
    """A robot body as the simulator and policies see it.

    Attributes:
        name: Registry name (the file stem for registered bodies).
        kind: One of ``wheeled``, ``holonomic``, ``quadruped``, ``humanoid``.
        split: ``train`` bodies are used in training; ``heldout`` ones only for zero-shot tests.
        description: One line for listings.
        max_vx, min_vx, max_vy, max_wz: Velocity limits (m/s, rad/s); ``min_vx`` <= 0.
        max_ax, max_ay, max_awz: Acceleration limits (m/s^2, rad/s^2).
        lag_tau: Time constant of the first-order response to velocity commands, s. Legged
            bodies follow commands through a locomotion controller and respond more slowly.
        tracking_noise: Relative standard deviation of velocity tracking error.
        length, width: Rectangular footprint, m (centred on the body frame).
        camera_height, camera_pitch, camera_hfov_deg, camera_x: Camera mount.
        camera_bob: Vertical camera oscillation amplitude while walking, m.
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
        for f in ("max_vx", "max_wz", "max_ax", "max_awz", "length", "width", "camera_height"):
            if getattr(self, f) <= 0:
                raise bad(f, "must be > 0")
        for f in ("max_vy", "max_ay", "lag_tau", "camera_bob", "tracking_noise"):
            if getattr(self, f) < 0:
                raise bad(f, "must be >= 0")
        if self.min_vx > 0:
            raise bad("min_vx", "must be <= 0 (reverse speed limit)")
        if self.kind == "wheeled" and self.max_vy != 0:
            raise bad("max_vy", "a wheeled differential-drive body cannot move sideways: use 0")
        if not 20.0 <= self.camera_hfov_deg <= 170.0:
            raise bad("camera_hfov_deg", "must be within [20, 170] degrees")
        if not -0.8 <= self.camera_pitch <= 0.8:
            raise bad("camera_pitch", "must be within [-0.8, 0.8] rad")
        if not 0 < self.camera_near < self.camera_far:
            raise bad("camera_far", "must exceed camera_near > 0")
        if self.tracking_noise > 0.5:
            raise bad("tracking_noise", "must be <= 0.5")

    @property
    def holonomic(self) -> bool:
        """Whether the body follows lateral (vy) commands."""
        return self.max_vy > 0

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

    def descriptor(self) -> np.ndarray:
        """The numeric descriptor vector, ordered as :data:`DESCRIPTOR_FIELDS` (float32)."""
        values = {
            "camera_hfov": math.radians(self.camera_hfov_deg),
            "holonomic": 1.0 if self.holonomic else 0.0,
        }
        return np.array(
            [values[f] if f in values else getattr(self, f) for f in DESCRIPTOR_FIELDS],
            np.float32,
        )

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Clip (..., 3) actions to this body's limits; NaN stays NaN (callers reject it)."""
        return np.clip(action, self.action_low, self.action_high)

    def to_dict(self) -> dict:
        """Plain dict, as written in the YAML file."""
        return dataclasses.asdict(self)


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
    if key.endswith((".yaml", ".yml")) or "/" in key:
        return load_embodiment_file(key)
    raise ConfigError(
        f"unknown embodiment {key!r}; known embodiments: {', '.join(reg)} "
        "(or give the path of a YAML file)"
    )
