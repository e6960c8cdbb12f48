"""Prepare the built-in corpus: synthesise the multi-voice espeak-ng sentences and their manifest.

    ray job submit --working-dir . -- python workflows/prepare.py out_dir=s3://bucket/builtin
    python workflows/prepare.py out_dir=/tmp/builtin                 # local Ray cluster
    python workflows/prepare.py out_dir=/tmp/builtin use_ray=false   # thread pool, no Ray
    python workflows/prepare.py corpus.train_sentences=20 corpus.test_sentences=10

With Ray, utterances are rendered by remote tasks in chunks of `chunk_size`; the driver writes the
files (`<out_dir>/{train,test}/<voice>/<sentence>.flac` + `.txt`) and `<out_dir>/manifest.parquet`.
A rerun with the same config skips utterances already on disk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa

from pairalign.config import to_dict
from pairalign.jobs.corpus import PrepareConfig, prepare, summarize
from workflows.cli import init_ray, parse_args, setup_logging


def main(argv: Sequence[str] | None = None) -> pa.Table:
    config = parse_args(PrepareConfig, "prepare.yaml", argv, description=__doc__)
    setup_logging().debug("prepare config: %s", json.dumps(to_dict(config)))
    if config.use_ray:
        init_ray(num_cpus=config.num_cpus or None)
    table = prepare(config)
    print(json.dumps(summarize(table) | {"out_dir": config.out_dir}))
    return table


if __name__ == "__main__":
    main()
