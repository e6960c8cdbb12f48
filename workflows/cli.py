"""What every workflow shares: YAML config + `key=value` overrides, seeding, connecting to Ray."""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from pairalign.config import ConfigError, apply_overrides, from_dict, resolve_paths

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
T = TypeVar("T")


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config; a top-level `base: other.yaml` is loaded first, then updated by it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    return _merge(load_yaml(path.parent / base), data)


def load_config(cls: type[T], path: str | Path, overrides: Sequence[str] = ()) -> T:
    """The stage config `cls` from a YAML file with `key=value` overrides applied."""
    return from_dict(cls, apply_overrides(load_yaml(path), overrides))


def parse_args(
    cls: type[T],
    default_config: str,
    argv: Sequence[str] | None = None,
    description: str | None = None,
) -> T:
    """Parse `[--config FILE] [key=value ...]` into the stage config `cls`; exits 2 on a bad config.
    Its paths (`PathStr` fields) come back absolute, resolved against the current directory: Ray
    workers and actors run elsewhere."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Overrides are key=value, dotted for nested keys; the keys and their defaults are "
        f"those of {CONFIG_DIR / default_config}.",
    )
    parser.add_argument("--config", default=str(CONFIG_DIR / default_config), help="YAML config")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="full configs and figure dicts on the console too (= log_level=debug)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides (and log_level=...)")
    args = parser.parse_args(argv)
    overrides = [o for o in args.overrides if not o.startswith("log_level=")]
    levels = [o.partition("=")[2] for o in args.overrides if o.startswith("log_level=")]
    level = "DEBUG" if args.verbose else (levels[-1].upper() if levels else "INFO")
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        parser.error(f"log_level={levels[-1]}: expected debug, info, warning or error")
    logging.getLogger("pairalign").setLevel(level)
    try:
        return resolve_paths(load_config(cls, args.config, overrides), os.getcwd())
    except ConfigError as err:
        parser.error(str(err))
        raise  # unreachable: parser.error exits


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass


def init_ray(
    address: str | None = None, num_cpus: int | None = None, object_store_bytes: int | None = None
) -> None:
    """Join the running cluster (`ray job submit`, RAY_ADDRESS) or start a local one sized
    explicitly."""
    # Ray Data's INFO lines go to its log file, not the console, in every process of a local
    # cluster (its workers inherit this variable) and in this driver.
    os.environ.setdefault(
        "RAY_DATA_LOGGING_CONFIG", str(Path(__file__).with_name("ray_data_logging.yaml"))
    )
    if not sys.stdout.isatty():  # no colour codes in logs written to files
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    quiet_known_ray_warnings()
    import ray
    from ray.data import DataContext

    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(logging.WARNING)
    # Progress bars garble logs that are not a terminal (CI, `ray job logs`).
    DataContext.get_current().enable_progress_bars = sys.stdout.isatty()
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
        return
    ray.init(
        num_cpus=num_cpus or os.cpu_count(),
        object_store_memory=object_store_bytes or 1 << 30,
        # Ray Train's controller polls the state API, which the dashboard serves; on loopback only.
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        log_to_driver=True,
    )


class _DropMessages(logging.Filter):
    """Drops log records whose message starts with one of `prefixes`."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


# Ray 2.60's notices that say nothing about the run (logger, message start): token authentication
# turned on, its default for a new local cluster; the progress bars this module turns off off a
# terminal.
_NOTICES = (
    (
        "ray._private.authentication.authentication_token_setup",
        "Token authentication is enabled for this Ray cluster",
    ),
    ("ray.data._internal.progress", "Progress bars disabled"),
)


def quiet_known_ray_warnings() -> None:
    """Silence, where Ray allows it, the notices Ray prints on every run that say nothing about
    this run (README, "What the console shows", lists the ones it does not allow): Python logging
    and warning filters in this process, set before Ray starts. Nothing about Ray's behaviour
    changes (token authentication stays on, as Ray starts it)."""
    for logger, message in _NOTICES:
        if not any(isinstance(f, _DropMessages) for f in logging.getLogger(logger).filters):
            logging.getLogger(logger).addFilter(_DropMessages(message))
    # Ray Train sets a deprecated Ray Data option on every run (ray 2.60); in this process at least
    # (Ray's own filter shows it again in its actors, which load Ray after any of ours).
    warnings.filterwarnings("ignore", message="`ExecutionOptions.exclude_resources` is deprecated")
    # Ray Train's INFO lines in this process (e.g. "A run snapshot was found in storage folder"
    # when a finished run's checkpoint is looked up) stay in Ray's log files.
    logging.getLogger("ray.train").setLevel(logging.WARNING)


def setup_logging() -> logging.Logger:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout
    )
    return logging.getLogger("pairalign")


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
