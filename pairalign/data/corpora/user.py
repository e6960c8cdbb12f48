"""A user's own manifest: a CSV or Parquet file (local or URL) listing audio files.

Required columns: `utterance_id`, `path` (absolute, a URL, or relative to the manifest's
directory). Optional: `speaker`, `content_id`, `text`, `duration` (read from the audio headers
when absent), `split` (defaults to "train"), `audio` (embedded file bytes, for rows without a
path, as `write_manifest` writes them). Other columns are ignored.
"""

from __future__ import annotations

import os
import posixpath

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pairalign.data.corpora._listing import durations
from pairalign.data.manifest import COLUMNS, MANIFEST_SCHEMA, ManifestError, validate_manifest
from pairalign.data.storage import is_remote, url_to_fs

REQUIRED = ("utterance_id", "path")
OPTIONAL = ("speaker", "content_id", "text", "duration", "split")
DEFAULT_SPLIT = "train"


def read_user_manifest(url: str) -> pa.Table:
    """Read, complete and validate a user manifest; errors name the file and the column."""
    table = _read_table(url)
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise ManifestError(f"{url}: missing required column(s) {missing}")
    table = pa.table({name: _column(table, name, url) for name in COLUMNS})
    no_audio = pc.and_(pc.is_null(table.column("path")), pc.is_null(table.column("audio")))
    if pc.any(no_audio).as_py():
        ids = table.filter(no_audio).column("utterance_id").to_pylist()[:5]
        raise ManifestError(f"{url}: column 'path' is empty for utterance(s) {ids}")
    paths = [p if p is None else _resolve(url, p) for p in table.column("path").to_pylist()]
    table = table.set_column(COLUMNS.index("path"), "path", pa.array(paths, pa.string()))
    table = table.set_column(COLUMNS.index("duration"), "duration", _durations(table))
    split = pc.fill_null(table.column("split"), DEFAULT_SPLIT)
    table = table.set_column(COLUMNS.index("split"), "split", split)
    return validate_manifest(table, source=url)


def _read_table(url: str) -> pa.Table:
    suffix = url.lower().rsplit(".", 1)[-1]
    fs, path = url_to_fs(url)
    if not fs.exists(path):
        raise ManifestError(f"{url}: manifest not found")
    try:
        with fs.open(path, "rb") as f:
            if suffix == "csv":
                text_columns = {n: pa.string() for n in (*REQUIRED, *OPTIONAL)}
                options = pcsv.ConvertOptions(column_types=text_columns, strings_can_be_null=True)
                return pcsv.read_csv(f, convert_options=options)
            if suffix in ("parquet", "pq"):
                return pq.read_table(f)
    except (pa.ArrowInvalid, OSError) as err:
        raise ManifestError(f"{url}: cannot read as {suffix.upper()}: {err}") from err
    raise ManifestError(f"{url}: unknown manifest format (expected .csv or .parquet)")


def _column(table: pa.Table, name: str, url: str) -> pa.ChunkedArray:
    """Column `name` cast to the manifest type, or nulls when absent."""
    field = MANIFEST_SCHEMA.field(name)
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(len(table), field.type)])
    column = table.column(name)
    if field.type == pa.string() and pa.types.is_string(column.type):
        column = pc.if_else(pc.equal(pc.utf8_trim_whitespace(column), ""), None, column)
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise ManifestError(f"{url}: column '{name}' is not {field.type}: {err}") from err


def _resolve(manifest_url: str, path: str) -> str:
    """A path relative to the manifest's directory made absolute; URLs and absolute paths kept."""
    if "://" in path or os.path.isabs(path):
        return path
    manifest_url = manifest_url.removeprefix("file://")
    if is_remote(manifest_url):
        base = manifest_url.rsplit("/", 1)[0]
        scheme, rest = base.split("://", 1)
        return f"{scheme}://{posixpath.normpath(posixpath.join(rest, path))}"
    base = os.path.dirname(os.path.abspath(manifest_url))
    return os.path.normpath(os.path.join(base, path))


def _durations(table: pa.Table) -> pa.Array:
    """Given durations kept; missing ones read from the audio files' headers."""
    given = table.column("duration").to_pylist()
    paths = table.column("path").to_pylist()
    todo = [i for i, seconds in enumerate(given) if seconds is None and paths[i] is not None]
    for i, seconds in zip(todo, durations([paths[i] for i in todo]), strict=True):
        given[i] = seconds
    return pa.array(given, pa.float64())
