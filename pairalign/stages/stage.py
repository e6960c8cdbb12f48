"""A training stage as one object: what `workflows/*`, the Ray Train glue (`pairalign.jobs`), the
sweep and the local run ask of a stage, so none of them branches on which stage it is.

    stage = STAGES["refine"]                          # pairalign.stages
    config = from_dict(stage.config, data)            # its config class
    inputs = stage.setup(config)                      # driver side: e.g. the init checkpoint
    run = stage.build(config, inputs)                 # the recipe on one worker (rank 0, no DDP)
    run.start(step, payload, device); run_loop(batches, config.train, run.model, run.optimizer,
                                                run.hooks, reporter, step)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from pairalign.stages.config import StageRunConfig
from pairalign.training.loop import StageHooks

# (the module the loss is computed by, whether DDP must look for unused parameters) -> the module
# the loop calls (the identity on one process; DDP on Ray Train)
Wrap = Callable[[torch.nn.Module, bool], torch.nn.Module]


def no_wrap(module: torch.nn.Module, unused: bool) -> torch.nn.Module:
    return module


class StageRun(Protocol):
    """What a stage's recipe makes on one worker: the model, its optimizer, the loop's hooks."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    hooks: StageHooks

    def start(self, step: int, payload: dict[str, Any], device: torch.device | str) -> None:
        """Ready to train from `step` (`payload`: the checkpoint restored, {} when afresh)."""


@dataclass(frozen=True)
class Stage:
    name: str  # the checkpoint's stage, the run line's and the progress line's name
    config: type[StageRunConfig]  # its config class (workflows/configs/<config_file>)
    config_file: str
    strings: str  # the strings it is judged by: "vq" (stage 1) or "pairalign" (stage 2)
    # driver side, before any data: what every worker needs besides the config (JSON-safe)
    setup: Callable[[Any], dict[str, Any]]
    # the model config its checkpoints record, from the config and the inputs
    model_config: Callable[[Any, dict[str, Any]], Any]
    # the recipe on one worker: (config, inputs (setup's + worker_inputs'), rank, wrap) -> run
    recipe: Callable[[Any, dict[str, Any], int, Wrap], StageRun]

    def build(
        self, config: Any, inputs: dict[str, Any], *, rank: int = 0, wrap: Wrap = no_wrap
    ) -> StageRun:
        """The stage's recipe on worker `rank`, its module wrapped for the loop by `wrap`."""
        return self.recipe(config, inputs, rank, wrap)
