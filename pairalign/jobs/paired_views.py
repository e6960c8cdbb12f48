"""The paired-view Ray Dataset that feeds training: manifest -> decode -> two views per clip.

Decoding and augmentation (`pairalign.data.pair_batches.make_pair_batch`) run in `map_batches`
tasks on CPU workers. A clip that cannot be decoded is written to a rejects table (utterance id,
path, reason) under `rejects_dir` and left out of the stream, so `rows in = rows out + rejects`
always holds. Used by the demo and the training stages:

    ds = build_paired_views(manifest, views, rejects_dir="runs/x/rejects", epoch=0)
    for batch in iter_pair_batches(ds, batch_size=32):
        batch["view_a"]  # (B, N) float32 tensor
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.data

from pairalign.data.pair_batches import make_pair_batch, tensor_columns
from pairalign.data.partners import partners_for
from pairalign.data.views import ViewConfig
from pairalign.stages.config import PipelineConfig

log = logging.getLogger("pairalign")


def build_paired_views(
    manifest: pa.Table,
    views: ViewConfig,
    *,
    rejects_dir: str,
    epoch: int = 0,
    epochs: int = 1,
    pipeline: PipelineConfig | None = None,
    with_clean: bool = False,
    maps_dir: str | None = None,
) -> ray.data.Dataset:
    """A lazy dataset of paired views for `epochs` passes over the manifest, starting at `epoch`.

    Epoch e > 0 visits the rows in an order shuffled by (views.seed, e) and makes new views; its
    columns are `TENSOR_COLUMNS` plus ids and labels (and the clean crop, `with_clean`). With
    `views.cross_voice` > 0 a content index of `manifest` goes to the workers, and the columns
    of view B's recording are added (`pairalign.data.pair_batches.PARTNER_COLUMNS`,
    `CROSS_COLUMNS`), the time maps between two recordings cached under `maps_dir`.
    """
    pipeline = pipeline or PipelineConfig()
    step = max(1, pipeline.batch_size * 4)
    blocks = []
    for e in range(epoch, epoch + epochs):
        order = np.arange(len(manifest))
        if e > 0:
            np.random.default_rng([views.seed, e]).shuffle(order)
        part = manifest.take(order).append_column("epoch", pa.array(np.full(len(order), e)))
        # Many small blocks, so map tasks run in parallel and stream instead of one big task.
        blocks += [part.slice(i, step) for i in range(0, len(part), step)]
    ds = ray.data.from_arrow(blocks or [manifest])
    return ds.map_batches(
        make_pair_batch,
        fn_kwargs={
            "views": views,
            "rejects_dir": rejects_dir,
            "with_clean": with_clean,
            "partners": partners_for(manifest, views.cross_voice, log=log.info),
            "maps_dir": maps_dir,
        },
        batch_size=pipeline.batch_size,
        batch_format="pyarrow",
        num_cpus=pipeline.num_cpus_per_task,
        concurrency=pipeline.concurrency,
    )


def iter_pair_batches(
    ds: ray.data.Dataset,
    *,
    batch_size: int,
    device: str = "cpu",
    drop_last: bool = False,
    views: ViewConfig | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the columns training consumes (`tensor_columns(views)`) as torch tensors."""
    return ds.select_columns(list(tensor_columns(views or ViewConfig()))).iter_torch_batches(
        batch_size=batch_size, device=device, drop_last=drop_last
    )
