"""Stage 1: train the VQ tokenizer on paired views with Ray Train (DDP), then measure its strings.

    ray job submit --working-dir . -- python workflows/vq.py --config workflows/configs/vq_base.yaml \
        storage_path=s3://bucket/runs tracking.tracking_uri=http://mlflow:5000
    python workflows/vq.py                                   # local: tiny model, 2 CPU workers
    python workflows/vq.py train.max_steps=100 name=vq-short

Re-running with the same `name` and `storage_path` resumes from the latest checkpoint. The final
checkpoint (`<storage_path>/<name>/checkpoint_*/checkpoint.pt`) loads with
`pairalign.tokenizing.tokenizer.Tokenizer.from_checkpoint`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pairalign.jobs.training import run_stage
from pairalign.stages.vq import VQ, VQStageConfig
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(VQStageConfig, "vq.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    init_ray()
    return run_stage(VQ, config)


if __name__ == "__main__":
    main()
