"""Stage 1 as a Ray Train job: its config and the per-worker loop (paired-view batches ->
stage-1 losses -> AdamW) that `workflows/vq.py` hands to `run_stage`. Checkpoints load with
`pairalign.tokenizing.tokenizer.Tokenizer.from_checkpoint`."""

from __future__ import annotations

from dataclasses import dataclass, field

import ray.train
import ray.train.torch
import torch

from pairalign.config import PathStr, from_dict, to_dict
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
    # a dense tokenizer (workflows/dense.py, pool = model.encoder.subsample) whose codes of the clean
    # crop are the pseudo-label targets of loss.pseudo; its k is model.label_classes ("": none)
    pseudo_labels: PathStr = ""


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
    labeler = pseudo_labeler(config)

    def losses(batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        if labeler is not None:
            batch = {**batch, "labels": labeler(batch["clean"], batch["source_seconds"])}
        return stage1_losses(ddp, batch, config.loss)[0]

    hooks = StageHooks(
        losses=losses,
        report_metrics=lambda batch: model.quantizer.usage(),
        progress={"codebook perplexity": "vq/ema_perplexity"},
        checkpoint_extra=lambda: {"vq_strings": to_dict(config.strings)},
    )
    run_loop(config, session, model, optimizer, hooks, step)


def pseudo_labeler(config: VQStageConfig):
    """`labels(clean (B, N), seconds (B,)) -> (B, T) int64` (-1 past the real audio) from the dense
    tokenizer `config.pseudo_labels`, or None when the stage has no pseudo-label targets."""
    if not config.pseudo_labels:
        return None
    from pairalign.tokenizing.dense import DenseTokenizer

    dense = DenseTokenizer.load(config.pseudo_labels)
    if dense.config.pool != config.model.encoder.subsample:
        raise ValueError(f"pseudo_labels={config.pseudo_labels}: pool {dense.config.pool} must equal "
                         f"model.encoder.subsample={config.model.encoder.subsample} (one label a frame)")  # fmt: skip
    on_codes = config.loss.pseudo_target == "codes"
    classes = config.model.quantizer.codebook_size if on_codes else config.model.label_classes
    if dense.vocab_size != classes:
        where = "model.quantizer.codebook_size" if on_codes else "model.label_classes"
        raise ValueError(f"pseudo_labels={config.pseudo_labels} has {dense.vocab_size} classes: set "
                         f"{where}={dense.vocab_size}")  # fmt: skip

    @torch.no_grad()
    def labels(clean: torch.Tensor, seconds: torch.Tensor) -> torch.Tensor:
        codes = dense(clean.cpu(), seconds.tolist())
        out = torch.full((len(codes), max(map(len, codes))), -1, dtype=torch.long)
        for i, row in enumerate(codes):
            out[i, : len(row)] = torch.as_tensor(row)
        return out.to(clean.device)

    return labels
