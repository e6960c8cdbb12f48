"""Measure a checkpoint's token strings on held-out clips, VQ and (stage 2) PairAlign side by side.

Clean clips give token rate, archive tokens, length spread, vocabulary usage and the
distinct-string rate; paired views of the same clips (a fixed evaluation seed) give cross-view
consistency. Keys are namespaced by tokenizer: `vq/...`, `pairalign/...`, `compare/...`.
"""

from __future__ import annotations

import itertools
import tempfile

import numpy as np
import pyarrow as pa

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.views import ViewConfig
from pairalign.evaluation.string_metrics import (
    content_distinctness,
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.jobs.paired_views import build_paired_views
from pairalign.tokenizing.tokenizer import Tokenizer

EVAL_VIEW_SEED = 12345  # the views every evaluation compares (fixed, unlike training)


def evaluate_strings(checkpoint: str, rows: pa.Table, views: ViewConfig, *, run_id: str = "",
                     tracking_uri: str = "", batch_size: int = 32) -> dict[str, float]:  # fmt: skip
    """VQ-string figures of `checkpoint` on `rows` (a manifest slice), logged to MLflow if given."""
    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    kinds = {"vq": tokenizer.vq_strings}
    if tokenizer.decoder is not None:
        kinds["pairalign"] = tokenizer.pairalign_strings
    eval_views = ViewConfig(**{**views.__dict__, "seed": EVAL_VIEW_SEED})
    audio, seconds, content = _clean_audio(rows, views.sample_rate)
    pairs = view_batches(rows, eval_views, batch_size)
    figures = {
        "eval/clips": float(len(audio)),
        "vq/frame_rate": 1.0 / tokenizer.config.frame_seconds,
    }
    for kind, fn in kinds.items():
        clean = tokenize_clips(fn, audio, seconds, batch_size, views.clip_samples)
        strings_a, strings_b = [], []
        for wave_a, secs_a, wave_b, secs_b in pairs:
            strings_a += fn(wave_a, secs_a)
            strings_b += fn(wave_b, secs_b)
        figures |= string_stats(clean, seconds, kind)
        figures |= content_distinctness(clean, content, kind)
        figures |= vocabulary_usage(clean, tokenizer.vocab_size, kind)
        figures |= cross_view_consistency(strings_a, strings_b, kind)
    if "pairalign" in kinds:
        figures["compare/token_reduction"] = 1 - figures["pairalign/tokens"] / figures["vq/tokens"]
    if run_id and tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        client = mlflow.MlflowClient()
        client.log_batch(
            run_id,
            metrics=[mlflow.entities.Metric(f"eval/{k}", v, 0, 0) for k, v in figures.items()],
        )
    return figures


def _clean_audio(
    rows: pa.Table, sample_rate: int
) -> tuple[list[np.ndarray], list[float], list[str]]:
    audio, content = [], []
    for row in rows.to_pylist():
        try:
            audio.append(load_row_audio(row, sample_rate=sample_rate))
        except AudioError:
            continue  # the views pipeline records rejects; clean figures skip them
        content.append(row.get("content_id") or row["utterance_id"])
    return audio, [len(x) / sample_rate for x in audio], content


def tokenize_clips(fn, audio: list[np.ndarray], seconds: list[float], batch_size: int,
                   min_samples: int) -> list[list[int]]:  # fmt: skip
    """Strings of clips of any length, each zero-padded to `min_samples` (the training views'
    length) or left as long as it is, and batched only with clips padded to the same length: the
    front end normalises over the whole padded input, so a clip's string must not depend on
    which clips share its batch."""
    lengths = [max(len(x), min_samples) for x in audio]
    order = sorted(range(len(audio)), key=lengths.__getitem__)
    strings: list[list[int]] = [[] for _ in audio]
    for length, group in itertools.groupby(order, key=lengths.__getitem__):
        group = list(group)
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            padded = np.zeros((len(chunk), length), np.float32)  # (B, N)
            for j, i in enumerate(chunk):
                padded[j, : len(audio[i])] = audio[i]
            for i, s in zip(chunk, fn(padded, [seconds[i] for i in chunk]), strict=True):
                strings[i] = s
    return strings


def view_batches(rows: pa.Table, views: ViewConfig, batch_size: int):
    """Both views of each clip with where their real audio ends, materialised once."""
    out = []
    with tempfile.TemporaryDirectory() as rejects:
        ds = build_paired_views(rows, views, rejects_dir=rejects)
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
            pair = []
            for key in ("a", "b"):
                secs = batch["source_seconds"] / batch[f"warp_{key}"] + np.maximum(
                    batch[f"shift_{key}"], 0
                )
                pair += [batch[f"view_{key}"], np.minimum(secs, views.clip_seconds).tolist()]
            out.append(tuple(pair))
    return out
