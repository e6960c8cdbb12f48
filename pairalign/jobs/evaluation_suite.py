"""The evaluation suite: tokenized archives of a held-out split, measured side by side.

Tokenizers: `pairalign` and `vq` from a refine `checkpoint` (just `vq` from a stage-1 one), every
dense baseline under `dense_dir` (workflows/dense.py), and any listed in `tokenizers`. Each is
tokenized into `<out_dir>/archives/<name>` by the tokenization job (skipped when already there),
then measured (docs/method.md, "The measurements"):

- token rate, archive tokens, length spread, vocabulary use (codes, entropy, perplexity),
  distinct strings, strings shared across sentences and the mean distance between clips of
  different sentences (non-degeneracy), from the archive;
- retrieval: every clip queries the archive by normalised edit distance, renditions of its
  sentence by other voices are the relevant ones (its own voice is left out); MAP, P@k, MRR and
  the MAP of a random ranking;
- cross-view consistency on paired views of the first `consistency_clips` clips (fixed seed);
- the same figures (but the sweep) on each extra set of `eval_sets` (recorded speech, say),
  keys `<set>/<tokenizer>/...` and `<set>/compare/...`, in a table of their own;
- the continuous-sweep probe: 3 s windows moved in 100 ms steps over long utterances (clips of one
  voice joined), neighbour overlap, length spread, drift from the first window by shift.

Each evaluation is a new MLflow run (named `name`, default eval-<UTC time>); it holds every figure
as `<tokenizer>/<figure>`, the summary table (Markdown, CSV) and plots: MAP against tokens per
second, the sweep drift, a PairAlign string over its spectrogram.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Literal

import pyarrow as pa

from pairalign.config import PathStr
from pairalign.data.corpora.spec import CorpusConfig, CorpusSpec
from pairalign.data.storage import join, url_to_fs
from pairalign.data.views import ViewConfig
from pairalign.evaluation.eval_sets import EvalSetSpec, eval_set_figures, load_eval_set
from pairalign.evaluation.figures import ClipSet, load_clips, measure_tokenizer
from pairalign.evaluation.sweep_probe import (
    SweepProbeConfig,
    long_utterances,
    mean_drift,
    sweep_figures,
    sweep_strings,
)
from pairalign.jobs.evaluation_report import comparisons, format_table, log_run, summary_row
from pairalign.jobs.tokenize_job import TokenizeConfig, tokenize_archives
from pairalign.models.checkpoint import load_checkpoint
from pairalign.progress import progress_line
from pairalign.stages import stage_named
from pairalign.stages.config import TrackingConfig
from pairalign.tokenizing.archive import read_archive
from pairalign.tokenizing.kinds import TokenizerSpec, load_tokenizer, resolve_spec

log = logging.getLogger("pairalign.evaluate")


@dataclass(frozen=True)
class EvaluateConfig:
    name: str = ""  # the MLflow run name; "" -> eval-<UTC time>. Every evaluation is a new run.
    out_dir: PathStr = "runs/eval"  # archives, table and plots
    storage_path: PathStr = "runs"  # where the default MLflow store lives (as for training)
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    split: str = "test"
    half: Literal["", "dev", "test"] = ""  # "": the whole split; dev/test: one half by sentence
    max_clips: int = 0  # 0 -> the whole split
    checkpoint: PathStr = ""  # a refine checkpoint (pairalign + vq) or a stage-1 one (vq)
    dense_dir: PathStr = ""  # every dense-k*-p*/dense.pt under it
    tokenizers: tuple[TokenizerSpec, ...] = ()  # more tokenizers, by name, kind and checkpoint
    eval_sets: tuple[EvalSetSpec, ...] = ()  # more corpora measured beside the split (no sweep)
    ks: tuple[int, ...] = (1, 5, 10)  # precision at k
    consistency_clips: int = 200
    views: ViewConfig = field(default_factory=ViewConfig)
    sweep: SweepProbeConfig = field(default_factory=SweepProbeConfig)
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)  # batch/pool/device settings
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def spec(self) -> CorpusSpec:
        """The clips measured, as a `CorpusSpec` of `corpus`: `split`, `half`, `max_clips`."""
        choice = {"half": self.half, "max_clips": self.max_clips, "order": "sentence"}
        return self.corpus.spec(self.split, **choice)


def tokenizer_specs(config: EvaluateConfig) -> list[TokenizerSpec]:
    specs = []
    if config.checkpoint:
        # the strings the checkpoint's stage is judged by, and the VQ strings of its codes
        judged_by = stage_named(load_checkpoint(config.checkpoint)["stage"]).strings
        for kind in dict.fromkeys((judged_by, "vq")):
            specs.append(TokenizerSpec(kind, kind, config.checkpoint))
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
    specs += [resolve_spec(s)[0] for s in config.tokenizers]  # kind auto chosen, "" names set
    if not specs:
        raise ValueError("nothing to evaluate: set checkpoint=, dense_dir= or tokenizers=")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"tokenizer names must be unique: {names}")
    return specs


def eval_rows(config: EvaluateConfig, manifest: pa.Table) -> pa.Table:
    """The clips measured: the split (or one half of it, by sentence), sentence by sentence (so
    `max_clips` keeps every voice of the first sentences and retrieval still has renditions)."""
    return config.spec().select(manifest, "split")


def archive_strings(archive_dir: str, clips: ClipSet) -> list[list[int]]:
    """The archived string of each of `clips` (in `clips.ids` order)."""
    table = read_archive(archive_dir, ["utterance_id", "tokens"])
    tokens = dict(zip(table["utterance_id"].to_pylist(), table["tokens"].to_pylist(), strict=True))
    missing = [uid for uid in clips.ids if uid not in tokens]
    if missing:
        raise RuntimeError(f"{archive_dir}: no strings for {len(missing)} clips, e.g. {missing[0]}")
    return [tokens[uid] for uid in clips.ids]


def evaluate(config: EvaluateConfig, manifest: pa.Table) -> dict[str, float]:
    """Tokenize (where needed) and measure every tokenizer; log one MLflow run; return figures."""
    specs = tokenizer_specs(config)
    rows = eval_rows(config, manifest)
    archives = join(config.out_dir, "archives")
    clips = load_clips(
        rows,
        config.views,
        name="eval",
        view_clips=config.consistency_clips,
        keep_audio=False,
        window_seconds=config.tokenize.window_seconds,
        overlap_seconds=config.tokenize.overlap_seconds,
    )
    utterances = long_utterances(rows, config.sweep)
    figures: dict[str, float] = {
        "eval/clips": float(len(rows)),
        "eval/sweep_utterances": float(len(utterances)),
    }
    curves, summary = {}, []
    tokenize_config = replace(config.tokenize, out_dir=archives, split="", max_clips=0)
    all_totals = tokenize_archives(tokenize_config, rows, specs)
    began = time.perf_counter()
    for done, spec in enumerate(specs, 1):
        totals = all_totals[spec.name]
        tokenizer = load_tokenizer(spec)
        strings = archive_strings(join(archives, spec.name), clips)
        found = measure_tokenizer(tokenizer, clips, spec.name, strings=strings, ks=config.ks)
        swept = sweep_strings(tokenizer, utterances, config.sweep) if utterances else []
        if swept:
            found |= sweep_figures(swept, config.sweep.step, config.sweep.shifts, spec.name)
            curves[spec.name] = mean_drift(swept)
        found[f"{spec.name}/rejects"] = totals["rejects"]
        figures |= found
        summary.append(summary_row(spec, found))
        figures_now = {
            f"{spec.name} tokens/s": found[f"{spec.name}/token_rate"],
            "MAP": found[f"{spec.name}/map"],
        }
        log.info(
            progress_line(
                "measured",
                done=done,
                total=len(specs),
                unit="tokenizers",
                elapsed=time.perf_counter() - began,
                figures=figures_now,
            )
        )
    figures |= comparisons(figures, specs)
    tables = []
    for eval_set in config.eval_sets:
        found, table = measure_eval_set(config, eval_set, specs)
        figures |= found
        tables.append(table)
    log_run(config, figures, summary, curves, specs, rows)
    for table in tables:
        print(table)
    return figures


def measure_eval_set(
    config: EvaluateConfig, eval_set: EvalSetSpec, specs: list[TokenizerSpec]
) -> tuple[dict[str, float], str]:
    """Every tokenizer on one extra set (tokenized in windows as the archive job does): figures
    `<set>/<tokenizer>/...` with `<set>/compare/...`, and the set's table."""
    start = time.perf_counter()
    clips = load_eval_set(
        eval_set,
        config.views,
        view_clips=config.consistency_clips,
        window_seconds=config.tokenize.window_seconds,
        overlap_seconds=config.tokenize.overlap_seconds,
    )
    tokenizers = {spec.name: load_tokenizer(spec) for spec in specs}
    found = eval_set_figures(tokenizers, clips, ks=config.ks)
    prefix = f"{eval_set.name}/"
    inner = {k.removeprefix(prefix): v for k, v in found.items()}
    found |= {prefix + k: v for k, v in comparisons(inner, specs).items()}
    for spec in specs:
        log.info(
            "%s/%s measured: %.2f tokens/s, MAP %.3f (chance %.3f)",
            eval_set.name,
            spec.name,
            inner[f"{spec.name}/token_rate"],
            inner[f"{spec.name}/map"],
            inner[f"{spec.name}/chance_map"],
        )
    rows = sorted(
        (summary_row(spec, inner) for spec in specs),
        key=lambda r: (r["kind"] != "dense", r["tokenizer"]),
    )
    title = (
        f"{eval_set.name}: {len(clips.ids)} clips of {eval_set.source} (split "
        f"{eval_set.split or 'all'}{', half ' + eval_set.half if eval_set.half else ''}); "
        f"{time.perf_counter() - start:.0f} s"
    )
    return found, f"{title}\n{format_table(rows)}"
