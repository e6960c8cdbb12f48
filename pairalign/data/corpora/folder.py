"""A folder of recordings, with no listing of its own: `root/<speaker>/<content>.<ext>`.

Every audio file under `root` (WAV, FLAC, OGG, NIST SPHERE; any depth) is one utterance:
`utterance_id` = its path under `root` without the extension, '/'-separated (`folder_ids`, the
ids `python -m pairalign tokenize <folder>` prints too; two files that differ only by their
extension are an error naming both), `speaker` = its directory's name
(none for files directly in `root`), `content_id` = the file name without the extension (so
`alice/s01.wav` and `bob/s01.wav` are the same sentence by two people), `split` = "train".
A folder that holds a `manifest.csv` or `manifest.parquet` is read through that file instead
(`pairalign.data.corpora.user`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from pairalign.data.corpora._listing import Entry, known_durations, list_dir
from pairalign.data.corpora.registry import CorpusKind, register
from pairalign.data.corpora.user import MANIFEST_NAMES, read_user_manifest
from pairalign.data.manifest import ManifestError, manifest_table
from pairalign.data.storage import join

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".sph", ".nist")  # what pairalign.data.audio decodes


def scan_folder(root: str) -> pa.Table:
    """A manifest of every audio file under `root` (local path or URL), or of its manifest file."""
    names = {e.name for e in list_dir(root) if not e.is_dir}
    for name in MANIFEST_NAMES:
        if name in names:
            return read_user_manifest(join(root, name))
    files = audio_files(root)
    ids = folder_ids([relative for relative, _ in files], root)
    rows = [
        {
            "utterance_id": uid,
            "path": url,
            "speaker": uid.rsplit("/", 2)[-2] if "/" in uid else None,
            "content_id": uid.rsplit("/", 1)[-1],
            "split": "train",
        }
        for uid, (_, url) in zip(ids, files, strict=True)
    ]
    if not rows:
        raise ManifestError(f"{root}: no audio files found ({', '.join(AUDIO_SUFFIXES)})")
    for row, seconds in zip(rows, known_durations([r["path"] for r in rows]), strict=True):
        row["duration"] = seconds
    return manifest_table(rows)


def folder_ids(relative_paths: Sequence[str], root: str = "") -> list[str]:
    """The utterance id of each audio file of a folder, from its '/'-separated path under the
    folder: the path without its extension (`SM2/200001.wav` -> `SM2/200001`). Two files with
    one id (`a.wav`, `a.flac`) raise a ManifestError naming both."""
    ids = [
        path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
        for path in relative_paths
    ]
    first: dict[str, str] = {}
    for uid, path in zip(ids, relative_paths, strict=True):
        if uid in first:
            raise ManifestError(
                f"{root or '.'}: {first[uid]} and {path} would both be utterance "
                f"{uid!r} (ids drop the extension); rename or move one"
            )
        first[uid] = path
    return ids


def audio_files(root: str) -> list[tuple[str, str]]:
    """(path under `root`, '/'-separated; its url) of every audio file under `root`, by path: the
    one listing of a folder, for the folder corpus and `python -m pairalign tokenize <folder>`."""
    found = [("/".join((*parents, e.name)), e.url) for parents, e in _audio_files(root, ())]
    return sorted(found)


def _audio_files(url: str, parents: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Entry]]:
    for entry in list_dir(url):
        if entry.is_dir:
            yield from _audio_files(entry.url, (*parents, entry.name))
        elif entry.name.lower().endswith(AUDIO_SUFFIXES):
            yield parents, entry


def is_folder(source: str) -> bool:
    """Any directory with files in it: the layout of last resort (`order` last)."""
    try:
        return bool(list_dir(source))
    except OSError:  # unreadable (permissions, a bucket one may not list): not recognised
        return False


register(CorpusKind.FOLDER, scan_folder, is_folder, order=90)
