"""The per-worker training loop every stage shares: any iterable of batches -> the stage's
losses -> AdamW, with a `Reporter` told the metrics every `report_every` steps and asked to
checkpoint every `checkpoint_every` steps (and at the end).

A stage plugs in `StageHooks`; Ray Train is one reporter (`pairalign.jobs.training.Session`), a
local process another (`pairalign.training.local.LocalReporter`), a unit test a third."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from pairalign.progress import eta_seconds, progress_line

Batch = dict[str, torch.Tensor]


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


def lr_at(step: int, train: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < train.warmup_steps:
        return train.lr * (step + 1) / train.warmup_steps
    progress = min(1.0, (step - train.warmup_steps) / max(1, train.max_steps - train.warmup_steps))
    return train.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class Reporter(Protocol):
    """Where the loop's metrics and checkpoints go."""

    stage: str
    rank: int
    world_size: int

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
    ) -> None: ...


@dataclass
class StageHooks:
    """What a stage plugs into `run_loop`."""

    losses: Callable[[Batch, int], dict[str, torch.Tensor]]  # (batch, step) -> {"total": ...}
    after_step: Callable[[], None] = lambda: None  # e.g. an EMA update
    report_metrics: Callable[[Batch], dict[str, float]] = lambda batch: {}
    checkpoint_extra: Callable[[], dict[str, Any]] = dict
    # figures measured on rank 0 at each checkpoint (step -> metrics), e.g. stage 2's collapse watch
    checkpoint_metrics: Callable[[int], dict[str, float]] = lambda step: {}
    # extra figures of the progress line: label -> reported metric (loss and clips/s always)
    progress: dict[str, str] = field(default_factory=dict)


def run_loop(
    batches: Iterable[Batch],
    train: TrainConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    hooks: StageHooks,
    reporter: Reporter,
    start_step: int = 0,
) -> int:
    """Train from `start_step` to `train.max_steps` on `batches`; the step reached. Raises if the
    batches run out first."""
    step, sums, clips, start = start_step, {}, 0, time.perf_counter()
    began, first_report = start, None  # the ETA follows the pace after the first report
    for batch in batches:
        if step >= train.max_steps:
            break
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
            metrics |= {
                "train/lr": lr_at(step - 1, train),
                "train/start_step": start_step,
                "train/clips_per_second": clips
                * reporter.world_size
                / (time.perf_counter() - start),
            }
            final = step == train.max_steps
            checkpoint = final or step % train.checkpoint_every == 0
            if checkpoint and reporter.rank == 0:
                metrics |= hooks.checkpoint_metrics(step)
            if reporter.rank == 0:
                first_report = first_report or (step, time.perf_counter())
                log_progress(
                    reporter.stage,
                    step,
                    train.max_steps,
                    began,
                    first_report,
                    metrics,
                    hooks.progress,
                )
            reporter.report(
                metrics,
                step=step,
                model=model,
                optimizer=optimizer,
                final=final,
                checkpoint=checkpoint,
                extra=hooks.checkpoint_extra(),
            )
            sums, clips, start = {}, 0, time.perf_counter()
    if step < train.max_steps:
        raise RuntimeError(f"the batches ran out at step {step} of {train.max_steps}")
    return step


def log_progress(
    stage: str,
    step: int,
    max_steps: int,
    began: float,
    first_report: tuple[int, float],
    metrics: dict[str, float],
    extra: dict[str, str],
) -> None:
    """One line per report on rank 0: step, loss, clips/s, the stage's own figures, elapsed, and
    the ETA at the pace since the first report (start-up and warm-up excluded)."""
    figures = {"loss": metrics["loss/total"], "clips/s": metrics["train/clips_per_second"]}
    figures |= {label: metrics[key] for label, key in extra.items() if key in metrics}
    now, (first_step, first_time) = time.perf_counter(), first_report
    eta = eta_seconds(step, max_steps, now - first_time, first_step)
    line = progress_line(
        stage, done=step, total=max_steps, elapsed=now - began, figures=figures, eta=eta
    )
    logging.getLogger("pairalign.train").info(line)
