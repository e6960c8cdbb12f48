"""Stage 2: refine a stage-1 tokenizer into the PairAlign autoregressive tokenizer (Ray Train DDP).

    python workflows/refine.py init_checkpoint=runs/vq-tiny      # a run directory: its latest checkpoint
    python workflows/refine.py init_checkpoint=runs/vq-tiny/checkpoint_...
    ray job submit --working-dir . -- python workflows/refine.py storage_path=/shared/runs \
        init_checkpoint=/shared/runs/vq-tiny/checkpoint_...   # a job runs in a copy: absolute paths
    ray job submit --working-dir . -- python workflows/refine.py init_mlflow_run_id=<vq run id>
    python workflows/refine.py init_checkpoint=... objective.weights.contrast=0    # an ablation

Same shape as workflows/vq.py: paired views from Ray Data, DDP workers (NCCL on GPU, gloo on CPU),
checkpoints every `train.checkpoint_every` steps, resume by re-running with the same name,
`FailureConfig` retries, MLflow on rank 0. At every checkpoint rank 0 watches for collapse: the
MAP and token perplexity of the greedy strings and of the targets on `watch_clips` dev clips
(`watch/...`, also in the progress line). At the end the final checkpoint's PairAlign strings
and VQ strings are measured side by side on the eval split.
"""

from __future__ import annotations

from collections.abc import Sequence

from pairalign.jobs.training import run_stage
from pairalign.models.checkpoint import CheckpointError
from pairalign.stages.refine import REFINE, RefineConfig
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(RefineConfig, "refine.yaml", argv, description=__doc__)
    log = setup_logging()
    seed_everything(config.seed)
    try:  # a wrong init_checkpoint says so in one line, before Ray starts
        inputs = REFINE.setup(config)
    except (CheckpointError, ValueError) as err:  # a missing one too; the path said once
        raise SystemExit(f"error: {init_error(config.init_checkpoint, str(err))}") from None
    init_ray()
    log.info("refine: starting from %s", inputs["init_checkpoint"])
    return run_stage(REFINE, config, inputs)


def init_error(init_checkpoint: str, message: str) -> str:
    """`message` (which names the checkpoint it read, if any) under the key it came from."""
    if not init_checkpoint:
        return message  # it says which keys to set
    if message.startswith(f"{init_checkpoint}: "):
        return f"init_checkpoint={message}"
    return f"init_checkpoint={init_checkpoint}: {message}"  # e.g. a checkpoint in that run


if __name__ == "__main__":
    main()
