"""One stage-2 training step as a module, so DDP wraps every term: encode both views, stage-1
anchor terms, targets (VQ-derived, or the EMA teacher's where given), then the PairAlign terms.

Switches (`Stage2Config`): `target_scheme` / `target_reduce` choose how VQ-derived targets are
cut to `target_rate`; `targets_from="eval"` takes their codes from a no-grad eval-mode pass
(dropout off) instead of the training pass; `freeze_tokenizer` keeps the stage-1 model in eval
mode without gradients (no dropout, no EMA codebook updates, stage-1 anchor terms skipped), so
only the decoder trains."""

from __future__ import annotations

import copy

import torch
from torch import nn

from pairalign.models.decoding import greedy_decode, max_lengths
from pairalign.models.pairalign_model import PairAlignModel
from pairalign.models.vq_model import Encoded
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
        if objective.freeze_tokenizer:  # before DDP and the optimizer see the parameters
            model.tokenizer.requires_grad_(False)

    def forward(self, batch: dict[str, torch.Tensor], teacher: PairTargets | None = None,
                use_teacher: list[bool] | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
        n = len(batch["source_seconds"])
        seconds = stacked_seconds(batch)
        frozen = self.objective.freeze_tokenizer
        if frozen:
            self.model.tokenizer.eval()  # every call: a metrics pass may have set train mode
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            both = self.model(stacked_views(batch), seconds)
        a, b = both.split(n)
        targets = self.vq_targets(batch, seconds, both)
        if teacher is not None and use_teacher is not None:
            targets = PairTargets(
                _mix(targets.a, teacher.a, use_teacher), _mix(targets.b, teacher.b, use_teacher)
            )
        losses = stage2_losses(
            self.model.decoder, a, b, targets, batch, self.objective, self.clip_seconds
        )
        losses["stage2/total"] = losses.pop("total")
        losses["total"] = losses["stage2/total"]
        if not frozen:  # the stage-1 terms anchor a tokenizer that trains
            frame_seconds = self.model.config.tokenizer.frame_seconds
            s1 = stage1_losses_from(a, b, both.quantized.losses, batch, self.stage1, frame_seconds)
            losses |= {
                k if k.startswith(("stage1/", "vq/")) else f"stage1/{k}": v for k, v in s1.items()
            }
            losses["total"] = losses["total"] + self.objective.stage1 * losses["stage1/total"]
        losses["targets/teacher_fraction"] = torch.tensor(
            float(sum(use_teacher)) / n if use_teacher else 0.0
        )
        return losses

    def vq_targets(self, batch: dict[str, torch.Tensor], seconds: torch.Tensor,
                   both: Encoded) -> PairTargets:  # fmt: skip
        """VQ-derived targets of both views, from the training pass's codes or (targets_from
        "eval") a no-grad eval-mode pass; a frozen tokenizer's training pass is already one."""
        objective, tokenizer = self.objective, self.model.tokenizer
        if objective.targets_from == "eval" and not objective.freeze_tokenizer:
            was_training = tokenizer.training
            tokenizer.eval()
            with torch.no_grad():
                both = tokenizer(stacked_views(batch), seconds)
            tokenizer.train(was_training)
        n = len(batch["source_seconds"])
        rate = objective.target_rate if objective.target_reduce else 0.0
        frame_seconds = self.model.config.tokenizer.frame_seconds
        codes, mask = both.quantized.codes, both.mask
        return PairTargets(
            vq_targets(codes[:n], mask[:n], seconds[:n], rate, frame_seconds,
                       objective.target_scheme),
            vq_targets(codes[n:], mask[n:], seconds[n:], rate, frame_seconds,
                       objective.target_scheme),
        )  # fmt: skip


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
