"""The evaluation suite's report: the summary table, the comparisons with the VQ strings and the
best dense tokenizer, and one MLflow run with every figure, the table (Markdown, CSV) and plots."""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.storage import url_to_fs
from pairalign.evaluation.plots import (
    TokenRow,
    best_per_rate,
    map_vs_rate,
    sweep_drift,
    tokens_on_spectrogram,
)
from pairalign.jobs.tokenize_job import TokenizeConfig
from pairalign.jobs.tracking import end_mlflow_run, mlflow_run
from pairalign.models.frontend import LogMel
from pairalign.stages.config import tracking_uri
from pairalign.tokenizing.kinds import PairAlignStrings, TokenizerSpec, VQStrings, load_tokenizer
from pairalign.tokenizing.tokenizer_kind import TokenizerKind
from pairalign.tokenizing.windows import token_spans
from pairalign.units import SAMPLE_RATE

if TYPE_CHECKING:
    from pairalign.jobs.evaluation_suite import EvaluateConfig

TABLE_COLUMNS = {  # summary column -> figure (without the tokenizer prefix)
    "tokens/s": "token_rate",
    "archive tokens": "tokens",
    "MAP": "map",
    "P@1": "precision_at_1",
    "P@5": "precision_at_5",
    "MRR": "mrr",
    "consistency": "consistency",
    "cross-voice": "cross_voice_consistency",
    "vocab used": "vocab_used",
    "perplexity": "perplexity",
    "distinct": "distinct_rate",
    "unrelated dist": "unrelated_distance",
    "sweep overlap": "sweep_overlap",
    "sweep length cv": "sweep_length_cv",
    "drift @1s": "sweep_drift_1s",
}


def summary_row(spec: TokenizerSpec, found: dict[str, float]) -> dict:
    row = {"tokenizer": spec.name, "kind": spec.kind}
    for column, key in TABLE_COLUMNS.items():
        row[column] = found.get(f"{spec.name}/{key}", float("nan"))
    return row


def comparisons(figures: dict[str, float], specs: list[TokenizerSpec]) -> dict[str, float]:
    out = {}
    names = {s.name for s in specs}
    if {"pairalign", "vq"} <= names:
        out["compare/token_reduction_vs_vq"] = (
            1 - figures["pairalign/tokens"] / figures["vq/tokens"]
        )
        out["compare/map_minus_vq"] = figures["pairalign/map"] - figures["vq/map"]
    dense = [s.name for s in specs if s.kind == TokenizerKind.DENSE]
    if dense and "pairalign" in names:
        rate = figures["pairalign/token_rate"]
        # the best dense tokenizer at no more than 1.5x PairAlign's rate: a like-for-like rival
        near = [d for d in dense if figures[f"{d}/token_rate"] <= 1.5 * rate]
        if near:
            best = max(near, key=lambda d: figures[f"{d}/map"])
            out["compare/best_dense_map_at_rate"] = figures[f"{best}/map"]
            out["compare/best_dense_rate_at_rate"] = figures[f"{best}/token_rate"]
        out["compare/best_dense_map_any_rate"] = max(figures[f"{d}/map"] for d in dense)
    return out


