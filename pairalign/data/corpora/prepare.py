"""A corpus's manifest written to a directory, without Ray: the built-in corpus synthesised
(`prepare_builtin`: espeak-ng renders through `map_fn`, a thread pool by default; the files
`<out_dir>/{train,test}/<voice>/<sentence>.flac` + `.txt` and `<out_dir>/manifest.parquet`; a
rerun with the same config skips utterances already on disk), or a user's corpus (`prepare_user`:
TIMIT, LibriSpeech, a folder of audio, a CSV), optionally split by content
(`pairalign.data.splits`), with the rows whose audio cannot be read set apart in
`<out_dir>/rejects.parquet`. `pairalign.jobs.corpus.prepare` renders as Ray tasks instead."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pairalign.config import PathStr
from pairalign.data.corpora.builtin import BuiltinCorpusConfig, MapFn, synthesize_corpus
from pairalign.data.corpora.registry import CorpusKind, load_corpus
from pairalign.data.corpora.user import split_unreadable
from pairalign.data.manifest import ManifestError, write_manifest
from pairalign.data.splits import parse_shares, split_by_content
from pairalign.data.storage import join, url_to_fs
from pairalign.progress import Throttle, progress_line


@dataclass(frozen=True)
class PrepareConfig:
    out_dir: PathStr = "data/builtin"  # local path or s3:// URL
    kind: CorpusKind = CorpusKind.BUILTIN  # builtin (synthesised); or a user corpus at `source`:
    # auto, timit, librispeech, folder (<speaker>/<content>.<ext>), manifest (.csv / .parquet)
    source: PathStr = ""  # the user corpus (kind != builtin)
    splits: str = ""  # "": the corpus's own splits; "train:2,dev:1,test:1": parts by content_id
    split_seed: int = 0  # the seed of the content hash that orders sentences into parts
    corpus: BuiltinCorpusConfig = field(default_factory=BuiltinCorpusConfig)
    use_ray: bool = True  # False: render with a thread pool of corpus.workers threads
    num_cpus: int = 0  # size of a locally started Ray cluster; 0 = all cores
    chunk_size: int = 20  # utterances per Ray task
    threads_per_task: int = 2  # render threads inside a task (overlap espeak-ng start-up)


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
            log.info(
                progress_line(
                    "built-in corpus:",
                    done=done,
                    total=total,
                    unit="utterances",
                    elapsed=throttle.elapsed,
                    started_at=first[0],
                    figures={"utterances/s": rate},
                )
            )

    return progress


def prepare_builtin(
    corpus: BuiltinCorpusConfig,
    out_dir: str,
    *,
    map_fn: MapFn | None = None,
    backend: str = "threads",
) -> pa.Table:
    """Synthesise the built-in corpus `corpus` into `out_dir` (rendering through `map_fn`, a
    thread pool of `corpus.workers` if None; `backend` names it in the log); log a summary and
    return the manifest."""
    log = logging.getLogger("pairalign")
    start = time.perf_counter()
    log.info("built-in corpus: synthesising into %s with espeak-ng", out_dir)
    table = synthesize_corpus(corpus, out_dir, map_fn=map_fn, progress=_progress_logger(log))
    summary = summarize(table) | {
        "wall_seconds": round(time.perf_counter() - start, 1),
        "out_dir": out_dir,
        "backend": backend,
    }
    log.info(
        "built-in corpus: %(utterances)d utterances; train %(train/utterances)d "
        "(%(train/sentences)d sentences by %(train/voices)d voices, "
        "%(train/seconds).0f s of audio); "
        "test %(test/utterances)d (%(test/sentences)d sentences by %(test/voices)d voices, "
        "%(test/seconds).0f s); %(wall_seconds).1f s wall (%(backend)s) -> %(out_dir)s",
        summary,
    )
    return table


def prepare_user(
    kind: CorpusKind, source: str, out_dir: str, *, splits: str = "", split_seed: int = 0
) -> pa.Table:
    """The manifest of the corpus at `source` read as `kind` (split by content if `splits`),
    written to `<out_dir>/manifest.parquet`; rows whose audio cannot be read go to
    `<out_dir>/rejects.parquet` with the reason."""
    log = logging.getLogger("pairalign")
    if not source:
        raise ManifestError(f"prepare kind={kind}: set source= to the corpus")
    shares = parse_shares(splits) if splits else {}
    table, rejects = split_unreadable(load_corpus(kind, source))
    if shares:
        table = split_by_content(table, shares, split_seed)
    write_manifest(table, join(out_dir, "manifest.parquet"))
    fs, rejects_path = url_to_fs(join(out_dir, "rejects.parquet"))
    with fs.open(rejects_path, "wb") as f:
        pq.write_table(rejects, f)
    for row in rejects.to_pylist()[:10]:
        log.warning("rejected %s (%s): %s", row["utterance_id"], row["path"], row["reason"])
    summary = summarize(table)
    log.info(
        "%s: %d utterances, %d rejected; %s -> %s",
        source,
        table.num_rows,
        rejects.num_rows,
        ", ".join(f"{k} {v}" for k, v in summary.items() if k.endswith("/utterances")),
        out_dir,
    )
    return table


def prepare_corpus(
    config: PrepareConfig, *, map_fn: MapFn | None = None, backend: str = "threads"
) -> pa.Table:
    """The corpus of `config` written to `config.out_dir`, without Ray: a user corpus at
    `config.source` (`prepare_user`), or the built-in one synthesised (`prepare_builtin`,
    rendered through `map_fn`: None for a thread pool; `pairalign.jobs.corpus.prepare` passes
    Ray tasks when `use_ray`)."""
    if config.kind != CorpusKind.BUILTIN:
        return prepare_user(
            config.kind,
            config.source,
            config.out_dir,
            splits=config.splits,
            split_seed=config.split_seed,
        )
    if config.splits:
        raise ManifestError("splits= is for a user corpus: the built-in one has train and test")
    return prepare_builtin(config.corpus, config.out_dir, map_fn=map_fn, backend=backend)
