"""Batch tokenization of an audio archive to Parquet, on a Ray Data actor pool.

    python workflows/tokenize_archive.py tokenizer.checkpoint=runs/refine-tiny/checkpoint_... out_dir=runs/archive
    python workflows/tokenize_archive.py corpus.manifest=s3://bucket/manifest.parquet out_dir=s3://bucket/archive \
        tokenizer.name=vq tokenizer.kind=vq tokenizer.checkpoint=s3://bucket/runs/refine/checkpoint_...
    ray job submit --working-dir . -- python workflows/tokenize_archive.py ... pool_size=8 device=cuda

Reads any manifest (or the built-in corpus), decodes and tokenizes each clip with one model per
actor (GPU actors when the cluster has GPUs and `device` allows, CPU otherwise) and writes
`<out_dir>/<tokenizer.name>/tokens/part-*.parquet`: utterance_id, tokenizer, checkpoint_id, tokens
(list<int16>), token_count, duration (pairalign/archive.py). Clips longer than `window_seconds` are
tokenized whole by overlapping windows and stitched (pairalign/windows.py). Audio that fails to
decode goes to `<out_dir>/<name>/rejects/` with its reason. Re-running on the same output skips
every clip already written or rejected. A killed actor is restarted by Ray Data and its batch
retried; parts are named by their ids, so a retried batch replaces its part and never duplicates a
row. (Not `tokenize.py`: a script of that name in workflows/ would shadow the standard library's
`tokenize` module for every script run from this directory.)
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pairalign.archive import (
    ARCHIVE_SCHEMA,
    REJECTS_SCHEMA,
    clean_partial,
    read_archive,
    read_archive_rejects,
    write_info,
    write_part,
)
from pairalign.audio import AudioError, load_row_audio
from pairalign.config import to_dict
from pairalign.storage import join, url_to_fs
from pairalign.tokenizers import TokenizerSpec, load_tokenizer
from pairalign.units import SAMPLE_RATE
from pairalign.windows import tokenize_clips
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging
from workflows.corpus import CorpusConfig, load_manifest

log = logging.getLogger("pairalign.tokenize_archive")


@dataclass(frozen=True)
class TokenizeConfig:
    out_dir: str = "runs/archive"
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    split: str = ""  # "" -> every split of the manifest
    max_clips: int = 0  # 0 -> all (the first N by utterance id otherwise)
    tokenizer: TokenizerSpec = field(
        default_factory=lambda: TokenizerSpec("pairalign", "pairalign", "")
    )
    batch_size: int = 32  # clips per actor call (and per Parquet part)
    pool_size: int = 2  # actors
    cpus_per_actor: float = 1.0
    device: str = "auto"  # auto: cuda actors when the cluster has GPUs; or cpu / cuda
    window_seconds: float = 3.0  # clips are padded to this; longer ones are windowed and stitched
    overlap_seconds: float = 1.0  # ... that overlap by this much


class TokenizeWorker:
    """One tokenizer model per actor; each call tokenizes a batch and writes its part files."""

    def __init__(self, config: TokenizeConfig, archive_dir: str, device: str) -> None:
        import torch

        torch.set_num_threads(max(1, int(config.cpus_per_actor)))
        self.config, self.archive_dir = config, archive_dir
        self.tokenizer = load_tokenizer(config.tokenizer, device=device)

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        rows = batch.to_pylist()
        audio, good, rejects = [], [], []
        for row in rows:
            try:
                audio.append(load_row_audio(row, sample_rate=SAMPLE_RATE))
                good.append(row["utterance_id"])
            except AudioError as err:
                rejects.append({"utterance_id": row["utterance_id"], "path": row.get("path"),
                                "reason": err.reason})  # fmt: skip
        strings = tokenize_clips(self.tokenizer, audio, SAMPLE_RATE, window=self.config.window_seconds,
                                 overlap=self.config.overlap_seconds, batch_size=len(audio) or 1)  # fmt: skip
        durations = [len(x) / SAMPLE_RATE for x in audio]
        if good:
            write_part(pa.table({
                "utterance_id": good,
                "tokenizer": [self.tokenizer.name] * len(good),
                "checkpoint_id": [self.tokenizer.checkpoint_id] * len(good),
                "tokens": pa.array(strings, type=pa.list_(pa.int16())),
                "token_count": pa.array([len(s) for s in strings], type=pa.int32()),
                "duration": pa.array(durations, type=pa.float32()),
            }, schema=ARCHIVE_SCHEMA), join(self.archive_dir, "tokens"))  # fmt: skip
        if rejects:
            write_part(
                pa.Table.from_pylist(rejects, schema=REJECTS_SCHEMA),
                join(self.archive_dir, "rejects"),
            )
        return {"clips": np.array([len(good)]), "rejects": np.array([len(rejects)]),
                "seconds": np.array([sum(durations)]), "tokens": np.array([sum(map(len, strings))])}  # fmt: skip


def archive_dir(config: TokenizeConfig) -> str:
    return join(config.out_dir, config.tokenizer.name)


def pending_rows(config: TokenizeConfig, manifest: pa.Table) -> tuple[pa.Table, int]:
    """Rows of the manifest not yet in the archive (written or rejected), and how many were done."""
    rows = manifest
    if config.split:
        rows = rows.filter(pc.equal(rows["split"], config.split))
    rows = rows.sort_by("utterance_id")
    if config.max_clips:
        rows = rows.slice(0, config.max_clips)
    target = archive_dir(config)
    done = pa.concat_arrays([
        read_archive(target, ["utterance_id"])["utterance_id"].combine_chunks(),
        read_archive_rejects(target)["utterance_id"].combine_chunks(),
    ])  # fmt: skip
    todo = rows.filter(pc.invert(pc.is_in(rows["utterance_id"], value_set=done)))
    return todo, len(rows) - len(todo)


def tokenize_archive(config: TokenizeConfig, manifest: pa.Table) -> dict[str, float]:
    """Tokenize what is pending and return the archive's totals (all of it, not just this run)."""
    import ray

    if not config.tokenizer.checkpoint:
        raise ValueError("tokenizer.checkpoint is empty: give a refine/vq checkpoint or a dense.pt")
    target = archive_dir(config)
    tokenizer = load_tokenizer(config.tokenizer)  # fail early, on the driver, on a bad checkpoint
    write_info(target, {**to_dict(config.tokenizer), "checkpoint_id": tokenizer.checkpoint_id})
    clean_partial(target)
    todo, skipped = pending_rows(config, manifest)
    device = _device(config.device, ray.cluster_resources().get("GPU", 0))
    start, done = time.perf_counter(), {"clips": 0, "rejects": 0, "seconds": 0.0, "tokens": 0}
    log.info("%s: %d clips to tokenize, %d already done, on %s actors x%d",
             target, len(todo), skipped, device, config.pool_size)  # fmt: skip
    if len(todo):
        n_batches = math.ceil(len(todo) / config.batch_size)
        blocks = [todo.slice(i * config.batch_size, config.batch_size) for i in range(n_batches)]
        ds = ray.data.from_arrow(blocks).map_batches(
            TokenizeWorker,
            fn_constructor_kwargs={"config": config, "archive_dir": target, "device": device},
            batch_size=None,  # one block = one batch = one part
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=config.pool_size),
            num_cpus=config.cpus_per_actor,
            num_gpus=1 if device == "cuda" else 0,
        )
        for summary in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for key in done:
                done[key] += summary[key].sum().item()
            rate = done["seconds"] / max(time.perf_counter() - start, 1e-9)
            log.info("%d/%d clips, %d rejects, %.0f s of audio (%.1f s/s)",
                     done["clips"] + done["rejects"], len(todo), done["rejects"], done["seconds"], rate)  # fmt: skip
    wall = time.perf_counter() - start
    return _totals(target, done, wall)


