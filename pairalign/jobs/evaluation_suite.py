"""The evaluation suite: tokenized archives of a held-out split, measured side by side.

Tokenizers: `pairalign` and `vq` from a refine `checkpoint` (just `vq` from a stage-1 one), every
dense baseline under `dense_dir` (workflows/dense.py), and any listed in `tokenizers`. Each is
tokenized into `<out_dir>/archives/<name>` by workflows/tokenize_archive.py (skipped when already there),
then measured (see ../shared/PAPER.md, "How we measure"):

- token rate, archive tokens, length spread, vocabulary use (codes, entropy, perplexity),
  distinct strings, strings shared across sentences and the mean distance between clips of
  different sentences (non-degeneracy), from the archive;
- retrieval: every clip queries the archive by normalised edit distance, renditions of its
  sentence by other voices are the relevant ones (its own voice is left out); MAP, P@k, MRR and
  the MAP of a random ranking;
- cross-view consistency on paired views of the first `consistency_clips` clips (fixed seed);
- the continuous-sweep probe: 3 s windows moved in 100 ms steps over long utterances (clips of one
  voice joined), neighbour overlap, length spread, drift from the first window by shift.

Each evaluation is a new MLflow run (named `name`, default eval-<UTC time>); it holds every figure as `<tokenizer>/<figure>`, the summary table (Markdown, CSV) and
plots: MAP against tokens per second, the sweep drift, a PairAlign string over its spectrogram.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pairalign.config import PathStr
from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.storage import join, url_to_fs
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import EVAL_VIEW_SEED, view_batches
from pairalign.evaluation.plots import (
    best_per_rate,
    map_vs_rate,
    sweep_drift,
    tokens_on_spectrogram,
)
from pairalign.evaluation.retrieval import retrieval_metrics
from pairalign.evaluation.search import distance_matrix
from pairalign.evaluation.string_metrics import (
    content_distinctness,
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.evaluation.sweep_probe import mean_drift, sweep_figures, sweep_windows
from pairalign.jobs.corpus import CorpusConfig
from pairalign.jobs.tokenize_job import TokenizeConfig, tokenize_archives
from pairalign.jobs.tracking import TrackingConfig, end_mlflow_run, mlflow_run, tracking_uri
from pairalign.models.checkpoint import load_checkpoint
from pairalign.models.frontend import LogMel
from pairalign.tokenizing.archive import read_archive
from pairalign.tokenizing.kinds import PairAlignStrings, TokenizerSpec, load_tokenizer
from pairalign.units import SAMPLE_RATE

log = logging.getLogger("pairalign.evaluate")


@dataclass(frozen=True)
class SweepConfig:
    utterances: int = 8  # long utterances, one per voice
    clips_per_utterance: int = 3  # clips of one voice joined into each
    window: float = 3.0  # seconds
    step: float = 0.1  # seconds between window starts
    shifts: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)  # drift reported at these shifts


@dataclass(frozen=True)
class EvaluateConfig:
    name: str = ""  # the MLflow run name; "" -> eval-<UTC time>. Every evaluation is a new run.
    out_dir: PathStr = "runs/eval"  # archives, table and plots
    storage_path: PathStr = "runs"  # where the default MLflow store lives (as for training)
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    split: str = "test"
    max_clips: int = 0  # 0 -> the whole split
    checkpoint: PathStr = ""  # a refine checkpoint (pairalign + vq) or a stage-1 one (vq)
    dense_dir: PathStr = ""  # every dense-k*-p*/dense.pt under it
    tokenizers: tuple[TokenizerSpec, ...] = ()  # more tokenizers, by name, kind and checkpoint
    ks: tuple[int, ...] = (1, 5, 10)  # precision at k
    consistency_clips: int = 200
    views: ViewConfig = field(default_factory=ViewConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)  # batch/pool/device settings
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def tokenizer_specs(config: EvaluateConfig) -> list[TokenizerSpec]:
    specs = []
    if config.checkpoint:
        stage = load_checkpoint(config.checkpoint)["stage"]
        if stage == "refine":
            specs.append(TokenizerSpec("pairalign", "pairalign", config.checkpoint))
        specs.append(TokenizerSpec("vq", "vq", config.checkpoint))
    if config.dense_dir:
        fs, root = url_to_fs(config.dense_dir)
        found = sorted(p for p in fs.glob(f"{root}/dense-k*-p*/dense.pt"))
        if not found:
            raise FileNotFoundError(
                f"{config.dense_dir}: no dense-k*-p*/dense.pt (run workflows/dense.py)"
            )
        for path in found:
            name = path.rstrip("/").split("/")[-2]
            url = (
                path
                if "://" not in config.dense_dir
                else f"{config.dense_dir.split('://')[0]}://{path}"
            )
            specs.append(TokenizerSpec(name, "dense", url))
    specs += list(config.tokenizers)
    if not specs:
        raise ValueError("nothing to evaluate: set checkpoint=, dense_dir= or tokenizers=")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"tokenizer names must be unique: {names}")
    return specs


def eval_rows(config: EvaluateConfig, manifest: pa.Table) -> pa.Table:
    """The clips measured: the split, sentence by sentence (so `max_clips` keeps every voice of
    the first sentences and retrieval still has renditions to find)."""
    rows = manifest.filter(pc.equal(manifest["split"], config.split))
    if not len(rows):
        raise ValueError(f"the manifest has no clips in split {config.split!r}")
    rows = rows.sort_by([("content_id", "ascending"), ("utterance_id", "ascending")])
    return rows.slice(0, config.max_clips) if config.max_clips else rows


def archive_figures(name: str, archive_dir: str, rows: pa.Table, vocab_size: int,
                    ks: Sequence[int]) -> dict[str, float]:  # fmt: skip
    """Figures of one tokenizer's archive, over the clips of `rows` it holds."""
    table = read_archive(archive_dir)
    meta = {
        r["utterance_id"]: r
        for r in rows.select(["utterance_id", "speaker", "content_id"]).to_pylist()
    }
    kept = [r for r in table.to_pylist() if r["utterance_id"] in meta]
    kept.sort(key=lambda r: r["utterance_id"])
    strings = [r["tokens"] for r in kept]
    content = [meta[r["utterance_id"]]["content_id"] or r["utterance_id"] for r in kept]
    speakers = [meta[r["utterance_id"]]["speaker"] or r["utterance_id"] for r in kept]
    figures = string_stats(strings, [r["duration"] for r in kept], name)
    figures |= vocabulary_usage(strings, vocab_size, name)
    figures |= content_distinctness(strings, content, name)
    distances = distance_matrix(strings, strings)
    ids = np.arange(len(strings))
    figures |= retrieval_metrics(distances, content, content, speakers, speakers, name, ks=ks,
                                 query_ids=ids, archive_ids=ids)  # fmt: skip
    unrelated = np.asarray(content)[:, None] != np.asarray(content)[None, :]
    figures[f"{name}/unrelated_distance"] = (
        float(distances[unrelated].mean()) if unrelated.any() else float("nan")
    )
    return figures


