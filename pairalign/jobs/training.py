"""The per-worker training shape that every stage shares, and the MLflow bookkeeping around it.

A stage supplies `train_fn(config: dict)`; inside it, `Session` restores the latest checkpoint,
reports metrics every `report_every` steps and checkpoints every `checkpoint_every` steps (rank 0
writes the file, every rank reports), and logs to MLflow on rank 0 only. `fit` builds the
`TorchTrainer` from a `TrainConfig`: DDP over `num_workers` (NCCL on GPU, gloo on CPU), resume
from the latest checkpoint of the same (storage_path, name), `FailureConfig` retries.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray.data
import ray.train
import ray.train.torch
import torch
from ray.train import (
    Checkpoint,
    CheckpointConfig,
    FailureConfig,
    LoggingConfig,
    RunConfig,
    ScalingConfig,
)
from ray.train.torch import TorchTrainer

from pairalign.config import ConfigError, PathStr, to_dict
from pairalign.console import corpus_name, result_block, run_line
from pairalign.data.pair_batches import CLEAN, TENSOR_COLUMNS
from pairalign.data.storage import arrow_filesystem, is_remote, join, to_url, url_to_fs
from pairalign.data.views import ViewConfig
from pairalign.jobs.checkpoints import drop_unrecorded_checkpoints, latest_checkpoint, latest_step
from pairalign.jobs.corpus import CorpusConfig
from pairalign.jobs.paired_views import PipelineConfig, build_paired_views
from pairalign.jobs.tracking import (
    REMOTE_TRACKING_ERROR,
    TrackingConfig,
    end_mlflow_run,
    log_figures_file,
    log_metrics,
    mlflow_run,
    tracking_uri,
)
from pairalign.models.checkpoint import load_checkpoint, save_checkpoint
from pairalign.progress import eta_seconds, progress_line


@dataclass(frozen=True)
class TrainConfig:
    num_workers: int = 2
    use_gpu: bool = False
    cpus_per_worker: float = 0.5  # leave CPUs for the Ray Data view workers
    batch_size: int = 16  # pairs per worker per step
    max_steps: int = 300
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 30
    grad_clip: float = 1.0
    report_every: int = 10
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    max_failures: int = 2
    shuffle_buffer: int = 64  # local shuffle of pairs before batching (0: off)


@dataclass(frozen=True)
class StageRunConfig:
    """The sections every training stage has; a stage's config adds its model and objective."""

    name: str = "run"
    storage_path: PathStr = "runs"  # Ray Train storage: a path every node sees, or s3://b/prefix
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    pipeline: PipelineConfig = field(default_factory=lambda: PipelineConfig(num_cpus_per_task=0.5))
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    eval_clips: int = 800  # clips of the eval split whose strings are measured after training
    inject_failure_at_step: int = 0  # tests: SIGKILL the last worker once at this step (0: never)

    def __post_init__(self) -> None:
        if is_remote(self.storage_path) and not self.tracking.tracking_uri:
            raise ConfigError(REMOTE_TRACKING_ERROR.format(storage_path=self.storage_path))


def lr_at(step: int, train: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < train.warmup_steps:
        return train.lr * (step + 1) / train.warmup_steps
    progress = min(1.0, (step - train.warmup_steps) / max(1, train.max_steps - train.warmup_steps))
    return train.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class Session:
    """What a training function does besides computing losses."""

    def __init__(self, *, stage: str, config: dict[str, Any], model_config: Any, train: TrainConfig,
                 tracking_uri: str, run_id: str) -> None:  # fmt: skip
        self.stage, self.config, self.model_config, self.train = stage, config, model_config, train
        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        self.run_id = run_id
        self._mlflow = None
        quiet_ray_console()
        if self.rank == 0 and tracking_uri:
            import mlflow

            mlflow.set_tracking_uri(tracking_uri)
            self._mlflow = mlflow.MlflowClient()

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, dict]:
        """Load the latest checkpoint of this run, if any; return (step to start from, payload).
        Rank 0 also drops checkpoints newer than it, which Ray Train never recorded."""
        checkpoint = ray.train.get_checkpoint()
        payload: dict[str, Any] = {}
        if checkpoint is not None:
            with checkpoint.as_directory() as directory:
                payload = load_checkpoint(directory)
            if payload["stage_config"] != self.config:
                raise ValueError(
                    "the checkpoint was written with a different config; use a new run name"
                )
            _unwrap(model).load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
        step = int(payload.get("step", 0))
        if self.rank == 0:
            drop_unrecorded_checkpoints(self.config["storage_path"], self.config["name"], step)
        return step, payload

    def report(self, metrics: dict[str, float], *, step: int, model: torch.nn.Module,
               optimizer: torch.optim.Optimizer, checkpoint: bool, final: bool = False,
               extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Report metrics (all ranks); with `checkpoint`, rank 0 also saves and uploads one, and
        with `final` logs it to MLflow as the run's checkpoint artifact."""
        metrics = {**metrics, "step": step}
        if self._mlflow is not None:
            import mlflow

            self._mlflow.log_batch(
                self.run_id,
                metrics=[
                    mlflow.entities.Metric(k, float(v), 0, step)
                    for k, v in metrics.items()
                    if k != "step"
                ],
            )
        if not checkpoint:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as directory:
            if self.rank == 0:
                save_checkpoint(
                    directory, model_config=self.model_config, model_state=_unwrap(model).state_dict(),
                    stage=self.stage, stage_config=self.config, step=step,
                    optimizer=optimizer.state_dict(), **(extra or {}),
                )  # fmt: skip
                with open(os.path.join(directory, "step.json"), "w") as f:
                    json.dump({"step": step, "stage": self.stage}, f)
                if final and self._mlflow is not None:
                    self._mlflow.log_artifacts(self.run_id, directory, artifact_path="checkpoint")
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))
            else:
                ray.train.report(metrics)


