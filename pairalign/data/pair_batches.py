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
from pairalign.data.partners import ContentIndex, partner_of
from pairalign.data.storage import join, url_to_fs
from pairalign.data.time_maps import RenditionAligner
from pairalign.data.views import PairedViews, ViewConfig, make_cross_views, make_views, pair_rng

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
# Columns of view B's recording, only when a content index is given: B's id is A's own for
# today's pairs, another speaker's rendition for a cross-voice pair.
PARTNER_COLUMNS = ("utterance_b", "speaker_b", "content_id_b", "source_seconds_b")
# Tensors of a pipeline that may cross voices (`views.cross_voice` > 0): B's real seconds, the
# map between the two crops (B's crop seconds at `ViewConfig.time_grid`: the grid itself for two
# views of one recording), whether the pair crosses voices (1) or not (0), and the DTW path's
# mean cost (NaN when no partner was drawn; a partner whose path was rejected leaves cross 0).
CROSS_COLUMNS = ("source_seconds_b", "time_b", "cross", "dtw_cost")


def tensor_columns(views: ViewConfig) -> tuple[str, ...]:
    """The columns training consumes for these views."""
    return TENSOR_COLUMNS + (CROSS_COLUMNS if views.cross_voice > 0 else ())


def make_pair_batch(
    batch: pa.Table,
    *,
    views: ViewConfig,
    rejects_dir: str,
    with_clean: bool = False,
    partners: ContentIndex | None = None,
    maps_dir: str | None = None,
) -> dict[str, np.ndarray]:
    """Decode each row and make its two views; rows that fail to decode go to the rejects table.
    `with_clean` adds the unaugmented crop as a column (source time = its time). With `partners`,
    a share `views.cross_voice` of the rows take view B from another speaker's rendition of their
    content (`pairalign.data.partners.partner_of`), cropped where the DTW time map between the
    two recordings (cached under `maps_dir`, `pairalign.data.time_maps`) puts A's crop, and
    `PARTNER_COLUMNS` and `CROSS_COLUMNS` say whose B is and how its time maps to A's."""
    _single_thread()
    rows = batch.to_pylist()
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            *TENSOR_COLUMNS,
            CLEAN,
            "utterance_id",
            "speaker",
            "content_id",
            *PARTNER_COLUMNS,
            *CROSS_COLUMNS,
        )
    }
    rejects = []
    aligner = (
        RenditionAligner(views.dtw, views.sample_rate, maps_dir) if partners is not None else None
    )
    for row in rows:
        epoch = row.get("epoch") or 0
        try:
            samples = load_row_audio(row, sample_rate=views.sample_rate)
        except AudioError as err:
            rejects.append(_reject(row["utterance_id"], row.get("path"), err, epoch))
            continue
        pair, partner, cost = _pair_of(row, samples, views, partners, aligner, epoch, rejects)
        _append(out, row, pair)
        if partners is not None:
            b = partner or row["utterance_id"]
            same = partner is None
            out["utterance_b"].append(b)
            out["speaker_b"].append((row.get("speaker") or "") if same else partners.speakers[b])
            out["content_id_b"].append(row.get("content_id") or "")
            out["source_seconds_b"].append(pair.source_seconds if same else pair.source_seconds_b)
            out["time_b"].append(views.time_grid if same else pair.time_b)
            out["cross"].append(0.0 if same else 1.0)
            out["dtw_cost"].append(cost)
    if rejects:
        write_rejects(rejects, rejects_dir)
    return _arrays(out, views.clip_samples, with_clean, with_partners=partners is not None)


def _pair_of(
    row: dict[str, Any],
    samples: np.ndarray,
    views: ViewConfig,
    partners: ContentIndex | None,
    aligner: RenditionAligner | None,
    epoch: int,
    rejects: list[dict[str, Any]],
) -> tuple[PairedViews, str | None, float]:
    """Today's pair, or a cross-voice pair, its partner's id and the DTW path's mean cost when
    one is drawn, decodes and aligns (a partner that fails to decode is rejected; one whose path
    costs too much is not a partner: the row keeps today's pair, and its cost says why)."""
    rng = pair_rng(views.seed, epoch, row["utterance_id"])
    partner = None
    if partners is not None:
        partner = partner_of(row["utterance_id"], epoch, views.seed, partners, views.cross_voice)
    if partner is None or aligner is None:
        return make_views(samples, views, rng), None, float("nan")
    path = partners.paths[partner]
    try:
        other = load_row_audio(
            {"utterance_id": partner, "path": path}, sample_rate=views.sample_rate
        )
    except AudioError as err:
        rejects.append(_reject(partner, path, err, epoch))
        return make_views(samples, views, rng), None, float("nan")
    found = aligner(row["utterance_id"], samples, partner, other)
    if found.time_map is None:
        return make_views(samples, views, rng), None, found.cost
    return make_cross_views(samples, other, views, rng, found.time_map), partner, found.cost


def _reject(utterance_id: str, path: str | None, err: AudioError, epoch: int) -> dict[str, Any]:
    return {"utterance_id": utterance_id, "path": path, "reason": err.reason, "epoch": epoch}


def _append(out: dict[str, list[Any]], row: dict[str, Any], pair: PairedViews) -> None:
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


def _arrays(
    out: dict[str, list[Any]], n: int, with_clean: bool, *, with_partners: bool
) -> dict[str, np.ndarray]:
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
    if with_partners:
        for key in ("utterance_b", "speaker_b", "content_id_b"):
            arrays[key] = np.asarray(out[key], dtype=object)
        for key in ("source_seconds_b", "cross", "dtw_cost"):
            arrays[key] = np.asarray(out[key], dtype=np.float32)
        time_b = np.asarray(out["time_b"], dtype=np.float32)
        arrays["time_b"] = time_b.reshape(len(out["cross"]), -1)
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
