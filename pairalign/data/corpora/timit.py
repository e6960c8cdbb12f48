"""TIMIT: `root/{TRAIN,TEST}/DR*/<SPEAKER>/<SENT>.WAV` (NIST SPHERE) with `<SENT>.TXT` transcripts.

Names are matched case-insensitively (copies of TIMIT come in upper or lower case). The same
sentence id (`sa1`, `sx123`, ...) spoken by different speakers shares a `content_id`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pairalign.data.corpora._listing import Entry, known_durations, list_dir, read_text
from pairalign.data.corpora.registry import CorpusKind, register
from pairalign.data.manifest import ManifestError, manifest_table

SPLITS = ("train", "test")


def scan_timit(root: str) -> pa.Table:
    """A manifest of every utterance in the TIMIT tree at `root` (local path or URL)."""
    rows = list(_utterances(root))
    if not rows:
        raise ManifestError(
            f"{root}: no TIMIT utterances found (expected root/TRAIN|TEST/DR*/<speaker>/<sent>.WAV)"
        )
    for row, seconds in zip(rows, known_durations([r["path"] for r in rows]), strict=True):
        row["duration"] = seconds
    return manifest_table(rows)


def _utterances(root: str) -> Iterator[dict[str, Any]]:
    for split_dir in list_dir(root):
        split = split_dir.name.lower()
        if not split_dir.is_dir or split not in SPLITS:
            continue
        for region in list_dir(split_dir.url):
            if not (region.is_dir and region.name.lower().startswith("dr")):
                continue
            for speaker in list_dir(region.url):
                if speaker.is_dir:
                    yield from _speaker_utterances(speaker, split, region.name.lower())


def _speaker_utterances(speaker_dir: Entry, split: str, region: str) -> Iterator[dict[str, Any]]:
    speaker = speaker_dir.name.lower()
    files = [e for e in list_dir(speaker_dir.url) if not e.is_dir]
    transcripts = {e.name.lower(): e for e in files if e.name.lower().endswith(".txt")}
    # Some copies hold a converted `SA1.WAV.wav` beside the original: keep one file per sentence.
    audio = sorted(
        (e for e in files if e.name.lower().endswith(".wav")), key=lambda e: e.name.count(".")
    )
    seen: set[str] = set()
    for entry in audio:
        sentence = entry.name.split(".", 1)[0].lower()
        if sentence in seen:
            continue
        seen.add(sentence)
        transcript = transcripts.get(f"{sentence}.txt")
        yield {
            "utterance_id": f"{split}/{region}/{speaker}/{sentence}",
            "path": entry.url,
            "speaker": speaker,
            "content_id": sentence,
            "text": _transcript(transcript.url) if transcript else None,
            "split": split,
        }


def _transcript(url: str) -> str:
    """The words of a TIMIT .TXT line "<first sample> <last sample> <text>"."""
    parts = read_text(url).strip().split(None, 2)
    if len(parts) < 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        raise ManifestError(f"{url}: expected '<start sample> <end sample> <text>'")
    return " ".join(parts[2].split())


def is_timit(source: str) -> bool:
    """A directory with TRAIN or TEST holding DR* directories (any case)."""
    splits = [e for e in list_dir(source) if e.is_dir and e.name.lower() in SPLITS]
    return any(
        d.is_dir and d.name.lower().startswith("dr") for e in splits for d in list_dir(e.url)
    )


register(CorpusKind.TIMIT, scan_timit, is_timit, order=20)
