"""Dense baselines: k-means tokenizers of log-mel frames over a grid of codebook sizes and poolings.

    ray job submit --working-dir . -- python workflows/dense.py out_dir=/shared/runs/dense
    python workflows/dense.py                                   # local: the full default grid
    python workflows/dense.py out_dir=/tmp/dense ks=[8,16] pools=[1,8] corpus.builtin_dir=/tmp/b

Log-mel frames of every train clip are computed once (Ray tasks of `clips_per_task` clips; a clip
that cannot be decoded is skipped and named), then one Ray task per (k, pool) fits k-means and
writes `<out_dir>/dense-k{k}-p{pool}/dense.pt` (`pairalign.tokenizing.dense.DenseTokenizer.load`).
Grid points already written are skipped, so a rerun resumes. Token rate = 100 / pool tokens per
second.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pairalign.data.corpora.spec import load_manifest
from pairalign.jobs.corpus import cluster_map
from pairalign.jobs.dense_grid import DenseGridConfig, train_dense_grid
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, str]:
    config = parse_args(DenseGridConfig, "dense.yaml", argv, description=__doc__)
    log = setup_logging()
    seed_everything(config.seed)
    init_ray(num_cpus=config.num_cpus or None)
    start = time.perf_counter()
    paths = train_dense_grid(config, load_manifest(config.corpus, **cluster_map()))
    log.info("dense grid: done in %.1f s", time.perf_counter() - start)
    return paths


if __name__ == "__main__":
    main()
