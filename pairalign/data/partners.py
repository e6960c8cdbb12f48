"""Cross-voice partners: other speakers' renditions of the same content.

`ContentIndex.from_rows` maps each utterance to the utterances of the same `content_id` read by a
different speaker (only those with a `path`, so a worker can load them), plus the paths to find
their audio. It is plain dicts of strings: built once per corpus and shipped to the workers.
`partner_of` draws, per (seed, epoch, utterance id), whether a row's pair crosses voices and
which rendition it takes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from pairalign.data.views import utterance_key

_PARTNER_STREAM = 0x70617274  # keeps the partner draw apart from the views' own random stream


@dataclass(frozen=True)
class ContentIndex:
    """Per utterance: its partners (sorted ids, another speaker, same content id) and the path and
    speaker of every utterance that is someone's partner."""

    partners: Mapping[str, tuple[str, ...]]
    paths: Mapping[str, str]
    speakers: Mapping[str, str]

    @classmethod
    def from_rows(cls, rows: pa.Table | Iterable[Mapping[str, Any]]) -> ContentIndex:
        """Index a manifest (table or row dicts). Rows with no content id have no partners."""
        rows = rows.to_pylist() if isinstance(rows, pa.Table) else list(rows)
        by_content: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            if row.get("content_id"):
                by_content[row["content_id"]].append(row)
        partners: dict[str, tuple[str, ...]] = {}
        paths: dict[str, str] = {}
        speakers: dict[str, str] = {}
        for group in by_content.values():
            for row in group:
                speaker = row.get("speaker") or ""
                found = sorted(
                    other["utterance_id"]
                    for other in group
                    if (other.get("speaker") or "") != speaker and other.get("path")
                )
                if found:
                    partners[row["utterance_id"]] = tuple(found)
                    speakers[row["utterance_id"]] = speaker
                for other_id in found:
                    paths.setdefault(other_id, "")
        for row in rows:
            if row["utterance_id"] in paths:
                paths[row["utterance_id"]] = row["path"]
                speakers[row["utterance_id"]] = row.get("speaker") or ""
        return cls(partners, paths, speakers)

    def __len__(self) -> int:
        """How many utterances have at least one partner."""
        return len(self.partners)

    def of(self, utterance_id: str) -> tuple[str, ...]:
        return self.partners.get(utterance_id, ())

    def to_json(self) -> str:
        return json.dumps(
            {"partners": self.partners, "paths": self.paths, "speakers": self.speakers},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ContentIndex:
        data = json.loads(text)
        partners = {k: tuple(v) for k, v in data["partners"].items()}
        return cls(partners, data["paths"], data["speakers"])


def partner_rng(seed: int, epoch: int, utterance_id: str) -> np.random.Generator:
    """The partner draw's generator: from (seed, epoch, utterance id) like `pair_rng`, but its own
    stream, so the views of a pair are drawn exactly as without partners."""
    return np.random.default_rng([seed, epoch, utterance_key(utterance_id), _PARTNER_STREAM])


def partner_of(
    utterance_id: str, epoch: int, seed: int, index: ContentIndex, share: float
) -> str | None:
    """Another speaker's rendition of this row's content with probability `share`, uniformly
    among them; None for today's pair (two views of one recording) or when there is none.
    With `share` 0 nothing is drawn."""
    found = index.of(utterance_id)
    if share <= 0.0 or not found:
        return None
    rng = partner_rng(seed, epoch, utterance_id)
    if share < 1.0 and rng.random() >= share:
        return None
    return found[int(rng.integers(len(found)))]


def fallback_message(index: ContentIndex, share: float) -> str | None:
    """One line when cross-voice pairs are asked for but the corpus repeats no content."""
    if share <= 0.0 or len(index):
        return None
    return (
        f"views.cross_voice={share:g}, but no content here is read by two speakers (with audio "
        "at a path): every pair is two views of one recording"
    )


def announce_fallback(
    index: ContentIndex, share: float, log: Callable[[str], None] = print
) -> str | None:
    """Say the fallback once (call it where the index is built, not per batch); returns it."""
    message = fallback_message(index, share)
    if message:
        log(message)
    return message


def partners_for(
    rows: pa.Table, share: float, log: Callable[[str], None] = print
) -> ContentIndex | None:
    """The index a pipeline ships to its workers: None when `share` is 0 (today's pairs, nothing
    built), else the index of `rows`, saying so once when it holds no partners."""
    if share <= 0.0:
        return None
    index = ContentIndex.from_rows(rows)
    announce_fallback(index, share, log)
    return index
