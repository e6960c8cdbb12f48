"""Paired-view throughput: pairs per second per CPU core, 3 s clips, default augmentations.

    PYTHONPATH=. python -m bench.benchmarks.views [corpus=data/builtin] [pairs=400] [all_on=true]

Two measurements on clips of the built-in corpus (prepared first if `corpus` has no manifest):
  core: decode + two views in one process on one core (the library's cost per pair);
  ray:  the Ray Data pipeline end to end (`build_paired_views` -> `iter_pair_batches`) on a local
        cluster of all cores, divided by the number of cores (`ray=false`: not measured).
`all_on=true` sets every augmentation's probability to 1 (the defaults apply pitch, reverb and band
limiting to half of the views). Prints one JSON line.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence

import pyarrow.compute as pc
import torch

from bench.cli import parse
from pairalign.data.audio import load_row_audio
from pairalign.data.manifest import read_manifest
from pairalign.data.views import ViewConfig, make_views, pair_rng


@dataclasses.dataclass(frozen=True)
class ViewsBench:
    corpus: str = "data/builtin"  # a corpus directory (the built-in corpus is prepared if missing)
    pairs: int = 400  # of its train split
    all_on: bool = False  # every augmentation at p=1
    ray: bool = True  # also the Ray Data pipeline on a local cluster of all cores


def all_on(views: ViewConfig) -> ViewConfig:
    changes = {
        f.name: dataclasses.replace(getattr(views, f.name), p=1.0)
        for f in dataclasses.fields(views)
        if hasattr(getattr(views, f.name), "p")
    }
    return dataclasses.replace(views, **changes)


def bench_core(rows: list[dict], views: ViewConfig) -> float:
    torch.set_num_threads(1)
    for row in rows[:5]:  # warm-up
        make_views(load_row_audio(row), views, pair_rng(0, 0, row["utterance_id"]))
    start = time.perf_counter()
    for row in rows:
        make_views(load_row_audio(row), views, pair_rng(0, 0, row["utterance_id"]))
    return len(rows) / (time.perf_counter() - start)


def bench_ray(manifest, views: ViewConfig, cores: int) -> float:
    import ray

    from pairalign.jobs.paired_views import build_paired_views, iter_pair_batches

    ray.init(
        num_cpus=cores, object_store_memory=1 << 30, include_dashboard=False, log_to_driver=False
    )
    try:
        with tempfile.TemporaryDirectory() as rejects:
            warm = build_paired_views(manifest.slice(0, 256), views, rejects_dir=rejects)
            for _ in iter_pair_batches(warm, batch_size=32):
                pass
            start, pairs = time.perf_counter(), 0
            ds = build_paired_views(manifest, views, rejects_dir=rejects, epoch=1)
            for batch in iter_pair_batches(ds, batch_size=32):
                pairs += len(batch["view_a"])
            return pairs / (time.perf_counter() - start)
    finally:
        ray.shutdown()


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse(ViewsBench, argv, __doc__)
    if not os.path.exists(os.path.join(args.corpus, "manifest.parquet")):
        from pairalign.jobs.corpus import main as prepare

        prepare([f"out_dir={args.corpus}"])
    manifest = read_manifest(os.path.join(args.corpus, "manifest.parquet"))
    manifest = manifest.filter(pc.equal(manifest["split"], "train")).slice(0, args.pairs)
    views = all_on(ViewConfig()) if args.all_on else ViewConfig()
    cores = os.cpu_count() or 1
    core = bench_core(manifest.to_pylist(), views)
    result = {
        "bench": "paired_views",
        "augmentations": "all p=1" if args.all_on else "defaults",
        "pairs": len(manifest),
        "clip_seconds": views.clip_seconds,
        "core_pairs_per_second": round(core, 1),
    }
    if args.ray:
        ray_rate = bench_ray(manifest, views, cores)
        result |= {
            "ray_pairs_per_second": round(ray_rate, 1),
            "ray_pairs_per_second_per_core": round(ray_rate / cores, 1),
        }
    result |= {
        "cores": cores,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
