"""The one command line of every bench/ script, the workflows' grammar (workflows/cli.py):

    python -m bench.<benchmarks|experiments>.<script> [--config FILE] [key=value ...]

Each script's settings are a typed, frozen dataclass; its field defaults are the defaults, a YAML
file (`--config`; a bare name is looked up in bench/experiments/configs/, and `base: other.yaml`
works as in workflows/configs) replaces some of them, and dotted `key=value` overrides (values
parsed as YAML scalars: `rates=[6,7,8]`, `vcc=true`) come last. Unknown keys and wrong types are
refused with the key named; `-h` lists every key with its default.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pairalign.config import ConfigError, apply_overrides, from_dict
from workflows.cli import load_yaml

CONFIGS = Path(__file__).resolve().parent / "experiments" / "configs"
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One run of an experiment that trains several: its name and its workflow's overrides."""

    name: str  # the run's name
    overrides: tuple[str, ...] = ()  # key=value of the stage's workflow


def parse(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None) -> T:
    """`[--config FILE] [key=value ...]` into the settings `cls`; exits 2 on a bad key or value."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Overrides are key=value (dotted for nested keys). Keys and defaults:\n"
        + "\n".join(f"  {key} = {value}" for key, value in defaults(cls)),
    )
    parser.add_argument(
        "--config", default="", help="YAML settings (a bare name: in bench/experiments/configs/)"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)
    try:
        return settings(cls, args.config, args.overrides)
    except ConfigError as err:
        parser.error(str(err))
        raise  # unreachable: parser.error exits


def settings(cls: type[T], config: str | Path = "", overrides: Sequence[str] = ()) -> T:
    """The settings `cls`: its defaults, updated by the YAML file `config` and the overrides."""
    data: dict[str, Any] = {}
    if config:
        path = Path(config)
        if not path.exists() and (CONFIGS / path).exists():
            path = CONFIGS / path
        data = load_yaml(path)
    return from_dict(cls, apply_overrides(data, overrides))


def defaults(cls: type, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, default or "(required)") of every field of the dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    out = []
    for field in dataclasses.fields(cls):
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(hints[field.name]):
            out += defaults(hints[field.name], f"{key}.")
        elif field.default is not dataclasses.MISSING:
            out.append((key, _shown(field.default)))
        elif field.default_factory is not dataclasses.MISSING:
            out.append((key, _shown(field.default_factory())))
        else:
            out.append((key, "(required)"))
    return out


def _shown(value: Any) -> str:
    """A default as it is typed on the command line (tuples as YAML lists)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
