"""Batch tokenization of an audio archive to Parquet, on a Ray Data actor pool.

Reads any manifest (or the built-in corpus), decodes and tokenizes each clip with one model per
actor (GPU actors when the cluster has GPUs and `device` allows, CPU otherwise) and writes
`<out_dir>/<tokenizer.name>/tokens/part-*.parquet`: utterance_id, tokenizer, checkpoint_id, tokens
(list<int16>), token_count, duration (pairalign/tokenizing/archive.py). Clips longer than
`window_seconds` are tokenized whole by overlapping windows and stitched
(pairalign/tokenizing/windows.py). Audio that fails to decode goes to `<out_dir>/<name>/rejects/`
with its reason. Re-running on the same output skips every clip already written or rejected. A
killed actor is restarted by Ray Data and its batch retried; parts are named by their ids, so a
retried batch replaces its part and never duplicates a row. (Not `tokenize.py`: a script of that
name in workflows/ would shadow the standard library's `tokenize` module for every script run from
this directory.)
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pairalign.config import PathStr, to_dict
from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.corpora.spec import CorpusConfig
from pairalign.data.storage import is_remote, join, url_to_fs
from pairalign.models.checkpoint import resolve_checkpoint
from pairalign.progress import Throttle, progress_line
from pairalign.tokenizing.archive import (
    ARCHIVE_SCHEMA,
    REJECTS_SCHEMA,
    clean_partial,
    read_archive,
    read_archive_rejects,
    write_info,
    write_part,
)
from pairalign.tokenizing.kinds import AUTO, TokenizerSpec, load_tokenizer, resolve_spec
from pairalign.tokenizing.tokenizer_kind import TokenizerKind
from pairalign.tokenizing.windows import check_windows, tokenize_clips
from pairalign.units import SAMPLE_RATE

log = logging.getLogger("pairalign.tokenize_archive")


@dataclass(frozen=True)
class TokenizeConfig:
    out_dir: PathStr = "runs/archive"
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    split: str = ""  # "" -> every split of the manifest
    max_clips: int = 0  # 0 -> all (the first N by utterance id otherwise)
    # kind auto and name "" are chosen from the checkpoint (`resolve_spec`) before the job runs
    tokenizer: TokenizerSpec = field(default_factory=lambda: TokenizerSpec("", AUTO, ""))
    batch_size: int = 32  # clips per actor call (and per Parquet part)
    pool_size: int = 2  # actors
    cpus_per_actor: float = 1.0
    device: str = "auto"  # auto: cuda actors when the cluster has GPUs; or cpu / cuda
    window_seconds: float = 3.0  # clips are padded to this; longer ones are windowed and stitched
    overlap_seconds: float = 1.0  # ... that overlap by this much


class TokenizeWorker:
    """The tokenizer models, once per actor; each call decodes a batch once, tokenizes it with
    every tokenizer the rows are pending for and writes each archive's part files."""

    def __init__(self, config: TokenizeConfig, specs: Sequence[TokenizerSpec], device: str) -> None:
        import torch

        torch.set_num_threads(max(1, int(config.cpus_per_actor)))
        self.config = config
        self.tokenizers = {s.name: load_tokenizer(s, device=device) for s in specs}

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        audio, rejects = {}, {}
        for row in batch.to_pylist():
            try:
                audio[row["utterance_id"]] = load_row_audio(row, sample_rate=SAMPLE_RATE)
            except AudioError as err:
                rejects[row["utterance_id"]] = {
                    "utterance_id": row["utterance_id"],
                    "path": row.get("path"),
                    "reason": err.reason,
                }
        pending = dict(
            zip(batch["utterance_id"].to_pylist(), batch["pending"].to_pylist(), strict=True)
        )
        out: dict[str, list] = {
            "tokenizer": [],
            "clips": [],
            "rejects": [],
            "seconds": [],
            "tokens": [],
        }
        for name, tokenizer in self.tokenizers.items():
            batch_ids = [
                uid for uid in pending if name in pending[uid]
            ]  # this batch, for this archive
            ids = [uid for uid in batch_ids if uid in audio]
            failed = [rejects[uid] for uid in batch_ids if uid in rejects]
            strings = self._write(
                name, tokenizer, batch_ids, ids, [audio[uid] for uid in ids], failed
            )
            out["tokenizer"].append(name)
            out["clips"].append(len(ids))
            out["rejects"].append(len(failed))
            out["seconds"].append(sum(len(audio[uid]) for uid in ids) / SAMPLE_RATE)
            out["tokens"].append(sum(map(len, strings)))
        return {k: np.array(v, dtype=object if k == "tokenizer" else None) for k, v in out.items()}

    def _write(
        self,
        name: str,
        tokenizer,
        batch_ids: list[str],
        ids: list[str],
        audio: list[np.ndarray],
        rejects: list[dict],
    ) -> list[list[int]]:
        target = join(self.config.out_dir, name)
        strings = tokenize_clips(
            tokenizer,
            audio,
            SAMPLE_RATE,
            window=self.config.window_seconds,
            overlap=self.config.overlap_seconds,
            batch_size=self.config.batch_size,
        )
        if ids:
            write_part(
                pa.table(
                    {
                        "utterance_id": ids,
                        "tokenizer": [name] * len(ids),
                        "checkpoint_id": [tokenizer.checkpoint_id] * len(ids),
                        "tokens": pa.array(strings, type=pa.list_(pa.int16())),
                        "token_count": pa.array([len(x) for x in strings], type=pa.int32()),
                        "duration": pa.array(
                            [len(x) / SAMPLE_RATE for x in audio], type=pa.float32()
                        ),
                    },
                    schema=ARCHIVE_SCHEMA,
                ),
                join(target, "tokens"),
            )
        if rejects:
            write_part(
                pa.Table.from_pylist(rejects, schema=REJECTS_SCHEMA), join(target, "rejects")
            )
        return strings


