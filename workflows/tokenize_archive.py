"""Batch tokenization of an audio archive to Parquet, on a Ray Data actor pool.

    python workflows/tokenize_archive.py tokenizer.checkpoint=runs/refine-tiny/checkpoint_... out_dir=runs/archive
    python workflows/tokenize_archive.py corpus.manifest=s3://bucket/manifest.parquet out_dir=s3://bucket/archive \
        tokenizer.name=vq tokenizer.kind=vq tokenizer.checkpoint=s3://bucket/runs/refine/checkpoint_...
    ray job submit --working-dir . -- python workflows/tokenize_archive.py ... pool_size=8 device=cuda

Writes `<out_dir>/<tokenizer.name>/tokens/part-*.parquet`, rejects beside them, and resumes where
it stopped; the job itself: pairalign/jobs/tokenize_job.py. (Not `tokenize.py`: a script of that
name in workflows/ would shadow the standard library's `tokenize` module.)
"""

from __future__ import annotations

from collections.abc import Sequence

from pairalign.jobs.corpus import load_manifest
from pairalign.jobs.tokenize_job import (
    TokenizeConfig,
    archive_dir,
    print_totals,
    tokenize_archive,
)
from pairalign.models.checkpoint import CheckpointError, resolve_checkpoint
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(TokenizeConfig, "tokenize_archive.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    if (
        config.tokenizer.kind != "dense"
    ):  # a wrong checkpoint says so in one line, before Ray starts
        try:
            resolve_checkpoint(config.tokenizer.checkpoint)
        except CheckpointError as err:
            raise SystemExit(f"error: tokenizer.checkpoint: {err}") from None
    init_ray()
    totals = tokenize_archive(config, load_manifest(config.corpus))
    print_totals(archive_dir(config), totals)
    return totals


if __name__ == "__main__":
    main()
