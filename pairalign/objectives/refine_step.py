"""One stage-2 training step as a module, so DDP wraps every term: encode both views, stage-1
anchor terms, targets (VQ-derived, or the EMA teacher's where given), then the PairAlign terms."""

from __future__ import annotations

import copy

import torch
from torch import nn

from pairalign.models.decoding import greedy_decode, max_lengths
from pairalign.models.pairalign_model import PairAlignModel
from pairalign.objectives.stage1 import (
    Stage1Weights,
    stacked_seconds,
    stacked_views,
    stage1_losses_from,
)
from pairalign.objectives.stage2 import PairTargets, Stage2Config, stage2_losses
from pairalign.objectives.targets import Targets, vq_targets


class RefineStep(nn.Module):
    def __init__(self, model: PairAlignModel, objective: Stage2Config, stage1: Stage1Weights,
                 clip_seconds: float) -> None:  # fmt: skip
        super().__init__()
        self.model, self.objective, self.stage1 = model, objective, stage1
        self.clip_seconds = clip_seconds

    def forward(self, batch: dict[str, torch.Tensor], teacher: PairTargets | None = None,
                use_teacher: list[bool] | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
        n = len(batch["source_seconds"])
        seconds = stacked_seconds(batch)
        both = self.model(stacked_views(batch), seconds)
        a, b = both.split(n)
        frame_seconds = self.model.config.tokenizer.frame_seconds
        s1 = stage1_losses_from(a, b, both.quantized.losses, batch, self.stage1, frame_seconds)
        rate = self.objective.target_rate
        targets = PairTargets(
            vq_targets(a.quantized.codes, a.mask, seconds[:n], rate, frame_seconds),
            vq_targets(b.quantized.codes, b.mask, seconds[n:], rate, frame_seconds),
        )
        if teacher is not None and use_teacher is not None:
            targets = PairTargets(
                _mix(targets.a, teacher.a, use_teacher), _mix(targets.b, teacher.b, use_teacher)
            )
        losses = stage2_losses(
            self.model.decoder, a, b, targets, batch, self.objective, self.clip_seconds
        )
        losses["stage2/total"] = losses.pop("total")
        losses |= {
            k if k.startswith(("stage1/", "vq/")) else f"stage1/{k}": v for k, v in s1.items()
        }
        losses["total"] = losses["stage2/total"] + self.objective.stage1 * losses["stage1/total"]
        losses["targets/teacher_fraction"] = torch.tensor(
            float(sum(use_teacher)) / n if use_teacher else 0.0
        )
        return losses


def _mix(vq: Targets, teacher: Targets, use_teacher: list[bool]) -> Targets:
    pick = list(
        zip(vq.strings, vq.timing, teacher.strings, teacher.timing, use_teacher, strict=True)
    )
    return Targets(
        [t if u else v for v, _, t, _, u in pick], [tt if u else vt for _, vt, _, tt, u in pick]
    )


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
    def targets(
        self, batch: dict[str, torch.Tensor], objective: Stage2Config, clip_seconds: float
    ) -> PairTargets:
        n = len(batch["source_seconds"])
        seconds = stacked_seconds(batch)
        encoded = self.model(stacked_views(batch), seconds)
        budget = max_lengths(seconds, objective.target_rate, objective.decode_slack,
                             self.model.decoder.config.max_len)  # fmt: skip
        decoded = greedy_decode(self.model.decoder, encoded.frames, encoded.mask, budget)
        timing = [t.numpy() * clip_seconds for t in decoded.timing]
        return PairTargets(
            Targets(decoded.strings[:n], timing[:n]), Targets(decoded.strings[n:], timing[n:])
        )
