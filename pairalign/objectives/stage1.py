"""The stage-1 (VQ) objective: cross-view agreement, no reconstruction.

Given two views of each clip and their aligned frame pairs:
- `stage1/agree`: cosine distance between aligned latents of the two views;
- `stage1/contrast`: frame-level InfoNCE, the aligned frame is the positive, the other sampled
  frames of the same clip the negatives (`negatives="clip"`, the default; "batch": all of them),
  those within `exclude_frames` of the positive left out;
- `stage1/prior`: the frame-synchronous prior head predicts view B's code at each aligned frame
  from view A's encoder output (and A's from B's);
- `vq/commit`: the quantizer's commitment loss, both views;
- `stage1/pseudo` (weight `pseudo`, with a batch that carries `labels`): each view's frames
  predict fixed acoustic classes of the clean crop at the same source time (a k-means of log-mel
  frames: HuBERT's first-iteration targets), so what a frame says cannot depend on the voice,
  pitch, room or noise an augmentation gave it.
`total` is the weighted sum; the weights live in `Stage1Weights`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from pairalign.models.vq_model import Encoded, VQModel
from pairalign.objectives.alignment import align_frames, batch_frame_pairs


@dataclass(frozen=True)
class Stage1Weights:
    agree: float = (
        0.1  # higher weights pull all latents together before the contrast separates them
    )
    contrast: float = 1.0
    prior: float = 0.5
    commit: float = 0.25
    temperature: float = 0.1  # contrast temperature
    max_contrast_frames: int = 1024  # frames sampled for the contrast (B*T can be large)
    # frames of the same clip within this many frames of the positive are not negatives (0: all
    # are): neighbours that hear the same sound are not pushed apart, so codes need not flicker
    exclude_frames: int = 3
    # batch: every other sampled frame is a negative; clip: only frames of the same clip (one
    # voice), so the contrast must tell sounds apart by what was said, not by who said it
    negatives: Literal["batch", "clip"] = "clip"
    pseudo: float = 0.0  # weight of the pseudo-label term (needs batch["labels"])
    # head: a label head predicts the classes (the codebook is free); codes: the codebook's own
    # assignment does (codebook size = label classes), so the VQ strings are the classes
    pseudo_target: Literal["head", "codes"] = "head"
    # leave out of a positive's negatives also the frames whose partners in B lie within
    # `exclude_frames` of its partner (under DTW several frames of A can share one partner)
    exclude_partner_frames: bool = False


def stage1_losses(
    model: VQModel, batch: dict[str, torch.Tensor], weights: Stage1Weights
) -> tuple[dict[str, torch.Tensor], Encoded, Encoded]:
    """Losses for a batch of paired views (keys as produced by the paired-view pipeline)."""
    both = model(stacked_views(batch), stacked_seconds(batch))  # one pass over both views: [A; B]
    a, b = both.split(len(batch["source_seconds"]))
    frame_seconds = _module(model).config.frame_seconds
    return stage1_losses_from(a, b, both.quantized.losses, batch, weights, frame_seconds), a, b


def stacked_views(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([batch["view_a"], batch["view_b"]])  # (2B, N)


def stacked_seconds(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Where the real audio ends in each view, [A; B] (B's own recording's, for a pair of two)."""
    s = batch["source_seconds"]
    s_b = batch.get("source_seconds_b", s)
    return torch.cat(
        [
            view_seconds(s, batch["warp_a"], batch["shift_a"]),
            view_seconds(s_b, batch["warp_b"], batch["shift_b"]),
        ]
    )