@dataclass
class StageHooks:
    """What a stage plugs into `run_loop`."""

    losses: Callable[
        [dict[str, torch.Tensor], int], dict[str, torch.Tensor]
    ]  # (batch, step) -> {"total": ...}
    after_step: Callable[[], None] = lambda: None  # e.g. an EMA update
    report_metrics: Callable[[dict[str, torch.Tensor]], dict[str, float]] = lambda batch: {}
    checkpoint_extra: Callable[[], dict[str, Any]] = dict
    # figures measured on rank 0 at each checkpoint (step -> metrics), e.g. stage 2's collapse watch
    checkpoint_metrics: Callable[[int], dict[str, float]] = lambda step: {}
    # extra figures of the progress line: label -> reported metric (loss and clips/s always)
    progress: dict[str, str] = field(default_factory=dict)


def run_loop(config: Any, session: Session, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             hooks: StageHooks, start_step: int) -> None:  # fmt: skip
    """The per-worker loop every stage shares: dataset shard -> losses -> AdamW step; report every
    `report_every` steps, checkpoint every `checkpoint_every` (and at the end)."""
    train = config.train
    step, sums, clips, start = start_step, {}, 0, time.perf_counter()
    began, first_report = start, None  # the ETA follows the pace after the first report
    batches = ray.train.get_dataset_shard("train").iter_torch_batches(
        batch_size=train.batch_size, device=ray.train.torch.get_device(), drop_last=True,
        local_shuffle_buffer_size=train.shuffle_buffer or None,
        local_shuffle_seed=config.seed + step + session.rank,
    )  # fmt: skip
    for batch in batches:
        if step >= train.max_steps:
            break
        maybe_inject_failure(config, step, session)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, train)
        losses = hooks.losses(batch, step)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
        optimizer.step()
        hooks.after_step()
        step += 1
        clips += len(batch["source_seconds"])
        for key, value in {**losses, "train/grad_norm": grad_norm}.items():
            sums[key] = sums.get(key, 0.0) + float(
                value.detach() if torch.is_tensor(value) else value
            )
        if step % train.report_every == 0 or step == train.max_steps:
            n = train.report_every if step % train.report_every == 0 else step % train.report_every
            metrics = {("loss/total" if k == "total" else k): v / n for k, v in sums.items()}
            metrics |= hooks.report_metrics(batch)
            metrics |= {"train/lr": lr_at(step - 1, train), "train/start_step": start_step,
                        "train/clips_per_second": clips * session.world_size / (time.perf_counter() - start)}  # fmt: skip
            final = step == train.max_steps
            checkpoint = final or step % train.checkpoint_every == 0
            if checkpoint and session.rank == 0:
                metrics |= hooks.checkpoint_metrics(step)
            if session.rank == 0:
                first_report = first_report or (step, time.perf_counter())
                log_progress(session.stage, step, train.max_steps, began, first_report, metrics,
                             hooks.progress)  # fmt: skip
            session.report(metrics, step=step, model=model, optimizer=optimizer, final=final,
                           checkpoint=checkpoint,
                           extra=hooks.checkpoint_extra())  # fmt: skip
            sums, clips, start = {}, 0, time.perf_counter()
    if step < train.max_steps:
        raise RuntimeError(f"the dataset ran out at step {step} of {train.max_steps}")


