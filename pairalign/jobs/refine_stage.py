"""Stage 2 as a Ray Train job: its config, the per-worker loop (paired views -> EMA-teacher
targets -> stage-2 + stage-1 terms -> AdamW) that `workflows/refine.py` hands to `run_stage`,
and the stage-1 checkpoint it starts from (a path, or a vq run's MLflow artifact). At each
checkpoint rank 0 also watches for collapse on a few dev clips (`watch_clips`, `watch/...`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import ray.train
import ray.train.torch
import torch

from pairalign.config import PathStr, from_dict
from pairalign.data.storage import join, upload_dir
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.string_metrics import (
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.jobs.tracking import tracking_uri
from pairalign.jobs.training import Session, StageHooks, StageRunConfig, TrainConfig, run_loop
from pairalign.jobs.watch import watch_figures
from pairalign.models.checkpoint import (
    checkpoint_model_config,
    load_checkpoint,
    resolve_checkpoint,
)
from pairalign.models.decoder import DecoderConfig
from pairalign.models.decoding import greedy_decode, max_lengths
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.objectives.refine_step import EmaTeacher, RefineStep
from pairalign.objectives.stage1 import Stage1Weights, stacked_seconds, stacked_views
from pairalign.objectives.stage2 import Stage2Config


@dataclass(frozen=True)
class RefineConfig(StageRunConfig):
    name: str = "refine-tiny"
    init_checkpoint: PathStr = ""  # a stage-1 checkpoint (directory or checkpoint.pt, or s3://)
    init_mlflow_run_id: str = ""  # or the MLflow run of a vq.py run: its checkpoint artifact
    # the decoder reads where a frame is and which code it holds (issue 13's ladder, BENCHMARKS.md)
    decoder: DecoderConfig = field(
        default_factory=lambda: DecoderConfig(memory_positions=True, memory_codes=True)
    )
    objective: Stage2Config = field(default_factory=Stage2Config)
    stage1: Stage1Weights = field(default_factory=Stage1Weights)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(lr=1e-3, max_steps=300, checkpoint_every=100)
    )
    # clips of the eval split's dev half whose greedy and target strings rank 0 measures at each
    # checkpoint, `watch/...` (pairalign/jobs/watch.py); 0: off
    watch_clips: int = 48


# the progress line's figures besides loss and clips/s (the watch's only at checkpoints)
PROGRESS = {"tokens/s": "strings/token_rate", "consistency": "strings/consistency",
            "map": "watch/greedy_map", "ppl": "watch/greedy_perplexity",
            "target map": "watch/target_map", "target ppl": "watch/target_perplexity"}  # fmt: skip


def train_fn(config_dict: dict) -> None:
    """The per-worker loop: paired views -> (EMA-teacher targets) -> stage-2 + stage-1 terms -> AdamW."""
    config = from_dict(RefineConfig, config_dict["stage"])
    model_config = from_dict(PairAlignConfig, config_dict["model_config"])
    objective, clip_seconds = config.objective, config.views.clip_seconds
    session = Session(stage="refine", config=config_dict["stage"], model_config=model_config, train=config.train,
                      tracking_uri=config_dict["tracking_uri"], run_id=config_dict["run_id"])  # fmt: skip
    torch.manual_seed(config.seed + session.rank)
    model = PairAlignModel(model_config)
    stage1 = load_checkpoint(config_dict["init_checkpoint"])
    model.init_from_stage1(stage1["model"])
    vq_strings = stage1.get("vq_strings", {})
    teacher = EmaTeacher(model, objective.teacher_decay)
    teacher_on = teacher_used(objective, config.train.max_steps)
    step_module = RefineStep(model, objective, config.stage1, clip_seconds)  # freezes if asked
    ddp = ray.train.torch.prepare_model(step_module, parallel_strategy_kwargs={
        # a stage-1 label head is never used in stage 2
        "find_unused_parameters": some_terms_off(objective) or bool(model_config.tokenizer.label_classes),
    })  # fmt: skip
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],  # a frozen tokenizer's are not
        lr=config.train.lr,
        weight_decay=config.train.weight_decay,
    )
    step, payload = session.restore(model, optimizer)
    if "teacher" in payload:
        teacher.model.load_state_dict(payload["teacher"])
    teacher.model.to(ray.train.torch.get_device())
    generator = torch.Generator().manual_seed(config.seed * 1000 + session.rank * 100 + step)

    def losses(batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        share = teacher_share(step, objective)
        use = (torch.rand(len(batch["source_seconds"]), generator=generator) < share).tolist()
        if not any(use):
            return ddp(batch)
        return ddp(batch, teacher.targets(batch, objective, clip_seconds), use)

    watch = watch_hook(config_dict.get("watch"), model, teacher, objective, clip_seconds,
                       teacher_on)  # fmt: skip
    hooks = StageHooks(
        losses=losses,
        after_step=lambda: teacher.update(model) if teacher_on else None,
        report_metrics=lambda batch: batch_string_metrics(model, batch, objective),
        checkpoint_extra=lambda: {
            "teacher": teacher.model.state_dict(),
            "decoding": decoding(objective, config.views.clip_seconds),
            "vq_strings": vq_strings,  # the stage-1 checkpoint's VQ string settings
        },
        checkpoint_metrics=watch,
        progress=PROGRESS,
    )
    run_loop(config, session, model, optimizer, hooks, step)


def watch_hook(clips: ClipSet | None, model: PairAlignModel, teacher: EmaTeacher,
               objective: Stage2Config, clip_seconds: float,
               teacher_on: bool) -> Callable[[int], dict[str, float]]:  # fmt: skip
    """step -> the collapse watch's figures (pairalign/jobs/watch.py) on `clips`, with the targets
    of the step just taken (the EMA teacher's once it gives some); no clips (a sweep trial): {}."""
    if clips is None or not clips.ids:
        return lambda step: {}

    def measure(step: int) -> dict[str, float]:
        share = teacher_share(step - 1, objective) if teacher_on else 0.0
        return watch_figures(model, clips, objective, clip_seconds=clip_seconds,
                             teacher=teacher.model, teacher_share=share)  # fmt: skip

    return measure


def teacher_share(step: int, objective: Stage2Config) -> float:
    """Fraction of targets from the EMA teacher: 0 until teacher_start, then a linear ramp to 1."""
    if step < objective.teacher_start:
        return 0.0
    return min(1.0, (step - objective.teacher_start + 1) / max(1, objective.teacher_ramp))


def teacher_used(objective: Stage2Config, max_steps: int) -> bool:
    """Whether the EMA teacher ever gives targets (steps run 0 .. max_steps - 1). When it does
    not (teacher_start >= max_steps), it is neither decoded nor updated."""
    return objective.teacher_start < max_steps


def some_terms_off(objective: Stage2Config) -> bool:
    """Whether some trainable parameters may get no gradient (DDP's `find_unused_parameters`):
    a term switched off; the stage-1 weight counts only while the tokenizer trains."""
    weights = [objective.bypass, objective.contrast, objective.length, objective.timing]
    if not objective.freeze_tokenizer:
        weights.append(objective.stage1)
    return min(weights) <= 0


def decoding(objective: Stage2Config, clip_seconds: float) -> dict[str, float]:
    """What decoding needs besides the weights; timing-head fractions are of `clip_seconds`."""
    return {"target_rate": objective.target_rate, "decode_slack": objective.decode_slack,
            "clip_seconds": clip_seconds}  # fmt: skip


@torch.no_grad()
def batch_string_metrics(model: PairAlignModel, batch, objective: Stage2Config) -> dict[str, float]:
    """Greedy strings of both views of this batch: rate, length, consistency, usage, distinctness."""
    was_training = model.training
    model.eval()
    seconds = stacked_seconds(batch)
    encoded = model(stacked_views(batch), seconds)
    budget = max_lengths(
        seconds, objective.target_rate, objective.decode_slack, model.decoder.config.max_len
    )
    strings = greedy_decode(model.decoder, encoded.frames, encoded.mask, budget).strings
    model.train(was_training)
    n = len(batch["source_seconds"])
    stats = string_stats(strings, seconds.tolist(), "strings")
    return {
        **{
            k: stats[k]
            for k in (
                "strings/token_rate",
                "strings/mean_length",
                "strings/length_std",
                "strings/distinct_rate",
            )
        },
        **cross_view_consistency(strings[:n], strings[n:], "strings"),
        "strings/vocab_used": vocabulary_usage(strings, model.vocab.codes, "s")["s/vocab_used"],
    }


def refine_model_config(init: str, decoder: DecoderConfig) -> PairAlignConfig:
    """The stage-2 model: the stage-1 checkpoint's tokenizer model plus `decoder`."""
    stage1 = load_checkpoint(init)
    if stage1["stage"] != "vq":
        raise ValueError(
            f"{init}: init_checkpoint must be a stage-1 (vq) checkpoint, got stage {stage1['stage']!r}"
        )
    return PairAlignConfig(tokenizer=checkpoint_model_config(stage1), decoder=decoder)


def resolve_init(config: RefineConfig) -> str:
    """The stage-1 checkpoint to start from: a path, or downloaded from an MLflow run."""
    if config.init_checkpoint:  # a run directory means its latest checkpoint
        return resolve_checkpoint(config.init_checkpoint)
    if not config.init_mlflow_run_id:
        raise ValueError(
            "set init_checkpoint=<stage-1 checkpoint> or init_mlflow_run_id=<vq run id>"
        )
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(config.tracking, config.storage_path))
    # MLflow downloads to local disk only; the workers read the copy under storage_path.
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(run_id=config.init_mlflow_run_id,
                                                    artifact_path="checkpoint", dst_path=tmp)  # fmt: skip
        return upload_dir(local, join(config.storage_path, config.name, "init", "checkpoint"))
