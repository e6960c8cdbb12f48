"""Corpus preparation on Ray: the built-in corpus rendered as Ray tasks (espeak-ng, in chunks of
`chunk_size`), the rest of `pairalign.data.corpora.prepare` as it is. Reading a manifest needs
no Ray (`pairalign.data.corpora.spec.load_manifest`); `cluster_map` lets it synthesise a missing
built-in corpus on the connected cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import ray

from pairalign.config import PathStr
from pairalign.data.corpora.builtin import (
    BuiltinCorpusConfig,
    MapFn,
    UtteranceSpec,
    thread_map,
)
from pairalign.data.corpora.prepare import prepare_builtin, prepare_user
from pairalign.data.corpora.registry import CorpusKind
from pairalign.data.manifest import ManifestError


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


def cluster_map() -> dict[str, object]:
    """`load_manifest`'s keywords that synthesise a missing built-in corpus as Ray tasks on the
    connected cluster (`PrepareConfig`'s chunks), or with threads when none is connected:
    `load_manifest(config.corpus, **cluster_map())`."""
    if not ray.is_initialized():
        return {}
    defaults = PrepareConfig()
    return {"map_fn": ray_map(defaults.chunk_size, defaults.threads_per_task), "backend": "ray"}


def prepare(config: PrepareConfig) -> pa.Table:
    """Synthesise the built-in corpus of `config` (as Ray tasks on the connected cluster if
    `use_ray`, else a thread pool), or read a user corpus (`prepare_user`); log a summary and
    return the manifest."""
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
    map_fn = None
    if config.use_ray:
        if not ray.is_initialized():
            raise RuntimeError("prepare(use_ray=True) needs a connected Ray cluster (ray.init)")
        map_fn = ray_map(config.chunk_size, config.threads_per_task)
    return prepare_builtin(
        config.corpus, config.out_dir, map_fn=map_fn, backend="ray" if config.use_ray else "threads"
    )
