"""Measure a checkpoint's token strings on held-out clips: the figures issue 3 and 4 report.

Clean clips give token rate, length spread, vocabulary usage and the distinct-string rate; paired
views of the same clips (a fixed evaluation seed) give cross-view consistency.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pyarrow as pa

from pairalign.audio import AudioError, load_row_audio
from pairalign.metrics import cross_view_consistency, string_stats, vocabulary_usage
from pairalign.tokenizer import Tokenizer
from pairalign.views import ViewConfig
from workflows.paired_views import build_paired_views

EVAL_VIEW_SEED = 12345


def evaluate_strings(checkpoint: str, rows: pa.Table, views: ViewConfig, *, run_id: str = "",
                     tracking_uri: str = "", batch_size: int = 32) -> dict[str, float]:  # fmt: skip
    """VQ-string figures of `checkpoint` on `rows` (a manifest slice), logged to MLflow if given."""
    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    clean, seconds = _clean_strings(tokenizer, rows, views.sample_rate, batch_size)
    eval_views = ViewConfig(**{**views.__dict__, "seed": EVAL_VIEW_SEED})
    strings_a, strings_b = _view_strings(tokenizer, rows, eval_views, batch_size)
    figures = {
        **string_stats(clean, seconds, "vq"),
        **vocabulary_usage(clean, tokenizer.vocab_size, "vq"),
        **cross_view_consistency(strings_a, strings_b, "vq"),
        "vq/frame_rate": 1.0 / tokenizer.config.frame_seconds,
        "eval/clips": float(len(clean)),
    }
    if run_id and tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        client = mlflow.MlflowClient()
        client.log_batch(
            run_id,
            metrics=[mlflow.entities.Metric(f"eval/{k}", v, 0, 0) for k, v in figures.items()],
        )
    return figures


def _clean_strings(tokenizer: Tokenizer, rows: pa.Table, sample_rate: int, batch_size: int):
    strings: list[list[int]] = []
    seconds: list[float] = []
    audio = []
    for row in rows.to_pylist():
        try:
            audio.append(load_row_audio(row, sample_rate=sample_rate))
        except AudioError:
            continue  # the views pipeline records rejects; clean figures skip them
    for i in range(0, len(audio), batch_size):
        chunk = audio[i : i + batch_size]
        lengths = [len(x) for x in chunk]
        padded = np.zeros((len(chunk), max(lengths)), np.float32)
        for j, x in enumerate(chunk):
            padded[j, : len(x)] = x
        secs = [n / sample_rate for n in lengths]
        strings += tokenizer.vq_strings(padded, secs)
        seconds += secs
    return strings, seconds


def _view_strings(tokenizer: Tokenizer, rows: pa.Table, views: ViewConfig, batch_size: int):
    with tempfile.TemporaryDirectory() as rejects:
        ds = build_paired_views(rows, views, rejects_dir=rejects)
        strings_a: list[list[int]] = []
        strings_b: list[list[int]] = []
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
            for key, out in (("a", strings_a), ("b", strings_b)):
                secs = batch["source_seconds"] / batch[f"warp_{key}"] + np.maximum(
                    batch[f"shift_{key}"], 0
                )
                out += tokenizer.vq_strings(
                    batch[f"view_{key}"], np.minimum(secs, views.clip_seconds)
                )
    return strings_a, strings_b
