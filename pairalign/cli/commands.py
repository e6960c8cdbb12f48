"""The three commands: `tokenize` (files -> strings with spans), `search` (an archive ranked
against a query clip by normalised edit distance) and `export` (a weights-only tokenizer file)."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time

import numpy as np

from pairalign.cli.inputs import CliError, Source, collect_sources, open_tokenizer, window_seconds
from pairalign.cli.outputs import Tokenized, open_sink
from pairalign.data.audio import AudioError, load_audio, load_row_audio
from pairalign.progress import Throttle, format_duration, progress_line
from pairalign.tokenizing.kinds import StringTokenizer
from pairalign.tokenizing.windows import token_spans, tokenize_clips_timed
from pairalign.units import SAMPLE_RATE

__all__ = ["CliError", "run"]


def run(args: argparse.Namespace) -> int:
    commands = {"tokenize": tokenize_command, "search": search_command, "export": export_command}
    return commands[args.command](args)


def tokenize_command(args: argparse.Namespace) -> int:
    """Tokenize every clip of `args.source`; a clip that fails to decode is reported (file and
    reason) and skipped. Status 0 when any clip was tokenized, else 1."""
    sources = collect_sources(args.source)
    opened = open_tokenizer(args.tokenizer, args.kind)
    tokenizer = opened.strings
    sink = open_sink(args.out, tokenizer, opened.checkpoint)
    throttle, totals = Throttle(every_seconds=10.0), {"clips": 0, "seconds": 0.0, "tokens": 0}
    failed: list[tuple[Source, str]] = []
    for i in range(0, len(sources), args.batch_size):
        batch = sources[i : i + args.batch_size]
        clips, rejects = tokenize_batch(tokenizer, batch, args.batch_size)
        sink.write(clips, rejects)
        failed += rejects
        totals["clips"] += len(clips)
        totals["seconds"] += sum(c.seconds for c in clips)
        totals["tokens"] += sum(len(c.tokens) for c in clips)
        done = i + len(batch)
        if len(sources) > args.batch_size and throttle.ready(done, len(sources)):
            print(
                progress_line(
                    "tokenize",
                    done=done,
                    total=len(sources),
                    unit="files",
                    elapsed=throttle.elapsed,
                ),
                file=sys.stderr,
            )
    sink.close()
    print(
        summary_line(tokenizer, totals, failed, sink.where, throttle.elapsed, opened.choice.reason),
        file=sys.stderr,
    )
    return 0 if totals["clips"] else 1


def tokenize_batch(
    tokenizer: StringTokenizer, batch: list[Source], batch_size: int
) -> tuple[list[Tokenized], list[tuple[Source, str]]]:
    """Decode and tokenize one batch; undecodable clips come back as (source, reason)."""
    loaded, audio, rejects = [], [], []
    for source in batch:
        try:
            audio.append(load_row_audio(source.manifest_row(), sample_rate=SAMPLE_RATE))
            loaded.append(source)
        except AudioError as err:
            print(f"skipped {source.path or source.utterance_id}: {err.reason}", file=sys.stderr)
            rejects.append((source, err.reason))
    window = window_seconds(tokenizer)
    timed = tokenize_clips_timed(
        tokenizer,
        audio,
        SAMPLE_RATE,
        window=window,
        overlap=min(1.0, window / 3),
        batch_size=batch_size,
    )
    clips = []
    for source, wave, (tokens, centres) in zip(loaded, audio, timed, strict=True):
        seconds = len(wave) / SAMPLE_RATE
        clips.append(Tokenized(source, seconds, tokens, token_spans(centres, seconds)))
    return clips, rejects


def summary_line(
    tokenizer: StringTokenizer,
    totals: dict,
    failed: list,
    where: str,
    elapsed: float,
    reason: str = "",
) -> str:
    """The closing line; `reason`: why kind auto chose the tokenizer's kind ("" if named)."""
    rate = totals["tokens"] / totals["seconds"] if totals["seconds"] else float("nan")
    why = f" ({reason})" if reason else ""
    text = (
        f"tokenized {totals['clips']} files ({totals['seconds']:.1f} s of audio, "
        f"{totals['tokens']} tokens, {rate:.1f} tokens/s) with {tokenizer.kind}{why} "
        f"{tokenizer.checkpoint_id} in {format_duration(elapsed)}; to {where}"
    )
    if failed:
        text += f"; {len(failed)} skipped (reasons above)"
    return text


