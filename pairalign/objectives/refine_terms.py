"""The stage-2 (refine) terms, a registry: each term is a function of one `Side` (a condition and
the strings scored under it) with its weight in `TermWeights` under the same name. A new term is
one function here, one entry in `TERMS` and one field of `TermWeights`.

With y_X the target string of view X and c_X its condition:
- `stage2/cross`: cross-paired teacher forcing, -log p(y_B | c_A) - log p(y_A | c_B) per token,
  with the teacher-forced inputs (never the targets) prefix-corrupted (`targets.view="same"`
  scores y_A under c_A and y_B under c_B instead: a copy task, for ablations);
- `stage2/bypass`: anti-bypass hinge, the per-token log-likelihood of y under its own condition
  must beat the likelihood under another clip's condition by a margin;
- `stage2/contrast`: likelihood contrast, InfoNCE over length-normalised scores
  s_ij = log p(y_j | c_i) / |y_j| with sampled in-batch negatives;
- `stage2/length`: squared relative gap between the expected length (`expected_length`, from the
  EOS hazards) and the target token rate;
- `stage2/timing`: L1 between predicted and target token spans (fractions of the clip);
- `stage2/align`: guided attention, each target token's cross-attention (last layer, mean of
  heads) should fall on the frames its run spans in the condition's view;
- the stage-1 terms keep the encoder and codebook anchored (weight `stage1`; skipped when
  `freeze_vq` holds the stage-1 model fixed, see `refine_step.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pairalign.models.decoder import Scored
from pairalign.models.decoder_kinds import Decoder
from pairalign.models.segment_decoder import spans_to_frames
from pairalign.models.vq_model import Encoded
from pairalign.objectives.alignment import view_to_view
from pairalign.objectives.refine_config import RefineObjective, TermSettings
from pairalign.objectives.targets import Targets, TeacherForcing, corrupt_prefix, teacher_forcing


@dataclass
class PairTargets:
    a: Targets
    b: Targets


@dataclass
class Side:
    """One direction of the objective: strings `tf` scored under condition `cond`."""

    decoder: Decoder
    cond: Encoded
    memory: object  # the decoder's memory of `cond` (`decoder.memory_of`)
    tf: TeacherForcing
    timing: list[np.ndarray]  # [(L_i, 2)] target token spans, seconds of the condition's view
    starts: torch.Tensor | None  # (B, L) target token start frames (a segment decoder's only)
    scored: Scored  # the strings scored under `cond`
    attention: list[torch.Tensor] | None  # per layer (B, L, T), when a term reads it
    settings: TermSettings
    rate: float  # target tokens per second
    frame_seconds: float  # one condition frame (`ModelConfig.frame_seconds`)
    clip_seconds: float  # timing fractions are of this
    generator: torch.Generator | None

    @property
    def logits(self) -> torch.Tensor:  # (B, L, V)
        return self.scored.logits

    @property
    def pred_timing(self) -> torch.Tensor:  # (B, L, 2) predicted spans, fractions of the clip
        return self.scored.timing

    @property
    def token_nll(self) -> torch.Tensor:  # (B, L)
        return self.scored.nll

    @property
    def clip_frames(self) -> int:
        return round(self.clip_seconds / self.frame_seconds)

    @property
    def seconds(self) -> torch.Tensor:
        """Seconds of real audio in each condition row.  # (B,)"""
        return self.cond.mask.float().sum(1) * self.frame_seconds


@dataclass(frozen=True)
class Term:
    loss: Callable[[Side], torch.Tensor]
    always: bool = False  # computed (and logged) even at weight 0
    owns_parameters: bool = False  # at weight 0 some parameters may get no gradient
    reads_attention: bool = False
    learned_timing: bool = False  # only for a decoder whose timing is learned (not exact)


