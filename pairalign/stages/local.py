"""Any stage trained and measured on this process, without Ray: the quick loop for trying an idea
before a full `workflows/<stage>.py` run (`workflows/local.py` is its command line).

    checkpoint = train_local(REFINE, config, manifest, out_dir=..., cache_dir=...)
    figures = run_local(REFINE, config, LocalRun(threads=1))    # train, then measure the dev half

`train_local` builds the train split's paired views once and caches them (`ViewCache`, keyed by
the rows and the view config, so a second variant reuses them), runs the stage's recipe (the one
Ray Train runs) for `train.max_steps` steps of one batch of `train.batch_size x train.num_workers`
pairs (the Ray run's global batch) and writes metrics and the final checkpoint under `out_dir`.
`run_local` then measures the checkpoint's strings on the dev half of the eval split
(`pairalign.evaluation.heldout`; PairAlign and VQ strings for stage 2, VQ strings for stage 1)
with the seconds each part took (wall clock, and the CPU seconds of this process per step: the
figure to compare on a busy machine)."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import torch

from pairalign.config import PathStr, to_dict
from pairalign.data.corpora.spec import load_manifest
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures, load_heldout
from pairalign.stages.config import StageRunConfig
from pairalign.stages.stage import Stage
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.training.local import LocalReporter, ViewCache
from pairalign.training.loop import run_loop


@dataclass(frozen=True)
class LocalRun:
    out_dir: PathStr = ""  # "" -> <storage_path>/local/<name>
    cache_dir: PathStr = ""  # "" -> <storage_path>/view-cache
    batch_size: int = 0  # pairs per step (0: train.batch_size x train.num_workers)
    dev_sentences: int = 0  # sentences of the dev half measured (0: all), every voice
    view_clips: int = 100  # dev clips whose fixed views give cross-view consistency
    # torch threads (0: torch's choice, every core). On 2 idle cores 2 threads took 2.4 s a step
    # where 1 took 3.5; on cores shared with other jobs set 1 (2 threads then took 29 s a step
    # where 1 took 15; BENCHMARKS.md, issue 19)
    threads: int = 0


MARKER = ".local-run"  # in every folder `run_local` writes: the sign that it may empty it


def fresh_out_dir(out_dir: str) -> None:
    """Make `out_dir` an empty folder holding `MARKER`. A folder already there is emptied only
    if it is empty or an earlier local run's (its `MARKER` or `figures.json`); any other raises
    FileExistsError naming it, so `local.out_dir=runs` cannot wipe every run."""
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not any(os.path.exists(os.path.join(out_dir, n)) for n in (MARKER, "figures.json")):
            raise FileExistsError(
                f"local.out_dir={out_dir}: a folder with files in it that is not a local run's "
                f"(no {MARKER} nor figures.json), left as it is; give a new or empty folder"
            )
        shutil.rmtree(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, MARKER), "w"):
        pass


def train_local(
    stage: Stage,
    config: StageRunConfig,
    manifest: pa.Table,
    *,
    out_dir: str,
    cache_dir: str,
    batch_size: int = 0,
    inputs: dict[str, Any] | None = None,
) -> str:
    """`stage` on this process without Ray: the train split's paired views cached under
    `cache_dir` (`ViewCache`), `config.train.max_steps` steps of `batch_size` pairs (0: the Ray
    run's global batch, batch_size x num_workers) from `inputs` (None: `stage.setup(config)`,
    e.g. the stage-1 checkpoint a refine run starts from), metrics and the final checkpoint under
    `out_dir`. Returns the checkpoint directory."""
    if config.needs_clean_views():
        raise ValueError(
            f"{stage.name}: the local run caches no clean crops (pseudo labels): run it on Ray"
        )
    train_rows = config.corpus.train_rows(manifest)
    inputs = {
        **(stage.setup(config) if inputs is None else inputs),
        **config.worker_inputs(manifest, train_rows),
    }
    model_config = stage.model_config(config, inputs)
    run = stage.build(config, inputs)
    run.start(0, {}, "cpu")
    reporter = LocalReporter(
        stage.name, out_dir, model_config=model_config, stage_config=to_dict(config)
    )
    batch_size = batch_size or config.train.batch_size * config.train.num_workers
    cache = ViewCache(train_rows, config.views, cache_dir)
    cache.prepare(config.train.max_steps, batch_size)
    batches = cache.batches(batch_size, seed=config.seed)
    run_loop(batches, config.train, run.model, run.optimizer, run.hooks, reporter)
    return reporter.checkpoint


def run_local(
    stage: Stage, config: StageRunConfig, local: LocalRun, inputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train `stage` on this process (`train_local`, afresh, from `inputs`: None for
    `stage.setup(config)`) and measure its final checkpoint on the dev half; the figures, the
    checkpoint and the seconds each part took, also written to `<out_dir>/figures.json`.
    `out_dir` is emptied first only if it is an earlier local run's (`fresh_out_dir`)."""
    if local.threads:
        torch.set_num_threads(local.threads)
    inputs = stage.setup(config) if inputs is None else inputs
    out_dir = local.out_dir or os.path.join(config.storage_path, "local", config.name)
    fresh_out_dir(out_dir)  # a local run starts afresh
    began = time.perf_counter()
    manifest = load_manifest(config.corpus)
    cache_dir = local.cache_dir or os.path.join(config.storage_path, "view-cache")
    batch_size = local.batch_size or config.train.batch_size * config.train.num_workers
    train_rows = config.corpus.train_rows(manifest)
    ViewCache(train_rows, config.views, cache_dir).prepare(config.train.max_steps, batch_size)
    cached, cpu = time.perf_counter(), time.process_time()
    checkpoint = train_local(
        stage,
        config,
        manifest,
        out_dir=out_dir,
        cache_dir=cache_dir,
        batch_size=batch_size,
        inputs=inputs,
    )
    trained, cpu = time.perf_counter(), time.process_time() - cpu
    heldout = HeldoutConfig(
        sentences=local.dev_sentences, view_clips=local.view_clips, aligned_codes=True
    )
    rows = config.corpus.eval_rows(manifest, half="dev", sentences=heldout.sentences)
    dev = load_heldout(rows, "dev", config.views, heldout)
    figures = heldout_figures(
        Tokenizer.from_checkpoint(checkpoint), dev, heldout, kinds=(stage.strings, "vq")
    )
    figures |= {
        "views_seconds": cached - began,
        "train_seconds": trained - cached,
        "seconds_per_step": (trained - cached) / config.train.max_steps,
        "cpu_seconds_per_step": cpu / config.train.max_steps,
        "measure_seconds": time.perf_counter() - trained,
        "steps": float(config.train.max_steps),
        "batch_size": float(batch_size),
    }
    with open(os.path.join(out_dir, "figures.json"), "w") as f:
        json.dump({"checkpoint": checkpoint, **figures}, f, indent=1)
    return {"checkpoint": checkpoint, **figures}
