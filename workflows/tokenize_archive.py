"""Batch tokenization of an audio archive to Parquet, on a Ray Data actor pool.

    python workflows/tokenize_archive.py tokenizer.checkpoint=runs/refine-tiny/checkpoint_... out_dir=runs/archive
    python workflows/tokenize_archive.py corpus.manifest=s3://bucket/manifest.parquet out_dir=s3://bucket/archive \
        tokenizer.kind=vq tokenizer.checkpoint=s3://bucket/runs/refine/checkpoint_...
    ray job submit --working-dir . -- python workflows/tokenize_archive.py ... pool_size=8 device=cuda

`tokenizer.kind=auto` (the default) takes the kind the checkpoint's export records as measured
best, else pairalign for a checkpoint with a decoder, vq otherwise (as `python -m pairalign
tokenize` does); the line before the job starts says which and why. Writes
`<out_dir>/<tokenizer.name>/tokens/part-*.parquet` (the name defaults to the kind), rejects beside
them, and resumes where it stopped; the job itself: pairalign/jobs/tokenize_job.py. (Not
`tokenize.py`: a script of that name in workflows/ would shadow the standard library's `tokenize`
module.)
"""

from __future__ import annotations

from collections.abc import Sequence

from pairalign.data.corpora.spec import load_manifest
from pairalign.jobs.corpus import cluster_map
from pairalign.jobs.tokenize_job import (
    TokenizeConfig,
    archive_dir,
    print_totals,
    resolve_tokenizer,
    tokenize_archive,
)
from pairalign.models.checkpoint import CheckpointError
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(TokenizeConfig, "tokenize_archive.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    try:  # a wrong checkpoint says so in one line, before Ray starts
        config, reason = resolve_tokenizer(config)
    except CheckpointError as err:
        raise SystemExit(f"error: tokenizer.checkpoint: {err}") from None
    except ValueError as err:
        raise SystemExit(f"error: tokenizer: {err}") from None
    spec = config.tokenizer
    print(f"tokenizer {spec.name}: kind {spec.kind}" + (f" ({reason})" if reason else ""))
    init_ray()
    totals = tokenize_archive(config, load_manifest(config.corpus, **cluster_map()))
    print_totals(archive_dir(config), totals)
    return totals


if __name__ == "__main__":
    main()
