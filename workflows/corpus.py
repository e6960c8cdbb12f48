"""Which corpus a workflow reads: a manifest, or the built-in corpus (prepared when missing)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa

from pairalign.config import PathStr
from pairalign.data.manifest import read_manifest
from pairalign.data.storage import join, url_to_fs


@dataclass(frozen=True)
class CorpusConfig:
    manifest: PathStr = ""  # a manifest (Parquet, local or s3://); "" -> the built-in corpus below
    builtin_dir: PathStr = "data/builtin"  # where the built-in corpus lives (prepared if missing)
    train_split: str = "train"
    eval_split: str = "test"


def load_manifest(config: CorpusConfig) -> pa.Table:
    """The manifest to use; the built-in corpus is synthesised first if it is not there yet."""
    if config.manifest:
        return read_manifest(config.manifest)
    path = join(config.builtin_dir, "manifest.parquet")
    fs, fs_path = url_to_fs(path)
    if not fs.exists(fs_path):
        from workflows.prepare import PrepareConfig, prepare

        return prepare(PrepareConfig(out_dir=config.builtin_dir, num_cpus=os.cpu_count() or 1))
    return read_manifest(path)