def archive_dir(config: TokenizeConfig) -> str:
    """`<out_dir>/<name>` of a resolved tokenizer (`resolve_tokenizer`; name "" -> its kind)."""
    spec = config.tokenizer
    if spec.kind == AUTO:
        raise ValueError("archive_dir: kind auto is chosen by resolve_tokenizer(config) first")
    return join(config.out_dir, spec.name or spec.kind)


def selected_rows(config: TokenizeConfig, manifest: pa.Table) -> pa.Table:
    rows = manifest
    if config.split:
        rows = rows.filter(pc.equal(rows["split"], config.split))
    rows = rows.sort_by("utterance_id")
    return rows.slice(0, config.max_clips) if config.max_clips else rows


def pending_rows(config: TokenizeConfig, manifest: pa.Table, names: Sequence[str]) -> pa.Table:
    """Selected rows not yet in every archive (written or rejected), with a `pending` column
    naming the archives each row is missing from."""
    rows = selected_rows(config, manifest)
    ids = rows["utterance_id"]
    missing = []
    for name in names:
        target = join(config.out_dir, name)
        done = pa.concat_arrays(
            [
                read_archive(target, ["utterance_id"])["utterance_id"].combine_chunks(),
                read_archive_rejects(target)["utterance_id"].combine_chunks(),
            ]
        )
        missing.append(pc.invert(pc.is_in(ids, value_set=done)).to_pylist())
    pending = [
        [n for n, m in zip(names, flags, strict=True) if m] for flags in zip(*missing, strict=True)
    ]
    rows = rows.append_column("pending", pa.array(pending, type=pa.list_(pa.string())))
    return rows.filter(pc.greater(pc.list_value_length(rows["pending"]), 0))


def tokenize_archive(config: TokenizeConfig, manifest: pa.Table) -> dict[str, float]:
    """Tokenize what is pending with `config.tokenizer`; the archive's totals (see
    tokenize_archives)."""
    ((_, totals),) = tokenize_archives(config, manifest, [config.tokenizer]).items()
    return totals


def resolve_tokenizer(config: TokenizeConfig) -> tuple[TokenizeConfig, str]:
    """(`config` with its tokenizer's kind and name chosen, why auto chose the kind or ""), before
    the job runs: the archive is named after, and its tokenizer.json records, the kind it holds."""
    spec = config.tokenizer
    if spec.kind != TokenizerKind.DENSE:
        resolve_checkpoint(spec.checkpoint)  # a missing or wrong one: CheckpointError, one line
    spec, choice = resolve_spec(replace(spec, checkpoint=canonical(spec.checkpoint, spec.kind)))
    return replace(config, tokenizer=spec), choice.reason