def log_progress(stage: str, step: int, max_steps: int, began: float, first_report: tuple[int, float],
                 metrics: dict[str, float], extra: dict[str, str]) -> None:  # fmt: skip
    """One line per report on rank 0: step, loss, clips/s, the stage's own figures, elapsed, and
    the ETA at the pace since the first report (start-up and warm-up excluded)."""
    figures = {"loss": metrics["loss/total"], "clips/s": metrics["train/clips_per_second"]}
    figures |= {label: metrics[key] for label, key in extra.items() if key in metrics}
    now, (first_step, first_time) = time.perf_counter(), first_report
    eta = eta_seconds(step, max_steps, now - first_time, first_step)
    line = progress_line(stage, done=step, total=max_steps, elapsed=now - began, figures=figures,
                         eta=eta)  # fmt: skip
    logging.getLogger("pairalign.train").info(line)


class _RayInfoFilter(logging.Filter):
    """Drops Ray's own records below WARNING (they stay in Ray's log files)."""

    def __init__(self) -> None:
        super().__init__()
        self.ray_dir = os.path.dirname(ray.__file__)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.pathname.startswith(self.ray_dir)


def quiet_ray_console() -> None:
    """On a training worker: keep Ray Train's per-report INFO records (a screen-wide dict per
    report) off the console, where the stage's own progress line says what matters."""
    for handler in logging.getLogger().handlers:
        console = isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        )
        if console and not any(isinstance(f, _RayInfoFilter) for f in handler.filters):
            handler.addFilter(_RayInfoFilter())


def run_stage(stage: str, config: Any, train_fn: Callable[[dict], None],
              extra: dict[str, Any] | None = None,
              prepare: Callable[[pa.Table], dict[str, Any]] | None = None) -> dict[str, float]:  # fmt: skip
    """What a stage's `main` does after building its config: read the corpus, train (or resume)
    run `config.name`, measure the final checkpoint's strings on the eval split, log, print.
    `extra` goes into every worker's loop config (e.g. the model config, the init checkpoint), and
    so does what `prepare(train rows)` returns (e.g. a file fitted on the train split first), and,
    for a config with `watch_clips` (stage 2), the clean clips its workers watch (`watch`)."""
    from pairalign.evaluation.figures import checkpoint_figures, load_clips
    from pairalign.jobs.corpus import load_manifest
    from pairalign.jobs.watch import load_watch

    log, began = logging.getLogger("pairalign"), time.perf_counter()
    manifest = load_manifest(config.corpus)
    train_rows = manifest.filter(pc.equal(manifest["split"], config.corpus.train_split))
    start_step = latest_step(config.storage_path, config.name)
    run_id = mlflow_run(config.tracking, config.storage_path, config.name, config)
    uri = tracking_uri(config.tracking, config.storage_path)
    print(run_line(stage, name=config.name, corpus=corpus_name(config.corpus),
                   train_clips=len(train_rows), steps=(start_step, config.train.max_steps),
                   out=join(config.storage_path, config.name), tracking=uri), flush=True)  # fmt: skip
    extra = {**(extra or {}), **(prepare(train_rows) if prepare else {})}
    if getattr(config, "watch_clips", 0):  # loaded here: the workers run in another directory
        extra["watch"] = load_watch(manifest, config.corpus.eval_split, config.views,
                                    config.watch_clips)  # fmt: skip
        if extra["watch"] is None:
            log.warning("%s: no watch (the eval split lacks content_id)", stage)
    loop_config = {"stage": to_dict(config), "run_id": run_id, "tracking_uri": uri, **extra}
    checkpoint, final = train_or_resume(
        train_fn, loop_config, train=config.train, name=config.name, storage_path=config.storage_path,
        datasets=lambda step: {"train": paired_view_dataset(config, train_rows, step)}, start_step=start_step,
    )  # fmt: skip
    log.debug("%s: final checkpoint %s", stage, checkpoint)
    eval_rows = manifest.filter(pc.equal(manifest["split"], config.corpus.eval_split))
    rows = eval_rows.slice(0, config.eval_clips)
    log.info("%s: measuring the final checkpoint on %d '%s' clips", stage, len(rows),
             config.corpus.eval_split)  # fmt: skip
    clips = load_clips(rows, config.views, name="eval", view_clips=len(rows))
    figures = checkpoint_figures(checkpoint, clips)
    log_metrics(uri, run_id, figures, prefix="eval/")
    figures |= {f"final/{k}": v for k, v in final.items()}
    record = {"checkpoint": checkpoint, "mlflow_run_id": run_id, **figures}
    where = log_figures_file(uri, run_id, record, join(config.storage_path, config.name))
    end_mlflow_run(uri, run_id, "FINISHED")
    log.debug("%s figures: %s", stage, json.dumps(record, indent=1))
    print(result_block(stage, figures, name=config.name, checkpoint=checkpoint,
                       seconds=time.perf_counter() - began, step=int(final.get("step", start_step)),
                       details=f"MLflow run {run_id} ({uri}); every figure in {where}"), flush=True)  # fmt: skip
    return figures