def consistency(tokenizer, pairs) -> dict[str, float]:
    strings_a, strings_b = [], []
    for wave_a, secs_a, wave_b, secs_b in pairs:
        strings_a += tokenizer(wave_a, secs_a)
        strings_b += tokenizer(wave_b, secs_b)
    return cross_view_consistency(strings_a, strings_b, tokenizer.name)


def long_utterances(rows: pa.Table, sweep: SweepConfig) -> list[np.ndarray]:
    """Clips of one voice joined end to end, one utterance per voice (voices in name order)."""
    by_voice: dict[str, list[dict]] = {}
    for row in rows.to_pylist():
        by_voice.setdefault(row["speaker"] or "", []).append(row)
    out = []
    for voice in sorted(by_voice)[: sweep.utterances]:
        audio = []
        for row in by_voice[voice]:
            try:
                audio.append(load_row_audio(row, sample_rate=SAMPLE_RATE))
            except AudioError:
                continue
            if len(audio) == sweep.clips_per_utterance:
                break
        joined = np.concatenate(audio) if audio else np.zeros(0, np.float32)
        if len(joined) >= round((sweep.window + max(sweep.shifts)) * SAMPLE_RATE):
            out.append(joined)
    return out


def sweep_strings(
    tokenizer, utterances: list[np.ndarray], sweep: SweepConfig
) -> list[list[list[int]]]:
    out = []
    for audio in utterances:
        windows = np.stack(sweep_windows(audio, SAMPLE_RATE, sweep.window, sweep.step))
        strings = []
        for i in range(0, len(windows), 64):
            strings += tokenizer(windows[i : i + 64], [sweep.window] * len(windows[i : i + 64]))
        out.append(strings)
    return out


def evaluate(config: EvaluateConfig, manifest: pa.Table) -> dict[str, float]:
    """Tokenize (where needed) and measure every tokenizer; log one MLflow run; return figures."""
    specs = tokenizer_specs(config)
    rows = eval_rows(config, manifest)
    archives = join(config.out_dir, "archives")
    eval_views = replace(config.views, seed=EVAL_VIEW_SEED)
    pairs = view_batches(rows.slice(0, config.consistency_clips), eval_views, batch_size=32)
    utterances = long_utterances(rows, config.sweep)
    figures: dict[str, float] = {
        "eval/clips": float(len(rows)),
        "eval/sweep_utterances": float(len(utterances)),
    }
    curves, summary = {}, []
    tokenize_config = replace(config.tokenize, out_dir=archives, split="", max_clips=0)
    all_totals = tokenize_archives(tokenize_config, rows, specs)
    for spec in specs:
        start, totals = time.perf_counter(), all_totals[spec.name]
        tokenizer = load_tokenizer(spec)
        found = archive_figures(
            spec.name, join(archives, spec.name), rows, tokenizer.vocab_size, config.ks
        )
        found |= consistency(tokenizer, pairs)
        swept = sweep_strings(tokenizer, utterances, config.sweep) if utterances else []
        if swept:
            found |= sweep_figures(swept, config.sweep.step, config.sweep.shifts, spec.name)
            curves[spec.name] = mean_drift(swept)
        found[f"{spec.name}/rejects"] = totals["rejects"]
        figures |= found
        summary.append(_summary_row(spec, found))
        log.info("%s measured in %.1f s: %.2f tokens/s, MAP %.3f", spec.name, time.perf_counter() - start,
                 found[f"{spec.name}/token_rate"], found[f"{spec.name}/map"])  # fmt: skip
    figures |= _comparisons(figures, specs)
    _log_run(config, figures, summary, curves, specs, rows)
    return figures


