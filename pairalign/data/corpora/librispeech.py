"""LibriSpeech: `root/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac` with one
`<speaker>-<chapter>.trans.txt` per chapter. `root` may also be one subset directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pairalign.data.corpora._listing import Entry, known_durations, list_dir, read_text
from pairalign.data.corpora.registry import CorpusKind, register
from pairalign.data.corpora.user import MANIFEST_NAMES
from pairalign.data.manifest import ManifestError, manifest_table


def scan_librispeech(root: str) -> pa.Table:
    """A manifest of every utterance under `root` (a LibriSpeech directory or one subset of it)."""
    rows = []
    for subset in _subsets(root):
        for speaker in list_dir(subset.url):
            if speaker.is_dir and speaker.name.isdigit():
                for chapter in list_dir(speaker.url):
                    if chapter.is_dir and chapter.name.isdigit():
                        rows.extend(_chapter_utterances(chapter, speaker.name, subset.name))
    if not rows:
        raise ManifestError(
            f"{root}: no LibriSpeech utterances found "
            "(expected <subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac)"
        )
    for row, seconds in zip(rows, known_durations([r["path"] for r in rows]), strict=True):
        row["duration"] = seconds
    return manifest_table(rows)


def _subsets(root: str) -> list[Entry]:
    """`root` itself when its children are speaker dirs, else its child directories."""
    children = [e for e in list_dir(root) if e.is_dir]
    if any(e.name.isdigit() for e in children):
        name = root.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
        return [Entry(name, root, True)]
    return [e for e in children if not e.name.isdigit()]


def _chapter_utterances(chapter: Entry, speaker: str, subset: str) -> Iterator[dict[str, Any]]:
    files = [e for e in list_dir(chapter.url) if not e.is_dir]
    texts: dict[str, str] = {}
    for entry in files:
        if entry.name.endswith(".trans.txt"):
            texts.update(_transcripts(entry.url))
    for entry in files:
        if not entry.name.lower().endswith(".flac"):
            continue
        utterance = entry.name.rsplit(".", 1)[0]
        yield {
            "utterance_id": utterance,
            "path": entry.url,
            "speaker": speaker,
            "content_id": utterance,
            "text": texts.get(utterance),
            "split": subset,
        }


def _transcripts(url: str) -> dict[str, str]:
    """`<utterance-id> TEXT` lines of a .trans.txt file."""
    texts = {}
    for number, line in enumerate(read_text(url).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ManifestError(f"{url}: line {number} is not '<utterance-id> <text>'")
        texts[parts[0]] = parts[1].strip()
    return texts


def is_librispeech(source: str) -> bool:
    """Speaker directories of digits holding chapter directories of digits, here or one down (and
    no manifest file of its own)."""
    entries = list_dir(source)
    if {e.name for e in entries} & set(MANIFEST_NAMES):
        return False
    for candidate in [e for e in entries if e.is_dir][:3]:
        speakers = [candidate] if candidate.name.isdigit() else list_dir(candidate.url)[:3]
        for speaker in speakers:
            if speaker.is_dir and speaker.name.isdigit():
                return any(c.is_dir and c.name.isdigit() for c in list_dir(speaker.url))
    return False


register(CorpusKind.LIBRISPEECH, scan_librispeech, is_librispeech, order=30)
