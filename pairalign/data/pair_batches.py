"""Paired-view batches from manifest rows, as the training pipeline and the evaluation make them:
each row decoded and turned into two views (`pairalign.data.views.make_views`, random draws from
(seed, epoch, utterance id)); rows that fail to decode go to a rejects table instead."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
CLEAN = "clean"  # the crop before augmentation: a column only when asked for (`with_clean`)


def make_pair_batch(
    batch: pa.Table, *, views: ViewConfig, rejects_dir: str, with_clean: bool = False
) -> dict[str, np.ndarray]:
    """Decode each row and make its two views; rows that fail to decode go to the rejects table.
    `with_clean` adds the unaugmented crop as a column (source time = its time)."""
    _single_thread()
    rows = batch.to_pylist()
    out: dict[str, list[Any]] = {
        k: [] for k in (*TENSOR_COLUMNS, CLEAN, "utterance_id", "speaker", "content_id")
    }
    rejects = []
    for row in rows:
        try:
            samples = load_row_audio(row, sample_rate=views.sample_rate)
        except AudioError as err:
            rejects.append(
                {
                    "utterance_id": row["utterance_id"],
                    "path": row.get("path"),
                    "reason": err.reason,
                    "epoch": row.get("epoch") or 0,
                }
            )
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
            (CLEAN, pair.clean),
        ):
            out[key].append(value)
    if rejects:
        write_rejects(rejects, rejects_dir)
    n = views.clip_samples
    arrays: dict[str, np.ndarray] = {
        "view_a": np.asarray(out["view_a"], dtype=np.float32).reshape(-1, n),
        "view_b": np.asarray(out["view_b"], dtype=np.float32).reshape(-1, n),
    }
    if with_clean:
        arrays[CLEAN] = np.asarray(out[CLEAN], dtype=np.float32).reshape(-1, n)
    for key in ("warp_a", "shift_a", "warp_b", "shift_b", "source_seconds"):
        arrays[key] = np.asarray(out[key], dtype=np.float32)
    for key in ("utterance_id", "speaker", "content_id"):
        arrays[key] = np.asarray(out[key], dtype=object)
    return arrays


def write_rejects(rejects: list[dict[str, Any]], rejects_dir: str) -> str:
    """Write one rejects file; its name is a hash of its ids, so a retried task overwrites, not
    adds."""
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


def _single_thread() -> None:
    """One thread per Ray task: the CPU count is Ray's to share out, not torch's."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
