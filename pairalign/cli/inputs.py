"""What `tokenize` reads: one audio file, a folder of them (recursively), or a manifest; and the
tokenizer it reads them with."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairalign.cli.default import DEFAULT_TOKENIZER, missing_default_message
from pairalign.data.corpora.folder import AUDIO_SUFFIXES, audio_files, folder_ids
from pairalign.data.manifest import ManifestError
from pairalign.models.checkpoint import CheckpointError, resolve_checkpoint
from pairalign.tokenizing.kinds import (
    KindChoice,
    PairAlignStrings,
    StringTokenizer,
    choose_kind,
    string_tokenizer,
)
from pairalign.tokenizing.tokenizer import Tokenizer

MANIFEST_SUFFIXES = (".csv", ".parquet")


class CliError(Exception):
    """A problem the user can fix, said in one line (the file and what is wrong with it)."""


@dataclass(frozen=True)
class Source:
    utterance_id: str  # the path in the folder without its extension, or the manifest's id
    path: str
    row: dict[str, Any] = field(default_factory=dict)  # a manifest row (embedded audio allowed)

    def manifest_row(self) -> dict[str, Any]:
        return self.row or {"utterance_id": self.utterance_id, "path": self.path}


def collect_sources(source: str) -> list[Source]:
    """The clips named by `source`: a file, a folder (every audio file under it, sorted) or a
    CSV/Parquet manifest (its `utterance_id` and `path` or embedded `audio`). A file's id is its
    path in the folder without the extension (`folder_ids`, as the folder corpus names it)."""
    path = Path(source)
    if not path.exists() and "://" not in source:
        raise CliError(f"{source}: no such file or folder")
    if path.is_dir():
        files = audio_files(source)
        if not files:
            raise CliError(f"{source}: a folder with no audio files ({', '.join(AUDIO_SUFFIXES)})")
        try:
            ids = folder_ids([relative for relative, _ in files], source)
        except ManifestError as err:
            raise CliError(str(err)) from err
        return [Source(uid, url) for uid, (_, url) in zip(ids, files, strict=True)]
    if path.suffix.lower() in MANIFEST_SUFFIXES:
        from pairalign.data.corpora import read_user_manifest

        try:
            table = read_user_manifest(source)
        except (ValueError, OSError) as err:
            raise CliError(str(err)) from err
        return [Source(str(r["utterance_id"]), r.get("path") or "", r) for r in table.to_pylist()]
    return [Source(folder_ids([path.name])[0], source)]


@dataclass(frozen=True)
class Opened:
    strings: StringTokenizer
    checkpoint: str  # the checkpoint `--tokenizer` resolved to
    choice: KindChoice  # its kind, and why when auto chose it


def open_tokenizer(path: str, kind: str = "auto") -> Opened:
    """The strings of `path` (default: the shipped tokenizer) of `kind`; auto is chosen by
    `pairalign.tokenizing.kinds.choose_kind`, as the workflows choose it."""
    if not path:
        if not DEFAULT_TOKENIZER.exists():
            raise CliError(missing_default_message())
        path = str(DEFAULT_TOKENIZER)
    try:
        path = resolve_checkpoint(
            path if "://" in path else os.path.abspath(os.path.expanduser(path))
        )
        tokenizer = Tokenizer.from_checkpoint(path)
        choice = choose_kind(kind, tokenizer)
    except ValueError as err:  # CheckpointError included
        raise CliError(str(err) if isinstance(err, CheckpointError) else f"{path}: {err}") from err
    return Opened(string_tokenizer(tokenizer, choice.kind), path, choice)


DEFAULT_WINDOW_SECONDS = 3.0


def window_seconds(tokenizer: StringTokenizer) -> float:
    """The window a tokenizer was trained on (its clips are padded to it, longer ones windowed)."""
    inner = getattr(tokenizer, "tokenizer", None)
    if isinstance(tokenizer, PairAlignStrings) and inner is not None:
        return float(inner.timing_seconds)
    return DEFAULT_WINDOW_SECONDS  # stage 1 and dense: the training views' length
