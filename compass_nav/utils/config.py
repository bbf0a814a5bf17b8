"""Helpers for the package's dataclass configs: to/from plain dicts, YAML files, overrides.

Every stage owns frozen dataclass configs that validate themselves in ``__post_init__``
(using :func:`check`). This module is the only place that turns them into YAML (written next
to each checkpoint and exported model) and back, and that applies command-line overrides of
the form ``section.field=value``. Unknown keys are errors, never silently ignored: a typo in a
config file must not train the wrong thing for an hour.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
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
    "apply_overrides",
    "check",
    "config_from_dict",
    "config_to_dict",
    "dump_yaml",
    "load_yaml_config",
]

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


def _convert(tp: Any, value: Any, where: str, default: Any = dataclasses.MISSING) -> Any:
    """Convert plain ``value`` into type ``tp`` (dataclasses, tuples, lists, dicts, scalars)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if tp is Any or tp is object:
        return value
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(non_none[0], value, where, default)
        return value
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
            items = [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}={value!r}: expected {len(args)} items")
            pairs = enumerate(zip(args, value, strict=True))
            items = [_convert(a, v, f"{where}[{i}]") for i, (a, v) in pairs]
        elif args:
            items = [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        else:
            items = list(value)
        return list(items) if origin is list or tp is list else tuple(items)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}={value!r}: expected a mapping")
        vtype = args[1] if len(args) == 2 else Any
        return {k: _convert(vtype, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        # PyYAML reads "1e-4" (no dot) as a string; accept it and ints for float fields.
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}={value!r}: expected a number") from None
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp is Path and isinstance(value, str):
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
            hints.get(name, Any), data[name], f"{prefix}{name}", default=_field_default(f)
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

    Args:
        cls: The dataclass type.
        data: Mapping of field name to value.

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: On an unknown key (named, with the valid keys listed), a missing
            required key or a value that cannot be converted.
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
    data = read_yaml_mapping(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    return config_from_dict(cls, data)


def dump_yaml(cfg: Any, path: str | os.PathLike[str]) -> None:
    """Atomically write ``cfg`` (a dataclass or plain data) as YAML, fields in declared order.

    Args:
        cfg: Config to write.
        path: Destination file; parent directories are created.
    """
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)
    atomic_write_text(path, text)