def stage1_losses_from(
    a: Encoded,
    b: Encoded,
    vq_losses: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    weights: Stage1Weights,
    frame_seconds: float,
) -> dict[str, torch.Tensor]:
    """The stage-1 terms from already-encoded views (stage 2 reuses its encoder pass)."""
    partner, valid = batch_frame_pairs(batch, a.frames.shape[1], frame_seconds)
    rows = torch.arange(len(partner), device=partner.device)[:, None].expand_as(partner)
    frames = torch.arange(partner.shape[1], device=partner.device)[None].expand_as(partner)
    za = a.quantized.latents[valid]  # (P, C)
    zb = b.quantized.latents[rows[valid], partner[valid]]  # (P, C)
    losses = {
        "stage1/agree": (1 - (za * zb).sum(-1)).mean(),
        "stage1/contrast": _info_nce(
            za,
            zb,
            weights,
            rows[valid],
            frames[valid],
            partner[valid] if weights.exclude_partner_frames else None,
        ),
        "stage1/prior": _prior_loss(a, b, rows, partner, valid),
        "vq/commit": vq_losses["vq/commit"],
    }
    if weights.pseudo > 0 and "labels" in batch:
        # the labels are of A's clean crop: B's view hears them only when B is of that recording
        sides = ((a, "a"),) if "time_b" in batch else ((a, "a"), (b, "b"))
        losses["stage1/pseudo"] = sum(
            _pseudo_loss(x, batch, frame_seconds, v, weights.pseudo_target) for x, v in sides
        ) / len(sides)
    losses["total"] = (
        weights.agree * losses["stage1/agree"]
        + weights.contrast * losses["stage1/contrast"]
        + weights.prior * losses["stage1/prior"]
        + weights.commit * losses["vq/commit"]
        + weights.pseudo * losses.get("stage1/pseudo", 0.0)
    )
    losses["stage1/aligned_frames"] = valid.float().mean().detach()
    if "cross" in batch:
        losses["stage1/cross_voice_share"] = batch["cross"].float().mean().detach()
        crossed = valid & (batch["cross"][:, None] > 0)
        if crossed.any():  # share of cross-voice aligned frames whose two codes are the same
            same = a.quantized.codes[crossed] == b.quantized.codes[rows[crossed], partner[crossed]]
            losses["stage1/cross_voice_code_agreement"] = same.float().mean().detach()
    return losses


def _pseudo_loss(
    x: Encoded,
    batch: dict[str, torch.Tensor],
    frame_seconds: float,
    view: str,
    target: str = "head",
) -> torch.Tensor:
    """Cross-entropy of view `view`'s frames (label head, or codebook assignment) against the
    clean crop's label at the same source time. batch["labels"] (B, T_clean) int64, -1 past the
    real audio."""
    logits = x.label_logits if target == "head" else x.quantized.logits
    if logits is None:
        raise ValueError("pseudo-label targets on a head need a model with label_classes > 0")
    labels = batch["labels"]
    ones, zeros = (
        torch.ones_like(batch["source_seconds"]),
        torch.zeros_like(batch["source_seconds"]),
    )
    source, valid = align_frames(
        x.frames.shape[1],
        frame_seconds,
        batch[f"warp_{view}"],
        batch[f"shift_{view}"],
        ones,
        zeros,
        batch["source_seconds"],
    )
    source = source.clamp(max=labels.shape[1] - 1)
    labels_at = labels.gather(1, source)  # (B, T)
    valid &= labels_at >= 0
    return F.cross_entropy(logits[valid], labels_at[valid])


def _prior_loss(a: Encoded, b: Encoded, rows, partner, valid) -> torch.Tensor:
    codes_b = b.quantized.codes[rows[valid], partner[valid]]  # (P,) targets, no gradient
    codes_a = a.quantized.codes[valid]
    from_a = a.prior_logits[valid]  # (P, K)
    from_b = b.prior_logits[rows[valid], partner[valid]]
    return 0.5 * (F.cross_entropy(from_a, codes_b) + F.cross_entropy(from_b, codes_a))


def _info_nce(
    za: torch.Tensor,
    zb: torch.Tensor,
    weights: Stage1Weights,
    rows: torch.Tensor | None = None,
    frames: torch.Tensor | None = None,
    partners: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE between aligned frames; `rows`, `frames` (P,) say where each pair's A frame is
    (needed to leave a positive's neighbours out of its negatives); `partners` (P,), where its B
    frame is, to leave out the neighbours of the partner too."""
    if rows is None or frames is None:
        rows = torch.zeros(len(za), dtype=torch.long, device=za.device)  # one clip, frames in order
        frames = torch.arange(len(za), device=za.device)
    if len(za) > weights.max_contrast_frames:
        pick = torch.randperm(len(za), device=za.device)[: weights.max_contrast_frames]
        za, zb, rows, frames = za[pick], zb[pick], rows[pick], frames[pick]
        partners = partners[pick] if partners is not None else None
    logits = za @ zb.t() / weights.temperature  # (P, P)
    if weights.negatives == "clip":
        logits = logits.masked_fill(rows[:, None] != rows[None], float("-inf"))
    if weights.exclude_frames > 0:
        near = (rows[:, None] == rows[None]) & (
            (frames[:, None] - frames[None]).abs() <= weights.exclude_frames
        )
        if partners is not None:
            near |= (rows[:, None] == rows[None]) & (
                (partners[:, None] - partners[None]).abs() <= weights.exclude_frames
            )
        near.fill_diagonal_(False)  # the positive stays
        logits = logits.masked_fill(near, float("-inf"))
    labels = torch.arange(len(za), device=za.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def view_seconds(source_seconds, warp, shift) -> torch.Tensor:
    """Where the real audio ends in a view."""
    return source_seconds / warp + shift.clamp(min=0)


def _module(model) -> VQModel:
    return model.module if hasattr(model, "module") else model
