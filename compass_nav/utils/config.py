"""Helpers for the package's dataclass configs: to/from plain dicts, YAML files, overrides.

Every stage owns frozen dataclass configs that validate themselves in ``__post_init__``
(using :func:`check`). This module is the only place that turns them into YAML (written next
to each checkpoint and exported model) and back, and :func:`resolve_config` is the one place
that layers a config: named preset (from the stage's data file ``configs/presets/<stage>.yaml``,
see :func:`stage_presets`) -> YAML file -> explicit values -> ``--set section.field=value``
overrides. Every CLI and trainer resolves its config through it.

Unknown keys are errors, never silently ignored: a typo in a config file must not train the
wrong thing for an hour. Values are type-checked while converting (see :func:`config_from_dict`):
ints are ints, bools are bools, floats are finite.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import math
import numbers
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from compass_nav.utils.atomic import atomic_write_text
from compass_nav.utils.errors import ConfigError

__all__ = [
    "ALLOW_INF",
    "apply_overrides",
    "check",
    "check_at_least",
    "check_names",
    "check_positive",
    "check_within",
    "config_from_dict",
    "config_to_dict",
    "deep_merge",
    "dump_yaml",
    "load_yaml_config",
    "read_yaml_mapping",
    "resolve_config",
    "resolve_run_config",
    "stage_presets",
]

#: Field metadata that lets a float field hold +-inf (NaN is never accepted), e.g.
#: ``limit: float = dataclasses.field(default=math.inf, metadata=ALLOW_INF)``.
ALLOW_INF = {"allow_inf": True}
#: Class attribute naming keys that moved: ``{"families": "episode.families"}``. An old key
#: is refused with a message naming its new place (configs written before the move fail
#: loudly instead of silently training with the defaults).
MOVED_KEYS_ATTR = "__moved_keys__"

T = TypeVar("T")


def check(condition: bool, field: str, value: Any, why: str) -> None:
    """Raise :class:`ConfigError` naming ``field`` and ``value`` unless ``condition`` holds.

    Meant for ``__post_init__``::

        check(self.lr > 0, "lr", self.lr, "must be positive")

    Args:
        condition: What must be true.
        field: Field name as the user writes it (dotted for nested configs if known).
        value: The offending value (shown with ``repr``).
        why: Short reason, e.g. ``"must be in (0, 1]"``.

    Raises:
        ConfigError: ``f"{field}={value!r}: {why}"`` when ``condition`` is false.
    """
    if not condition:
        raise ConfigError(f"{field}={value!r}: {why}")


def check_at_least(field: str, value: Any, minimum: float) -> None:
    """:func:`check` that ``value >= minimum`` (``"must be >= {minimum}"``)."""
    check(value >= minimum, field, value, f"must be >= {minimum}")


def check_positive(field: str, value: Any, unit: str = "") -> None:
    """:func:`check` that ``value > 0`` (``"must be > 0"``, then `` unit`` if given)."""
    check(value > 0, field, value, f"must be > 0{' ' + unit if unit else ''}")


def check_within(
    field: str, value: Any, low: float, high: float, unit: str = "", *, high_open: bool = False
) -> None:
    """:func:`check` that ``low <= value <= high`` (``"must be within [low, high]"``).

    With ``high_open``, ``low <= value < high`` (``"must be within [low, high)"``).
    """
    inside = low <= value < high if high_open else low <= value <= high
    bracket = ")" if high_open else "]"
    check(
        inside, field, value, f"must be within [{low}, {high}{bracket}{' ' + unit if unit else ''}"
    )


def check_names(field: str, names: Any) -> tuple[str, ...]:
    """Return ``names`` as a tuple after checking that it is non-empty and repeats no name.

    Lists (YAML, JSON) are accepted; the tuple keeps a frozen config hashable.
    """
    names = tuple(names)
    check(len(names) >= 1, field, names, "must not be empty")
    check(len(set(names)) == len(names), field, names, "must not repeat a name")
    return names


def config_to_dict(cfg: Any) -> Any:
    """Convert a (nested) dataclass config into YAML-friendly plain data.

    Dataclasses become dicts in field order, tuples and lists become lists, ``Path`` becomes
    ``str`` and enums become their value; other scalars pass through.

    Args:
        cfg: A dataclass instance (or any value inside one).

    Returns:
        Plain ``dict``/``list``/scalar data that ``yaml.safe_dump`` accepts.
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, Mapping):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (tuple, list)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, os.PathLike):
        return os.fspath(cfg)
    if isinstance(cfg, enum.Enum):
        return cfg.value
    return cfg


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of ``base`` with ``update`` merged in: nested mappings merge, other values replace."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping (an empty file is ``{}``).

    Raises:
        ConfigError: If the file is missing, not valid YAML, or not a mapping at the top.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: top level must be a mapping, got {type(data).__name__}")
    return dict(data)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _to_int(value: Any, where: str) -> int:
    """An int field's value: ints, and numbers or numeric strings that are exactly integral.

    PyYAML reads ``1e1`` (no dot) as a string, so ``--set steps=1e1`` arrives as ``"1e1"``;
    it is accepted as 10 because it is exactly integral. ``10.7``, ``"ten"``, ``inf`` and
    booleans (``true`` is never a count) are refused.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{where}={value!r}: expected an int, got a bool")
    if isinstance(value, numbers.Integral):  # int, numpy integers
        return int(value)
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{where}={value!r}: expected an int") from None
    if isinstance(number, numbers.Real):
        number = float(number)
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise ConfigError(f"{where}={value!r}: expected an int (a whole number)")
    raise ConfigError(f"{where}={value!r}: expected an int, got {type(value).__name__}")


def _to_float(value: Any, where: str, allow_inf: bool) -> float:
    """A float field's value: ints, floats and numeric strings (``1e-4``), finite.

    +-inf only where the field carries :data:`ALLOW_INF`; NaN never.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise ConfigError(f"{where}={value!r}: expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{where}={value!r}: expected a number") from None
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise ConfigError(f"{where}={value!r}: expected a finite number")
    return number


