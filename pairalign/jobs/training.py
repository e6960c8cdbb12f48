"""The Ray Train side of the training loop every stage shares (`pairalign.training.loop`), and
the MLflow bookkeeping around it.

Every stage runs on each worker as `train_fn` (a `pairalign.stages.Stage`'s recipe, bound by
`worker_fn`); inside it, `Session` (the loop's Ray Train reporter)
restores the latest checkpoint, reports metrics every `report_every` steps and checkpoints every
`checkpoint_every` steps (rank 0 writes the file, every rank reports), and logs to MLflow on rank
0 only; `ray_batches` is the worker's dataset shard. `fit` builds the `TorchTrainer` from a
`TrainConfig`: DDP over `num_workers` (NCCL on GPU, gloo on CPU), resume from the latest
checkpoint of the same (storage_path, name), `FailureConfig` retries. A stage's config is a
`StageRunConfig` (`pairalign.stages.config`), whose hooks say what its workers need from the
driver. `run_stage` is what `workflows/vq.py` and `workflows/refine.py` call.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
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

from pairalign.config import from_dict, to_dict
from pairalign.console import corpus_name, result_block, run_line
from pairalign.data.pair_batches import CLEAN, tensor_columns
from pairalign.data.storage import arrow_filesystem, join, to_url, url_to_fs
from pairalign.jobs.checkpoints import drop_unrecorded_checkpoints, latest_checkpoint, latest_step
from pairalign.jobs.paired_views import build_paired_views
from pairalign.jobs.tracking import end_mlflow_run, log_figures_file, log_metrics, mlflow_run
from pairalign.models.checkpoint import load_checkpoint, save_checkpoint
from pairalign.stages.config import StageRunConfig, tracking_uri
from pairalign.stages.stage import Stage
from pairalign.training.loop import Batch, TrainConfig, run_loop

__all__ = ["Session", "fit", "run_stage", "train_fn", "worker_fn"]


class Session:
    """What a training function does besides computing losses."""

    def __init__(
        self,
        *,
        stage: str,
        config: dict[str, Any],
        model_config: Any,
        train: TrainConfig,
        tracking_uri: str,
        run_id: str,
    ) -> None:
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

    def report(
        self,
        metrics: dict[str, float],
        *,
        step: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        checkpoint: bool,
        final: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
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
                    directory,
                    model_config=self.model_config,
                    model_state=_unwrap(model).state_dict(),
                    stage=self.stage,
                    stage_config=self.config,
                    step=step,
                    optimizer=optimizer.state_dict(),
                    **(extra or {}),
                )
                with open(os.path.join(directory, "step.json"), "w") as f:
                    json.dump({"step": step, "stage": self.stage}, f)
                if final and self._mlflow is not None:
                    self._mlflow.log_artifacts(self.run_id, directory, artifact_path="checkpoint")
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))
            else:
                ray.train.report(metrics)


def ray_batches(config: StageRunConfig, session: Session, start_step: int) -> Iterator[Batch]:
    """This worker's shard of the train dataset as torch batches on its device; with
    `inject_failure_at_step`, the worker is killed once when that step's batch is due."""
    train = config.train
    batches = ray.train.get_dataset_shard("train").iter_torch_batches(
        batch_size=train.batch_size,
        device=ray.train.torch.get_device(),
        drop_last=True,
        local_shuffle_buffer_size=train.shuffle_buffer or None,
        local_shuffle_seed=config.seed + start_step + session.rank,
    )
    for step, batch in enumerate(batches, start=start_step):
        if step < train.max_steps:
            maybe_inject_failure(config, step, session)
        yield batch


def train_fn(stage_name: str, config_dict: dict) -> None:
    """The Ray Train per-worker loop of stage `stage_name`: its recipe (`Stage.build`, the module
    wrapped in DDP) on this worker's shard of paired views, resumed from the latest checkpoint."""
    from pairalign.stages import stage_named

    stage = stage_named(stage_name)
    config = from_dict(stage.config, config_dict["stage"])
    model_config = stage.model_config(config, config_dict)
    session = Session(
        stage=stage.name,
        config=config_dict["stage"],
        model_config=model_config,
        train=config.train,
        tracking_uri=config_dict["tracking_uri"],
        run_id=config_dict["run_id"],
    )

    def ddp(module: torch.nn.Module, unused: bool) -> torch.nn.Module:
        kwargs = {"find_unused_parameters": unused}
        return ray.train.torch.prepare_model(module, parallel_strategy_kwargs=kwargs)

    run = stage.build(config, config_dict, rank=session.rank, wrap=ddp)
    step, payload = session.restore(run.model, run.optimizer)
    run.start(step, payload, ray.train.torch.get_device())
    run_loop(
        ray_batches(config, session, step),
        config.train,
        run.model,
        run.optimizer,
        run.hooks,
        session,
        step,
    )


def worker_fn(stage: Stage) -> Callable[[dict], None]:
    """`train_fn` of `stage`, as Ray Train's `train_loop_per_worker`."""
    return functools.partial(train_fn, stage.name)


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


