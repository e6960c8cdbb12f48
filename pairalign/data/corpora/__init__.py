"""Corpus adapters: each turns a corpus on disk or S3 into a validated manifest table."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from pairalign.data.corpora.builtin import BuiltinCorpusConfig, synthesize_corpus
from pairalign.data.corpora.folder import detect_kind, scan_folder
from pairalign.data.corpora.librispeech import scan_librispeech
from pairalign.data.corpora.shards import list_shards, read_audio_shards, write_audio_shards
from pairalign.data.corpora.timit import scan_timit
from pairalign.data.corpora.user import read_user_manifest

LOADERS: dict[str, Callable[[str], pa.Table]] = {
    "timit": scan_timit,
    "librispeech": scan_librispeech,
    "manifest": read_user_manifest,
    "shards": read_audio_shards,
    "folder": scan_folder,
}


def load_corpus(kind: str, source: str) -> pa.Table:
    """The manifest of corpus `source` read by the adapter for `kind` (a key of LOADERS, or `auto`:
    `detect_kind(source)`)."""
    if kind == "auto":
        kind = detect_kind(source)
    if kind not in LOADERS:
        raise ValueError(f"unknown corpus kind {kind!r}; expected one of {sorted(LOADERS)}")
    return LOADERS[kind](source)


__all__ = [
    "LOADERS",
    "BuiltinCorpusConfig",
    "detect_kind",
    "list_shards",
    "load_corpus",
    "read_audio_shards",
    "read_user_manifest",
    "scan_folder",
    "scan_librispeech",
    "scan_timit",
    "synthesize_corpus",
    "write_audio_shards",
]
