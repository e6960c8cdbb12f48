"""The corpus a job reads: a user's manifest or corpus directory, or the built-in corpus,
synthesised when it is missing (espeak-ng renders as Ray tasks in chunks of `chunk_size`; the
driver writes the files `<out_dir>/{train,test}/<voice>/<sentence>.flac` + `.txt` and
`<out_dir>/manifest.parquet`; a rerun with the same config skips utterances already on disk).

`prepare` also writes the manifest of a user's corpus (TIMIT, LibriSpeech, a folder of audio,
a CSV), optionally split by content (`pairalign.data.splits`), with the rows whose audio cannot
be read set apart in `<out_dir>/rejects.parquet`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from pairalign.config import PathStr
from pairalign.data.corpora import load_corpus
from pairalign.data.corpora.builtin import (
    BuiltinCorpusConfig,
    MapFn,
    UtteranceSpec,
    synthesize_corpus,
    thread_map,
)
from pairalign.data.corpora.user import split_unreadable
from pairalign.data.manifest import ManifestError, read_manifest, validate_manifest, write_manifest
from pairalign.data.splits import parse_shares, split_by_content
from pairalign.data.storage import join, url_to_fs
from pairalign.progress import Throttle, progress_line


@dataclass(frozen=True)
class CorpusConfig:
    manifest: PathStr = ""  # a manifest (.csv or .parquet, local or s3://) or a corpus directory
    # (TIMIT, LibriSpeech, a folder of audio); "" -> the built-in corpus in builtin_dir
    builtin_dir: PathStr = "data/builtin"  # where the built-in corpus lives (prepared if missing)
    more_manifests: tuple[PathStr, ...] = ()  # more corpora whose rows join the first's (mixing)
    train_split: str = "train"
    eval_split: str = "test"


def load_manifest(config: CorpusConfig) -> pa.Table:
    """The manifest to use (with `more_manifests` appended); the built-in corpus is synthesised
    first if it is not there yet (on the connected Ray cluster if there is one)."""
    first = read_corpus(config.manifest) if config.manifest else _builtin(config.builtin_dir)
    if not config.more_manifests:
        return first
    sources = [config.manifest or config.builtin_dir, *config.more_manifests]
    tables = [first, *(read_corpus(url) for url in config.more_manifests)]
    return validate_manifest(pa.concat_tables(tables), source=" + ".join(sources))


def read_corpus(source: str) -> pa.Table:
    """The manifest of `source`: a user manifest (.csv, .parquet) or a corpus directory."""
    try:
        return load_corpus("auto", source)
    except ManifestError:
        raise
    except (OSError, ValueError) as err:  # e.g. an unreadable directory: say which corpus
        raise ManifestError(f"{source}: cannot read this corpus: {err}") from err


def _builtin(builtin_dir: str) -> pa.Table:
    path = join(builtin_dir, "manifest.parquet")
    fs, fs_path = url_to_fs(path)
    if not fs.exists(fs_path):
        return prepare(PrepareConfig(out_dir=builtin_dir, use_ray=ray.is_initialized()))
    return read_manifest(path)


@dataclass(frozen=True)
class PrepareConfig:
    out_dir: PathStr = "data/builtin"  # local path or s3:// URL
    kind: str = "builtin"  # builtin (synthesised); or a user corpus at `source`: auto, timit,
    # librispeech, folder (<speaker>/<content>.<ext>), manifest (.csv / .parquet)
    source: PathStr = ""  # the user corpus (kind != builtin)
    splits: str = ""  # "": the corpus's own splits; "train:2,dev:1,test:1": parts by content_id
    split_seed: int = 0  # the seed of the content hash that orders sentences into parts
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
    """Counts and seconds of audio per split (train and test always)."""
    out: dict[str, object] = {"utterances": table.num_rows}
    for split in sorted(set(table["split"].to_pylist()) | {"train", "test"}):
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
    """Synthesise the built-in corpus of `config` (as Ray tasks on the connected cluster if
    `use_ray`, else a thread pool), or read a user corpus (`prepare_user`); log a summary and
    return the manifest."""
    if config.kind != "builtin":
        return prepare_user(config)
    if config.splits:
        raise ManifestError("splits= is for a user corpus: the built-in one has train and test")
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


def prepare_user(config: PrepareConfig) -> pa.Table:
    """The manifest of the corpus at `config.source` (split by content if `splits`), written to
    `<out_dir>/manifest.parquet`; rows whose audio cannot be read go to `<out_dir>/rejects.parquet`
    with the reason."""
    log = logging.getLogger("pairalign")
    if not config.source:
        raise ManifestError(f"prepare kind={config.kind}: set source= to the corpus")
    shares = parse_shares(config.splits) if config.splits else {}
    table, rejects = split_unreadable(load_corpus(config.kind, config.source))
    if shares:
        table = split_by_content(table, shares, config.split_seed)
    write_manifest(table, join(config.out_dir, "manifest.parquet"))
    fs, rejects_path = url_to_fs(join(config.out_dir, "rejects.parquet"))
    with fs.open(rejects_path, "wb") as f:
        pq.write_table(rejects, f)
    for row in rejects.to_pylist()[:10]:
        log.warning("rejected %s (%s): %s", row["utterance_id"], row["path"], row["reason"])
    summary = summarize(table)
    log.info("%s: %d utterances, %d rejected; %s -> %s", config.source, table.num_rows,
             rejects.num_rows, ", ".join(f"{k} {v}" for k, v in summary.items()
                                         if k.endswith("/utterances")), config.out_dir)  # fmt: skip
    return table
