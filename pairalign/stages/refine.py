"""Stage 2 (refine): its config, the recipe every way of running it shares (`build_refine`:
model from the stage-1 checkpoint, the step module, the EMA teacher's schedule, AdamW and the
loop's hooks), the set-up chain from an init checkpoint (`refine_inputs`: `resolve_init` ->
`refine_model_config`, on the driver; `refine_worker_config` on each worker) and its `Stage`
(`REFINE`), which Ray Train (`pairalign.jobs.training`), the sweep and the local run
(`pairalign.stages.local`) all use.

At each checkpoint rank 0 also watches for collapse on a few dev clips (`watch_clips`,
`watch/...`). The objective's rules (targets, teacher schedule, terms, which parameters may go
unused) live in `pairalign/objectives/refine_*.py`."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import torch

from pairalign.config import PathStr, from_dict, to_dict
from pairalign.data.storage import join, upload_dir
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.string_metrics import (
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.models.checkpoint import (
    checkpoint_model_config,
    load_checkpoint,
    resolve_checkpoint,
)
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.decoding import DecodingConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.objectives.refine_config import RefineObjective, TeacherConfig
from pairalign.objectives.refine_step import RefineStep
from pairalign.objectives.refine_teacher import TeacherSchedule
from pairalign.objectives.refine_terms import unused_parameters
from pairalign.objectives.stage1 import Stage1Weights, stacked_seconds, stacked_views
from pairalign.stages.config import StageRunConfig, tracking_uri
from pairalign.stages.stage import Stage, Wrap, no_wrap
from pairalign.stages.watch import load_watch, watch_figures
from pairalign.strings.rule import VQStringConfig
from pairalign.training.loop import Batch, StageHooks, TrainConfig


@dataclass(frozen=True)
class RefineConfig(StageRunConfig):
    name: str = "refine-tiny"
    init_checkpoint: PathStr = ""  # a stage-1 checkpoint (directory or checkpoint.pt, or s3://)
    init_mlflow_run_id: str = ""  # or the MLflow run of a vq.py run: its checkpoint artifact
    # the segment decoder, which starts as the stage-1 VQ strings, on a frozen stage-1 model
    # (issue 20); the condition carries frame positions and codes (issue 13's ladder)
    decoder: DecoderConfig = field(
        default_factory=lambda: DecoderConfig(kind="segment", memory_codes=True)
    )
    objective: RefineObjective = field(
        default_factory=lambda: RefineObjective(freeze_vq=True, teacher=TeacherConfig(start=300))
    )
    stage1: Stage1Weights = field(default_factory=Stage1Weights)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(lr=1e-3, max_steps=300, checkpoint_every=100)
    )
    # clips of the eval split's dev half whose greedy and target strings rank 0 measures at each
    # checkpoint, `watch/...` (pairalign/stages/watch.py); 0: off
    watch_clips: int = 48

    def worker_inputs(self, manifest: pa.Table, train_rows: pa.Table) -> dict[str, Any]:
        """The clean clips the collapse watch measures (`watch`), if any."""
        if not self.watch_clips:
            return {}
        clips = load_watch(manifest, self.corpus.eval_split, self.views, self.watch_clips)
        if clips is None:
            logging.getLogger("pairalign").warning(
                "refine: no watch (the eval split lacks content_id)"
            )
        return {"watch": clips}


# the progress line's figures besides loss and clips/s (the watch's only at checkpoints)
PROGRESS = {
    "tokens/s": "strings/token_rate",
    "consistency": "strings/consistency",
    "map": "watch/greedy_map",
    "ppl": "watch/greedy_perplexity",
    "target map": "watch/target_map",
    "target ppl": "watch/target_perplexity",
}


@dataclass
class RefineRun:
    """What `build_refine` makes: the model, its optimizer, the teacher and the loop's hooks."""

    model: PairAlignModel
    optimizer: torch.optim.Optimizer
    teacher: TeacherSchedule
    hooks: StageHooks
    seed: int  # the teacher's row draws start from seed + the first step

    def start(self, step: int, payload: dict[str, Any], device: torch.device | str) -> None:
        """Ready to train from `step`: the teacher's weights from a checkpoint payload ({} when
        starting afresh; the model's are restored by the caller), on `device`."""
        if "teacher" in payload:
            self.teacher.teacher.model.load_state_dict(payload["teacher"])
        self.teacher.teacher.model.to(device)
        self.teacher.generator.manual_seed(self.seed + step)


def build_refine(
    config: RefineConfig,
    model_config: PairAlignConfig,
    stage1: dict[str, Any],
    *,
    rank: int = 0,
    wrap: Wrap = lambda step, unused: step,
    watch: ClipSet | None = None,
) -> RefineRun:
    """The stage-2 recipe on one worker: the model from `model_config` (its decoding settings
    `refine_decoding`'s: `refine_worker_config`) and the stage-1 payload, wrapped for the loop by
    `wrap` (DDP on Ray)."""
    objective = config.objective
    torch.manual_seed(config.seed + rank)
    model = PairAlignModel(model_config)
    model.init_from_stage1(stage1["model"])
    teacher = TeacherSchedule(model, objective.teacher, config.train.max_steps)
    step_module = RefineStep(model, objective, config.stage1)  # freezes the VQ model if asked
    unused = unused_parameters(objective, label_head=bool(model_config.vq.label_classes))
    module = wrap(step_module, unused)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],  # a frozen VQ model's are not
        lr=config.train.lr,
        weight_decay=config.train.weight_decay,
    )

    def losses(batch: Batch, step: int) -> dict[str, torch.Tensor]:
        targets, use = teacher.targets(batch, step)
        return module(batch) if targets is None else module(batch, targets, use)

    hooks = StageHooks(
        losses=losses,
        after_step=lambda: teacher.update(model),
        report_metrics=lambda batch: batch_string_metrics(model, batch),
        checkpoint_extra=lambda: {
            "teacher": teacher.teacher.model.state_dict(),
            "vq_strings": stage1.get("vq_strings", {}),  # the stage-1 checkpoint's VQ strings
        },
        checkpoint_metrics=watch_hook(watch, model, teacher, objective),
        progress=PROGRESS,
    )
    return RefineRun(model, optimizer, teacher, hooks, seed=config.seed * 1000 + rank * 100)


