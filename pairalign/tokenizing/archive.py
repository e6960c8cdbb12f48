"""Tokenized archives on disk or S3: one directory per tokenizer, Parquet parts written once.

    <out_dir>/<tokenizer name>/tokenizer.json           what wrote it (version, spec, checkpoint)
    <out_dir>/<tokenizer name>/tokens/part-*.parquet   ARCHIVE_SCHEMA rows
    <out_dir>/<tokenizer name>/rejects/part-*.parquet  REJECTS_SCHEMA rows (audio that failed)

A part's name is a hash of the utterance ids of the batch it came from, so writing the same batch
again (a retried task) replaces the part instead of adding rows; a local part is written to a
temporary name and renamed, so a killed writer never leaves half a part behind.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pairalign.data.storage import is_remote, join, url_to_fs

ARCHIVE_SCHEMA = pa.schema(
    [
        ("utterance_id", pa.string()),
        ("tokenizer", pa.string()),
        ("checkpoint_id", pa.string()),
        ("tokens", pa.list_(pa.int16())),
        ("token_count", pa.int32()),
        ("duration", pa.float32()),
    ]
)
REJECTS_SCHEMA = pa.schema(
    [
        ("utterance_id", pa.string()),
        ("path", pa.string()),
        ("reason", pa.string()),
    ]
)


def part_name(utterance_ids: Sequence[str]) -> str:
    digest = hashlib.sha1("\n".join(sorted(utterance_ids)).encode()).hexdigest()[:20]
    return f"part-{digest}.parquet"


def write_part(table: pa.Table, directory: str, name_ids: Sequence[str] | None = None) -> str:
    """Write `table` as one part under `directory`, named by `name_ids` (default: its own ids).
    Name a part by the batch it came from, not by what succeeded in it, so a retried batch
    overwrites its part even if its outcome differs. Atomic locally (temporary name, rename)."""
    ids = table["utterance_id"].to_pylist() if name_ids is None else name_ids
    url = join(directory, part_name(ids))
    fs, path = url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    target = path if is_remote(url) else f"{path}.tmp-{uuid.uuid4().hex}"  # S3 puts are atomic
    with fs.open(target, "wb") as f:
        pq.write_table(table, f)
    if target != path:
        fs.mv(target, path)
    return url


def read_parts(directory: str, schema: pa.Schema, columns: Sequence[str] | None = None) -> pa.Table:
    """Every finished part under `directory` (an empty table when there is none)."""
    fs, path = url_to_fs(directory)
    fs.invalidate_cache()  # s3fs caches listings; parts may have been written since
    if not fs.exists(path):
        return schema.empty_table() if columns is None else schema.empty_table().select(columns)
    tables = []
    local = "file" in fs.protocol
    for file in sorted(f for f in fs.find(path) if f.endswith(".parquet")):
        if local:  # by path: Arrow's own reader (a read through a Python file object leaves
            # threads behind that can abort a process exiting right after it)
            tables.append(pq.read_table(file, schema=schema, columns=columns))
            continue
        with fs.open(file, "rb") as f:
            tables.append(pq.read_table(f, schema=schema, columns=columns))
    if not tables:
        return schema.empty_table() if columns is None else schema.empty_table().select(columns)
    return pa.concat_tables(tables)


def read_archive(archive_dir: str, columns: Sequence[str] | None = None) -> pa.Table:
    """The token rows of one tokenizer's archive directory."""
    return read_parts(join(archive_dir, "tokens"), ARCHIVE_SCHEMA, columns)


def read_archive_rejects(archive_dir: str) -> pa.Table:
    return read_parts(join(archive_dir, "rejects"), REJECTS_SCHEMA)


INFO_FILE = "tokenizer.json"
INFO_VERSION = 1  # `format_version` in tokenizer.json; a file without one is version 1


def write_info(archive_dir: str, info: dict[str, Any]) -> None:
    """Record what writes this archive (with `format_version`); refuse to mix a second tokenizer
    or checkpoint into it."""
    url = join(archive_dir, INFO_FILE)
    fs, path = url_to_fs(url)
    if fs.exists(path):
        existing = read_info(archive_dir)
        if existing != info:
            raise ValueError(
                f"{url} says this archive was written by {existing}, not {info}; "
                "write to another out_dir or tokenizer name"
            )
        return
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w") as f:
        json.dump({"format_version": INFO_VERSION, **info}, f, indent=2)


def read_info(archive_dir: str) -> dict[str, Any]:
    """What wrote the archive (tokenizer.json without its `format_version`); a file of a later
    format version than this code reads is refused with a message naming it."""
    url = join(archive_dir, INFO_FILE)
    fs, path = url_to_fs(url)
    if not fs.exists(path):
        raise FileNotFoundError(f"{archive_dir}: no {INFO_FILE}; not a tokenized archive")
    with fs.open(path, "r") as f:
        info = json.load(f)
    version = info.pop("format_version", 1)
    if version != INFO_VERSION:
        raise ValueError(
            f"{url}: format_version {version!r}; this pairalign reads version "
            f"{INFO_VERSION} (a newer pairalign wrote it?)"
        )
    return info


def clean_partial(archive_dir: str) -> int:
    """Remove temporary files a killed writer left; returns how many."""
    fs, path = url_to_fs(archive_dir)
    if not fs.exists(path):
        return 0
    leftovers = [f for f in fs.find(path) if ".parquet.tmp-" in f]
    for f in leftovers:
        fs.rm(f)
    return len(leftovers)