def _device(choice: str, gpus: float) -> str:
    if choice == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if choice == "cuda" and gpus <= 0:
        raise ValueError("device=cuda but the Ray cluster has no GPUs")
    return choice


def _totals(target: str, run: dict[str, float], wall: float) -> dict[str, float]:
    table = read_archive(target, ["utterance_id", "token_count", "duration"])
    ids = table["utterance_id"]
    if pc.count_distinct(ids).as_py() != len(ids):
        raise RuntimeError(f"{target}: duplicate utterance ids in the archive")
    seconds = float(pc.sum(table["duration"]).as_py() or 0.0)
    tokens = int(pc.sum(table["token_count"]).as_py() or 0)
    totals = {
        "clips": float(len(table)), "seconds": seconds, "tokens": float(tokens),
        "token_rate": tokens / seconds if seconds else float("nan"),
        "rejects": float(len(read_archive_rejects(target))),
        "run/clips": float(run["clips"]), "run/rejects": float(run["rejects"]),
        "run/seconds": float(run["seconds"]), "run/wall_seconds": wall,
        "run/audio_seconds_per_second": run["seconds"] / wall if run["seconds"] else 0.0,
    }  # fmt: skip
    fs, path = url_to_fs(join(target, "summary.json"))
    with fs.open(path, "w") as f:
        json.dump(totals, f, indent=2)
    return totals


def print_totals(target: str, totals: dict[str, Any]) -> None:
    print(f"archive {target}")
    print(f"  clips {totals['clips']:.0f}  audio {totals['seconds']:.1f} s  tokens {totals['tokens']:.0f}"
          f" ({totals['token_rate']:.2f}/s)  rejects {totals['rejects']:.0f}")  # fmt: skip
    print(f"  this run: {totals['run/clips']:.0f} clips, {totals['run/rejects']:.0f} rejects,"
          f" {totals['run/seconds']:.1f} s of audio in {totals['run/wall_seconds']:.1f} s"
          f" ({totals['run/audio_seconds_per_second']:.1f} s of audio per second)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(TokenizeConfig, "tokenize_archive.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    init_ray()
    totals = tokenize_archive(config, load_manifest(config.corpus))
    print_totals(archive_dir(config), totals)
    return totals


if __name__ == "__main__":
    # Run from the importable module, so Ray pickles the worker class and configs by reference.
    from workflows import tokenize_archive

    tokenize_archive.main()
