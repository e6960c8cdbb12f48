"""Prepare a corpus: a manifest of your recordings, or the built-in espeak-ng corpus synthesised.

Your recordings (TIMIT or LibriSpeech layout, a folder `<speaker>/<sentence>.wav`, or a CSV with
utterance_id, path[, speaker, content_id, text, duration, split]) -> `<out_dir>/manifest.parquet`,
and the files that cannot be read -> `<out_dir>/rejects.parquet` with the reason:

    python workflows/prepare.py kind=auto source=/data/TIMIT out_dir=runs/timit
    python workflows/prepare.py kind=auto source=clips.csv out_dir=runs/clips splits=train:2,dev:1,test:1

`splits=` shares the sentences (content_id) out to parts, so no sentence is in two
(pairalign/data/splits.py); the manifest then goes to any workflow as
`corpus.manifest=<out_dir>/manifest.parquet` (a CSV or a corpus directory can go there directly too).

The built-in corpus (kind=builtin, the default):

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
from pairalign.data.corpora.prepare import PrepareConfig, summarize
from pairalign.jobs.corpus import prepare
from workflows.cli import init_ray, parse_args, setup_logging


def main(argv: Sequence[str] | None = None) -> pa.Table:
    config = parse_args(PrepareConfig, "prepare.yaml", argv, description=__doc__)
    setup_logging().debug("prepare config: %s", json.dumps(to_dict(config)))
    if config.use_ray and config.kind == "builtin":
        init_ray(num_cpus=config.num_cpus or None)
    table = prepare(config)
    print(json.dumps(summarize(table) | {"out_dir": config.out_dir}))
    return table


if __name__ == "__main__":
    main()
