"""Typed, frozen config dataclasses built from plain mappings, with `key=value` overrides.

The library never reads YAML files or parses a command line: workflows hand it a mapping (YAML with
`key=value` overrides applied, see `workflows/cli.py`). The dotted-key grammar is here, once:
`apply_overrides` (`a.b.c=value`, values parsed as YAML scalars) for the command line and
`set_dotted` (typed values, keys that must exist) for the sweep's trials. Unknown keys and wrong
types fail with a `ConfigError` that names the key and the problem.

A section whose shape depends on one of its keys (the `decoder` section: its `kind` chooses which
per-kind subsection it may hold) defines `from_mapping(data, where)` (a classmethod) and
`to_mapping()`; `from_dict` and `to_dict` use them for that section.

A field typed `PathStr` holds a local path or a URL. Ray workers and actors run in other working
directories than the process that read the config, so `resolve_paths` makes every such path
absolute against the caller's directory before the config is handed on (URLs are kept).
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

T = TypeVar("T")


class _PathMarker:
    """The `Annotated` tag of `PathStr`."""

    def __repr__(self) -> str:
        return "path"


_PATH = _PathMarker()
PathStr = Annotated[str, _PATH]  # a local path (resolved by `resolve_paths`) or a URL; "" = unset


class ConfigError(ValueError):
    """A config key is unknown, missing or of the wrong type."""


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "") -> T:
    """Build the dataclass `cls` from `data`, checking every key and value type (through
    `cls.from_mapping` where the section defines one)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if hasattr(cls, "from_mapping"):
        return cls.from_mapping(dict(data or {}), where)
    return from_fields(cls, data, where=where)


def from_fields(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "") -> T:
    """`from_dict` field by field: what a `from_mapping` builds its section's fields with."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        names = ", ".join(_join(where, k) for k in unknown)
        raise ConfigError(
            f"unknown config key(s): {names}; {cls.__name__} accepts: {', '.join(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, _join(where, name))
    missing = [
        _join(where, n)
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing required config key(s): {', '.join(missing)}")
    return cls(**kwargs)


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `data` with each `a.b.c=value` applied; values are parsed as YAML scalars."""
    import yaml

    values = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        values[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return set_dotted(data, values, what="override")


def set_dotted(
    data: Mapping[str, Any], values: Mapping[str, Any], *, existing: bool = False, what: str = "key"
) -> dict[str, Any]:
    """A copy of `data` with each dotted key of `values` (`a.b.c`) set to its value, in order. A
    part on the way that holds no section is an error naming the key (`what` says whose); with
    `existing`, so is a key that `data` lacks (else a missing section starts empty)."""
    out = _deep_copy(data)
    for key, value in values.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part) if existing else node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{what} {key!r}: {part!r} is not a section")
            node = child
        if existing and parts[-1] not in node:
            raise ConfigError(f"{what} {key!r}: no such key")
        node[parts[-1]] = value
    return out


def to_dict(config: Any) -> dict[str, Any]:
    """A plain, YAML- and JSON-safe dict of a config dataclass (tuples become lists); a section
    with `to_mapping` is written as that gives it."""
    return _plain(_as_dict(config))


def _as_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_mapping"):
            return value.to_mapping()
        return {f.name: _as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_as_dict(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_dict(v) for k, v in value.items()}
    return value


def resolve_paths(config: T, base_dir: str | os.PathLike[str]) -> T:
    """A copy of the config dataclass `config` with every `PathStr` field (in nested sections and
    tuples of sections too) made absolute against `base_dir` and normalised; `~` is expanded. URLs
    (anything with `://`) and "" are kept as they are."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"{config!r} is not a dataclass instance")
    return _resolve(type(config), config, os.path.abspath(base_dir))


def resolve_path(path: str, base_dir: str | os.PathLike[str]) -> str:
    """`path` made absolute against `base_dir`; a URL or "" as given."""
    if not path or "://" in path:
        return path
    return os.path.normpath(os.path.join(os.path.abspath(base_dir), os.path.expanduser(path)))


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to scalar values, as logged to MLflow params."""
    flat: dict[str, Any] = {}
    for key, value in (to_dict(config) if dataclasses.is_dataclass(config) else config).items():
        name = _join(prefix, key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def _resolve(hint: Any, value: Any, base_dir: str) -> Any:
    """`value`, declared as `hint`, with its paths resolved against the absolute `base_dir`."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = typing.get_type_hints(type(value), include_extras=True)
        return dataclasses.replace(
            value,
            **{
                f.name: _resolve(hints[f.name], getattr(value, f.name), base_dir)
                for f in dataclasses.fields(value)
                if f.init
            },
        )
    if isinstance(value, str) and _is_path(hint):
        return resolve_path(value, base_dir)
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if isinstance(value, tuple) and typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if args[1:] == (Ellipsis,):
            args = (args[0],) * len(value)
        return tuple(_resolve(a, v, base_dir) for a, v in zip(args, value, strict=True))
    return value


def _is_path(hint: Any) -> bool:
    """`hint` is `PathStr`, or a union with it (`PathStr | None`)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _PATH in args[1:]
    return origin in (typing.Union, types.UnionType) and any(_is_path(a) for a in args)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin is Annotated:  # PathStr and the like: checked as their underlying type
        return _coerce(args[0], value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: {value!r} matches none of {hint}")
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a section ({hint.__name__}), got {value!r}")
        return from_dict(hint, value, where=where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(
            _coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise ConfigError(
                f"{where}: {value!r} is not one of {[m.value for m in hint]}"
            ) from None
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is bool or hint is str:
        if isinstance(value, hint):
            return value
    else:
        raise ConfigError(f"{where}: unsupported config type {hint!r}")
    raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
