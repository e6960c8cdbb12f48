"""The manifest: one Parquet schema that every corpus adapter produces and every job reads.

A row is one utterance. Audio is either referenced (`path`, local or `s3://...`) or embedded
(`audio`, the encoded file's bytes); exactly one of the two is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pairalign.data.storage import url_to_fs

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("utterance_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),  # local path or URL of the audio file, or null
        pa.field("audio", pa.binary()),  # encoded audio file bytes (WAV/FLAC/OGG/SPHERE), or null
        pa.field("speaker", pa.string()),
        pa.field("content_id", pa.string()),  # same sentence/content => same id
        pa.field("text", pa.string()),  # transcript where known
        pa.field("duration", pa.float64()),  # seconds
        pa.field("split", pa.string()),  # "train", "test", ...
    ]
)
COLUMNS = tuple(MANIFEST_SCHEMA.names)


class ManifestError(ValueError):
    """A manifest is malformed: missing columns, duplicate ids, rows without audio."""


def manifest_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build a validated manifest table from row dicts; absent optional columns become null."""
    rows = list(rows)
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    return validate_manifest(pa.table(columns, schema=MANIFEST_SCHEMA))


def validate_manifest(table: pa.Table, *, source: str = "manifest") -> pa.Table:
    """Check columns, types, unique ids and that each row has exactly one of path/audio."""
    missing = [name for name in ("utterance_id",) if name not in table.column_names]
    if missing:
        raise ManifestError(f"{source}: missing required column(s) {missing}")
    if "path" not in table.column_names and "audio" not in table.column_names:
        raise ManifestError(f"{source}: needs a 'path' or an 'audio' column")
    for name in COLUMNS:
        if name not in table.column_names:
            table = table.append_column(
                MANIFEST_SCHEMA.field(name), pa.nulls(len(table), MANIFEST_SCHEMA.field(name).type)
            )
    ids = table.column("utterance_id")
    if ids.null_count:  # checked before the cast, which refuses nulls in a non-nullable field
        raise ManifestError(f"{source}: {ids.null_count} row(s) have no utterance_id")
    try:
        table = table.select(list(COLUMNS)).cast(MANIFEST_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise ManifestError(
            f"{source}: column types do not match the manifest schema: {err}"
        ) from err
    ids = table.column("utterance_id")
    if len(pa.compute.unique(ids)) != len(ids):
        counts = pa.compute.value_counts(ids).to_pylist()
        dupes = [c["values"] for c in counts if c["counts"] > 1][:5]
        raise ManifestError(f"{source}: duplicate utterance_id(s), e.g. {dupes}")
    has_path = pa.compute.is_valid(table.column("path"))
    has_audio = pa.compute.is_valid(table.column("audio"))
    both_or_none = pa.compute.equal(has_path, has_audio)
    if pa.compute.any(both_or_none).as_py():
        bad = table.filter(both_or_none).column("utterance_id").to_pylist()[:5]
        raise ManifestError(
            f"{source}: each row needs exactly one of path/audio; offending ids e.g. {bad}"
        )
    return table


def write_manifest(table: pa.Table, url: str) -> None:
    """Write a manifest to a local path or URL as one Parquet file."""
    table = validate_manifest(table, source=url)
    fs, path = url_to_fs(url)
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "wb") as f:
        pq.write_table(table, f)


def read_manifest(url: str) -> pa.Table:
    """Read and validate a manifest from `write_manifest` (or any Parquet with its columns)."""
    fs, path = url_to_fs(url)
    if not fs.exists(path):
        raise ManifestError(f"{url}: manifest not found")
    with fs.open(path, "rb") as f:
        table = pq.read_table(f)
    return validate_manifest(table, source=url)
