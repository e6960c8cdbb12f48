"""Parquet shards that embed each utterance's encoded audio bytes (`audio` set, `path` null).

A corpus of many small files becomes a few large objects: cheap to list, copy to S3 and stream
into Ray Data. Shards are named `shard-00000.parquet`, ... inside one directory or prefix.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from pairalign.data.audio import read_audio_bytes
from pairalign.data.corpora.registry import CorpusKind, register
from pairalign.data.manifest import MANIFEST_SCHEMA, ManifestError, validate_manifest
from pairalign.data.storage import is_remote, join, url_to_fs

SHARD_PATTERN = "shard-{index:05d}.parquet"


def write_audio_shards(manifest: pa.Table, out_url: str, rows_per_shard: int = 256) -> list[str]:
    """Write `manifest` with audio embedded as shards under `out_url`; returns the shard URLs.

    Shards left in `out_url` by an earlier run are removed first, so the directory holds this
    manifest only."""
    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
    manifest = validate_manifest(manifest)
    fs, path = url_to_fs(out_url)
    fs.makedirs(path, exist_ok=True)
    for stale in list_shards(out_url, missing_ok=True):
        fs.rm(url_to_fs(stale)[1])
    written = []
    for index, start in enumerate(range(0, len(manifest), rows_per_shard)):
        shard = _embed_audio(manifest.slice(start, rows_per_shard))
        shard_url = join(out_url, SHARD_PATTERN.format(index=index))
        with fs.open(url_to_fs(shard_url)[1], "wb") as f:
            pq.write_table(shard, f)
        written.append(shard_url)
    return written


def _embed_audio(rows: pa.Table) -> pa.Table:
    """`rows` with each path's file bytes moved into `audio` (rows already embedded are kept)."""
    paths = rows.column("path").to_pylist()
    audio = rows.column("audio").to_pylist()
    blobs = [
        blob if blob is not None else read_audio_bytes(p)
        for p, blob in zip(paths, audio, strict=True)
    ]
    rows = rows.set_column(
        rows.schema.get_field_index("audio"), "audio", pa.array(blobs, pa.binary())
    )
    path_index = rows.schema.get_field_index("path")
    return rows.set_column(path_index, "path", pa.nulls(len(rows), pa.string())).cast(
        MANIFEST_SCHEMA
    )


def list_shards(url: str, *, missing_ok: bool = False) -> list[str]:
    """The Parquet files directly under directory/prefix `url` (sorted), or `[url]` for one file."""
    fs, path = url_to_fs(url)
    if fs.isfile(path):
        return [url]
    found = sorted(fs.glob(f"{path.rstrip('/')}/*.parquet")) if fs.isdir(path) else []
    if not found and not missing_ok:
        raise ManifestError(f"{url}: no Parquet shards found")
    return [fs.unstrip_protocol(p) if is_remote(url) else p for p in found]


def read_audio_shards(url: str) -> pa.Table:
    """All shards under `url` (or one shard file) as one validated manifest table."""
    tables = []
    for shard_url in list_shards(url):
        fs, path = url_to_fs(shard_url)
        try:
            with fs.open(path, "rb") as f:
                table = pq.read_table(f)
        except (pa.ArrowInvalid, OSError) as err:
            raise ManifestError(f"{shard_url}: not a readable Parquet shard: {err}") from err
        tables.append(validate_manifest(table, source=shard_url))
    return validate_manifest(pa.concat_tables(tables), source=url)


register(CorpusKind.SHARDS, read_audio_shards)  # named only: its layout is not recognised
