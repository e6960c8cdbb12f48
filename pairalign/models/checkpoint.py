"""Checkpoint files: one `checkpoint.pt` holding weights, the model config and the stage config.

Loaded with `torch.load(weights_only=True)`: only tensors and plain Python values are stored, so a
checkpoint can be trusted to load without running code. A checkpoint is named as people name it
(`resolve_checkpoint`): a checkpoint directory, its `checkpoint.pt`, a run directory (its latest
checkpoint), or a weights-only tokenizer file (`export_tokenizer`: model config and weights, no
optimizer state, format `pairalign-tokenizer`).

Versions: 2 names the stage-2 model's stage-1 part `vq` (config and weights) and keeps its
`DecodingConfig` in the model config. 3 writes the decoder section per kind (`DecoderConfig`:
shared keys, `kind`, and only that kind's own section, `decoder.free` or `decoder.segment`) and
moves the decoding budget's slack into `decoder.free`. Older files are converted on load, once,
here (`upgrade_v1`, then `upgrade_v2`): nothing else reads an old layout. Exported tokenizer files:
version 2 may record the kind of strings measured best (`default_kind`: pairalign or vq, with
`kind_note`, the measurement); version 1 has neither and reads as "no recorded choice"; both have
the version-2 checkpoints' layout, and version 3 that of version-3 checkpoints.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import torch

from pairalign.config import from_dict, to_dict
from pairalign.data.storage import join, url_to_fs
from pairalign.models.vq_model import ModelConfig

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT = "pairalign-checkpoint"
VERSION = 3
EXPORT_FORMAT = "pairalign-tokenizer"  # weights-only: what `export_tokenizer` writes
EXPORT_VERSION = 3  # version-3 checkpoints' layout; 2 added the optional default_kind, kind_note
READABLE = {FORMAT: (1, 2, VERSION), EXPORT_FORMAT: (1, 2, EXPORT_VERSION)}
CURRENT = {FORMAT: VERSION, EXPORT_FORMAT: EXPORT_VERSION}
EXPORT_KINDS = ("pairalign", "vq")  # what an export may record as its default kind
_NOUN = {FORMAT: "checkpoint", EXPORT_FORMAT: "exported tokenizer"}
EXPECTED = (
    "expected a checkpoint directory (checkpoint_<time>/ holding checkpoint.pt), its "
    "checkpoint.pt, a run directory (its latest checkpoint is used) or an exported tokenizer .pt"
)


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
    _write(payload, url)
    return url


def _write(payload: dict[str, Any], url: str) -> None:
    """`torch.save` of `payload` to a local path or URL, its folder made first."""
    fs, path = url_to_fs(url)
    fs.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with fs.open(path, "wb") as f:
        f.write(buffer.getvalue())


def resolve_checkpoint(path: str) -> str:
    """The checkpoint `path` names: a checkpoint directory or file as given, a run directory's
    latest checkpoint (highest step, then newest name). Anything else raises `CheckpointError`
    in one line saying what was expected; nothing is unpickled here."""
    path = str(path)
    fs, fs_path = url_to_fs(path)
    fs.invalidate_cache()
    if not path or not fs.exists(fs_path):
        raise CheckpointError(f"{path or '(empty)'}: no such file or directory; {EXPECTED}")
    if fs.isdir(fs_path):
        if fs.exists(f"{fs_path.rstrip('/')}/{CHECKPOINT_FILE}"):
            return path
        found = _run_checkpoints(fs, fs_path)
        if not found:
            raise CheckpointError(
                f"{path}: a directory with no {CHECKPOINT_FILE} and no "
                f"checkpoint_*/ holding one; {EXPECTED}"
            )
        return join(path.rstrip("/"), found[-1])
    name = os.path.basename(fs_path)
    if name == "checkpoint_manager_snapshot.json":
        raise CheckpointError(
            f"{path}: Ray Train's record of a run, not a checkpoint; give the "
            f"run directory ({os.path.dirname(path)}) for its latest checkpoint, "
            f"or one of its checkpoint_<time>/ directories"
        )
    with fs.open(fs_path, "rb") as f:
        magic = f.read(4)
    if magic[:2] != b"PK":  # torch.save writes a zip archive
        raise CheckpointError(
            f"{path}: not a checkpoint file (not written by torch.save); {EXPECTED}"
        )
    return path


def _run_checkpoints(fs: Any, run_dir: str) -> list[str]:
    """A run directory's checkpoint_*/ with a checkpoint.pt, oldest first (by step, then name)."""
    found = []
    for directory in fs.glob(f"{run_dir.rstrip('/')}/checkpoint_*"):
        if not fs.isdir(directory) or not fs.exists(f"{directory}/{CHECKPOINT_FILE}"):
            continue
        step = -1
        if fs.exists(f"{directory}/step.json"):
            with fs.open(f"{directory}/step.json") as f:
                step = int(json.load(f).get("step", -1))
        found.append((step, os.path.basename(directory.rstrip("/"))))
    return [name for _, name in sorted(found)]


