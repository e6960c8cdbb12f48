"""Checkpoint files: one `checkpoint.pt` holding weights, the model config and the stage config.

Loaded with `torch.load(weights_only=True)`: only tensors and plain Python values are stored, so a
checkpoint can be trusted to load without running code.

Versions: 2 names the stage-2 model's stage-1 part `vq` (config and weights) and keeps its
`DecodingConfig` in the model config. A version-1 file is converted on load (`upgrade_v1`), once,
here: nothing else reads the old layout.
"""

from __future__ import annotations

import io
import os
from typing import Any

import torch

from pairalign.config import from_dict, to_dict
from pairalign.data.storage import join, url_to_fs
from pairalign.models.vq_model import ModelConfig

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT = "pairalign-checkpoint"
VERSION = 2
READABLE = (1, 2)


class CheckpointError(ValueError):
    """A file that is not a pairalign checkpoint, or of a version this code cannot read."""


def save_checkpoint(
    directory: str,
    *,
    model_config: Any,
    model_state: dict[str, torch.Tensor],
    stage: str,
    stage_config: dict[str, Any],
    step: int,
    **extra: Any,
) -> str:
    """Write `<directory>/checkpoint.pt`; `extra` holds plain values (optimizer state, run ids)."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "stage": stage,
        "step": step,
        "model_config": to_dict(model_config),
        "stage_config": stage_config,
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        **extra,
    }
    url = join(directory, CHECKPOINT_FILE)
    fs, path = url_to_fs(url)
    fs.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with fs.open(path, "wb") as f:
        f.write(buffer.getvalue())
    return url


def load_checkpoint(path: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint file, or the `checkpoint.pt` inside a checkpoint directory."""
    fs, fs_path = url_to_fs(str(path))
    if fs.isdir(fs_path):
        fs_path = f"{fs_path.rstrip('/')}/{CHECKPOINT_FILE}"
    if not fs.exists(fs_path):
        raise CheckpointError(f"{path}: no checkpoint found (expected {CHECKPOINT_FILE})")
    with fs.open(fs_path, "rb") as f:
        data = f.read()
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for foreign pickles
        raise CheckpointError(f"{path}: not a loadable checkpoint ({err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a pairalign checkpoint")
    if payload.get("version") not in READABLE:
        raise CheckpointError(
            f"{path}: checkpoint version {payload.get('version')}, expected one of {READABLE}"
        )
    return upgrade_v1(payload) if payload["version"] == 1 else payload


# what version-1 stage-2 checkpoints decoded with when they carried no `decoding` entry
V1_DECODING = {"target_rate": 12.5, "decode_slack": 1.5, "clip_seconds": 3.0}


def upgrade_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """A version-1 payload in the version-2 layout: a stage-2 model's `tokenizer` config and
    weights become `vq`, and its untyped `decoding` dict the model config's `decoding`."""
    out = {**payload, "version": VERSION}
    if payload["stage"] != "refine":
        return out
    config = {("vq" if k == "tokenizer" else k): v for k, v in payload["model_config"].items()}
    old = {**V1_DECODING, **out.pop("decoding", {})}
    config["decoding"] = {"rate": old["target_rate"], "slack": old["decode_slack"],
                          "timing_seconds": old["clip_seconds"]}  # fmt: skip
    out["model_config"] = config
    for key in ("model", "teacher"):
        if key in out:
            out[key] = {_renamed(k): v for k, v in out[key].items()}
    return out


def _renamed(key: str) -> str:
    return "vq." + key.removeprefix("tokenizer.") if key.startswith("tokenizer.") else key


# model-config keys added after checkpoints were first written, with the value those checkpoints
# were trained with (the dataclass default may have moved on since)
BEFORE_KEY = {("encoder", "positions"): "absolute"}


def checkpoint_model_config(payload: dict[str, Any]):
    """The model config of a checkpoint: `ModelConfig` (stage 1) or `PairAlignConfig` (stage 2)."""
    if payload["stage"] == "refine":
        from pairalign.models.pairalign_model import PairAlignConfig

        config = dict(payload["model_config"])
        config["vq"] = _with_old_keys(config["vq"])
        return from_dict(PairAlignConfig, config)
    return from_dict(ModelConfig, _with_old_keys(payload["model_config"]))


def _with_old_keys(model_config: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in model_config.items()}
    for (section, key), value in BEFORE_KEY.items():
        out.setdefault(section, {}).setdefault(key, value)
    return out
