"""Which adapter reads a corpus. Each adapter module registers its kind, its loader and how it
recognises its layout (`register`); `load_corpus` and `detect_kind` ask the registered adapters,
so a new corpus layout is one module (imported in `pairalign/data/corpora/__init__.py`).

    load_corpus(CorpusKind.TIMIT, "/data/TIMIT")      # the TIMIT adapter's manifest
    load_corpus("auto", "/data/somewhere")            # the first adapter that recognises it
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from pairalign.data.manifest import ManifestError


class CorpusKind(StrEnum):
    """How a corpus is read: by a registered adapter, recognised (`auto`), or synthesised."""

    AUTO = "auto"  # the first registered adapter whose `detect` recognises the source
    BUILTIN = "builtin"  # the espeak-ng corpus, synthesised (`pairalign.data.corpora.prepare`)
    MANIFEST = "manifest"  # a .csv / .parquet file listing audio files (`user.py`)
    TIMIT = "timit"
    LIBRISPEECH = "librispeech"
    FOLDER = "folder"  # <speaker>/<content>.<ext>, any depth
    SHARDS = "shards"  # Parquet shards with embedded audio bytes


@dataclass(frozen=True)
class Adapter:
    kind: CorpusKind
    load: Callable[[str], pa.Table]  # source -> validated manifest table
    detect: Callable[[str], bool] | None  # does `source` have this layout? None: by name only
    order: int  # `detect_kind` asks the adapters by increasing order


ADAPTERS: dict[CorpusKind, Adapter] = {}


def register(
    kind: CorpusKind,
    load: Callable[[str], pa.Table],
    detect: Callable[[str], bool] | None = None,
    *,
    order: int = 50,
) -> None:
    """Make `load` the reader of corpus kind `kind`; with `detect`, `kind=auto` may choose it."""
    ADAPTERS[kind] = Adapter(kind, load, detect, order)


def detect_kind(source: str) -> CorpusKind:
    """The kind of the first adapter (by `order`) whose `detect` recognises `source`."""
    for adapter in sorted(ADAPTERS.values(), key=lambda a: a.order):
        if adapter.detect is not None and adapter.detect(source):
            return adapter.kind
    known = sorted(a.kind.value for a in ADAPTERS.values() if a.detect is not None)
    raise ManifestError(
        f"{source}: not a manifest file nor a directory with files in it (none of the layouts "
        f"that kind: auto recognises: {', '.join(known)})"
    )


def load_corpus(kind: str | CorpusKind, source: str) -> pa.Table:
    """The manifest of corpus `source` read by the adapter of `kind` (or `auto`: `detect_kind`)."""
    if kind == CorpusKind.AUTO:
        kind = detect_kind(source)
    if kind not in ADAPTERS:  # a CorpusKind equals (and hashes as) its value
        known = sorted(k.value for k in ADAPTERS)
        raise ValueError(f"unknown corpus kind {str(kind)!r}; expected one of {known}")
    return ADAPTERS[kind].load(source)
