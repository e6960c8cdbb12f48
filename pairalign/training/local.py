"""Training on one process, without Ray: paired views built once and cached on disk, batches drawn
from the cache, and a reporter that writes metrics and checkpoints into a run directory.

    cache = ViewCache(rows, views, cache_dir)       # <cache_dir>/<key>/epoch-<e>.pt, on demand
    batches = cache.batches(batch_size, seed=0)     # epoch after epoch, shuffled per epoch
    run_loop(batches, train, model, optimizer, hooks, LocalReporter("refine", out_dir, ...))

The cache key is a digest of the rows' utterance ids and the view config, so a second variant on
the same corpus, seed and views reads the views the first one made."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from pairalign.config import to_dict
from pairalign.data.pair_batches import make_pair_batch, tensor_columns
from pairalign.data.partners import partners_for
from pairalign.data.views import ViewConfig
from pairalign.models.checkpoint import save_checkpoint
from pairalign.training.loop import Batch

log = logging.getLogger("pairalign")


class ViewCache:
    """Paired views of `rows`, one file per epoch: epoch e visits the rows in the order the Ray
    pipeline uses (`build_paired_views`: shuffled by (views.seed, e) for e > 0) and draws its
    views from (views.seed, e, utterance id), as the pipeline does."""

    def __init__(self, rows: pa.Table, views: ViewConfig, cache_dir: str, chunk: int = 64) -> None:
        self.rows, self.views, self.chunk = rows, views, chunk
        self.partners = partners_for(rows, views.cross_voice, log=log.info)  # None at share 0
        ids = "\n".join(sorted(rows["utterance_id"].to_pylist()))
        key = json.dumps({"ids": ids, "views": to_dict(views)}, sort_keys=True)
        self.dir = os.path.join(cache_dir, hashlib.sha1(key.encode()).hexdigest()[:16])
        self.maps_dir = os.path.join(cache_dir, "time-maps")  # shared by every view config

    def path(self, e: int) -> str:
        return os.path.join(self.dir, f"epoch-{e}.pt")

    def epoch(self, e: int) -> dict[str, torch.Tensor]:
        """The tensors of epoch `e` (`tensor_columns`, one row per pair; memory-mapped), built
        if missing."""
        path = self.path(e)
        if not os.path.exists(path):
            self.build(e)
        return torch.load(path, weights_only=True, mmap=True)

    def build(self, e: int) -> None:
        """Make and save the views of epoch `e`."""
        path = self.path(e)
        order = np.arange(len(self.rows))
        if e > 0:
            np.random.default_rng([self.views.seed, e]).shuffle(order)
        part = self.rows.take(order).append_column("epoch", pa.array(np.full(len(order), e)))
        rejects = os.path.join(self.dir, "rejects")
        threads = torch.get_num_threads()  # make_pair_batch asks for one, as a Ray task should
        arrays = [
            make_pair_batch(
                part.slice(i, self.chunk),
                views=self.views,
                rejects_dir=rejects,
                partners=self.partners,
                maps_dir=self.maps_dir,
            )
            for i in range(0, len(part), self.chunk)
        ]
        torch.set_num_threads(threads)
        tensors = {
            k: torch.from_numpy(np.concatenate([a[k] for a in arrays]))
            for k in tensor_columns(self.views)
        }
        os.makedirs(self.dir, exist_ok=True)
        torch.save(tensors, path + ".tmp")
        os.replace(path + ".tmp", path)  # a killed build leaves no half file
        log.info("views: epoch %d, %d pairs cached in %s", e, len(tensors["view_a"]), path)

    def prepare(self, steps: int, batch_size: int) -> None:
        """Build (or find) the epochs that `steps` batches of `batch_size` draw from (`batches`
        drops each epoch's last partial batch)."""
        per_epoch = max(1, len(self.rows) // batch_size * batch_size)
        for e in range(-(-steps * batch_size // per_epoch)):
            if not os.path.exists(self.path(e)):
                self.build(e)

    def batches(self, batch_size: int, seed: int = 0, first_epoch: int = 0) -> Iterator[Batch]:
        """Batches of `batch_size` pairs, epoch after epoch (each shuffled by (seed, epoch)); a
        last partial batch of an epoch is dropped."""
        e = first_epoch
        while True:
            tensors = self.epoch(e)
            n = len(tensors["source_seconds"])
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + e))
            for start in range(0, n - batch_size + 1, batch_size):
                rows = order[start : start + batch_size]
                yield {k: v[rows] for k, v in tensors.items()}
            e += 1


class LocalReporter:
    """The loop's reporter on one process: metrics to `<out_dir>/metrics.jsonl`, checkpoints to
    `<out_dir>/checkpoint/checkpoint.pt` (the latest replaces the one before)."""

    rank, world_size = 0, 1

    def __init__(
        self, stage: str, out_dir: str, *, model_config: Any, stage_config: dict[str, Any]
    ) -> None:
        self.stage, self.out_dir = stage, out_dir
        self.model_config, self.stage_config = model_config, stage_config
        self.checkpoint = os.path.join(out_dir, "checkpoint")
        self.history: list[dict[str, float]] = []
        os.makedirs(out_dir, exist_ok=True)

    def report(
        self,
        metrics: dict[str, float],
        *,
        step: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        checkpoint: bool,
        final: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        metrics = {**metrics, "step": step}
        self.history.append(metrics)
        with open(os.path.join(self.out_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(metrics) + "\n")
        if checkpoint:
            save_checkpoint(
                self.checkpoint,
                model_config=self.model_config,
                model_state=model.state_dict(),
                stage=self.stage,
                stage_config=self.stage_config,
                step=step,
                **(extra or {}),
            )