def _convert(
    tp: Any,
    value: Any,
    where: str,
    default: Any = dataclasses.MISSING,
    allow_inf: bool = False,
) -> Any:
    """Convert plain ``value`` into type ``tp`` (dataclasses, tuples, lists, dicts, scalars).

    Scalars are checked, not coerced blindly: see :func:`_to_int` and :func:`_to_float`;
    a ``bool`` field takes only ``true``/``false`` (YAML's own booleans, so ``yes`` parsed by
    YAML 1.1 is a bool, while ``1`` or ``"yes"`` are refused); a ``str`` field takes strings
    (and paths); ``None`` only where the field is ``Optional``.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if tp is Any or tp is object:
        return value
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(non_none[0], value, where, default, allow_inf)
        for a in non_none:
            try:
                return _convert(a, value, where, default, allow_inf)
            except ConfigError:
                continue
        expected = " or ".join(_type_name(a) for a in args)
        raise ConfigError(f"{where}={value!r}: expected {expected}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}={value!r}: must be one of {list(args)}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}={value!r}: expected a mapping for {tp.__name__}")
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            value = deep_merge(config_to_dict(default), value)
        return _from_dict(tp, value, prefix=f"{where}.")
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}={value!r}: expected a list")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [
                _convert(args[0], v, f"{where}[{i}]", allow_inf=allow_inf)
                for i, v in enumerate(value)
            ]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}={value!r}: expected {len(args)} items")
            pairs = enumerate(zip(args, value, strict=True))
            items = [_convert(a, v, f"{where}[{i}]", allow_inf=allow_inf) for i, (a, v) in pairs]
        elif args:
            items = [
                _convert(args[0], v, f"{where}[{i}]", allow_inf=allow_inf)
                for i, v in enumerate(value)
            ]
        else:
            items = list(value)
        return list(items) if origin is list or tp is list else tuple(items)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}={value!r}: expected a mapping")
        vtype = args[1] if len(args) == 2 else Any
        return {
            k: _convert(vtype, v, f"{where}.{k}", allow_inf=allow_inf) for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}={value!r}: expected a bool (true or false)")
        return value
    if tp is int:
        return _to_int(value, where)
    if tp is float:
        return _to_float(value, where, allow_inf)
    if tp is str:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where}={value!r}: expected a string, got {type(value).__name__}")
        return value
    if tp is Path:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"{where}={value!r}: expected a path, got {type(value).__name__}")
        return Path(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum) and not isinstance(value, tp):
        try:
            return tp(value)
        except ValueError:
            valid = [m.value for m in tp]
            raise ConfigError(f"{where}={value!r}: must be one of {valid}") from None
    return value


def _from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: expected a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    moved: Mapping[str, str] = getattr(cls, MOVED_KEYS_ATTR, {})
    for key in data:
        if key not in fields and key in moved:
            raise ConfigError(f"config key {prefix}{key} moved to {prefix}{moved[key]}")
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]!s} for {cls.__name__}; "
            f"valid keys: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            continue
        kwargs[name] = _convert(
            hints.get(name, Any),
            data[name],
            f"{prefix}{name}",
            default=_field_default(f),
            allow_inf=bool(f.metadata.get("allow_inf", False)),
        )
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and _field_default(f) is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing config key {prefix}{missing[0]} for {cls.__name__}")
    return cls(**kwargs)


def config_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass ``cls`` from plain data (the inverse of :func:`config_to_dict`).

    Nested dataclass fields are built recursively; a partial mapping for a nested field is
    merged over that field's default, so ``{"ppo": {"lr": 3e-4}}`` changes only ``lr``.
    Lists become tuples where the field is typed as a tuple. ``__post_init__`` validation runs
    as usual.

    Values are type-checked against the field annotations, and an error names the dotted
    field, the value and the expected type:

    - ``int``: ints; a float or numeric string only when exactly integral (``1e1`` and
      ``10.0`` are 10; ``10.7``, ``"ten"``, ``.inf`` are refused); never a bool.
    - ``bool``: only booleans as YAML parses them (``true``/``false``, and YAML 1.1's
      ``yes``/``no``); ``1`` and ``"yes"`` are refused.
    - ``float``: ints, floats and numeric strings (``1e-4``, which PyYAML reads as a string);
      NaN is refused, and +-inf unless the field's metadata is :data:`ALLOW_INF`.
    - ``str``: strings (and ``os.PathLike``); ``Optional[...]``: ``None`` or the inner type;
      tuples, lists and mappings element by element; nested dataclasses recursively.

    A key listed in the class's ``__moved_keys__`` is refused with its new place named.

    Args:
        cls: The dataclass type.
        data: Mapping of field name to value.

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: On an unknown or moved key (named, with the valid keys or the new
            place), a missing required key or a value of the wrong type.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"config_from_dict expects a dataclass type, got {cls!r}")
    return _from_dict(cls, data)


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``key.sub=value`` overrides applied.

    Values are parsed as YAML, so ``n=3`` is an int, ``flag=true`` a bool, ``size=[64,64]`` a
    list and ``name=carter`` a string.

    Args:
        data: Nested plain data.
        overrides: Items like ``"ppo.lr=1e-4"``.

    Returns:
        The updated nested dict (input is not modified).

    Raises:
        ConfigError: If an override has no ``=`` or an empty key, or walks through a
            non-mapping value.
    """
    out: dict[str, Any] = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r}: expected key.sub=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from None
        node: dict[str, Any] = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise ConfigError(f"override {item!r}: {where} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def load_yaml_config(
    cls: type[T],
    path: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
) -> T:
    """Load dataclass ``cls`` from a YAML file, then apply ``key=value`` overrides.

    Args:
        cls: The dataclass type.
        path: YAML file whose top level is a mapping; ``None`` starts from the defaults.
        overrides: Items like ``["ppo.lr=1e-4", "envs=8"]`` (see :func:`apply_overrides`).

    Returns:
        The validated config.

    Raises:
        ConfigError: If the file is missing or not a mapping, or any key/value is invalid.
    """
    return resolve_config(cls, config_file=path, overrides=overrides)