TABLE_COLUMNS = {  # summary column -> figure (without the tokenizer prefix)
    "tokens/s": "token_rate", "archive tokens": "tokens", "MAP": "map", "P@1": "precision_at_1",
    "P@5": "precision_at_5", "MRR": "mrr", "consistency": "consistency", "vocab used": "vocab_used",
    "perplexity": "perplexity", "distinct": "distinct_rate", "unrelated dist": "unrelated_distance", "sweep overlap": "sweep_overlap",
    "sweep length cv": "sweep_length_cv", "drift @1s": "sweep_drift_1s",
}  # fmt: skip


def _summary_row(spec: TokenizerSpec, found: dict[str, float]) -> dict:
    row = {"tokenizer": spec.name, "kind": spec.kind}
    for column, key in TABLE_COLUMNS.items():
        row[column] = found.get(f"{spec.name}/{key}", float("nan"))
    return row


def _comparisons(figures: dict[str, float], specs: list[TokenizerSpec]) -> dict[str, float]:
    out = {}
    names = {s.name for s in specs}
    if {"pairalign", "vq"} <= names:
        out["compare/token_reduction_vs_vq"] = (
            1 - figures["pairalign/tokens"] / figures["vq/tokens"]
        )
        out["compare/map_minus_vq"] = figures["pairalign/map"] - figures["vq/map"]
    dense = [s.name for s in specs if s.kind == "dense"]
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


def _log_run(config: EvaluateConfig, figures: dict[str, float], summary: list[dict], curves: dict,
             specs: list[TokenizerSpec], rows: pa.Table) -> None:  # fmt: skip
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
        print("best dense tokenizer at each rate: " + ", ".join(
            f"{b['token_rate']:.1f}/s {b['name']} MAP {b['map']:.3f}" for b in best))  # fmt: skip
    print(
        f"chance MAP {chance:.3f}; MLflow run {name} ({run_id}, {uri}); table and plots in {config.out_dir}"
    )


def _log_figures(config: EvaluateConfig, uri: str, run_id: str, figures: dict[str, float],
                 summary: list[dict], curves: dict, specs: list[TokenizerSpec], rows: pa.Table,
                 chance: float) -> str:  # fmt: skip
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
        plot_rows = [{"name": r["tokenizer"], "kind": r["kind"], "token_rate": r["tokens/s"], "map": r["MAP"]}
                     for r in summary]  # fmt: skip
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
            specs, rows, config.tokenize, os.path.join(tmp, "tokens_on_spectrogram.png")
        )
        client.log_artifacts(run_id, tmp)
        out_fs, out_path = url_to_fs(config.out_dir)
        out_fs.makedirs(out_path, exist_ok=True)
        for name in os.listdir(tmp):
            out_fs.put_file(os.path.join(tmp, name), f"{out_path}/{name}")
    return table


def _spectrogram_plot(
    specs: list[TokenizerSpec], rows: pa.Table, tokenize: TokenizeConfig, path: str
) -> None:
    """The first clip's PairAlign string over its spectrogram, each token at its timing-head span;
    the clip is padded to the window as the archive job does (its first window if longer)."""
    spec = next((s for s in specs if s.kind == "pairalign"), None)
    if spec is None:
        return
    tokenizer = load_tokenizer(spec)
    assert isinstance(tokenizer, PairAlignStrings)
    for row in rows.to_pylist():
        try:
            audio = load_row_audio(row, sample_rate=SAMPLE_RATE)
            break
        except AudioError:
            continue
    else:
        return
    width = round(tokenize.window_seconds * SAMPLE_RATE)
    audio = audio[:width]
    padded = np.zeros((1, width), np.float32)
    padded[0, : len(audio)] = audio
    decoded = tokenizer.tokenizer.decode(padded, [len(audio) / SAMPLE_RATE])
    spans = decoded.timing[0].numpy() * tokenizer.tokenizer.timing_seconds
    import torch

    with torch.no_grad():
        logmel = LogMel()(torch.from_numpy(audio)[None])[0].numpy()
    tokens_on_spectrogram(logmel, 0.01, decoded.strings[0], spans, path,
                          title=f"{row['utterance_id']}: {row.get('text') or ''}")  # fmt: skip
