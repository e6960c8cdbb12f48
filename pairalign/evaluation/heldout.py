"""Held-out figures for choosing among tokenizers: the eval split cut in two halves by sentence.

The distinct content ids (sentences) of the eval split are sorted; the even-ranked ones make the
`dev` half, on which a sweep measures every checkpoint and picks its best trial, and the odd-ranked
ones the `test` half, left untouched until the chosen tokenizer is compared with a baseline. (The
built-in corpus's test sentences are s0172..s0271: dev = the even-numbered sentences, 50 x 8
voices.) Every rendition of a sentence stays in its half, so each query has relevant renditions by
other voices.

Figures of one checkpoint on one half, keys `<half>/<kind>/...` (kind `pairalign` for a stage-2
checkpoint, `vq` for its VQ strings or a stage-1 checkpoint): `measure_tokenizer`
(pairalign/evaluation/figures.py) on the half's clips, with cross-view consistency from the fixed
evaluation views of its first `view_clips` clips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pyarrow as pa

from pairalign.data.splits import half_rows
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import (
    ClipSet,
    frame_code_figures,
    load_clips,
    measure_tokenizer,
)
from pairalign.models.checkpoint import load_checkpoint
from pairalign.tokenizing.kinds import PairAlignStrings, VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer


@dataclass(frozen=True)
class HeldoutConfig:
    sentences: int = 0  # sentences of a half measured at each checkpoint (0: all), every voice
    view_clips: int = 100  # clips whose two fixed views give cross-view consistency (0: none)
    ks: tuple[int, ...] = (1, 5, 10)  # precision at k
    batch_size: int = 32  # clips per tokenizer call
    # also the aligned-frame code agreement across voices of the stage-1 codes (with `vq`
    # strings; DTW over every cross-voice pair: tens of seconds on a half)
    aligned_codes: bool = False


def load_heldout(rows: pa.Table, half: str, views: ViewConfig, config: HeldoutConfig) -> ClipSet:
    """Clean audio of `rows` and the fixed evaluation views of the first `view_clips` of them."""
    return load_clips(
        rows, views, name=half, view_clips=config.view_clips, batch_size=config.batch_size
    )


def heldout_figures(
    tokenizer: Tokenizer,
    data: ClipSet,
    config: HeldoutConfig,
    kinds: Sequence[str] = ("pairalign",),
) -> dict[str, float]:
    """Figures of `tokenizer`'s strings of each kind on `data`, keys `<half>/<kind>/...`.
    A stage-1 checkpoint has only `vq` strings; asking it for `pairalign` ones gives `vq`."""
    if tokenizer.decoder is None:
        kinds = ["vq"]
    figures = {f"{data.name}/clips": float(len(data.ids))}
    for kind in dict.fromkeys(kinds):
        strings_of = PairAlignStrings(tokenizer) if kind == "pairalign" else VQStrings(tokenizer)
        figures |= measure_tokenizer(
            strings_of, data, f"{data.name}/{kind}", ks=config.ks, batch_size=config.batch_size
        )
    if config.aligned_codes and "vq" in kinds:
        figures |= frame_code_figures(tokenizer, data, f"{data.name}/vq")
    return figures


def measure_halves(
    checkpoints: dict[str, str],
    manifest: pa.Table,
    split: str,
    views: ViewConfig,
    config: HeldoutConfig,
) -> dict[str, float]:
    """Each named checkpoint on every sentence of both halves, PairAlign and VQ strings; keys
    `<name>/<half>/<kind>/...`, and `<name>/step` (the checkpoint's training step)."""
    config = replace(config, sentences=0)
    figures: dict[str, float] = {}
    for half in ("dev", "test"):
        data = load_heldout(half_rows(manifest, split, half), half, views, config)
        for name, path in checkpoints.items():
            tokenizer = Tokenizer.from_checkpoint(path)
            measured = heldout_figures(tokenizer, data, config, kinds=("pairalign", "vq"))
            figures |= {f"{name}/{k}": v for k, v in measured.items()}
            figures[f"{name}/step"] = float(load_checkpoint(path)["step"])
    return figures


TABLE_COLUMNS = (
    "token_rate",
    "map",
    "mrr",
    "precision_at_1",
    "consistency",
    "cross_voice_consistency",
    "vocab_used",
    "distinct_across_content",
)


def halves_table(
    figures: dict[str, float], names: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of `measure_halves` figures: one row per checkpoint, half and kind."""
    header = ["checkpoint", "step", "half", "strings", *TABLE_COLUMNS]
    cells = []
    for name in names:
        for half in ("dev", "test"):
            for kind in ("pairalign", "vq"):
                key = f"{name}/{half}/{kind}"
                if f"{key}/map" in figures:
                    cells.append(
                        [
                            name,
                            f"{figures[f'{name}/step']:g}",
                            half,
                            kind,
                            *(f"{figures.get(f'{key}/{c}', math.nan):.4g}" for c in TABLE_COLUMNS),
                        ]
                    )
    return header, cells
