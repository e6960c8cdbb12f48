"""Corpus adapters: each turns a corpus on disk or S3 into a validated manifest table, and
registers its kind, its loader and how it recognises its layout (`registry.register`); importing
this package registers them all. `spec.py` holds what a config names a corpus by (`CorpusSpec`,
`CorpusConfig`) and reads its manifest without Ray."""

from __future__ import annotations

from pairalign.data.corpora import folder, librispeech, shards, timit, user  # noqa: F401 (register)
from pairalign.data.corpora.builtin import BuiltinCorpusConfig, synthesize_corpus
from pairalign.data.corpora.folder import scan_folder
from pairalign.data.corpora.librispeech import scan_librispeech
from pairalign.data.corpora.registry import ADAPTERS, CorpusKind, detect_kind, load_corpus
from pairalign.data.corpora.shards import list_shards, read_audio_shards, write_audio_shards
from pairalign.data.corpora.timit import scan_timit
from pairalign.data.corpora.user import read_user_manifest

__all__ = [
    "ADAPTERS",
    "BuiltinCorpusConfig",
    "CorpusKind",
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
