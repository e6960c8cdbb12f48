"""One stage-2 training step as a module, so DDP wraps every term: encode both views, stage-1
anchor terms, targets (VQ-derived, or the EMA teacher's where given), then the refine terms.

Switches (`RefineObjective`): `targets.scheme` / `targets.reduce` choose how VQ-derived targets
are cut to `targets.rate`; `targets.source="eval"` takes their codes from a no-grad eval-mode
pass (dropout off) instead of the training pass; `freeze_vq` keeps the stage-1 model in eval
mode without gradients (no dropout, no EMA codebook updates, stage-1 anchor terms skipped), so
only the decoder trains."""

from __future__ import annotations

import torch
from torch import nn

from pairalign.models.pairalign_model import PairAlignModel
from pairalign.models.vq_model import Encoded
from pairalign.objectives.alignment import batch_frame_pairs, swapped
from pairalign.objectives.refine_config import RefineObjective
from pairalign.objectives.refine_terms import PairTargets, refine_losses
from pairalign.objectives.stage1 import (
    Stage1Weights,
    stacked_seconds,
    stacked_views,
    stage1_losses_from,
)
from pairalign.objectives.targets import Targets, consensus_targets, vq_targets
from pairalign.strings.consensus import ConsensusConfig


class RefineStep(nn.Module):
    def __init__(
        self, model: PairAlignModel, objective: RefineObjective, stage1: Stage1Weights
    ) -> None:
        super().__init__()
        self.model, self.objective, self.stage1 = model, objective, stage1
        if objective.freeze_vq:  # before DDP and the optimizer see the parameters
            model.vq.requires_grad_(False)

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        teacher: PairTargets | None = None,
        use_teacher: list[bool] | None = None,
    ) -> dict[str, torch.Tensor]:
        n = len(batch["source_seconds"])
        seconds = stacked_seconds(batch)
        frozen = self.objective.freeze_vq
        if frozen:
            self.model.vq.eval()  # every call: a metrics pass may have set train mode
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            both = self.model(stacked_views(batch), seconds)
        a, b = both.split(n)
        targets = self.vq_targets(batch, seconds, both)
        if teacher is not None and use_teacher is not None:
            targets = PairTargets(
                _mix(targets.a, teacher.a, use_teacher), _mix(targets.b, teacher.b, use_teacher)
            )
        config = self.model.config
        losses = refine_losses(
            self.model.decoder,
            a,
            b,
            targets,
            batch,
            self.objective,
            frame_seconds=config.vq.frame_seconds,
            clip_seconds=config.decoding.timing_seconds,
        )
        losses["stage2/total"] = losses.pop("total")
        losses["total"] = losses["stage2/total"]
        if not frozen:  # the stage-1 terms anchor a VQ model that trains
            s1 = stage1_losses_from(
                a, b, both.quantized.losses, batch, self.stage1, config.vq.frame_seconds
            )
            losses |= {
                k if k.startswith(("stage1/", "vq/")) else f"stage1/{k}": v for k, v in s1.items()
            }
            losses["total"] = (
                losses["total"] + self.objective.weights.stage1 * losses["stage1/total"]
            )
        losses["targets/teacher_fraction"] = torch.tensor(
            float(sum(use_teacher)) / n if use_teacher else 0.0
        )
        return losses

    def vq_targets(
        self, batch: dict[str, torch.Tensor], seconds: torch.Tensor, both: Encoded
    ) -> PairTargets:
        """VQ-derived targets of both views, from the training pass's codes or (targets.source
        "eval") a no-grad eval-mode pass; a frozen VQ model's training pass is already one."""
        objective, vq = self.objective, self.model.vq
        if objective.targets.source == "eval" and not objective.freeze_vq:
            was_training = vq.training
            vq.eval()
            with torch.no_grad():
                both = vq(stacked_views(batch), seconds)
            vq.train(was_training)
        n = len(batch["source_seconds"])
        strings = objective.targets.string_config(self.model.config.decoder.min_run_frames)
        frame_seconds = self.model.config.vq.frame_seconds
        codes, mask = both.quantized.codes, both.mask
        costs = vq.quantizer.costs(both.quantized) if "costs" in strings.needs else None

        def view(rows: slice) -> Targets:
            cost = None if costs is None else costs[rows]
            return vq_targets(codes[rows], mask[rows], seconds[rows], strings, frame_seconds, cost)

        if objective.targets.consensus:
            return self.consensus_targets(batch, seconds, codes, mask, strings)
        return PairTargets(view(slice(0, n)), view(slice(n, None)))

    def consensus_targets(self, batch, seconds, codes, mask, strings) -> PairTargets:
        """Each view's consensus targets against the other view's codes over the frames
        aligned between them (`strings.consensus`)."""
        n, frames = len(batch["source_seconds"]), codes.shape[1]
        frame_seconds = self.model.config.vq.frame_seconds
        settings = ConsensusConfig(threshold=self.objective.targets.consensus_threshold)
        a, b = slice(0, n), slice(n, None)
        out = []
        for own, other, pair in ((a, b, batch), (b, a, swapped(batch))):
            partner, valid = batch_frame_pairs(pair, frames, frame_seconds)
            out.append(
                consensus_targets(
                    codes[own],
                    mask[own],
                    codes[other],
                    mask[other],
                    partner,
                    valid,
                    seconds[own],
                    strings,
                    frame_seconds,
                    settings,
                )
            )
        return PairTargets(*out)


def _mix(vq: Targets, teacher: Targets, use_teacher: list[bool]) -> Targets:
    pick = list(
        zip(vq.strings, vq.timing, teacher.strings, teacher.timing, use_teacher, strict=True)
    )
    return Targets(
        [t if u else v for v, _, t, _, u in pick], [tt if u else vt for _, vt, _, tt, u in pick]
    )