def run_stage(
    stage: Stage, config: StageRunConfig, inputs: dict[str, Any] | None = None
) -> dict[str, float]:
    """What a stage's workflow does after building its config: read the corpus, train (or resume)
    run `config.name`, measure the final checkpoint's strings on the eval split, log, print.
    `inputs` (None: `stage.setup(config)`, e.g. the init checkpoint and the model config) go into
    every worker's loop config, and so does what the config's `worker_inputs(manifest, train
    rows)` returns (e.g. a file fitted on the train split first, stage 2's watched clips)."""
    from pairalign.data.corpora.spec import load_manifest
    from pairalign.evaluation.eval_sets import checkpoint_eval_sets
    from pairalign.evaluation.figures import checkpoint_figures, load_clips
    from pairalign.jobs.corpus import cluster_map

    log, began = logging.getLogger("pairalign"), time.perf_counter()
    inputs = stage.setup(config) if inputs is None else inputs
    manifest = load_manifest(config.corpus, **cluster_map())
    train_rows = config.corpus.train_rows(manifest)
    start_step = latest_step(config.storage_path, config.name)
    run_id = mlflow_run(config.tracking, config.storage_path, config.name, config)
    uri = tracking_uri(config.tracking, config.storage_path)
    print(
        run_line(
            stage.name,
            name=config.name,
            corpus=corpus_name(config.corpus),
            train_clips=len(train_rows),
            steps=(start_step, config.train.max_steps),
            out=join(config.storage_path, config.name),
            tracking=uri,
        ),
        flush=True,
    )
    extra = {**inputs, **config.worker_inputs(manifest, train_rows)}
    loop_config = {"stage": to_dict(config), "run_id": run_id, "tracking_uri": uri, **extra}
    checkpoint, final = train_or_resume(
        worker_fn(stage),
        loop_config,
        train=config.train,
        name=config.name,
        storage_path=config.storage_path,
        datasets=lambda step: {"train": paired_view_dataset(config, train_rows, step)},
        start_step=start_step,
    )
    log.debug("%s: final checkpoint %s", stage.name, checkpoint)
    rows = config.corpus.eval_rows(manifest, max_clips=config.eval_clips)
    log.info(
        "%s: measuring the final checkpoint on %d '%s' clips",
        stage.name,
        len(rows),
        config.corpus.eval_split,
    )
    clips = load_clips(rows, config.views, name="eval", view_clips=len(rows))
    figures = checkpoint_figures(checkpoint, clips)
    figures |= checkpoint_eval_sets(
        checkpoint, config.eval_sets, config.views, view_clips=config.eval_clips
    )
    log_metrics(uri, run_id, figures, prefix="eval/")
    figures |= {f"final/{k}": v for k, v in final.items()}
    record = {"checkpoint": checkpoint, "mlflow_run_id": run_id, **figures}
    where = log_figures_file(uri, run_id, record, join(config.storage_path, config.name))
    end_mlflow_run(uri, run_id, "FINISHED")
    log.debug("%s figures: %s", stage.name, json.dumps(record, indent=1))
    print(
        result_block(
            stage.name,
            figures,
            name=config.name,
            checkpoint=checkpoint,
            seconds=time.perf_counter() - began,
            step=int(final.get("step", start_step)),
            details=f"MLflow run {run_id} ({uri}); every figure in {where}",
        ),
        flush=True,
    )
    return figures


def train_or_resume(
    train_fn: Callable[[dict], None],
    config: dict[str, Any],
    *,
    train: TrainConfig,
    name: str,
    storage_path: str,
    datasets: Callable[[int], dict[str, Any]],
    start_step: int,
) -> tuple[str, dict[str, float]]:
    """Train (or resume) run `name`; return (final checkpoint directory, its last reported metrics).
    A run that already reached `max_steps` is not started again: its final checkpoint is returned.
    """
    if start_step >= train.max_steps:
        _, checkpoint = latest_checkpoint(storage_path, name)
        return checkpoint, {"step": float(start_step)}
    try:
        result = fit(
            train_fn,
            config,
            train=train,
            name=name,
            storage_path=storage_path,
            datasets=datasets(start_step),
        )
    except Exception:
        end_mlflow_run(config["tracking_uri"], config["run_id"], "FAILED")
        raise
    metrics = {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}
    return to_url(storage_path, result.checkpoint.path), metrics


def fit(
    train_fn: Callable[[dict], None],
    config: dict[str, Any],
    *,
    train: TrainConfig,
    name: str,
    storage_path: str,
    datasets: dict[str, Any],
    callbacks: Sequence[Any] = (),
) -> ray.train.Result:
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


def maybe_inject_failure(config: StageRunConfig, step: int, session: Session) -> None:
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


def paired_view_dataset(
    config: StageRunConfig, train_rows: pa.Table, start_step: int
) -> ray.data.Dataset:
    """Enough epochs of paired views for the remaining steps; later epochs continue the sequence."""
    per_step = config.train.batch_size * config.train.num_workers
    start_epoch = start_step * per_step // max(1, len(train_rows))
    epochs = (
        math.ceil((config.train.max_steps - start_step + 1) * per_step / max(1, len(train_rows)))
        + 1
    )
    rejects = join(config.storage_path, config.name, "rejects")
    with_clean = config.needs_clean_views()
    ds = build_paired_views(
        train_rows,
        config.views,
        rejects_dir=rejects,
        epoch=start_epoch,
        epochs=epochs,
        pipeline=config.pipeline,
        with_clean=with_clean,
        maps_dir=join(config.storage_path, config.name, "time-maps"),
    )
    return ds.select_columns([*tensor_columns(config.views), *([CLEAN] if with_clean else [])])


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model
