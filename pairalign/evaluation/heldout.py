"""Held-out figures for choosing among tokenizers: the eval split cut in two halves by sentence.

The distinct content ids (sentences) of the eval split are sorted; the even-ranked ones make the
`dev` half, on which a sweep measures every checkpoint and picks its best trial, and the odd-ranked
ones the `test` half, left untouched until the chosen tokenizer is compared with a baseline. (The
built-in corpus's test sentences are s0172..s0271: dev = the even-numbered sentences, 50 x 8 voices.)
Every rendition of a sentence stays in its half, so each query has relevant renditions by other
voices.

Figures of one checkpoint on one half, keys `<half>/<kind>/...` (kind `pairalign` for a stage-2
checkpoint, `vq` for its VQ strings or a stage-1 checkpoint): token rate, length, distinctness and
vocabulary use of the clean clips' strings, self-retrieval over them (`pairalign/evaluation/retrieval.py`: MAP,
MRR, precision@k, chance MAP), and cross-view consistency on the fixed evaluation views
(`workflows/string_eval.py`) of the first `view_clips` clips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import EVAL_VIEW_SEED, tokenize_clips, view_batches
from pairalign.evaluation.retrieval import self_retrieval
from pairalign.evaluation.string_metrics import (
    content_distinctness,
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.models.checkpoint import load_checkpoint
from pairalign.tokenizing.tokenizer import Tokenizer

Half = Literal["dev", "test"]


@dataclass(frozen=True)
class HeldoutConfig:
    sentences: int = 0  # sentences of a half measured at each checkpoint (0: all), every voice
    view_clips: int = 100  # clips whose two fixed views give cross-view consistency (0: none)
    ks: tuple[int, ...] = (1, 5, 10)  # precision at k
    batch_size: int = 32  # clips per tokenizer call


@dataclass
class HeldoutSet:
    """The audio of one half, loaded once (a sweep shares it through the object store)."""

    half: str
    audio: list[np.ndarray]  # [(N_i,)] clean clips at the view sample rate
    seconds: list[float]
    content: list[str]
    speakers: list[str]
    views: list[tuple]  # batches of (view_a (B, N), seconds_a, view_b (B, N), seconds_b)
    pad_samples: int  # clean clips are zero-padded to at least this, as the training views are


def half_rows(manifest: pa.Table, split: str, half: Half, sentences: int = 0) -> pa.Table:
    """The rows of `split` whose sentence is in `half`; the first `sentences` of them (0: all)."""
    rows = manifest.filter(pc.equal(manifest["split"], split))
    ids = sorted(set(rows["content_id"].to_pylist()))
    chosen = ids[0 if half == "dev" else 1 :: 2]
    if sentences:
        chosen = chosen[:sentences]
    if not chosen:
        raise ValueError(f"split {split!r} has no sentences for the {half} half")
    return rows.filter(pc.is_in(rows["content_id"], pa.array(chosen)))


def load_heldout(rows: pa.Table, half: str, views: ViewConfig, config: HeldoutConfig) -> HeldoutSet:
    """Clean audio of `rows` and the fixed evaluation views of the first `view_clips` of them."""
    audio, seconds, content, speakers = [], [], [], []
    for row in rows.to_pylist():
        try:
            wave = load_row_audio(row, sample_rate=views.sample_rate)
        except AudioError:
            continue  # a broken clip is left out of every figure
        audio.append(wave)
        seconds.append(len(wave) / views.sample_rate)
        content.append(row["content_id"])
        speakers.append(row["speaker"])
    eval_views = ViewConfig(**{**views.__dict__, "seed": EVAL_VIEW_SEED})
    pairs = (
        view_batches(rows.slice(0, config.view_clips), eval_views, config.batch_size)
        if config.view_clips
        else []
    )
    pad = round(views.clip_seconds * views.sample_rate)
    return HeldoutSet(half, audio, seconds, content, speakers, pairs, pad)


def heldout_figures(tokenizer: Tokenizer, data: HeldoutSet, config: HeldoutConfig,
                    kinds: Sequence[str] = ("pairalign",)) -> dict[str, float]:  # fmt: skip
    """Figures of `tokenizer`'s strings of each kind on `data`, keys `<half>/<kind>/...`.
    A stage-1 checkpoint has only `vq` strings; asking it for `pairalign` ones gives `vq`."""
    functions = {"pairalign": tokenizer.pairalign_strings, "vq": tokenizer.vq_strings}
    if tokenizer.decoder is None:
        kinds = ["vq"]
    figures = {f"{data.half}/clips": float(len(data.audio))}
    for kind in dict.fromkeys(kinds):
        fn, prefix = functions[kind], f"{data.half}/{kind}"
        strings = tokenize_clips(fn, data.audio, data.seconds, config.batch_size, data.pad_samples)
        figures |= string_stats(strings, data.seconds, prefix)
        figures |= content_distinctness(strings, data.content, prefix)
        figures |= vocabulary_usage(strings, tokenizer.vocab_size, prefix)
        figures |= self_retrieval(strings, data.content, data.speakers, prefix, ks=config.ks)
        if data.views:
            strings_a, strings_b = [], []
            for wave_a, secs_a, wave_b, secs_b in data.views:
                strings_a += fn(wave_a, secs_a)
                strings_b += fn(wave_b, secs_b)
            figures |= cross_view_consistency(strings_a, strings_b, prefix)
    return figures


def measure_halves(checkpoints: dict[str, str], manifest: pa.Table, split: str, views: ViewConfig,
                   config: HeldoutConfig) -> dict[str, float]:  # fmt: skip
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


TABLE_COLUMNS = ("token_rate", "map", "mrr", "precision_at_1", "consistency", "vocab_used",
                 "distinct_across_content")  # fmt: skip


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
                    cells.append([name, f"{figures[f'{name}/step']:g}", half, kind,
                                  *(f"{figures.get(f'{key}/{c}', math.nan):.4g}" for c in TABLE_COLUMNS)])  # fmt: skip
    return header, cells
