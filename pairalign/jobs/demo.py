"""The end-to-end demo's parts (workflows/demo.py): its config, one epoch of paired views streamed
as a trainer consumes them, what it prints, and the dense baselines + evaluation suite at the end.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import soundfile as sf

from pairalign.config import PathStr, to_dict
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.corpora.spec import CorpusSpec
from pairalign.data.pair_batches import read_rejects
from pairalign.data.storage import join, url_to_fs
from pairalign.data.views import ViewConfig
from pairalign.jobs.paired_views import build_paired_views, iter_pair_batches
from pairalign.stages.config import PipelineConfig


@dataclass(frozen=True)
class DemoConfig:
    out_dir: PathStr = "runs/demo"
    seed: int = 0
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    split: str = "train"
    batch_size: int = 32
    max_batches: int = 0  # 0: the whole split, one epoch
    examples: int = 3  # pairs written as WAV files to listen to
    vq_steps: int = 60  # a short stage 1 (0: skip the training stages)
    refine_steps: int = 60  # a short stage 2
    eval_clips: int = 200  # test clips tokenized and evaluated (every voice of the first sentences)
    dense_ks: tuple[int, ...] = (8, 64)  # the dense k-means baselines trained for the comparison
    dense_pools: tuple[int, ...] = (1, 8)  # 100 and 12.5 tokens per second


def stream_views(config: DemoConfig, manifest: pa.Table) -> dict[str, float]:
    """One epoch of paired views through `iter_torch_batches`, as a trainer consumes them."""
    rejects_dir = join(config.out_dir, "rejects")
    fs, path = url_to_fs(rejects_dir)
    if fs.exists(path):
        fs.rm(path, recursive=True)  # rejects of an earlier run are not this run's
    part = CorpusSpec(config.prepare.out_dir, split=config.split, order="manifest").select(
        manifest, "split"
    )
    ds = build_paired_views(part, config.views, rejects_dir=rejects_dir, pipeline=config.pipeline)
    start, pairs, timed, warps = time.perf_counter(), 0, 0, []
    batches = iter_pair_batches(ds, batch_size=config.batch_size, views=config.views)
    for i, batch in enumerate(batches):
        pairs += len(batch["view_a"])
        warps.append(batch["warp_a"].numpy())
        if i == 0:
            _write_examples(batch, config)
            start = time.perf_counter()  # time from the first batch on, once workers are warm
        else:
            timed += len(batch["view_a"])
        if config.max_batches and i + 1 >= config.max_batches:
            break
    seconds = time.perf_counter() - start
    rejects = read_rejects(rejects_dir)
    return {
        "views/clips_in": len(part),
        "views/complete": float(not config.max_batches or pairs + len(rejects) == len(part)),
        "views/pairs_out": pairs,
        "views/rejects": len(rejects),
        # a rate over a few prefetched batches measures nothing: full epochs only
        "views/pairs_per_second": timed / seconds
        if timed and not config.max_batches
        else float("nan"),
        "views/wall_seconds": seconds,
        "views/warp_min": float(np.concatenate(warps).min()),
        "views/warp_max": float(np.concatenate(warps).max()),
    }


def _write_examples(batch: dict, config: DemoConfig) -> None:
    fs, root = url_to_fs(join(config.out_dir, "examples"))
    fs.makedirs(root, exist_ok=True)
    for i in range(min(config.examples, len(batch["view_a"]))):
        for view in ("view_a", "view_b"):
            with fs.open(f"{root}/pair{i}_{view}.wav", "wb") as f:
                sf.write(f, batch[view][i].numpy(), config.views.sample_rate, format="WAV")


def demo_line(config: DemoConfig) -> str:
    """The one line that says what the demo runs and where its results go."""
    training = (
        f"{config.vq_steps} + {config.refine_steps} training steps, {config.eval_clips} "
        "test clips evaluated"
        if config.vq_steps and config.refine_steps
        else "no training"
    )
    return (
        f"== pairalign demo: the built-in corpus in {config.prepare.out_dir}, one epoch of "
        f"paired views, {training} -> {config.out_dir} (MLflow: "
        f"{join(config.out_dir, 'mlflow.db')}; config: {join(config.out_dir, 'config.json')}) =="
    )


def write_config(config: DemoConfig) -> str:
    """The demo's whole config as `<out_dir>/config.json` (the console shows it with -v only)."""
    url = join(config.out_dir, "config.json")
    fs, path = url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w") as f:
        json.dump(to_dict(config), f, indent=1)
    return url


def print_views(config: DemoConfig, manifest: pa.Table, results: dict[str, float]) -> None:
    """What the views stage did, as the demo prints it."""
    print(f"corpus     {config.prepare.out_dir}: {len(manifest)} utterances")
    rate = results["views/pairs_per_second"]
    rate_text = f"at {rate:.1f} pairs/s" if rate == rate else "(rate: full epochs only)"
    print(
        f"views      {results['views/pairs_out']} pairs of {config.views.clip_seconds:.1f} s from "
        f"split '{config.split}' {rate_text}, "
        f"{results['views/rejects']} rejects, "
        f"warp {results['views/warp_min']:.2f}-{results['views/warp_max']:.2f}"
    )
    if results["views/complete"]:
        balanced = (
            results["views/pairs_out"] + results["views/rejects"] == results["views/clips_in"]
        )
        print(f"check      clips in {results['views/clips_in']} = pairs out + rejects: {balanced}")
    print(f"examples   {join(config.out_dir, 'examples')}/pair*_view_[ab].wav")


def compare_tokenizers(config: DemoConfig, checkpoint: str, manifest: pa.Table) -> dict[str, float]:
    """Dense baselines, then PairAlign, VQ and dense tokenized and measured side by side."""
    from pairalign.data.corpora.spec import CorpusConfig
    from pairalign.jobs.dense_grid import DenseGridConfig, train_dense_grid
    from pairalign.jobs.evaluation_suite import EvaluateConfig, evaluate

    storage = os.path.abspath(config.out_dir)
    corpus = CorpusConfig(builtin_dir=config.prepare.out_dir)
    dense_dir = join(storage, "dense")
    train_dense_grid(
        DenseGridConfig(
            out_dir=dense_dir,
            seed=config.seed,
            corpus=corpus,
            ks=config.dense_ks,
            pools=config.dense_pools,
        ),
        manifest,
    )
    name = os.path.basename(os.path.dirname(checkpoint))  # the refine run's name
    print(
        f"\n== {config.eval_clips} test clips after {config.vq_steps} + {config.refine_steps} "
        "training steps (full-length runs: BENCHMARKS.md) =="
    )
    figures = evaluate(
        EvaluateConfig(
            name=f"eval-{name}",
            out_dir=join(storage, "eval", name),
            storage_path=storage,
            seed=config.seed,
            corpus=corpus,
            max_clips=config.eval_clips,
            checkpoint=checkpoint,
            dense_dir=dense_dir,
            views=config.views,
        ),
        manifest,
    )
    reduction = figures["compare/token_reduction_vs_vq"]
    fewer = f"{100 * abs(reduction):.0f}% {'fewer' if reduction >= 0 else 'more'}"
    print(
        f"PairAlign uses {fewer} tokens than VQ; "
        f"MAP {figures['pairalign/map']:.3f} (VQ {figures['vq/map']:.3f}, best dense at up to 1.5x "
        f"its rate {figures.get('compare/best_dense_map_at_rate', float('nan')):.3f})"
    )
    return figures
