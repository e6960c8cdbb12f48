"""Stage 1 as a Ray Train job: its config and the per-worker loop (paired-view batches ->
stage-1 losses -> AdamW) that `workflows/vq.py` hands to `run_stage`. Checkpoints load with
`pairalign.tokenizing.tokenizer.Tokenizer.from_checkpoint`."""

from __future__ import annotations

from dataclasses import dataclass, field

import ray.train
import ray.train.torch
import torch

from pairalign.config import from_dict, to_dict
from pairalign.jobs.training import Session, StageHooks, StageRunConfig, run_loop
from pairalign.models.vq_model import ModelConfig, TokenizerModel
from pairalign.objectives.stage1 import Stage1Weights, stage1_losses
from pairalign.tokenizing.tokenizer import VQStringConfig


@dataclass(frozen=True)
class VQStageConfig(StageRunConfig):
    name: str = "vq-tiny"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: Stage1Weights = field(default_factory=Stage1Weights)
    strings: VQStringConfig = field(default_factory=VQStringConfig)  # frame codes -> VQ strings


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
        checkpoint_extra=lambda: {"vq_strings": to_dict(config.strings)},
    )
    run_loop(config, session, model, optimizer, hooks, step)