def stage_presets(stage: str) -> dict[str, dict[str, Any]]:
    """The named presets of ``stage`` from its data file ``configs/presets/<stage>.yaml``.

    The file's top level maps each preset name to plain overrides of the config's defaults
    (nested sections as mappings). It is found in the source checkout or the installed
    ``share/compass_nav/configs`` (see :func:`compass_nav.utils.paths.configs_dir`).

    Raises:
        ConfigError: If the file is missing, not YAML, or a preset is not a mapping.
    """
    from compass_nav.utils.paths import configs_dir

    path = configs_dir() / "presets" / f"{stage}.yaml"
    data = read_yaml_mapping(path)
    for name, values in data.items():
        if values is None:
            data[name] = {}
        elif not isinstance(values, Mapping):
            raise ConfigError(f"{path}: preset {name!r} must be a mapping")
    return data


def resolve_config(
    cls: type[T],
    *,
    preset: str | None = None,
    presets: Mapping[str, Mapping[str, Any]] | str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    values: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
) -> T:
    """The one config resolution: preset -> YAML file -> explicit values -> ``--set``.

    Every layer is plain data merged over the previous one (nested sections merge key by
    key); the result is converted and validated once by :func:`config_from_dict`, so unknown
    keys (with their dotted path), moved keys and badly typed values are refused whichever
    layer they came from. Nothing is written.

    Args:
        cls: The stage's dataclass config.
        preset: Name of the preset to start from (``None``: the dataclass defaults).
        presets: The stage's presets: a mapping ``name -> overrides`` or a stage name whose
            data file ``configs/presets/<stage>.yaml`` holds them (:func:`stage_presets`).
        config_file: A YAML file merged over the preset (``--config``).
        values: Explicit values merged next (dedicated flags such as ``--data``; ``None``
            entries are skipped).
        overrides: ``key.sub=value`` items applied last (``--set``; see
            :func:`apply_overrides`).
        base: Plain data to start from instead of a preset (a resumed run's own
            ``config.yaml``); not with ``preset``.

    Returns:
        The validated config.

    Raises:
        ConfigError: Unknown preset (the known ones listed), a missing or malformed file, an
            unknown key, a bad value, or ``base`` together with ``preset``.
    """
    if base is not None and preset is not None:
        raise ConfigError("a preset cannot be combined with a saved config (--resume)")
    data: dict[str, Any] = copy.deepcopy(dict(base)) if base is not None else {}
    if preset is not None:
        table = stage_presets(presets) if isinstance(presets, str) else dict(presets or {})
        if preset not in table:
            known = ", ".join(table) or "none"
            raise ConfigError(f"preset={preset!r}: unknown; known presets: {known}")
        data = deep_merge(data, config_to_dict(table[preset]))
    if config_file is not None:
        data = deep_merge(data, read_yaml_mapping(config_file))
    if values:
        data = deep_merge(data, {k: v for k, v in values.items() if v is not None})
    return config_from_dict(cls, apply_overrides(data, overrides))


