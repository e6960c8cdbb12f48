"""Stage 2's EMA teacher and its schedule: VQ-derived targets until `teacher.start`, then the
teacher's greedy strings (`PairAlignModel.decode`) replace them for a growing share of the
batch, reaching all of it after `teacher.ramp` steps. A teacher that never gives targets
(`start >= max_steps`) is neither decoded nor updated."""

from __future__ import annotations

import copy

import torch

from pairalign.models.pairalign_model import PairAlignModel
from pairalign.objectives.refine_config import TeacherConfig
from pairalign.objectives.refine_terms import PairTargets
from pairalign.objectives.stage1 import stacked_seconds, stacked_views
from pairalign.objectives.targets import Targets


def teacher_share(step: int, teacher: TeacherConfig) -> float:
    """Fraction of targets from the EMA teacher: 0 until `start`, then a linear ramp to 1."""
    if step < teacher.start:
        return 0.0
    return min(1.0, (step - teacher.start + 1) / max(1, teacher.ramp))


def teacher_used(teacher: TeacherConfig, max_steps: int) -> bool:
    """Whether the EMA teacher ever gives targets (steps run 0 .. max_steps - 1)."""
    return teacher.start < max_steps


class EmaTeacher:
    """An exponential moving average of the model that decodes target strings greedily."""

    def __init__(self, model: PairAlignModel, decay: float) -> None:
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: PairAlignModel) -> None:
        for mine, theirs in zip(self.model.parameters(), model.parameters(), strict=True):
            mine.lerp_(theirs.detach(), 1 - self.decay)
        for mine, theirs in zip(self.model.buffers(), model.buffers(), strict=True):
            mine.copy_(theirs)

    @torch.no_grad()
    def targets(self, batch: dict[str, torch.Tensor]) -> PairTargets:
        """The teacher's greedy strings of both views, with their spans in seconds."""
        n = len(batch["source_seconds"])
        decoded = self.model.decode(stacked_views(batch), stacked_seconds(batch))
        span = self.model.config.decoding.timing_seconds
        timing = [t.numpy() * span for t in decoded.timing]
        return PairTargets(
            Targets(decoded.strings[:n], timing[:n]), Targets(decoded.strings[n:], timing[n:])
        )


class TeacherSchedule:
    """The EMA teacher with its schedule, as a training loop uses it: `targets(batch, step)` for
    the step's loss, `update(model)` after each optimizer step."""

    def __init__(
        self, model: PairAlignModel, config: TeacherConfig, max_steps: int, seed: int = 0
    ) -> None:
        self.config = config
        self.teacher = EmaTeacher(model, config.decay)
        self.on = teacher_used(config, max_steps)
        self.generator = torch.Generator().manual_seed(seed)  # which rows take teacher targets
        self.open = True  # the gate: teacher targets allowed (`judge`)

    def share(self, step: int) -> float:
        return teacher_share(step, self.config) if self.on and self.open else 0.0

    def judge(self, teacher_map: float, vq_target_map: float) -> bool:
        """The gate (`teacher.gate`): teacher targets only while the teacher's strings retrieve at
        least as well as the VQ-derived targets on the watch clips. Returns whether it is open."""
        if self.config.gate:
            self.open = teacher_map >= vq_target_map
        return self.open

    def _sync_gate(self) -> None:
        """Every worker follows rank 0's gate (only rank 0 runs the watch that judges it)."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([float(self.open)])
            if torch.distributed.get_backend() == "nccl":
                flag = flag.cuda()
            torch.distributed.broadcast(flag, src=0)
            self.open = bool(flag.item())

    def targets(
        self, batch: dict[str, torch.Tensor], step: int
    ) -> tuple[PairTargets | None, list[bool] | None]:
        """(teacher targets, which rows use them), or (None, None) when no row does."""
        if self.on and self.config.gate:
            self._sync_gate()
        share = self.share(step)
        use = (torch.rand(len(batch["source_seconds"]), generator=self.generator) < share).tolist()
        if not any(use):
            return None, None
        return self.teacher.targets(batch), use

    def update(self, model: PairAlignModel) -> None:
        if self.on:
            self.teacher.update(model)
