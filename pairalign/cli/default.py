"""Where the tokenizer shipped with the package lives, and what to do when it is not there."""

from __future__ import annotations

from pathlib import Path

DEFAULT_TOKENIZER = Path(__file__).resolve().parent.parent / "assets" / "default_tokenizer.pt"

BUILD_DEFAULT = (
    "build it once (about 25 minutes on 2 cores): python workflows/vq.py && "
    "python workflows/refine.py init_checkpoint=runs/vq-tiny && "
    f"python -m pairalign export runs/refine-tiny {DEFAULT_TOKENIZER}"
)


def missing_default_message() -> str:
    return (
        f"no default tokenizer: {DEFAULT_TOKENIZER} is not in this checkout; "
        f"pass --tokenizer <checkpoint, run directory or exported .pt>, or {BUILD_DEFAULT}"
    )
