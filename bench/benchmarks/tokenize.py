"""Tokenization throughput: seconds of audio tokenized per CPU second, PairAlign vs VQ vs dense.

    PYTHONPATH=. python -m bench.benchmarks.tokenize checkpoint=runs/refine-tiny \
        corpus=data/builtin split=test clips=256 threads=1,all out=runs/tokenize.json
    # dense=runs/dense/dense-k8-p8/dense.pt; without it a dense tokenizer (dense_k, dense_pool)
    # is fitted on the same clips first (not timed)

One set of clips (the first `clips` of `corpus` by utterance id, as tokenize_archive's
`max_clips` picks them; any manifest, corpus directory or folder of audio) is tokenized three ways,
by the tokenizer kinds of pairalign/tokenizing/kinds.py: the PairAlign strings and the VQ strings
of `checkpoint` (a refine checkpoint, run directory or exported tokenizer .pt) and a dense
tokenizer. Each runs as an actor of workflows/tokenize_archive.py does: `batch_size` clips per
`tokenize_clips` call, clips padded to the archive job's 3 s window and longer ones cut into
windows overlapping by 1 s and stitched (its `TokenizeConfig` defaults).

Audio decoding is excluded for every kind: each clip is decoded and resampled to 16 kHz once,
before any timing. Per thread count (`torch.set_num_threads`), each tokenizer runs one warm-up
batch, then all clips `repeats` times; the run with the least CPU time is reported. CPU time is
the whole process's `time.process_time` (summed over its threads), so other processes' load hardly
counts; wall time is beside it (the figure that counts on a GPU). `x dense` is how many times
slower than the dense tokenizer a row is in audio seconds per CPU second (issue 26: PairAlign
within 3x). Prints a markdown table and the load average; `out` writes it all as JSON.
More threads than idle cores make torch's worker threads spin against other processes, which
inflates CPU time as well as wall time: measure `threads=all` on an otherwise idle machine.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from bench.cli import parse
from pairalign.data.audio import load_row_audio
from pairalign.data.corpora.spec import read_corpus
from pairalign.jobs.tokenize_job import TokenizeConfig, selected_rows
from pairalign.tokenizing.dense import DenseConfig, DenseTokenizer, clip_log_mel, fit_dense
from pairalign.tokenizing.kinds import StringTokenizer, TokenizerSpec, load_tokenizer
from pairalign.tokenizing.windows import tokenize_clips
from pairalign.units import SAMPLE_RATE

ARCHIVE = TokenizeConfig()  # the archive job's window, overlap and batch size


@dataclass(frozen=True)
class TokenizeBench:
    checkpoint: str  # a refine checkpoint, run directory or exported tokenizer .pt
    dense: str = ""  # a dense.pt; "": fit one (dense_k, dense_pool) on the clips
    dense_k: int = 8
    dense_pool: int = 8
    corpus: str = "data/builtin"  # a manifest, corpus directory or folder of audio
    split: str = "test"  # "" for every split
    clips: int = 256
    batch: int = ARCHIVE.batch_size
    threads: str | int = 1  # torch threads: 1, all or 1,all
    repeats: int = 1
    device: str = "cpu"
    out: str = ""  # write the results as JSON here


@dataclass(frozen=True)
class Throughput:
    tokenizer: str  # the row's name, e.g. "pairalign" or "dense-k8-p8"
    kind: str  # pairalign, vq or dense
    threads: int  # torch threads
    clips: int
    audio_seconds: float
    tokens: int
    cpu_seconds: float  # process_time of the fastest repeat
    wall_seconds: float  # wall time of that repeat

    @property
    def audio_per_cpu_second(self) -> float:
        return self.audio_seconds / max(self.cpu_seconds, 1e-9)

    @property
    def audio_per_wall_second(self) -> float:
        return self.audio_seconds / max(self.wall_seconds, 1e-9)


def time_tokenizer(
    tokenizer: StringTokenizer,
    audio: list[np.ndarray],
    *,
    threads: int = 1,
    batch_size: int = ARCHIVE.batch_size,
    window: float = ARCHIVE.window_seconds,
    overlap: float = ARCHIVE.overlap_seconds,
    repeats: int = 1,
) -> Throughput:
    """Tokenize `audio` (16 kHz clips) as an archive actor does, after a warm-up batch; the
    repeat with the least CPU time."""
    torch.set_num_threads(threads)

    def run(clips: list[np.ndarray]) -> list[list[int]]:
        strings: list[list[int]] = []
        for i in range(0, len(clips), batch_size):
            strings += tokenize_clips(
                tokenizer,
                clips[i : i + batch_size],
                SAMPLE_RATE,
                window=window,
                overlap=overlap,
                batch_size=batch_size,
            )
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return strings

    run(audio[:batch_size])  # warm-up
    best = (float("inf"), 0.0, 0)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        tokens = sum(map(len, run(audio)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        best = min(best, (cpu, wall, tokens))
    return Throughput(
        tokenizer=tokenizer.name,
        kind=str(tokenizer.kind),
        threads=threads,
        clips=len(audio),
        audio_seconds=sum(map(len, audio)) / SAMPLE_RATE,
        tokens=best[2],
        cpu_seconds=best[0],
        wall_seconds=best[1],
    )


def bench_tokenizers(
    tokenizers: Sequence[StringTokenizer],
    audio: list[np.ndarray],
    *,
    threads: Sequence[int] = (1,),
    **timing,
) -> list[Throughput]:
    """Every tokenizer on the same clips at every thread count (`time_tokenizer`'s `timing`)."""
    return [time_tokenizer(t, audio, threads=n, **timing) for n in threads for t in tokenizers]


def fit_dense_on(audio: list[np.ndarray], config: DenseConfig) -> DenseTokenizer:
    """A dense tokenizer fitted on the clips it will be timed on (when no dense.pt is given)."""
    return fit_dense([clip_log_mel(a) for a in audio], config)


def load_tokenizers(
    checkpoint: str, dense: str | DenseConfig, audio: list[np.ndarray], device: str = "cpu"
) -> list[StringTokenizer]:
    """PairAlign and VQ strings of `checkpoint`, and the dense.pt `dense` or one fit on `audio`."""
    specs = [
        TokenizerSpec("pairalign", "pairalign", checkpoint),
        TokenizerSpec("vq", "vq", checkpoint),
    ]
    tokenizers = [load_tokenizer(spec, device=device) for spec in specs]
    if isinstance(dense, DenseConfig):
        return [*tokenizers, fit_dense_on(audio, dense)]
    fitted = load_tokenizer(TokenizerSpec("dense", "dense", dense), device=device)
    fitted.name = fitted.config.name  # e.g. dense-k8-p8
    return [*tokenizers, fitted]


def markdown_table(results: Sequence[Throughput]) -> str:
    """One row per tokenizer and thread count; `x dense`: the dense row's audio s per CPU s over
    this row's, at the same thread count."""
    dense = {r.threads: r.audio_per_cpu_second for r in results if r.kind == "dense"}
    lines = [
        "| tokenizer | kind | threads | clips | audio s | tokens | audio s / CPU s "
        "| audio s / wall s | x dense |",
        "|" + " --- |" * 9,
    ]
    for r in results:
        ratio = dense[r.threads] / r.audio_per_cpu_second if r.threads in dense else float("nan")
        lines.append(
            f"| {r.tokenizer} | {r.kind} | {r.threads} | {r.clips} | {r.audio_seconds:.1f} "
            f"| {r.tokens} | {r.audio_per_cpu_second:.1f} | {r.audio_per_wall_second:.1f} "
            f"| {ratio:.2f} |"
        )
    return "\n".join(lines)


def load_clips(corpus: str, split: str, clips: int) -> tuple[list[dict], list[np.ndarray]]:
    """The first `clips` rows of `corpus` (of `split`, "" for all) by utterance id, and their
    audio decoded at 16 kHz."""
    config = TokenizeConfig(split=split, max_clips=clips)
    rows = selected_rows(config, read_corpus(corpus)).to_pylist()
    if not rows:
        raise SystemExit(f"{corpus}: no clips in split {split!r}")
    return rows, [load_row_audio(r, sample_rate=SAMPLE_RATE) for r in rows]


def parse_threads(text: str) -> list[int]:
    """ "1,all" -> [1, <cores this process may use>]."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [(cores or 1) if t.strip() == "all" else int(t) for t in text.split(",")]


def main(argv: Sequence[str] | None = None) -> list[Throughput]:
    args = parse(TokenizeBench, argv, __doc__)
    rows, audio = load_clips(args.corpus, args.split, args.clips)
    dense = args.dense or DenseConfig(k=args.dense_k, pool=args.dense_pool)
    tokenizers = load_tokenizers(args.checkpoint, dense, audio, device=args.device)
    results = bench_tokenizers(
        tokenizers,
        audio,
        threads=parse_threads(str(args.threads)),
        batch_size=args.batch,
        repeats=args.repeats,
    )
    print(markdown_table(results))
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.out:
        report = {
            "bench": "tokenize",
            "args": asdict(args),
            "device": args.device,
            "audio_decoding": "excluded (decoded once, before timing)",
            "window_seconds": ARCHIVE.window_seconds,
            "overlap_seconds": ARCHIVE.overlap_seconds,
            "clips": [r["utterance_id"] for r in rows],
            "checkpoint_ids": {t.name: t.checkpoint_id for t in tokenizers},
            "results": [
                asdict(r)
                | {
                    "audio_per_cpu_second": r.audio_per_cpu_second,
                    "audio_per_wall_second": r.audio_per_wall_second,
                }
                for r in results
            ],
            "machine": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "date": datetime.date.today().isoformat(),
            "load_average": load,
        }
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
