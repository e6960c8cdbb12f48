"""A user's own manifest: a CSV or Parquet file (local or URL) listing audio files.

Required columns: `utterance_id`, `path` (absolute, a URL, or relative to the manifest's
directory). Optional: `speaker`, `content_id`, `text`, `duration` (read from the audio headers
when absent), `split` (defaults to "train"), `audio` (embedded file bytes, for rows without a
path, as `write_manifest` writes them). Other columns are ignored.

A CSV is read as text, as written: `nan`, `NA`, `null` or `0001` in a text column stay those
strings; an empty cell is a missing value. `duration` is converted to seconds explicitly, and a
value that is not a number is an error naming the file, the line and the column.

A row whose audio header cannot be read (missing, truncated, not audio) is not an error here: it
keeps an empty duration, and the job that decodes it records it in its rejects table with the
reason (`split_unreadable` sets them apart beforehand, as `workflows/prepare.py` does).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import posixpath

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pairalign.data.audio import AudioError
from pairalign.data.corpora._listing import try_durations
from pairalign.data.corpora.registry import CorpusKind, register
from pairalign.data.manifest import COLUMNS, MANIFEST_SCHEMA, ManifestError, validate_manifest
from pairalign.data.storage import is_remote, url_to_fs

REQUIRED = ("utterance_id", "path")
OPTIONAL = ("speaker", "content_id", "text", "duration", "split")
DEFAULT_SPLIT = "train"
SUFFIXES = (".csv", ".parquet", ".pq")  # a manifest file, recognised by its name
MANIFEST_NAMES = ("manifest.csv", "manifest.parquet")  # a corpus directory's own manifest
REJECTS_SCHEMA = pa.schema(
    [("utterance_id", pa.string()), ("path", pa.string()), ("reason", pa.string())]
)

log = logging.getLogger("pairalign")


def read_user_manifest(url: str) -> pa.Table:
    """Read, complete and validate a user manifest; errors name the file and the column. Rows whose
    audio cannot be read keep an empty duration (see the module docstring)."""
    table, rejects = _read_user_manifest(url)
    if len(rejects):
        first = rejects.to_pylist()[0]
        log.warning(
            "%s: %d row(s) whose audio cannot be read (kept; the jobs reject them when "
            "decoding), e.g. %s: %s",
            url,
            len(rejects),
            first["path"],
            first["reason"],
        )
    return table


def split_unreadable(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(the rows of manifest `table` whose audio header can be read, with their durations; the
    others, as utterance_id, path and reason). Only rows without a duration are read."""
    durations, rejects = _durations(table)
    table = table.set_column(COLUMNS.index("duration"), "duration", durations)
    bad = pa.array(rejects["utterance_id"].to_pylist(), pa.string())
    return table.filter(pc.invert(pc.is_in(table["utterance_id"], value_set=bad))), rejects


def _read_user_manifest(url: str) -> tuple[pa.Table, pa.Table]:
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
    durations, rejects = _durations(table)
    table = table.set_column(COLUMNS.index("duration"), "duration", durations)
    split = pc.fill_null(table.column("split"), DEFAULT_SPLIT)
    table = table.set_column(COLUMNS.index("split"), "split", split)
    return validate_manifest(table, source=url), rejects


def _read_table(url: str) -> pa.Table:
    suffix = url.lower().rsplit(".", 1)[-1]
    if suffix not in ("csv", "parquet", "pq"):
        raise ManifestError(f"{url}: unknown manifest format (expected .csv or .parquet)")
    fs, path = url_to_fs(url)
    if not fs.exists(path):
        raise ManifestError(f"{url}: manifest not found")
    try:
        with fs.open(path, "rb") as f:
            data = f.read()
        if suffix == "csv":
            return _read_csv(data, url)
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as err:
        raise ManifestError(f"{url}: cannot read as {suffix.upper()}: {err}") from err


def _read_csv(data: bytes, url: str) -> pa.Table:
    """Every column as text, as written (no missing-value guessing); durations converted here."""
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig").split("\n", 1)[0])), [])
    header = [name.strip() for name in header]
    text = {name: pa.string() for name in header}
    options = pcsv.ConvertOptions(
        column_types=text,
        strings_can_be_null=False,
        null_values=[],
        quoted_strings_can_be_null=False,
    )
    read = pcsv.ReadOptions(column_names=header, skip_rows=1, encoding="utf-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    table = pcsv.read_csv(io.BytesIO(data), read_options=read, convert_options=options)
    if "duration" in table.column_names:
        seconds = [_seconds(v, url, i) for i, v in enumerate(table["duration"].to_pylist())]
        table = table.set_column(
            table.column_names.index("duration"), "duration", pa.array(seconds, pa.float64())
        )
    return table


def _seconds(value: str, url: str, index: int) -> float | None:
    """A CSV duration cell as seconds; empty, NA, nan or null is missing."""
    value = value.strip()
    if value.lower() in ("", "na", "nan", "null", "none"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ManifestError(
            f"{url}: line {index + 2}, column 'duration': {value!r} is not a number of seconds"
        )
    return seconds


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


def _durations(table: pa.Table) -> tuple[pa.Array, pa.Table]:
    """Given durations kept, missing ones read from the audio headers; rows whose header cannot
    be read stay empty and are listed (utterance_id, path, reason)."""
    given = table.column("duration").to_pylist()
    paths = table.column("path").to_pylist()
    ids = table.column("utterance_id").to_pylist()
    todo = [i for i, seconds in enumerate(given) if seconds is None and paths[i] is not None]
    rejects = []
    for i, found in zip(todo, try_durations([paths[i] for i in todo]), strict=True):
        if isinstance(found, AudioError):
            rejects.append({"utterance_id": ids[i], "path": paths[i], "reason": found.reason})
        else:
            given[i] = found
    return pa.array(given, pa.float64()), pa.Table.from_pylist(rejects, schema=REJECTS_SCHEMA)


def is_manifest_file(source: str) -> bool:
    """Whether `source` names a manifest file (.csv, .parquet): the manifest adapter's layout."""
    return source.lower().endswith(SUFFIXES)


register(CorpusKind.MANIFEST, read_user_manifest, is_manifest_file, order=10)
