"""A stage-2 (refine) variant trained and measured on one process, without Ray: the quick loop for
trying a refine idea before a full `workflows/refine.py` run.

    PYTHONPATH=. python bench/refine_local.py init_checkpoint=runs/vq-tiny/checkpoint_... \\
        train.max_steps=40 objective.weights.contrast=0 [key=value ...] [local.key=value ...]

Every `key=value` is a `workflows/configs/refine.yaml` key, as `workflows/refine.py` takes it;
`local.` keys are this script's (`LocalRun`). It (a) builds the train split's paired views once
without Ray and caches them (`local.cache_dir`, keyed by the rows and the view config, so a second
variant reuses them), (b) trains `train.max_steps` steps on this process from the stage-1
checkpoint (`objective.freeze_vq=true` keeps it frozen), one batch of
`train.batch_size x train.num_workers` pairs per step (the Ray run's global batch), and (c)
measures the final checkpoint's PairAlign and VQ strings on the dev half of the eval split
(`pairalign.evaluation.heldout`), printing the figures and writing them to
`<local.out_dir>/figures.json` with the seconds each part took (wall clock, and the CPU seconds
of this process per step: the figure to compare on a busy machine).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass

import pyarrow.compute as pc
import torch

from pairalign.config import PathStr, from_dict
from pairalign.data.corpora.spec import load_manifest
from pairalign.data.splits import half_rows
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures, load_heldout
from pairalign.jobs.refine_stage import RefineConfig, train_local
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.training.local import ViewCache
from workflows.cli import apply_overrides, parse_args, seed_everything, setup_logging


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


def main(argv: list[str] | None = None) -> dict[str, float]:
    argv = sys.argv[1:] if argv is None else argv
    local_args = [a.removeprefix("local.") for a in argv if a.startswith("local.")]
    local = from_dict(LocalRun, apply_overrides({}, local_args))
    config = parse_args(RefineConfig, "refine.yaml", [a for a in argv if not a.startswith("local.")],
                        description=__doc__)  # fmt: skip
    setup_logging()
    if local.threads:
        torch.set_num_threads(local.threads)
    seed_everything(config.seed)
    if not config.init_checkpoint:
        raise SystemExit("set init_checkpoint=<stage-1 checkpoint>")
    out_dir = local.out_dir or os.path.join(config.storage_path, "local", config.name)
    shutil.rmtree(out_dir, ignore_errors=True)  # a local run starts afresh
    began = time.perf_counter()
    manifest = load_manifest(config.corpus)
    cache_dir = local.cache_dir or os.path.join(config.storage_path, "view-cache")
    batch_size = local.batch_size or config.train.batch_size * config.train.num_workers
    train_rows = manifest.filter(pc.equal(manifest["split"], config.corpus.train_split))
    ViewCache(train_rows, config.views, cache_dir).prepare(config.train.max_steps, batch_size)
    cached, cpu = time.perf_counter(), time.process_time()
    checkpoint = train_local(config, config.init_checkpoint, manifest, out_dir=out_dir,
                             cache_dir=cache_dir, batch_size=batch_size)  # fmt: skip
    trained, cpu = time.perf_counter(), time.process_time() - cpu
    heldout = HeldoutConfig(sentences=local.dev_sentences, view_clips=local.view_clips)
    rows = half_rows(manifest, config.corpus.eval_split, "dev", heldout.sentences)
    dev = load_heldout(rows, "dev", config.views, heldout)
    figures = heldout_figures(Tokenizer.from_checkpoint(checkpoint), dev, heldout,
                              kinds=("pairalign", "vq"))  # fmt: skip
    figures |= {"views_seconds": cached - began, "train_seconds": trained - cached,
                "seconds_per_step": (trained - cached) / config.train.max_steps,
                "cpu_seconds_per_step": cpu / config.train.max_steps,
                "measure_seconds": time.perf_counter() - trained,
                "steps": float(config.train.max_steps), "batch_size": float(batch_size)}  # fmt: skip
    with open(os.path.join(out_dir, "figures.json"), "w") as f:
        json.dump({"checkpoint": checkpoint, **figures}, f, indent=1)
    keys = ("dev/pairalign/token_rate", "dev/pairalign/map", "dev/pairalign/consistency",
            "dev/vq/token_rate", "dev/vq/map", "views_seconds", "train_seconds",
            "seconds_per_step", "cpu_seconds_per_step", "measure_seconds")  # fmt: skip
    print(
        json.dumps(
            {"checkpoint": checkpoint, **{k: round(figures[k], 4) for k in keys if k in figures}},
            indent=1,
        )
    )
    return figures


if __name__ == "__main__":
    main()