def refine_decoding(config: RefineConfig) -> DecodingConfig:
    """The decoding settings the model carries: the objective's, timing in clips of the views."""
    return config.objective.decoding_config(config.views.clip_seconds)


def watch_hook(
    clips: ClipSet | None,
    model: PairAlignModel,
    teacher: TeacherSchedule,
    objective: RefineObjective,
) -> Callable[[int], dict[str, float]]:
    """step -> the collapse watch's figures (pairalign/stages/watch.py) on `clips`, with the targets
    of the step just taken (the EMA teacher's once it gives some); no clips (a sweep trial): {}."""
    if clips is None or not clips.ids:
        return lambda step: {}

    def measure(step: int) -> dict[str, float]:
        figures = watch_figures(
            model,
            clips,
            objective.targets,
            teacher=teacher.teacher.model if teacher.on else None,
            teacher_share=teacher.share(step - 1),
        )
        if teacher.on:
            figures["watch/teacher_gate"] = float(
                teacher.judge(figures["watch/teacher_map"], figures["watch/vq_target_map"])
            )
        return figures

    return measure


@torch.no_grad()
def batch_string_metrics(model: PairAlignModel, batch: Batch) -> dict[str, float]:
    """Greedy strings of both views of the batch: rate, length, consistency, usage, distinctness."""
    was_training = model.training
    model.eval()
    seconds = stacked_seconds(batch)
    strings = model.decode(stacked_views(batch), seconds).strings
    model.train(was_training)
    n = len(batch["source_seconds"])
    stats = string_stats(strings, seconds.tolist(), "strings")
    keys = (
        "strings/token_rate",
        "strings/mean_length",
        "strings/length_std",
        "strings/distinct_rate",
    )
    return {
        **{k: stats[k] for k in keys},
        **cross_view_consistency(strings[:n], strings[n:], "strings"),
        "strings/vocab_used": vocabulary_usage(strings, model.vocab.codes, "s")["s/vocab_used"],
    }


def refine_model_config(init: str, decoder: DecoderConfig) -> PairAlignConfig:
    """The stage-2 model: the stage-1 checkpoint's VQ model plus `decoder` (the decoding
    settings are the stage config's, set by `refine_worker_config`). A segment decoder takes the
    checkpoint's VQ-string settings (`DecoderConfig.with_vq_strings`: `vq_strings`, and
    `min_run_frames` where 0), so it starts from exactly the checkpoint's VQ strings; a free
    decoder's VQ-derived targets keep every run (`min_run_frames` 1)."""
    stage1 = load_checkpoint(init)
    if stage1["stage"] != "vq":
        raise ValueError(
            f"{init}: init_checkpoint must be a stage-1 (vq) checkpoint, "
            f"got stage {stage1['stage']!r}"
        )
    strings = VQStringConfig(**stage1.get("vq_strings", {"min_run_frames": 1}))
    decoder = decoder.with_vq_strings(strings)
    return PairAlignConfig(vq=checkpoint_model_config(stage1), decoder=decoder)


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
        local = mlflow.artifacts.download_artifacts(
            run_id=config.init_mlflow_run_id, artifact_path="checkpoint", dst_path=tmp
        )
        return upload_dir(local, join(config.storage_path, config.name, "init", "checkpoint"))


def refine_inputs(config: RefineConfig) -> dict[str, Any]:
    """What every worker starts from (on the driver): the stage-1 checkpoint (`resolve_init`)
    and the stage-2 model config built on it (`refine_model_config`), JSON-safe."""
    init = resolve_init(config)
    return {
        "model_config": to_dict(refine_model_config(init, config.decoder)),
        "init_checkpoint": init,
    }


def refine_worker_config(config: RefineConfig, inputs: dict[str, Any]) -> PairAlignConfig:
    """The model config a worker builds and its checkpoints record: the driver's
    (`refine_inputs`) with the decoding settings of `config` (`refine_decoding`), set here only."""
    model_config = from_dict(PairAlignConfig, inputs["model_config"])
    return replace(model_config, decoding=refine_decoding(config))


def refine_recipe(
    config: RefineConfig, inputs: dict[str, Any], rank: int = 0, wrap: Wrap = no_wrap
) -> RefineRun:
    """`build_refine` from the inputs: `refine_inputs`' and the watched clips (`watch`)."""
    return build_refine(
        config,
        refine_worker_config(config, inputs),
        load_checkpoint(inputs["init_checkpoint"]),
        rank=rank,
        wrap=wrap,
        watch=inputs.get("watch"),
    )


REFINE = Stage(
    name="refine",
    config=RefineConfig,
    config_file="refine.yaml",
    strings="pairalign",
    setup=refine_inputs,
    model_config=refine_worker_config,
    recipe=refine_recipe,
)