def refine_losses(
    decoder: Decoder,
    a: Encoded,
    b: Encoded,
    targets: PairTargets,
    batch: dict[str, torch.Tensor],
    objective: RefineObjective,
    *,
    frame_seconds: float,
    clip_seconds: float,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Every term on (weight > 0, or `always`) for a batch of view pairs, `stage2/<term>`;
    `total` is their weighted sum (stage-1 terms excluded)."""
    weights, vocab, max_len = objective.weights, decoder.vocab, decoder.config.max_len
    device = a.frames.device
    tf_b = teacher_forcing(targets.b.strings, vocab, max_len, device)
    tf_a = teacher_forcing(targets.a.strings, vocab, max_len, device)
    if objective.targets.view == "cross":  # y_B under c_A, y_A under c_B; timing mapped across
        sides = [
            (a, tf_b, _to_view_time(targets.b, batch, "b", "a")),
            (b, tf_a, _to_view_time(targets.a, batch, "a", "b")),
        ]
    else:  # y_A under c_A, y_B under c_B; timing in the view's own time
        sides = [(a, tf_a, targets.a.timing), (b, tf_b, targets.b.timing)]
    on = {
        k: t
        for k, t in TERMS.items()
        if (t.always or getattr(weights, k) > 0) and applies(t, decoder)
    }
    losses: dict[str, list[torch.Tensor]] = {k: [] for k in on}
    clip_frames = round(clip_seconds / frame_seconds)
    for cond, tf, timing in sides:
        inputs = corrupt_prefix(
            tf.inputs, tf.lengths, objective.targets.corruption, vocab, generator
        )
        attention = [] if any(t.reads_attention for t in on.values()) else None
        memory = decoder.memory_of(cond)
        starts = (
            spans_to_frames(timing, tf.inputs.shape[1], frame_seconds).to(device)
            if decoder.exact_timing
            else None
        )
        scored = decoder.score(memory, inputs, tf, starts, clip_frames, attention=attention)
        side = Side(
            decoder,
            cond,
            memory,
            tf,
            timing,
            starts,
            scored,
            attention,
            objective.terms,
            objective.targets.rate,
            frame_seconds,
            clip_seconds,
            generator,
        )
        for name, term in on.items():
            losses[name].append(term.loss(side))
    out = {f"stage2/{k}": torch.stack(v).mean() for k, v in losses.items()}
    out["total"] = sum(getattr(weights, k) * out[f"stage2/{k}"] for k in losses)
    return out


def applies(term: Term, decoder: Decoder) -> bool:
    """Whether `term` means anything for `decoder`: timing and attention terms need a decoder
    whose timing is learned (the segment decoder's timing is its segments)."""
    return not ((term.learned_timing or term.reads_attention) and decoder.exact_timing)


def unused_parameters(objective: RefineObjective, label_head: bool = False) -> bool:
    """DDP's `find_unused_parameters`: whether some trainable parameter may get no gradient. A
    term that owns parameters is off, or the stage-1 weight is 0 while the VQ model trains, or
    the VQ model has a label head (never used in stage 2)."""
    weights = objective.weights
    off = [k for k, t in TERMS.items() if t.owns_parameters and getattr(weights, k) <= 0]
    return bool(off) or (not objective.freeze_vq and weights.stage1 <= 0) or label_head


def _cross(side: Side) -> torch.Tensor:
    return _masked_mean(side.token_nll, side.tf.mask)


def _bypass(side: Side) -> torch.Tensor:
    return bypass_loss(
        side.decoder,
        side.cond,
        side.tf,
        side.token_nll,
        side.settings.bypass_margin,
        memory=side.memory,
        starts=side.starts,
        clip_frames=side.clip_frames,
    )


def _contrast(side: Side) -> torch.Tensor:
    return contrast_loss(
        side.decoder,
        side.cond,
        side.tf,
        side.settings,
        side.generator,
        memory=side.memory,
        starts=side.starts,
        clip_frames=side.clip_frames,
    )


def _length(side: Side) -> torch.Tensor:
    expected = side.scored.expected_length
    if expected is None:
        expected = expected_length(side.logits, side.tf, side.decoder.vocab.eos)
    return length_gap(expected, side.seconds, side.rate)


def _timing(side: Side) -> torch.Tensor:
    return timing_loss(side.pred_timing, side.timing, side.tf, side.clip_seconds)


def _align(side: Side) -> torch.Tensor:
    return alignment_loss(side.attention[-1], side.timing, side.tf, side.frame_seconds)


# the order of the weighted sum and of the calls (bypass before contrast: both draw dropout)
TERMS: dict[str, Term] = {
    "cross": Term(_cross, always=True),
    "bypass": Term(_bypass, owns_parameters=True),
    "contrast": Term(_contrast, owns_parameters=True),
    "length": Term(_length, always=True, owns_parameters=True),
    "timing": Term(_timing, always=True, owns_parameters=True, learned_timing=True),
    "align": Term(_align, reads_attention=True),
}


def sequence_logprob(
    decoder: Decoder,
    memory,
    tf: TeacherForcing,
    starts: torch.Tensor | None = None,
    clip_frames: int = 0,
) -> torch.Tensor:
    """Per-token mean log p(string + EOS | condition) for each row, `memory` from
    `decoder.memory_of` with one row per string; `starts` (B, L) the strings' token start frames
    (the segment decoder scores the segments too).  # (B,)"""
    scored = decoder.score(memory, tf.inputs, tf, starts, clip_frames)
    return -(scored.nll * tf.mask).sum(1) / tf.mask.sum(1)


def bypass_loss(
    decoder: Decoder,
    cond: Encoded,
    tf: TeacherForcing,
    token_nll,
    margin: float,
    *,
    memory=None,
    starts: torch.Tensor | None = None,
    clip_frames: int = 0,
) -> torch.Tensor:
    """Hinge: the true condition must beat another clip's condition by `margin` nats per token.
    `memory`: the decoder's memory of `cond`, when already made."""
    if len(tf.inputs) < 2:
        return token_nll.new_zeros(())
    memory = decoder.memory_of(cond) if memory is None else memory
    true_lp = -(token_nll * tf.mask).sum(1) / tf.mask.sum(1)
    other = torch.roll(torch.arange(len(tf.inputs), device=tf.inputs.device), 1)
    wrong_lp = sequence_logprob(decoder, decoder.select(memory, other), tf, starts, clip_frames)
    return F.relu(margin - (true_lp - wrong_lp)).mean()


def contrast_loss(
    decoder: Decoder,
    cond: Encoded,
    tf: TeacherForcing,
    config: TermSettings,
    generator: torch.Generator | None = None,
    *,
    memory=None,
    starts: torch.Tensor | None = None,
    clip_frames: int = 0,
) -> torch.Tensor:
    """InfoNCE over s_ij = log p(y_j | c_i) / |y_j|: the row's own pair against sampled others."""
    n = len(tf.inputs)
    k = min(config.contrast_negatives, n - 1)
    if k < 1:
        return cond.frames.new_zeros(())
    memory = decoder.memory_of(cond) if memory is None else memory
    offsets = torch.stack([torch.randperm(n - 1, generator=generator)[:k] + 1 for _ in range(n)])
    candidates = torch.cat([torch.arange(n)[:, None], (torch.arange(n)[:, None] + offsets) % n], 1)
    candidates = candidates.to(tf.inputs.device)  # (n, 1 + k): column 0 is the positive
    rows = torch.arange(n, device=tf.inputs.device)[:, None].expand_as(candidates).reshape(-1)
    cols = candidates.reshape(-1)
    pairs = TeacherForcing(tf.inputs[cols], tf.outputs[cols], tf.mask[cols], tf.lengths[cols])
    scores = sequence_logprob(
        decoder,
        decoder.select(memory, rows),
        pairs,
        None if starts is None else starts[cols],
        clip_frames,
    )
    logits = scores.view(n, 1 + k) / config.contrast_temperature
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=logits.device))