def read_strings(archive: str) -> tuple[list[str], list[list[int]], list[float], dict]:
    """(ids, token strings, seconds, what wrote it) of an archive directory or .jsonl file."""
    from pairalign.tokenizing.archive import read_archive, read_info

    if archive.endswith(".jsonl"):
        if not os.path.isfile(archive):
            raise CliError(f"{archive}: no such file")
        with open(archive) as f:
            rows = [row for row in map(json.loads, f) if "tokens" in row]
        info = (
            {k: rows[0].get(k, "") for k in ("kind", "checkpoint", "checkpoint_id")} if rows else {}
        )
        return (
            [r["utterance_id"] for r in rows],
            [r["tokens"] for r in rows],
            [r["seconds"] for r in rows],
            info,
        )
    try:
        info = read_info(archive)
    except FileNotFoundError as err:
        raise CliError(
            f"{archive}: not a tokenized archive (no tokenizer.json); expected a "
            "directory or .jsonl written by `python -m pairalign tokenize --out`"
        ) from err
    except ValueError as err:  # a tokenizer.json of a later format version
        raise CliError(str(err)) from err
    table = read_archive(archive, ["utterance_id", "tokens", "duration"])
    return (
        table["utterance_id"].to_pylist(),
        table["tokens"].to_pylist(),
        table["duration"].to_pylist(),
        info,
    )


def search_command(args: argparse.Namespace) -> int:
    """Rank the archive's clips by normalised edit distance to the query's string."""
    from pairalign.evaluation.search import StringIndex

    ids, strings, seconds, info = read_strings(args.archive)
    if not strings:
        raise CliError(f"{args.archive}: the archive holds no token strings")
    query = query_string(args, ids, strings, info)
    start = time.perf_counter()
    hits = StringIndex(strings).search([query], k=min(args.k, len(strings)))
    print(
        f"query {args.query}: {len(query)} tokens; {len(strings)} clips in {args.archive} "
        f"searched in {time.perf_counter() - start:.2f} s"
    )
    print("rank  distance  tokens  seconds  clip")
    for rank, (i, d) in enumerate(zip(hits.indices[0], hits.distances[0], strict=True), 1):
        if i >= 0:
            print(f"{rank:>4}  {d:8.3f}  {len(strings[i]):>6}  {seconds[i]:7.2f}  {ids[i]}")
    return 0


def query_string(
    args: argparse.Namespace, ids: list[str], strings: list[list[int]], info: dict
) -> list[int]:
    """The query's tokens: the string of an utterance id of the archive (as `tokenize` printed
    it), or an audio file tokenized as the archive was (or with --tokenizer)."""
    if args.query in ids and not os.path.isfile(args.query):
        return strings[ids.index(args.query)]
    if "://" not in args.query and not os.path.exists(args.query):
        raise CliError(
            f"{args.query}: neither an audio file nor an utterance id of "
            f"{args.archive}; {nearest_ids(args.query, ids)}"
        )
    checkpoint = args.tokenizer or info.get("checkpoint", "")
    if not checkpoint:
        raise CliError(f"{args.archive} does not record its tokenizer's file; pass --tokenizer")
    tokenizer = open_tokenizer(checkpoint, info.get("kind", "auto")).strings
    if info.get("checkpoint_id") and tokenizer.checkpoint_id != info["checkpoint_id"]:
        print(
            f"note: the archive was written by {info['checkpoint_id']}, the query is tokenized "
            f"by {tokenizer.checkpoint_id}",
            file=sys.stderr,
        )
    try:
        wave = load_audio(args.query, sample_rate=SAMPLE_RATE)
    except AudioError as err:
        raise CliError(f"query {err}") from err
    window = window_seconds(tokenizer)
    ((tokens, _),) = tokenize_clips_timed(
        tokenizer, [wave], SAMPLE_RATE, window=window, overlap=min(1.0, window / 3)
    )
    return np.asarray(tokens).tolist()


def nearest_ids(query: str, ids: list[str], n: int = 5) -> str:
    """'nearest ids: a, b, c' (by difflib's similarity), for an id or file that is not there."""
    near = difflib.get_close_matches(query, ids, n=n, cutoff=0.5)
    if not near:  # e.g. an id with its folder left off: the ids that end like it
        stem = os.path.splitext(query.replace(os.sep, "/").rsplit("/", 1)[-1])[0]
        near = [u for u in ids if os.path.splitext(u.rsplit("/", 1)[-1])[0] == stem][:n]
    if near:
        return "nearest ids: " + ", ".join(near)
    return f"no id is near it; ids look like {', '.join(ids[:3])}"


def export_command(args: argparse.Namespace) -> int:
    import torch

    from pairalign.models.checkpoint import CheckpointError, export_tokenizer

    dtype = torch.float16 if args.half else torch.float32
    try:
        out = export_tokenizer(
            _local_abspath(args.checkpoint),
            args.out,
            dtype=dtype,
            default_kind=args.default_kind,
            kind_note=args.kind_note,
        )
    except CheckpointError as err:
        raise CliError(str(err)) from err
    payload = torch.load(out, weights_only=True)
    size = os.path.getsize(out) / 1e6
    chosen = ""
    if "default_kind" in payload:
        note = f" ({payload['kind_note']})" if payload["kind_note"] else ""
        chosen = f"; default kind {payload['default_kind']}{note}"
    print(
        f"wrote {out} ({size:.1f} MB): {payload['stage']} tokenizer from {payload['source']} "
        f"step {payload['step']}, format {payload['format']} v{payload['version']}{chosen}"
    )
    return 0


def _local_abspath(path: str) -> str:
    """A local path made absolute; a URL (s3://...) as given."""
    return path if "://" in path else os.path.abspath(path)