def resolve_run_config(
    cls: type[T],
    stage: str,
    *,
    preset: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    values: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    resume_from: str | os.PathLike[str] | None = None,
) -> T:
    """A trainer's config as its ``--preset/--config/--set/--resume`` flags ask for it.

    A new run resolves ``preset`` (default ``default``) of ``configs/presets/<stage>.yaml``,
    then ``config_file``, ``values`` and ``overrides`` (:func:`resolve_config`). A resumed
    run starts from its own saved config ``resume_from`` instead (so it trains what it
    started training) and takes ``values`` and ``overrides`` only.

    Raises:
        ConfigError: For ``preset``/``config_file`` given with ``resume_from``, or any bad
            value.
    """
    if resume_from is not None:
        if config_file is not None or preset is not None:
            raise ConfigError(
                "--preset/--config cannot be combined with --resume: the run's "
                "config.yaml is used (change values with --set)"
            )
        base = read_yaml_mapping(resume_from)
        return resolve_config(cls, base=base, values=values, overrides=overrides)
    return resolve_config(
        cls,
        preset=preset or "default",
        presets=stage,
        config_file=config_file,
        values=values,
        overrides=overrides,
    )


def dump_yaml(cfg: Any, path: str | os.PathLike[str]) -> None:
    """Atomically write ``cfg`` (a dataclass or plain data) as YAML, fields in declared order.

    Args:
        cfg: Config to write.
        path: Destination file; parent directories are created.
    """
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)
    atomic_write_text(path, text)
