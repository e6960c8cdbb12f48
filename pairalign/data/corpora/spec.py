"""What a config names a corpus by, and its manifest read without Ray.

    CorpusSpec(source="runs/vcc/manifest.parquet", split="test", half="dev").rows()
    load_manifest(CorpusConfig())          # a training stage's corpus (the built-in one by default)

`CorpusSpec` is one corpus and a choice of its rows (a split, one half of its sentences, the first
clips): what an evaluation set is (`pairalign.evaluation.eval_sets.EvalSetSpec` adds its name).
`CorpusConfig` is the corpus of a training stage (`corpus.*` in the workflows' YAML): a source
(or the built-in corpus, synthesised when missing), more sources mixed in, and the names of its
train and eval splits. `load_manifest` takes a `map_fn` for the synthesis
(`pairalign.jobs.corpus.cluster_map` renders on the connected Ray cluster)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from pairalign.config import PathStr
from pairalign.data.corpora.builtin import (
    BUILTIN_MANIFEST,
    BuiltinCorpusConfig,
    MapFn,
    read_builtin,
)
from pairalign.data.corpora.prepare import prepare_builtin
from pairalign.data.corpora.registry import CorpusKind, load_corpus
from pairalign.data.manifest import ManifestError, validate_manifest
from pairalign.data.splits import half_rows
from pairalign.data.storage import join, url_to_fs


@dataclass(frozen=True)
class CorpusSpec:
    """One corpus and which of its rows: all of `split` (or every row), or half its sentences."""

    source: PathStr = ""  # a .csv / .parquet manifest (local or s3://) or a corpus directory
    kind: CorpusKind = CorpusKind.AUTO  # which adapter reads it (auto: recognised by its layout)
    split: str = ""  # "": every row
    half: Literal["", "dev", "test"] = ""  # "": the whole split; dev / test: half its sentences
    sentences: int = 0  # with a half: its first sentences only (0: all)
    max_clips: int = 0  # 0: all; else the first clips (in `order`)
    # sentence: sorted by sentence, then clip (so the first clips hold every voice of the first
    # sentences); manifest: the manifest's own order (a training stage's rows: its views follow)
    order: Literal["sentence", "manifest"] = "sentence"

    def read(self) -> pa.Table:
        """The whole manifest of the corpus; a corpus that cannot be read raises a ManifestError
        naming it."""
        try:
            return load_corpus(self.kind, self.source)
        except ManifestError:
            raise
        except (OSError, ValueError) as err:  # e.g. an unreadable directory: say which corpus
            raise ManifestError(f"{self.source}: cannot read this corpus: {err}") from err

    def select(self, manifest: pa.Table, what: str = "corpus") -> pa.Table:
        """The rows of `manifest` this spec chooses, sentence by sentence; none is an error
        (a ValueError that starts with `what`)."""
        if self.half:
            rows = half_rows(manifest, self.split, self.half, self.sentences)
        elif self.split:
            rows = manifest.filter(pc.equal(manifest["split"], self.split))
        else:
            rows = manifest
        if not len(rows):
            raise ValueError(f"{what}: {self.source} has no rows in split {self.split!r}")
        if self.order == "sentence":
            rows = rows.sort_by([("content_id", "ascending"), ("utterance_id", "ascending")])
        return rows.slice(0, self.max_clips) if self.max_clips else rows

    def rows(self) -> pa.Table:
        return self.select(self.read())


@dataclass(frozen=True)
class CorpusConfig:
    manifest: PathStr = ""  # a manifest (.csv or .parquet, local or s3://) or a corpus directory
    # (TIMIT, LibriSpeech, a folder of audio); "" -> the built-in corpus in builtin_dir
    builtin_dir: PathStr = "data/builtin"  # where the built-in corpus lives (prepared if missing)
    more_manifests: tuple[PathStr, ...] = ()  # more corpora whose rows join the first's (mixing)
    train_split: str = "train"
    eval_split: str = "test"

    def spec(self, split: str, **choice: Any) -> CorpusSpec:
        """Which rows of `split` a stage uses, as a `CorpusSpec` to `select` from this config's
        manifest (`load_manifest`: the first corpus and those mixed in), in the manifest's
        order unless `choice` says otherwise (`half`, `sentences`, `max_clips`, `order`)."""
        kind = CorpusKind.AUTO if self.manifest else CorpusKind.BUILTIN
        source = self.manifest or self.builtin_dir
        return CorpusSpec(source, kind, split, **{"order": "manifest", **choice})

    def train_rows(self, manifest: pa.Table) -> pa.Table:
        """The train split of `manifest` (this config's, `load_manifest`), in its order."""
        return self.spec(self.train_split).select(manifest, "train_split")

    def eval_rows(self, manifest: pa.Table, **choice: Any) -> pa.Table:
        """The eval split of `manifest` (or what `choice` takes of it: `spec`), in its order."""
        return self.spec(self.eval_split, **choice).select(manifest, "eval_split")


def load_manifest(
    config: CorpusConfig, *, map_fn: MapFn | None = None, backend: str = "threads"
) -> pa.Table:
    """The manifest to use (with `more_manifests` appended); the built-in corpus is synthesised
    first if it is not there yet (rendered through `map_fn`: a thread pool if None)."""
    if config.manifest:
        first = read_corpus(config.manifest)
    else:
        first = _builtin(config.builtin_dir, map_fn, backend)
    if not config.more_manifests:
        return first
    sources = [config.manifest or config.builtin_dir, *config.more_manifests]
    tables = [first, *(read_corpus(url) for url in config.more_manifests)]
    return validate_manifest(pa.concat_tables(tables), source=" + ".join(sources))


def read_corpus(source: str) -> pa.Table:
    """The manifest of `source`: a user manifest (.csv, .parquet) or a corpus directory."""
    return CorpusSpec(source).read()


def _builtin(builtin_dir: str, map_fn: MapFn | None, backend: str) -> pa.Table:
    fs, fs_path = url_to_fs(join(builtin_dir, BUILTIN_MANIFEST))
    if not fs.exists(fs_path):
        return prepare_builtin(BuiltinCorpusConfig(), builtin_dir, map_fn=map_fn, backend=backend)
    return read_builtin(builtin_dir)
