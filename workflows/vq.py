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
from dataclasses import dataclass, field

import ray.train
import ray.train.torch
import torch

from pairalign.config import from_dict
from pairalign.models.vq_model import ModelConfig, TokenizerModel
from pairalign.objectives.stage1 import Stage1Weights, stage1_losses
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging
from workflows.training import (
    Session,
    StageHooks,
    StageRunConfig,
    run_loop,
    run_stage,
)


@dataclass(frozen=True)
class VQStageConfig(StageRunConfig):
    name: str = "vq-tiny"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: Stage1Weights = field(default_factory=Stage1Weights)


def train_fn(config_dict: dict) -> None:
    """The per-worker loop: paired-view batches from the dataset shard -> stage-1 losses -> AdamW."""
    config = from_dict(VQStageConfig, config_dict["stage"])
    session = Session(stage="vq", config=config_dict["stage"], model_config=config.model, train=config.train,
                      tracking_uri=config_dict["tracking_uri"], run_id=config_dict["run_id"])  # fmt: skip
    torch.manual_seed(config.seed + session.rank)
    model = TokenizerModel(config.model)
    ddp = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
    )
    step, _ = session.restore(model, optimizer)
    hooks = StageHooks(
        losses=lambda batch, step: stage1_losses(ddp, batch, config.loss)[0],
        report_metrics=lambda batch: model.quantizer.usage(),
        progress={"codebook perplexity": "vq/ema_perplexity"},
    )
    run_loop(config, session, model, optimizer, hooks, step)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(VQStageConfig, "vq.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    init_ray()
    return run_stage("vq", config, train_fn)


if __name__ == "__main__":
    # Run from the importable module, so Ray pickles `train_fn` and configs by reference.
    from workflows import vq

    vq.main()