def format_table(summary: list[dict]) -> str:
    """The summary as a Markdown table (also what the terminal shows)."""
    header = ["tokenizer", *TABLE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary:
        cells = [row["tokenizer"]]
        for column in TABLE_COLUMNS:
            value = row[column]
            cells.append(
                f"{value:.0f}"
                if column == "archive tokens"
                else f"{value:.3f}"
                if abs(value) < 10
                else f"{value:.1f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def log_run(
    config: EvaluateConfig,
    figures: dict[str, float],
    summary: list[dict],
    curves: dict,
    specs: list[TokenizerSpec],
    rows: pa.Table,
) -> None:
    """A new MLflow run with every figure, the table and the plots (FAILED if logging fails)."""
    uri = tracking_uri(config.tracking, config.storage_path)
    name = config.name or time.strftime("eval-%Y%m%d-%H%M%S", time.gmtime())
    run_id = mlflow_run(config.tracking, config.storage_path, name, config, resume=False)
    chance = float(np.nanmean([figures.get(f"{s.name}/chance_map", np.nan) for s in specs]))
    try:
        table = _log_figures(config, uri, run_id, figures, summary, curves, specs, rows, chance)
    except BaseException:
        end_mlflow_run(uri, run_id, "FAILED")
        raise
    end_mlflow_run(uri, run_id, "FINISHED")
    print(table)
    dense = [r for r in summary if r["kind"] == "dense"]
    if dense:
        best = best_per_rate(
            [{"name": r["tokenizer"], "token_rate": r["tokens/s"], "map": r["MAP"]} for r in dense]
        )
        print(
            "best dense tokenizer at each rate: "
            + ", ".join(f"{b['token_rate']:.1f}/s {b['name']} MAP {b['map']:.3f}" for b in best)
        )
    print(
        f"chance MAP {chance:.3f}; MLflow run {name} ({run_id}, {uri}); "
        f"table and plots in {config.out_dir}"
    )


def _log_figures(
    config: EvaluateConfig,
    uri: str,
    run_id: str,
    figures: dict[str, float],
    summary: list[dict],
    curves: dict,
    specs: list[TokenizerSpec],
    rows: pa.Table,
    chance: float,
) -> str:
    import mlflow

    client = mlflow.MlflowClient(uri)
    now = int(time.time() * 1000)
    metrics = [
        mlflow.entities.Metric(k, float(v), now, 0) for k, v in figures.items() if np.isfinite(v)
    ]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])
    # dense tokenizers first, then the learned ones, so the table reads from baseline to method
    table = format_table(sorted(summary, key=lambda r: (r["kind"] != "dense", r["tokenizer"])))
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "summary.md": table + "\n",
            "figures.json": json.dumps(figures, indent=2, sort_keys=True),
        }
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        with open(os.path.join(tmp, "summary.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(summary[0]))
            writer.writeheader()
            writer.writerows(summary)
        plot_rows = [
            {
                "name": r["tokenizer"],
                "kind": r["kind"],
                "token_rate": r["tokens/s"],
                "map": r["MAP"],
            }
            for r in summary
        ]
        map_vs_rate(plot_rows, os.path.join(tmp, "map_vs_rate.png"), chance=chance)
        if curves:
            kinds = {s.name: s.kind for s in specs}
            sweep_drift(
                curves,
                kinds,
                config.sweep.step,
                config.sweep.window,
                os.path.join(tmp, "sweep_drift.png"),
            )
        _spectrogram_plot(
            specs, rows, config.tokenize, os.path.join(tmp, "tokens_on_spectrogram.png"), summary
        )
        client.log_artifacts(run_id, tmp)
        out_fs, out_path = url_to_fs(config.out_dir)
        out_fs.makedirs(out_path, exist_ok=True)
        for name in os.listdir(tmp):
            out_fs.put_file(os.path.join(tmp, name), f"{out_path}/{name}")
    return table


def _spectrogram_plot(
    specs: list[TokenizerSpec],
    rows: pa.Table,
    tokenize: TokenizeConfig,
    path: str,
    summary: list[dict],
) -> None:
    """The first clip's strings over its spectrogram: one row each for PairAlign, VQ and the dense
    tokenizer nearest PairAlign's rate (or VQ's), each token at the span its own timing gives;
    the clip is padded to the window as the archive job does (its first window if longer)."""
    audio, row = _first_clip(rows)
    if audio is None:
        return
    width = round(tokenize.window_seconds * SAMPLE_RATE)
    audio = audio[:width]
    padded = np.zeros((1, width), np.float32)
    padded[0, : len(audio)] = audio
    seconds = len(audio) / SAMPLE_RATE
    rates = {r["tokenizer"]: r["tokens/s"] for r in summary}
    token_rows = [
        _token_row(load_tokenizer(spec), spec, padded, seconds, rates.get(spec.name))
        for spec in _plotted(specs, rates)
    ]
    if not token_rows:
        return
    import torch

    with torch.no_grad():
        logmel = LogMel()(torch.from_numpy(audio)[None])[0].numpy()
    tokens_on_spectrogram(
        logmel, 0.01, token_rows, path, title=f"{row['utterance_id']}: {row.get('text') or ''}"
    )


def _first_clip(rows: pa.Table) -> tuple[np.ndarray | None, dict]:
    for row in rows.to_pylist():
        try:
            return load_row_audio(row, sample_rate=SAMPLE_RATE), row
        except AudioError:
            continue
    return None, {}


def _plotted(specs: list[TokenizerSpec], rates: dict[str, float]) -> list[TokenizerSpec]:
    """PairAlign and VQ, then the dense tokenizer whose rate is nearest theirs."""
    learned = [s for s in specs if s.kind in ("pairalign", "vq")]
    dense = [s for s in specs if s.kind == "dense" and np.isfinite(rates.get(s.name, np.nan))]
    if learned and dense:
        rate = rates.get(learned[0].name, np.nan)
        dense = [min(dense, key=lambda s: abs(rates[s.name] - rate) if np.isfinite(rate) else 0)]
    return learned + dense[:1]


def _token_row(
    tokenizer, spec: TokenizerSpec, padded: np.ndarray, seconds: float, rate: float | None
) -> TokenRow:
    """A tokenizer's string of the clip with spans from its own timing: the PairAlign timing head,
    the VQ runs' frames, or the dense tokens' pooled frames."""
    if isinstance(tokenizer, PairAlignStrings):
        decoded = tokenizer.tokenizer.decode(padded, [seconds])
        tokens, spans = (
            decoded.strings[0],
            decoded.timing[0].numpy() * tokenizer.tokenizer.timing_seconds,
        )
    elif isinstance(tokenizer, VQStrings):
        values, starts, ends = tokenizer.tokenizer.string_runs(padded, [seconds])[0]
        frame = tokenizer.tokenizer.config.frame_seconds
        tokens, spans = values.tolist(), np.stack([starts, ends], axis=1) * frame
    else:
        tokens, centres = tokenizer.timed(padded, [seconds])[0]
        tokens, spans = list(tokens), token_spans(centres, seconds)
    label = (
        spec.name if rate is None or not np.isfinite(rate) else f"{spec.name}\n{rate:.1f} tokens/s"
    )
    return TokenRow(label, spec.kind, [int(t) for t in tokens], np.clip(spans, 0, seconds))
