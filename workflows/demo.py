"""End-to-end demo on the built-in corpus: prepare it, stream paired views, train a short stage 1,
a short stage 2 and a small grid of dense baselines, tokenize the test split with each and print
the evaluation suite's comparison table.

    make demo                                   # installs what it needs, then runs this
    python workflows/demo.py                    # the same, with an existing environment
    python workflows/demo.py prepare.corpus.train_sentences=20 max_batches=5
    ray job submit --working-dir . -- python workflows/demo.py out_dir=/shared/runs/demo \
        prepare.out_dir=/shared/data/builtin

Stages: corpus preparation (`pairalign/jobs/corpus.py`), the paired-view pipeline on Ray Data
(`pairalign/jobs/paired_views.py`), stage 1 and stage 2 with few steps (set vq_steps or
refine_steps to 0 to stop after the views), the dense k-means baselines
(`pairalign/jobs/dense_grid.py`), and the evaluation suite (`pairalign/jobs/evaluation_suite.py`).
It prints what each stage did; the full-length runs and their figures are in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

from pairalign.config import to_dict
from pairalign.jobs.checkpoints import latest_checkpoint
from pairalign.jobs.corpus import prepare
from pairalign.jobs.demo import (
    DemoConfig,
    compare_tokenizers,
    demo_line,
    print_views,
    stream_views,
    write_config,
)
from pairalign.jobs.training import run_stage
from pairalign.stages.refine import REFINE, RefineConfig
from pairalign.stages.vq import VQ, VQStageConfig
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(DemoConfig, "demo.yaml", argv, description=__doc__)
    log = setup_logging()
    seed_everything(config.seed)
    print(demo_line(config), flush=True)
    log.debug("demo config: %s", json.dumps(to_dict(config)))
    write_config(config)
    init_ray(num_cpus=config.prepare.num_cpus or None)
    manifest = prepare(config.prepare)
    results = stream_views(config, manifest)
    print_views(config, manifest, results)
    if config.vq_steps and config.refine_steps:
        checkpoint = train_short(config)
        results |= compare_tokenizers(config, checkpoint, manifest)
    return results


def train_short(config: DemoConfig) -> str:
    """A short stage 1 then stage 2 on the same corpus; returns the stage-2 checkpoint."""
    storage = os.path.abspath(config.out_dir)
    common = [
        f"storage_path={storage}",
        f"corpus.builtin_dir={config.prepare.out_dir}",
        "eval_clips=40",
        f"seed={config.seed}",
        "train.report_every=15",
    ]
    stamp = time.strftime("%Y%m%d-%H%M%S")  # every demo trains afresh, as its own MLflow runs
    vq = parse_args(
        VQStageConfig,
        "vq.yaml",
        [
            *common,
            f"name=demo-vq-{stamp}",
            f"train.max_steps={config.vq_steps}",
            f"train.checkpoint_every={config.vq_steps}",
            f"train.warmup_steps={config.vq_steps // 10}",
        ],
    )
    seed_everything(vq.seed)
    run_stage(VQ, vq)
    _, stage1 = latest_checkpoint(storage, vq.name)
    half = config.refine_steps // 2
    refine = parse_args(
        RefineConfig,
        "refine.yaml",
        [
            *common,
            f"name=demo-refine-{stamp}",
            f"init_checkpoint={stage1}",
            f"train.max_steps={config.refine_steps}",
            f"train.checkpoint_every={config.refine_steps}",
            f"objective.teacher.start={half}",
            f"objective.teacher.ramp={max(1, half // 2)}",
        ],
    )
    seed_everything(refine.seed)
    run_stage(REFINE, refine)
    return latest_checkpoint(storage, refine.name)[1]


if __name__ == "__main__":
    main()
