"""Stage 2 (refine): its config, the recipe every way of running it shares (`build_refine`:
model from the stage-1 checkpoint, the step module, the EMA teacher's schedule, AdamW and the
loop's hooks) and its Ray Train per-worker function (`train_fn`, which `workflows/refine.py`
hands to `run_stage`). `pairalign.training.local` runs the same recipe on one process.

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
import pyarrow.compute as pc
import torch

from pairalign.config import PathStr
from pairalign.data.storage import join, upload_dir
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.string_metrics import (
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.jobs.tracking import tracking_uri
from pairalign.jobs.training import StageRunConfig
from pairalign.jobs.watch import load_watch, watch_figures
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
    # checkpoint, `watch/...` (pairalign/jobs/watch.py); 0: off
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
PROGRESS = {"tokens/s": "strings/token_rate", "consistency": "strings/consistency",
            "map": "watch/greedy_map", "ppl": "watch/greedy_perplexity",
            "target map": "watch/target_map", "target ppl": "watch/target_perplexity"}  # fmt: skip

# (the step module, whether DDP must look for unused parameters) -> the module the loop calls
Wrap = Callable[[RefineStep, bool], torch.nn.Module]


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


def build_refine(config: RefineConfig, model_config: PairAlignConfig, stage1: dict[str, Any], *,
                 rank: int = 0, wrap: Wrap = lambda step, unused: step,
                 watch: ClipSet | None = None) -> RefineRun:  # fmt: skip
    """The stage-2 recipe on one worker: the model from `model_config` (its decoding settings from
    `config.objective`) and the stage-1 payload, wrapped for the loop by `wrap` (DDP on Ray)."""
    objective = config.objective
    torch.manual_seed(config.seed + rank)
    model_config = replace(model_config, decoding=refine_decoding(config))
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


def train_fn(config_dict: dict) -> None:
    """The Ray Train per-worker loop: paired views -> (EMA-teacher targets) -> refine terms -> AdamW."""
    import ray.train.torch

    from pairalign.config import from_dict
    from pairalign.jobs.training import Session, ray_batches
    from pairalign.training.loop import run_loop

    config = from_dict(RefineConfig, config_dict["stage"])
    model_config = from_dict(PairAlignConfig, config_dict["model_config"])
    model_config = replace(model_config, decoding=refine_decoding(config))
    session = Session(stage="refine", config=config_dict["stage"], model_config=model_config, train=config.train,
                      tracking_uri=config_dict["tracking_uri"], run_id=config_dict["run_id"])  # fmt: skip

    def ddp(module: RefineStep, unused: bool) -> torch.nn.Module:
        kwargs = {"find_unused_parameters": unused}
        return ray.train.torch.prepare_model(module, parallel_strategy_kwargs=kwargs)

    run = build_refine(config, model_config, load_checkpoint(config_dict["init_checkpoint"]),
                       rank=session.rank, wrap=ddp,
                       watch=config_dict.get("watch"))  # fmt: skip
    step, payload = session.restore(run.model, run.optimizer)
    run.start(step, payload, ray.train.torch.get_device())
    run_loop(ray_batches(config, session, step), config.train, run.model, run.optimizer,
             run.hooks, session, step)  # fmt: skip


def train_local(config: RefineConfig, init: str, manifest: pa.Table, *, out_dir: str,
                cache_dir: str, batch_size: int = 0) -> str:  # fmt: skip
    """Stage 2 on this process without Ray: the train split's paired views cached under
    `cache_dir` (`ViewCache`), `config.train.max_steps` steps of `batch_size` pairs (0: the Ray
    run's global batch, batch_size x num_workers) from the stage-1 checkpoint `init`, metrics
    and the final checkpoint under `out_dir`. Returns the checkpoint directory."""
    from pairalign.config import to_dict
    from pairalign.training.local import LocalReporter, ViewCache
    from pairalign.training.loop import run_loop

    train_rows = manifest.filter(pc.equal(manifest["split"], config.corpus.train_split))
    watch = config.worker_inputs(manifest, train_rows).get("watch")
    model_config = replace(refine_model_config(init, config.decoder),
                           decoding=refine_decoding(config))  # fmt: skip
    run = build_refine(config, model_config, load_checkpoint(init), watch=watch)
    run.start(0, {}, "cpu")
    reporter = LocalReporter("refine", out_dir, model_config=model_config,
                             stage_config=to_dict(config))  # fmt: skip
    batch_size = batch_size or config.train.batch_size * config.train.num_workers
    cache = ViewCache(train_rows, config.views, cache_dir)
    cache.prepare(config.train.max_steps, batch_size)
    batches = cache.batches(batch_size, seed=config.seed)
    run_loop(batches, config.train, run.model, run.optimizer, run.hooks, reporter)
    return reporter.checkpoint


def refine_decoding(config: RefineConfig) -> DecodingConfig:
    """The decoding settings the model carries: the objective's, timing in clips of the views."""
    return config.objective.decoding_config(config.views.clip_seconds)


def watch_hook(clips: ClipSet | None, model: PairAlignModel, teacher: TeacherSchedule,
               objective: RefineObjective) -> Callable[[int], dict[str, float]]:  # fmt: skip
    """step -> the collapse watch's figures (pairalign/jobs/watch.py) on `clips`, with the targets
    of the step just taken (the EMA teacher's once it gives some); no clips (a sweep trial): {}."""
    if clips is None or not clips.ids:
        return lambda step: {}

    def measure(step: int) -> dict[str, float]:
        figures = watch_figures(model, clips, objective.targets,
                                teacher=teacher.teacher.model if teacher.on else None,
                                teacher_share=teacher.share(step - 1))  # fmt: skip
        if teacher.on:
            figures["watch/teacher_gate"] = float(
                teacher.judge(figures["watch/teacher_map"], figures["watch/vq_target_map"])
            )
        return figures

    return measure


@torch.no_grad()
def batch_string_metrics(model: PairAlignModel, batch: Batch) -> dict[str, float]:
    """Greedy strings of both views of this batch: rate, length, consistency, usage, distinctness."""
    was_training = model.training
    model.eval()
    seconds = stacked_seconds(batch)
    strings = model.decode(stacked_views(batch), seconds).strings
    model.train(was_training)
    n = len(batch["source_seconds"])
    stats = string_stats(strings, seconds.tolist(), "strings")
    keys = ("strings/token_rate", "strings/mean_length", "strings/length_std",
            "strings/distinct_rate")  # fmt: skip
    return {
        **{k: stats[k] for k in keys},
        **cross_view_consistency(strings[:n], strings[n:], "strings"),
        "strings/vocab_used": vocabulary_usage(strings, model.vocab.codes, "s")["s/vocab_used"],
    }


def refine_model_config(init: str, decoder: DecoderConfig) -> PairAlignConfig:
    """The stage-2 model: the stage-1 checkpoint's VQ model plus `decoder` (the decoding
    settings are the stage config's, set by `build_refine`). A segment decoder's
    `min_run_frames` 0 becomes the checkpoint's VQ-string setting, so it starts from exactly the
    checkpoint's VQ strings; a free decoder's VQ-derived targets keep every run (1)."""
    stage1 = load_checkpoint(init)
    if stage1["stage"] != "vq":
        raise ValueError(
            f"{init}: init_checkpoint must be a stage-1 (vq) checkpoint, got stage {stage1['stage']!r}"
        )
    decoder = decoder.with_vq_strings(stage1.get("vq_strings", {}).get("min_run_frames", 1))
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
        local = mlflow.artifacts.download_artifacts(run_id=config.init_mlflow_run_id,
                                                    artifact_path="checkpoint", dst_path=tmp)  # fmt: skip
        return upload_dir(local, join(config.storage_path, config.name, "init", "checkpoint"))