def length_loss(logits, tf: TeacherForcing, seconds, rate: float, eos: int) -> torch.Tensor:
    """Squared relative gap between `expected_length` and rate x seconds (at least 1)."""
    return length_gap(expected_length(logits, tf, eos), seconds, rate)


def length_gap(expected: torch.Tensor, seconds: torch.Tensor, rate: float) -> torch.Tensor:
    """Squared relative gap between expected lengths (B,) and rate x seconds (at least 1)."""
    goal = (seconds * rate).clamp(min=1)
    return (((expected - goal) / goal) ** 2).mean()


def expected_length(logits, tf: TeacherForcing, eos: int) -> torch.Tensor:
    """Expected string length (EOS excluded) under the EOS hazards along the teacher-forced
    prefix.  # (B, L, V) -> (B,)

    h_t = P(EOS at position t) is the hazard after t tokens. Decoding forbids EOS at position 0,
    so the first token is always emitted and h_0 is ignored; token k + 1 follows when no EOS came
    at positions 1..k: E = 1 + sum_{k=1..n} prod_{t=1..k} (1 - h_t), with n the target's length
    (position n holds the target's EOS; later positions have no prefix). E lies in [1, n + 1]:
    n + 1 when the model never stops within the target, n when it stops exactly at its end."""
    hazard = logits.softmax(-1)[..., eos] * tf.mask  # (B, L); 0 on padding
    survive = torch.cumprod(1 - hazard[:, 1:], dim=1)  # (B, L-1) P(no EOS at positions 1..k)
    counted = tf.mask[:, 1:]  # positions 1..n of each row
    return 1 + (survive * counted).sum(1)


