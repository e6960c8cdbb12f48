"""Where `tokenize` puts its strings: the console (one line per clip), a JSON Lines file, or an
archive directory (`pairalign.tokenizing.archive`, the format `search` and the evaluation read)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

import numpy as np
import pyarrow as pa

from pairalign.cli.inputs import Source
from pairalign.tokenizing.archive import (
    ARCHIVE_SCHEMA,
    REJECTS_SCHEMA,
    clean_partial,
    write_info,
    write_part,
)
from pairalign.tokenizing.kinds import StringTokenizer


@dataclass(frozen=True)
class Tokenized:
    source: Source
    seconds: float
    tokens: np.ndarray  # (L,) int64
    spans: np.ndarray  # (L, 2) seconds


class Sink(Protocol):
    where: str

    def write(self, clips: list[Tokenized], rejects: list[tuple[Source, str]]) -> None: ...

    def close(self) -> None: ...


def format_clip(clip: Tokenized) -> str:
    """'<id>  3.02 s  21 tokens  12@0.00-0.18 7@0.18-0.40 ...'"""
    spans = " ".join(
        f"{t}@{s:.2f}-{e:.2f}" for t, (s, e) in zip(clip.tokens, clip.spans, strict=True)
    )
    return f"{clip.source.utterance_id}  {clip.seconds:.2f} s  {len(clip.tokens)} tokens  {spans}"


class PrintSink:
    where = "the console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def write(self, clips: list[Tokenized], rejects: list[tuple[Source, str]]) -> None:
        for clip in clips:
            print(format_clip(clip), file=self.stream)

    def close(self) -> None:
        self.stream.flush()


class JsonlSink:
    """One JSON object per clip: utterance_id, path, seconds, tokens, spans, kind, checkpoint,
    checkpoint_id; a clip that failed has `error` instead of tokens."""

    def __init__(self, path: str, tokenizer: StringTokenizer, checkpoint: str) -> None:
        self.where = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.file = open(path, "w")  # noqa: SIM115 - closed by close()
        self.about = {
            "kind": tokenizer.kind,
            "checkpoint": checkpoint,
            "checkpoint_id": tokenizer.checkpoint_id,
        }

    def write(self, clips: list[Tokenized], rejects: list[tuple[Source, str]]) -> None:
        for clip in clips:
            row = {
                "utterance_id": clip.source.utterance_id,
                "path": clip.source.path,
                "seconds": round(clip.seconds, 4),
                "tokens": clip.tokens.tolist(),
                "spans": np.round(clip.spans, 4).tolist(),
                **self.about,
            }
            self.file.write(json.dumps(row) + "\n")
        for source, reason in rejects:
            row = {"utterance_id": source.utterance_id, "path": source.path, "error": reason}
            self.file.write(json.dumps(row) + "\n")

    def close(self) -> None:
        self.file.close()


class ArchiveSink:
    """A tokenized archive: `<dir>/tokenizer.json`, `tokens/part-*.parquet`, `rejects/`."""

    def __init__(self, directory: str, tokenizer: StringTokenizer, checkpoint: str) -> None:
        self.where = directory
        info = {
            "name": tokenizer.name,
            "kind": tokenizer.kind,
            "checkpoint": checkpoint,
            "strings": None,
            "checkpoint_id": tokenizer.checkpoint_id,
        }
        write_info(directory, info)  # refuses an archive another tokenizer wrote
        clean_partial(directory)
        self.tokenizer = tokenizer

    def write(self, clips: list[Tokenized], rejects: list[tuple[Source, str]]) -> None:
        names = [c.source.utterance_id for c in clips] + [s.utterance_id for s, _ in rejects]
        if clips:
            table = pa.table(
                {
                    "utterance_id": [c.source.utterance_id for c in clips],
                    "tokenizer": [self.tokenizer.name] * len(clips),
                    "checkpoint_id": [self.tokenizer.checkpoint_id] * len(clips),
                    "tokens": [c.tokens.astype(np.int16).tolist() for c in clips],
                    "token_count": [len(c.tokens) for c in clips],
                    "duration": [c.seconds for c in clips],
                },
                schema=ARCHIVE_SCHEMA,
            )
            write_part(table, os.path.join(self.where, "tokens"), names)
        if rejects:
            table = pa.table(
                {
                    "utterance_id": [s.utterance_id for s, _ in rejects],
                    "path": [s.path for s, _ in rejects],
                    "reason": [r for _, r in rejects],
                },
                schema=REJECTS_SCHEMA,
            )
            write_part(table, os.path.join(self.where, "rejects"), names)

    def close(self) -> None:
        pass


def open_sink(out: str, tokenizer: StringTokenizer, checkpoint: str) -> Sink:
    if not out:
        return PrintSink()
    if out.endswith(".jsonl"):
        return JsonlSink(out, tokenizer, checkpoint)
    return ArchiveSink(out, tokenizer, checkpoint)