def train_or_resume(train_fn: Callable[[dict], None], config: dict[str, Any], *, train: TrainConfig,
                    name: str, storage_path: str, datasets: Callable[[int], dict[str, Any]],
                    start_step: int) -> tuple[str, dict[str, float]]:  # fmt: skip
    """Train (or resume) run `name`; return (final checkpoint directory, its last reported metrics).
    A run that already reached `max_steps` is not started again: its final checkpoint is returned."""
    if start_step >= train.max_steps:
        _, checkpoint = latest_checkpoint(storage_path, name)
        return checkpoint, {"step": float(start_step)}
    try:
        result = fit(train_fn, config, train=train, name=name, storage_path=storage_path,
                     datasets=datasets(start_step))  # fmt: skip
    except Exception:
        end_mlflow_run(config["tracking_uri"], config["run_id"], "FAILED")
        raise
    metrics = {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}
    return to_url(storage_path, result.checkpoint.path), metrics


def fit(train_fn: Callable[[dict], None], config: dict[str, Any], *, train: TrainConfig, name: str,
        storage_path: str, datasets: dict[str, Any], callbacks: Sequence[Any] = ()) -> ray.train.Result:  # fmt: skip
    """Run (or resume) the Ray Train job `name` under `storage_path` (local, or s3:// through s3fs);
    `callbacks` are Ray Train `UserCallback`s (e.g. the sweep's held-out report to Tune)."""
    filesystem, storage = arrow_filesystem(storage_path)
    trainer = TorchTrainer(
        train_fn,
        train_loop_config=config,
        scaling_config=ScalingConfig(
            num_workers=train.num_workers,
            use_gpu=train.use_gpu,
            resources_per_worker={
                "CPU": train.cpus_per_worker,
                **({"GPU": 1} if train.use_gpu else {}),
            },
        ),
        run_config=RunConfig(
            name=name,
            storage_path=storage,
            storage_filesystem=filesystem,
            failure_config=FailureConfig(max_failures=train.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=train.keep_checkpoints),
            callbacks=list(callbacks),
            # Ray Train's own INFO lines go to its log files (<ray session dir>/logs/train/), not
            # the console: the workers print one progress line per report instead.
            logging_config=LoggingConfig(log_level="WARNING"),
        ),
        datasets=datasets,
    )
    return trainer.fit()


def maybe_inject_failure(config: Any, step: int, session: Session) -> None:
    """Kill this worker process once (a marker file remembers it), to exercise recovery."""
    target = config.inject_failure_at_step
    if target <= 0 or step != target or session.rank != session.world_size - 1:
        return
    fs, marker = url_to_fs(join(config.storage_path, config.name, f"injected-failure-{step}"))
    if fs.exists(marker):
        return
    # Wait until Ray Train has recorded the last checkpoint (its controller collects reports every
    # ~2 s), so the retry provably resumes from it; `drop_unrecorded_checkpoints` covers a kill
    # that lands in between.
    recorded, deadline = step - step % config.train.checkpoint_every, time.monotonic() + 120
    while latest_step(config.storage_path, config.name) < recorded and time.monotonic() < deadline:
        time.sleep(0.2)
    fs.makedirs(os.path.dirname(marker), exist_ok=True)
    fs.touch(marker)
    os.kill(os.getpid(), signal.SIGKILL)


def paired_view_dataset(config: Any, train_rows: pa.Table, start_step: int) -> ray.data.Dataset:
    """Enough epochs of paired views for the remaining steps; later epochs continue the sequence."""
    per_step = config.train.batch_size * config.train.num_workers
    start_epoch = start_step * per_step // max(1, len(train_rows))
    epochs = (
        math.ceil((config.train.max_steps - start_step + 1) * per_step / max(1, len(train_rows)))
        + 1
    )
    rejects = join(config.storage_path, config.name, "rejects")
    # stage 1 with pseudo-label targets: the clean crop travels with the views
    with_clean = bool(
        getattr(config, "pseudo_labels", "") or getattr(config, "fit_pseudo_labels", False)
    )
    ds = build_paired_views(train_rows, config.views, rejects_dir=rejects, epoch=start_epoch,
                            epochs=epochs, pipeline=config.pipeline, with_clean=with_clean)  # fmt: skip
    return ds.select_columns([*TENSOR_COLUMNS, *([CLEAN] if with_clean else [])])


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model