def alignment_loss(
    attention: torch.Tensor,
    timing: list[np.ndarray],
    tf: TeacherForcing,
    frame_seconds: float,
    slack_frames: int = 1,
) -> torch.Tensor:
    """-log of the attention mass each target token puts on its run's frames (+- `slack_frames`),
    mean over the string tokens (EOS and padding excluded). attention (B, L, T); timing[i] (n, 2)
    the (start, end) seconds of row i's tokens in the condition's view."""
    inside = torch.zeros_like(attention, dtype=torch.bool)
    frames = attention.shape[-1]
    for i, spans in enumerate(timing):
        for j, (start, end) in enumerate(spans[: attention.shape[1]]):
            first = max(0, int(np.floor(start / frame_seconds)) - slack_frames)
            last = min(frames, int(np.ceil(end / frame_seconds)) + slack_frames)
            inside[i, j, first : max(last, first + 1)] = True
    mass = (attention * inside).sum(-1)  # (B, L)
    tokens = torch.arange(tf.mask.shape[1], device=tf.mask.device)[None] < tf.lengths[:, None]
    return _masked_mean(-torch.log(mass + 1e-6), tokens)


def timing_loss(pred, timing: list[np.ndarray], tf: TeacherForcing, clip_seconds: float):
    target = torch.zeros_like(pred)
    for i, t in enumerate(timing):
        n = min(len(t), target.shape[1])
        target[i, :n] = torch.as_tensor(t[:n] / clip_seconds, dtype=pred.dtype)
    code_mask = torch.arange(tf.mask.shape[1], device=tf.mask.device)[None] < tf.lengths[:, None]
    return _masked_mean((pred - target.clamp(0, 1)).abs().sum(-1), code_mask)


def _to_view_time(targets: Targets, batch, src: str, dst: str) -> list[np.ndarray]:
    """Token spans of view `src` mapped into view `dst`'s time (`view_to_view`: through source
    time, and across recordings for a cross-voice pair)."""
    return [view_to_view(t, batch, i, src, dst) for i, t in enumerate(targets.timing)]


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)