def tokenize_archives(
    config: TokenizeConfig, manifest: pa.Table, specs: Sequence[TokenizerSpec]
) -> dict[str, dict[str, float]]:
    """Bring every archive `<out_dir>/<spec.name>` up to date in one pass over the audio (each
    clip decoded once, every tokenizer in each actor); return each archive's totals, all of it
    (`clips`, `seconds`, `tokens`, `rejects`) and this run's share (`run/...`)."""
    import ray

    check_windows(config.window_seconds, config.overlap_seconds, SAMPLE_RATE)
    specs = [replace(s, checkpoint=canonical(s.checkpoint, s.kind)) for s in specs]
    for spec in specs:  # fail early, on the driver, on a bad checkpoint or a mixed-up archive
        if not spec.checkpoint:
            raise ValueError(
                f"tokenizer {spec.name!r}: no checkpoint (a refine/vq checkpoint or a dense.pt)"
            )
    specs = [resolve_spec(s)[0] for s in specs]  # kind auto chosen, names set
    for spec in specs:
        tokenizer = load_tokenizer(spec)
        span = tokenizer.tokenizer.timing_seconds if spec.kind == TokenizerKind.PAIRALIGN else 0
        if span and config.window_seconds > span + 1e-6:
            raise ValueError(
                f"window_seconds={config.window_seconds} is longer than the {span} s clips "
                f"{spec.checkpoint} was trained on; its timing head cannot place tokens there"
            )
        target = join(config.out_dir, spec.name)
        write_info(target, {**to_dict(spec), "checkpoint_id": tokenizer.checkpoint_id})
        clean_partial(target)
    names = [s.name for s in specs]
    todo = pending_rows(config, manifest, names)
    gpus = ray.cluster_resources().get("GPU", 0)
    device = _device(config.device, gpus)
    pool = (
        min(config.pool_size, int(gpus)) if device == "cuda" else config.pool_size
    )  # one GPU each
    start = time.perf_counter()
    done = {n: {"clips": 0, "rejects": 0, "seconds": 0.0, "tokens": 0} for n in names}
    log.info(
        "%s: %d clips pending for %s, on %s actors x%d",
        config.out_dir,
        len(todo),
        ", ".join(names),
        device,
        pool,
    )
    if len(todo):
        n_batches = math.ceil(len(todo) / config.batch_size)
        blocks = [todo.slice(i * config.batch_size, config.batch_size) for i in range(n_batches)]
        ds = ray.data.from_arrow(blocks).map_batches(
            TokenizeWorker,
            fn_constructor_kwargs={"config": config, "specs": list(specs), "device": device},
            batch_size=None,  # one block = one batch = one part per archive
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=pool),
            num_cpus=config.cpus_per_actor,
            num_gpus=1 if device == "cuda" else 0,
        )
        throttle = Throttle(every_seconds=20.0)
        for summary in ds.iter_batches(batch_size=None, batch_format="pandas"):
            for row in summary.to_dict("records"):
                for key in ("clips", "rejects", "seconds", "tokens"):
                    done[row["tokenizer"]][key] += row[key]
            clips = max(d["clips"] + d["rejects"] for d in done.values())
            if throttle.ready(clips, len(todo)):
                seconds = max(d["seconds"] for d in done.values())
                rate = seconds / max(throttle.elapsed, 1e-9)
                log.info(
                    progress_line(
                        "tokenize",
                        done=clips,
                        total=len(todo),
                        unit="clips",
                        elapsed=throttle.elapsed,
                        figures={"audio s": seconds, "audio s/s": rate},
                    )
                )
    wall = time.perf_counter() - start
    return {n: _totals(join(config.out_dir, n), done[n], wall) for n in names}


def canonical(path: str, kind: str = "dense") -> str:
    """A local path made absolute (so `runs/x` and `$PWD/runs/x` name one checkpoint); URLs as
    given. For a model checkpoint (kind pairalign/vq) a run directory becomes its latest checkpoint.
    """
    path = path if not path or is_remote(path) else os.path.abspath(path)
    return resolve_checkpoint(path) if path and kind != "dense" else path


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
        "clips": float(len(table)),
        "seconds": seconds,
        "tokens": float(tokens),
        "token_rate": tokens / seconds if seconds else float("nan"),
        "rejects": float(len(read_archive_rejects(target))),
        "run/clips": float(run["clips"]),
        "run/rejects": float(run["rejects"]),
        "run/seconds": float(run["seconds"]),
        "run/wall_seconds": wall,
        "run/audio_seconds_per_second": run["seconds"] / wall if run["seconds"] else 0.0,
    }
    fs, path = url_to_fs(join(target, "summary.json"))
    with fs.open(path, "w") as f:
        json.dump(totals, f, indent=2)
    return totals


def print_totals(target: str, totals: dict[str, Any]) -> None:
    print(f"archive {target}")
    print(
        f"  clips {totals['clips']:.0f}  audio {totals['seconds']:.1f} s"
        f"  tokens {totals['tokens']:.0f}"
        f" ({totals['token_rate']:.2f}/s)  rejects {totals['rejects']:.0f}"
    )
    print(
        f"  this run: {totals['run/clips']:.0f} clips, {totals['run/rejects']:.0f} rejects,"
        f" {totals['run/seconds']:.1f} s of audio in {totals['run/wall_seconds']:.1f} s"
        f" ({totals['run/audio_seconds_per_second']:.1f} s of audio per second)"
    )
