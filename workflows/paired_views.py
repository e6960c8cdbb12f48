"""Build the paired-view Ray Dataset that feeds training: manifest -> decode -> two views per clip.

Decoding and augmentation run in `map_batches` tasks on CPU workers. A clip that cannot be decoded
is written to a rejects table (utterance id, path, reason) under `rejects_dir` and left out of the
stream, so `rows in = rows out + rejects` always holds. Used by the demo and the training stages:

    ds = build_paired_views(manifest, views, rejects_dir="runs/x/rejects", epoch=0)
    for batch in iter_pair_batches(ds, batch_size=32):
        batch["view_a"]  # (B, N) float32 tensor
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.data

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.storage import join, url_to_fs
from pairalign.data.views import ViewConfig, make_views, pair_rng

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("utterance_id", pa.string()),
        pa.field("path", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("epoch", pa.int64()),
    ]
)
# Columns that go to the trainer as tensors; ids stay available on the dataset itself.
TENSOR_COLUMNS = ("view_a", "view_b", "warp_a", "shift_a", "warp_b", "shift_b", "source_seconds")


@dataclass(frozen=True)
class PipelineConfig:
    """How the Ray Data stage is run."""

    batch_size: int = 32  # clips per map_batches call
    num_cpus_per_task: float = 1.0
    concurrency: int | None = None  # max parallel map tasks (None: as many as CPUs allow)


def build_paired_views(
    manifest: pa.Table,
    views: ViewConfig,
    *,
    rejects_dir: str,
    epoch: int = 0,
    epochs: int = 1,
    pipeline: PipelineConfig | None = None,
) -> ray.data.Dataset:
    """A lazy dataset of paired views for `epochs` passes over the manifest, starting at `epoch`.

    Epoch e > 0 visits the rows in an order shuffled by (views.seed, e) and makes new views; its
    columns are `TENSOR_COLUMNS` plus ids and labels.
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
        fn_kwargs={"views": views, "rejects_dir": rejects_dir},
        batch_size=pipeline.batch_size,
        batch_format="pyarrow",
        num_cpus=pipeline.num_cpus_per_task,
        concurrency=pipeline.concurrency,
    )


def make_pair_batch(
    batch: pa.Table, *, views: ViewConfig, rejects_dir: str
) -> dict[str, np.ndarray]:
    """Decode each row and make its two views; rows that fail to decode go to the rejects table."""
    _single_thread()
    rows = batch.to_pylist()
    out: dict[str, list[Any]] = {
        k: [] for k in (*TENSOR_COLUMNS, "utterance_id", "speaker", "content_id")
    }
    rejects = []
    for row in rows:
        try:
            samples = load_row_audio(row, sample_rate=views.sample_rate)
        except AudioError as err:
            rejects.append({
                "utterance_id": row["utterance_id"], "path": row.get("path"),
                "reason": err.reason, "epoch": row.get("epoch") or 0,
            })  # fmt: skip
            continue
        rng = pair_rng(views.seed, row.get("epoch") or 0, row["utterance_id"])
        pair = make_views(samples, views, rng)
        for key, value in (
            ("view_a", pair.a.samples),
            ("view_b", pair.b.samples),
            ("warp_a", pair.a.warp),
            ("shift_a", pair.a.shift),
            ("warp_b", pair.b.warp),
            ("shift_b", pair.b.shift),
            ("source_seconds", pair.source_seconds),
            ("utterance_id", row["utterance_id"]),
            ("speaker", row.get("speaker") or ""),
            ("content_id", row.get("content_id") or ""),
        ):
            out[key].append(value)
    if rejects:
        write_rejects(rejects, rejects_dir)
    n = views.clip_samples
    arrays: dict[str, np.ndarray] = {
        "view_a": np.asarray(out["view_a"], dtype=np.float32).reshape(-1, n),
        "view_b": np.asarray(out["view_b"], dtype=np.float32).reshape(-1, n),
    }
    for key in ("warp_a", "shift_a", "warp_b", "shift_b", "source_seconds"):
        arrays[key] = np.asarray(out[key], dtype=np.float32)
    for key in ("utterance_id", "speaker", "content_id"):
        arrays[key] = np.asarray(out[key], dtype=object)
    return arrays


def write_rejects(rejects: list[dict[str, Any]], rejects_dir: str) -> str:
    """Write one rejects file; its name is a hash of its ids, so a retried task overwrites, not adds."""
    ids = "\n".join(sorted(f"{r['epoch']}/{r['utterance_id']}" for r in rejects))
    name = f"rejects-{hashlib.sha1(ids.encode()).hexdigest()[:16]}.parquet"
    url = join(rejects_dir, name)
    fs, path = url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "wb") as f:
        pq.write_table(pa.Table.from_pylist(rejects, schema=REJECTS_SCHEMA), f)
    return url


def read_rejects(rejects_dir: str) -> pa.Table:
    """All rejects written under `rejects_dir` (an empty table when there are none)."""
    fs, path = url_to_fs(rejects_dir)
    if not fs.exists(path):
        return REJECTS_SCHEMA.empty_table()
    files = sorted(f for f in fs.find(path) if f.endswith(".parquet"))
    tables = []
    for file in files:
        with fs.open(file, "rb") as f:
            tables.append(pq.read_table(f, schema=REJECTS_SCHEMA))
    return pa.concat_tables(tables) if tables else REJECTS_SCHEMA.empty_table()


def iter_pair_batches(
    ds: ray.data.Dataset, *, batch_size: int, device: str = "cpu", drop_last: bool = False
) -> Iterator[dict[str, Any]]:
    """Stream `TENSOR_COLUMNS` as torch tensors (the shape training consumes)."""
    return ds.select_columns(list(TENSOR_COLUMNS)).iter_torch_batches(
        batch_size=batch_size, device=device, drop_last=drop_last
    )


def _single_thread() -> None:
    """One thread per Ray task: the CPU count is Ray's to share out, not torch's."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
