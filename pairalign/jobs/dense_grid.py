"""Dense baselines over a grid of codebook sizes and poolings, trained as Ray tasks.

Log-mel frames of every train clip are computed once (Ray tasks of `clips_per_task` clips; a clip
that cannot be decoded is skipped and named), then one Ray task per (k, pool) fits k-means and
writes `<out_dir>/dense-k{k}-p{pool}/dense.pt` (`pairalign.tokenizing.dense.DenseTokenizer.load`).
Grid points already written are skipped, so a rerun resumes. Token rate = 100 / pool tokens per
second.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import ray

from pairalign.config import PathStr
from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.corpora.spec import CorpusConfig
from pairalign.data.storage import is_remote, join, url_to_fs
from pairalign.models.frontend import LogMel
from pairalign.progress import Progress
from pairalign.tokenizing.dense import (
    DENSE_FILE,
    DenseConfig,
    DenseTokenizer,
    clip_log_mel,
    fit_dense,
)

log = logging.getLogger("pairalign")


@dataclass(frozen=True)
class DenseGridConfig:
    out_dir: PathStr = "runs/dense"  # local path or s3:// URL
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    ks: tuple[int, ...] = (8, 16, 32, 64, 128, 256)  # codebook sizes
    pools: tuple[int, ...] = (1, 2, 4, 8)  # 10 ms frames per token: 100, 50, 25, 12.5 tokens/s
    max_frames: int = 200_000  # k-means sample cap per grid point (pooled frames)
    iters: int = 50  # Lloyd iterations at most
    n_mels: int = 80
    clips_per_task: int = 64  # clips per feature task
    num_cpus: int = 0  # size of a locally started Ray cluster; 0 = all cores

    def dense_configs(self) -> list[DenseConfig]:
        return [
            DenseConfig(
                k=k,
                pool=pool,
                n_mels=self.n_mels,
                max_frames=self.max_frames,
                iters=self.iters,
                seed=self.seed,
            )
            for k, pool in itertools.product(self.ks, self.pools)
        ]


@ray.remote(num_cpus=1, num_returns=2)
def _clip_features(rows: pa.Table, n_mels: int) -> tuple[list[np.ndarray], list[tuple[str, str]]]:
    """Log-mel frames of each decodable clip  # [(T_i, n_mels)], and (file, reason) of the rest."""
    frontend = LogMel(n_mels=n_mels)
    features, rejects = [], []
    for row in rows.to_pylist():
        try:
            features.append(clip_log_mel(load_row_audio(row), frontend))
        except AudioError as err:
            rejects.append((row.get("path") or err.source, err.reason))
    return features, rejects


@ray.remote(num_cpus=1)
def _fit_and_save(
    feature_refs: list[ray.ObjectRef], config: DenseConfig, url: str
) -> dict[str, float]:
    start = time.perf_counter()
    chunks = ray.get(feature_refs)
    tokenizer = fit_dense(itertools.chain.from_iterable(chunks), config)
    tokenizer.save(url)
    return tokenizer.fit_stats | {"dense/fit_seconds": time.perf_counter() - start}


def train_dense_grid(config: DenseGridConfig, manifest: pa.Table) -> dict[str, str]:
    """Fit every (k, pool) of `config` missing under `out_dir` on the train split of `manifest`,
    on the connected Ray cluster; print a table; return {name: dense.pt URL} for the whole grid."""
    out_dir = config.out_dir if is_remote(config.out_dir) else os.path.abspath(config.out_dir)
    grid = {c.name: (c, join(out_dir, c.name, DENSE_FILE)) for c in config.dense_configs()}
    todo = {name: item for name, item in grid.items() if not _exists(item[1])}
    log.debug(
        "dense grid: %d points, %d already saved under %s",
        len(grid),
        len(grid) - len(todo),
        out_dir,
    )
    stats: dict[str, dict[str, float]] = {}
    if todo:
        train = config.corpus.train_rows(manifest)
        feature_refs = _features(train, config)
        # The costliest fits first, so the last tasks to finish are short ones.
        order = sorted(todo, key=lambda n: todo[n][0].k / todo[n][0].pool, reverse=True)
        refs = {n: _fit_and_save.remote(feature_refs, todo[n][0], todo[n][1]) for n in order}
        stats = _wait_for_fits(refs)
    print(_table(grid, stats))
    return {name: url for name, (_, url) in grid.items()}


def _wait_for_fits(refs: dict[str, ray.ObjectRef]) -> dict[str, dict[str, float]]:
    """Each fit's statistics, with a progress line every 10 s while they run."""
    progress = Progress("dense grid: fitted", total=len(refs), unit="baselines", log=log.info)
    names = {ref: name for name, ref in refs.items()}
    pending, stats = list(refs.values()), {}
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=10.0)
        for ref in done:
            stats[names[ref]] = ray.get(ref)
        progress.update(len(stats))
    return {name: stats[name] for name in refs}


def _features(rows: pa.Table, config: DenseGridConfig) -> list[ray.ObjectRef]:
    """Start the feature tasks; print the clips that could not be decoded; return feature refs."""
    start = time.perf_counter()
    step = config.clips_per_task
    refs = [
        _clip_features.remote(rows.slice(i, step), config.n_mels) for i in range(0, len(rows), step)
    ]
    feature_refs = [features for features, _ in refs]
    rejects = [bad for _, rejected in refs for bad in ray.get(rejected)]  # waits for every task
    for source, reason in rejects:
        print(f"skipped {source}: {reason}")
    log.info(
        "dense grid: log-mel frames of %d train clips (%d skipped) in %.1f s",
        len(rows) - len(rejects),
        len(rejects),
        time.perf_counter() - start,
    )
    if len(rejects) == len(rows):
        raise ValueError(f"no decodable clips in split {config.corpus.train_split!r}")
    return feature_refs


def _exists(url: str) -> bool:
    fs, path = url_to_fs(url)
    return fs.exists(path)


def _table(grid: dict[str, tuple[DenseConfig, str]], trained: dict[str, dict[str, float]]) -> str:
    """One line per grid point: trained now, or already there (its figures read from the file)."""
    lines = [
        f"{'name':<16}{'k':>5}{'pool':>6}{'tokens/s':>10}{'frames':>9}{'inertia':>9}"
        f"{'iters':>7}{'fit s':>8}  status"
    ]
    for name, (config, url) in grid.items():
        stats = trained.get(name) or DenseTokenizer.load(url).fit_stats
        fit_s = f"{stats['dense/fit_seconds']:.1f}" if name in trained else "-"
        lines.append(
            f"{name:<16}{config.k:>5}{config.pool:>6}{config.token_rate:>10.1f}"
            f"{stats['dense/frames']:>9.0f}{stats['dense/inertia']:>9.2f}{stats['dense/iters']:>7.0f}"
            f"{fit_s:>8}  {'trained' if name in trained else 'skipped (saved)'}"
        )
    return "\n".join(lines)
