"""Stage 1: train the VQ tokenizer on paired views with Ray Train (DDP), then measure its strings.

    ray job submit --working-dir . -- python workflows/vq.py --config workflows/configs/vq_base.yaml \
        storage_path=/shared/runs tracking.tracking_uri=http://mlflow:5000
    python workflows/vq.py                                   # local: tiny model, 2 CPU workers
    python workflows/vq.py train.max_steps=100 name=vq-short

Re-running with the same `name` and `storage_path` resumes from the latest checkpoint. The final
checkpoint (`<storage_path>/<name>/checkpoint_*/checkpoint.pt`) loads with
`pairalign.tokenizer.Tokenizer.from_checkpoint`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow.compute as pc
import ray.train
import ray.train.torch
import torch

from pairalign.config import from_dict, to_dict
from pairalign.model import ModelConfig, TokenizerModel
from pairalign.stage1 import Stage1Weights, stage1_losses
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging
from workflows.corpus import load_manifest
from workflows.string_eval import evaluate_strings
from workflows.training import (
    Session,
    StageHooks,
    StageRunConfig,
    finish_mlflow_run,
    latest_step,
    mlflow_run,
    paired_view_dataset,
    run_loop,
    tracking_uri,
    train_or_resume,
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
    )
    run_loop(config, session, model, optimizer, hooks, step)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(VQStageConfig, "vq.yaml", argv, description=__doc__)
    log = setup_logging()
    seed_everything(config.seed)
    init_ray()
    manifest = load_manifest(config.corpus)
    train_rows = manifest.filter(pc.equal(manifest["split"], config.corpus.train_split))
    start_step = latest_step(config.storage_path, config.name)
    log.info(
        "vq: %d train clips, starting at step %d of %d",
        len(train_rows),
        start_step,
        config.train.max_steps,
    )
    run_id = mlflow_run(config.tracking, config.storage_path, config.name, config)
    loop_config = {
        "stage": to_dict(config),
        "run_id": run_id,
        "tracking_uri": tracking_uri(config.tracking, config.storage_path),
    }
    checkpoint, final = train_or_resume(
        train_fn, loop_config, train=config.train, name=config.name, storage_path=config.storage_path,
        datasets=lambda step: {"train": paired_view_dataset(config, train_rows, step)}, start_step=start_step,
    )  # fmt: skip
    log.info("vq: final checkpoint %s", checkpoint)
    eval_rows = manifest.filter(pc.equal(manifest["split"], config.corpus.eval_split)).slice(
        0, config.eval_clips
    )
    figures = evaluate_strings(checkpoint, eval_rows, config.views, run_id=run_id,
                               tracking_uri=loop_config["tracking_uri"])  # fmt: skip
    figures |= {f"final/{k}": v for k, v in final.items()}
    finish_mlflow_run(config.tracking, config.storage_path, run_id, "FINISHED")
    print(json.dumps({"checkpoint": checkpoint, "mlflow_run_id": run_id, **figures}, indent=1))
    return figures


if __name__ == "__main__":
    # Run from the importable module, so Ray pickles `train_fn` and configs by reference.
    from workflows import vq

    vq.main()
