"""Corpus preparation on Ray: the built-in corpus rendered as Ray tasks (espeak-ng, in chunks of
`chunk_size`); the config (`PrepareConfig`) and the rest are `pairalign.data.corpora.prepare`'s
(`prepare_corpus`). Reading a manifest needs no Ray (`pairalign.data.corpora.spec.load_manifest`);
`cluster_map` lets it synthesise a missing built-in corpus on the connected cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa
import ray

from pairalign.data.corpora.builtin import (
    MapFn,
    UtteranceSpec,
    thread_map,
)
from pairalign.data.corpora.prepare import PrepareConfig, prepare_corpus
from pairalign.data.corpora.registry import CorpusKind


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
    """`prepare_corpus` with the built-in corpus rendered as Ray tasks on the connected cluster
    if `use_ray` (else a thread pool)."""
    map_fn, backend = None, "threads"
    if config.use_ray and config.kind == CorpusKind.BUILTIN and not config.splits:
        if not ray.is_initialized():
            raise RuntimeError("prepare(use_ray=True) needs a connected Ray cluster (ray.init)")
        map_fn, backend = ray_map(config.chunk_size, config.threads_per_task), "ray"
    return prepare_corpus(config, map_fn=map_fn, backend=backend)