def load_checkpoint(path: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint (any name `resolve_checkpoint` accepts) or an exported tokenizer file."""
    path = resolve_checkpoint(path)
    fs, fs_path = url_to_fs(str(path))
    if fs.isdir(fs_path):
        fs_path = f"{fs_path.rstrip('/')}/{CHECKPOINT_FILE}"
    with fs.open(fs_path, "rb") as f:
        data = f.read()
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for foreign pickles
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a loadable checkpoint ({first}); {EXPECTED}") from err
    kind = payload.get("format") if isinstance(payload, dict) else None
    if kind not in READABLE:
        raise CheckpointError(f"{path}: a torch file, but not a pairalign checkpoint; {EXPECTED}")
    if payload.get("version") not in READABLE[kind]:
        raise CheckpointError(
            f"{path}: {_NOUN[kind]} version {payload.get('version')}, "
            f"expected one of {READABLE[kind]}"
        )
    if (kind, payload["version"]) == (FORMAT, 1):
        payload = upgrade_v1(payload)
    return upgrade_v2(payload) if payload["version"] < CURRENT[kind] else payload


# what version-1 stage-2 checkpoints decoded with when they carried no `decoding` entry
V1_DECODING = {"target_rate": 12.5, "decode_slack": 1.5, "clip_seconds": 3.0}


def upgrade_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """A version-1 payload in the version-2 layout: a stage-2 model's `tokenizer` config and
    weights become `vq`, and its untyped `decoding` dict the model config's `decoding`."""
    out = {**payload, "version": 2}
    if payload["stage"] != "refine":
        return out
    config = {("vq" if k == "tokenizer" else k): v for k, v in payload["model_config"].items()}
    old = {**V1_DECODING, **out.pop("decoding", {})}
    config["decoding"] = {
        "rate": old["target_rate"],
        "slack": old["decode_slack"],
        "timing_seconds": old["clip_seconds"],
    }
    out["model_config"] = config
    for key in ("model", "teacher"):
        if key in out:
            out[key] = {_renamed(k): v for k, v in out[key].items()}
    return out


def _renamed(key: str) -> str:
    return "vq." + key.removeprefix("tokenizer.") if key.startswith("tokenizer.") else key


# version-2 keys (model-config section, key) that only one decoder kind reads, by kind
V2_OWN_KEYS = {
    "free": (("decoder", "memory_positions"), ("decoding", "slack")),
    "segment": (
        ("decoder", "boundary_logit"),
        ("decoder", "copy_logit"),
        ("decoder", "max_segment_frames"),
    ),
}


def upgrade_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A version-2 payload (checkpoint, or exported tokenizer of version 1 or 2) in the
    version-3 layout: the keys that only the decoder's kind reads move into `decoder.<kind>`
    (`decoding.slack` becomes `decoder.free.slack`), the other kind's are dropped (that decoder
    never read them). A segment decoder gets no `decoder.vq_strings`: its prior stays what a
    version-2 prior read, the stage-1 strings' short-run merge alone (`decoder.min_run_frames`;
    `DecoderConfig.strings`), even where the payload's `vq_strings` set groups, a rate or dpdp,
    so its strings do not change. Weights as they are; keys a file lacks stay missing."""
    out = {**payload, "version": CURRENT[payload["format"]]}
    if payload["stage"] != "refine":
        return out
    config = dict(payload["model_config"])
    sections = {name: dict(config.get(name, {})) for name in ("decoder", "decoding")}
    kind = sections["decoder"].get("kind", "free")
    own = {}
    for owner, keys in V2_OWN_KEYS.items():
        for section, key in keys:
            if key in sections[section]:
                value = sections[section].pop(key)
                if owner == kind:
                    own[key] = value
    out["model_config"] = {
        **config,
        "decoder": {"kind": kind, **sections["decoder"], kind: own},
        "decoding": sections["decoding"],
    }
    return out


def export_tokenizer(
    checkpoint: str,
    out_path: str,
    *,
    dtype: torch.dtype = torch.float32,
    default_kind: str = "",
    kind_note: str = "",
) -> str:
    """Write the weights-only tokenizer file of `checkpoint` (any name `resolve_checkpoint`
    accepts) to `out_path`: model config (decoding settings included), weights (as `dtype`),
    string settings, the step and where it came from; no optimizer or stage config. With
    `default_kind` (pairalign or vq) the file records which strings `kind: auto` gives, and
    `kind_note` the measurement that decided it. `Tokenizer.from_checkpoint` loads it, and so does
    `torch.load(out_path, weights_only=True)`."""
    source = resolve_checkpoint(checkpoint)
    payload = load_checkpoint(source)
    chosen = _default_kind(payload["stage"], default_kind, kind_note)
    weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in payload["model"].items()}
    exported = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "stage": payload["stage"],
        "step": payload["step"],
        "model_config": payload["model_config"],
        "model": weights,
        "source": _source_name(source),
        **({"vq_strings": payload["vq_strings"]} if "vq_strings" in payload else {}),
        **chosen,
    }
    _write(exported, out_path)
    return out_path


def _default_kind(stage: str, kind: str, note: str) -> dict[str, str]:
    """The export's `default_kind` and `kind_note` entries ({} when no kind is chosen)."""
    if not kind:
        if note:
            raise CheckpointError("a kind note explains a default kind: give the default kind too")
        return {}
    if kind not in EXPORT_KINDS:
        raise CheckpointError(f"default kind {kind!r} is not one of {list(EXPORT_KINDS)}")
    if kind == "pairalign" and stage != "refine":
        raise CheckpointError(
            f"default kind pairalign needs a decoder; a {stage} checkpoint has "
            "none (its strings are vq)"
        )
    return {"default_kind": kind, "kind_note": note}


def _source_name(source: str) -> str:
    """'<run>/<checkpoint dir>' of a checkpoint path: where an export came from, without the
    machine's own directories."""
    parts = [p for p in source.rstrip("/").split("/") if p and p != CHECKPOINT_FILE]
    return "/".join(parts[-2:])


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
