"""The corpus a job reads: a manifest, or the built-in corpus, synthesised when it is missing
(espeak-ng renders as Ray tasks in chunks of `chunk_size`; the driver writes the files
`<out_dir>/{train,test}/<voice>/<sentence>.flac` + `.txt` and `<out_dir>/manifest.parquet`; a
rerun with the same config skips utterances already on disk)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import ray

from pairalign.config import PathStr
from pairalign.data.corpora.builtin import (
    BuiltinCorpusConfig,
    MapFn,
    UtteranceSpec,
    synthesize_corpus,
    thread_map,
)
from pairalign.data.manifest import read_manifest
from pairalign.data.storage import join, url_to_fs
from pairalign.progress import Throttle, progress_line


@dataclass(frozen=True)
class CorpusConfig:
    manifest: PathStr = ""  # a manifest (Parquet, local or s3://); "" -> the built-in corpus below
    builtin_dir: PathStr = "data/builtin"  # where the built-in corpus lives (prepared if missing)
    train_split: str = "train"
    eval_split: str = "test"


def load_manifest(config: CorpusConfig) -> pa.Table:
    """The manifest to use; the built-in corpus is synthesised first if it is not there yet (on
    the connected Ray cluster if there is one)."""
    if config.manifest:
        return read_manifest(config.manifest)
    path = join(config.builtin_dir, "manifest.parquet")
    fs, fs_path = url_to_fs(path)
    if not fs.exists(fs_path):
        return prepare(PrepareConfig(out_dir=config.builtin_dir, use_ray=ray.is_initialized()))
    return read_manifest(path)


@dataclass(frozen=True)
class PrepareConfig:
    out_dir: PathStr = "data/builtin"  # local path or s3:// URL
    corpus: BuiltinCorpusConfig = field(default_factory=BuiltinCorpusConfig)
    use_ray: bool = True  # False: render with a thread pool of corpus.workers threads
    num_cpus: int = 0  # size of a locally started Ray cluster; 0 = all cores
    chunk_size: int = 20  # utterances per Ray task
    threads_per_task: int = 2  # render threads inside a task (overlap espeak-ng start-up)


@ray.remote(num_cpus=1)
def _render_chunk(
    fn: Callable[[UtteranceSpec], bytes], specs: list[UtteranceSpec], threads: int
) -> list[bytes]:
    # A few threads per task keep the core busy while an espeak-ng subprocess is starting.
    return list(thread_map(threads)(fn, specs))


def ray_map(chunk_size: int, threads_per_task: int = 2) -> MapFn:
    """A `map_fn` that renders chunks of utterances as Ray tasks and yields results in order."""

    def map_fn(
        fn: Callable[[UtteranceSpec], bytes], specs: Sequence[UtteranceSpec]
    ) -> Iterator[bytes]:
        fn_ref = ray.put(fn)
        refs = [
            _render_chunk.remote(fn_ref, list(specs[i : i + chunk_size]), threads_per_task)
            for i in range(0, len(specs), chunk_size)
        ]
        for ref in refs:
            yield from ray.get(ref)

    return map_fn


def summarize(table: pa.Table) -> dict[str, object]:
    """Counts and seconds of audio per split."""
    out: dict[str, object] = {"utterances": table.num_rows}
    for split in ("train", "test"):
        part = table.filter(pc.equal(table["split"], split))
        out[f"{split}/utterances"] = part.num_rows
        out[f"{split}/sentences"] = len(pc.unique(part["content_id"]))
        out[f"{split}/voices"] = len(pc.unique(part["speaker"]))
        out[f"{split}/seconds"] = round(pc.sum(part["duration"]).as_py() or 0.0, 1)
    return out


def _progress_logger(
    log: logging.Logger, every_seconds: float = 10.0
) -> Callable[[int, int], None]:
    """A `progress(done, total)` that logs a line every `every_seconds` and at the end."""
    throttle, first = Throttle(every_seconds), []

    def progress(done: int, total: int) -> None:
        if not first:  # the utterances already on disk from an earlier run
            first.append(done)
            if done:
                log.info("built-in corpus: %d of %d utterances already on disk", done, total)
            return
        if throttle.ready(done, total):
            rate = (done - first[0]) / max(throttle.elapsed, 1e-9)
            log.info(progress_line("built-in corpus:", done=done, total=total, unit="utterances",
                                   elapsed=throttle.elapsed, started_at=first[0],
                                   figures={"utterances/s": rate}))  # fmt: skip

    return progress


def prepare(config: PrepareConfig) -> pa.Table:
    """Synthesise the corpus of `config` (as Ray tasks on the connected cluster if `use_ray`, else
    a thread pool), log a summary, and return the manifest."""
    log = logging.getLogger("pairalign")
    start = time.perf_counter()
    map_fn = None
    if config.use_ray:
        if not ray.is_initialized():
            raise RuntimeError("prepare(use_ray=True) needs a connected Ray cluster (ray.init)")
        map_fn = ray_map(config.chunk_size, config.threads_per_task)
    log.info("built-in corpus: synthesising into %s with espeak-ng", config.out_dir)
    table = synthesize_corpus(config.corpus, config.out_dir, map_fn=map_fn,
                              progress=_progress_logger(log))  # fmt: skip
    summary = summarize(table) | {
        "wall_seconds": round(time.perf_counter() - start, 1),
        "out_dir": config.out_dir,
        "backend": "ray" if config.use_ray else "threads",
    }
    log.info(
        "built-in corpus: %(utterances)d utterances; train %(train/utterances)d "
        "(%(train/sentences)d sentences by %(train/voices)d voices, %(train/seconds).0f s of audio); "
        "test %(test/utterances)d (%(test/sentences)d sentences by %(test/voices)d voices, "
        "%(test/seconds).0f s); %(wall_seconds).1f s wall (%(backend)s) -> %(out_dir)s",
        summary,
    )
    return table
