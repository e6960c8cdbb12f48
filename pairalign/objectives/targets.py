"""Target strings for stage 2: VQ-derived (collapsed frame codes cut down to a token rate),
consensus (the runs of A's VQ string that the other rendition of a cross-voice pair shares, then
cut down to the rate: `consensus_targets`) and teacher-forcing tensors built from any strings,
with prefix corruption of the inputs only.

The VQ-derived targets are VQ strings made by the one VQ-string rule
(`pairalign.strings.rule.string_runs`, pure numpy) under `TargetConfig.string_config`, so a
target scheme can be measured as a `vq` tokenizer with those `VQStringConfig` settings."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from pairalign.models.decoder import Vocab
from pairalign.strings.consensus import ConsensusConfig, batch_consensus_runs
from pairalign.strings.rule import StringContext, VQStringConfig, string_runs


@dataclass
class Targets:
    strings: list[list[int]]
    timing: list[np.ndarray]  # (L_i, 2) token (start, end) in seconds of the view's own time


def vq_targets(
    codes: torch.Tensor,
    mask: torch.Tensor,
    seconds: torch.Tensor,
    strings: VQStringConfig,
    frame_seconds: float,
    costs: torch.Tensor | None = None,
) -> Targets:
    """Each row's VQ string under `strings` (`string_runs`: e.g. runs shorter than
    `min_run_frames` merged, then cut down to at most max(1, round(seconds x rate)) runs; `rate`
    0 keeps every run), with each run's (start, end) in seconds. codes (B, T), mask (B, T), the
    frames' code `costs` (B, T, K) for the schemes that need them (`dpdp`). A row without valid
    frames is one frame of code 0."""
    strings_out, timing = [], []
    cost_rows = costs.detach().cpu().numpy() if costs is not None else [None] * len(codes)
    for row, valid, secs, cost in zip(
        codes.cpu().numpy(), mask.cpu().numpy(), seconds.tolist(), cost_rows, strict=True
    ):
        row = row[valid]
        if len(row) == 0:
            row, cost = np.zeros(1, dtype=np.int64), None if cost is None else cost[:1]
        cost = None if cost is None else cost[: len(row)]
        values, starts, ends = string_runs(StringContext(row, secs, cost), strings)
        strings_out.append(values.tolist())
        timing.append(np.stack([starts, ends], axis=1).astype(np.float32) * frame_seconds)
    return Targets(strings_out, timing)


def consensus_targets(
    codes: torch.Tensor,
    mask: torch.Tensor,
    partner_codes: torch.Tensor,
    partner_mask: torch.Tensor,
    partner: torch.Tensor,
    valid: torch.Tensor,
    seconds: torch.Tensor,
    strings: VQStringConfig,
    frame_seconds: float,
    consensus: ConsensusConfig | None = None,
) -> Targets:
    """Consensus targets of views A against views B of other renditions: each row's VQ-string
    runs (runs shorter than `strings.min_run_frames` merged) that B's codes over the aligned
    frames share, the rest merged into their neighbours (`strings.consensus.consensus_runs`,
    settings `consensus`), then cut down to `strings.rate` by `strings.reduce` (merge or index;
    the length control still sets the rate), with each run's (start, end) in seconds.
    codes, mask (B, T) of A; partner_codes, partner_mask (B, T) of B; partner, valid (B, T) as
    `objectives.alignment.align_frames` gives them; seconds (B,); `consensus` None: the
    defaults of `ConsensusConfig` (its `min_run_frames` is always `strings.min_run_frames`)."""
    if "costs" in strings.needs or strings.groups:
        raise ValueError(
            f"consensus targets cut codes, not costs or groups: reduce={strings.reduce!r}, "
            f"groups={strings.groups} (use merge or index, groups 0)"
        )
    min_run = max(1, strings.min_run_frames)  # 0 and 1 both mean: no short runs merged
    consensus = replace(consensus or ConsensusConfig(), min_run_frames=min_run)
    found = batch_consensus_runs(
        codes, mask, partner_codes, partner_mask, partner, valid, consensus
    )
    cut = VQStringConfig(rate=strings.rate, reduce=strings.reduce)  # no second short-run merge
    strings_out, timing = [], []
    for (values, starts, ends), secs in zip(found, seconds.tolist(), strict=True):
        frames = np.repeat(values, ends - starts)
        values, starts, ends = string_runs(StringContext(frames, secs), cut)
        strings_out.append(values.tolist())
        timing.append(np.stack([starts, ends], axis=1).astype(np.float32) * frame_seconds)
    return Targets(strings_out, timing)


@dataclass
class TeacherForcing:
    inputs: torch.Tensor  # (B, L) BOS + string, PAD after
    outputs: torch.Tensor  # (B, L) string + EOS, PAD after
    mask: torch.Tensor  # (B, L) True on real output positions (string and EOS)
    lengths: torch.Tensor  # (B,) string lengths (EOS excluded)


def teacher_forcing(
    strings: list[list[int]], vocab: Vocab, max_len: int, device: torch.device | str = "cpu"
) -> TeacherForcing:
    strings = [s[: max_len - 1] for s in strings]
    length = max(len(s) for s in strings) + 1
    inputs = torch.full((len(strings), length), vocab.pad, dtype=torch.long)
    outputs = torch.full_like(inputs, vocab.pad)
    for i, s in enumerate(strings):
        inputs[i, : len(s) + 1] = torch.tensor([vocab.bos, *s])
        outputs[i, : len(s) + 1] = torch.tensor([*s, vocab.eos])
    lengths = torch.tensor([len(s) for s in strings])
    mask = torch.arange(length)[None] <= lengths[:, None]
    return TeacherForcing(
        inputs.to(device), outputs.to(device), mask.to(device), lengths.to(device)
    )


def corrupt_prefix(
    inputs: torch.Tensor,
    lengths: torch.Tensor,
    fraction: float,
    vocab: Vocab,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A copy of teacher-forced `inputs` where about `fraction` of the string tokens (never BOS or
    padding) are replaced by a random code, repeated from the previous position, or dropped (the
    next token moved into their place). The target outputs are not touched."""
    if fraction <= 0:
        return inputs
    out = inputs.clone()
    b, length = inputs.shape
    positions = torch.arange(length, device=inputs.device)[None]
    real = (positions >= 1) & (positions <= lengths[:, None])  # string tokens in the input
    draw = torch.rand(b, length, generator=generator).to(inputs.device)
    kind = torch.randint(0, 3, (b, length), generator=generator).to(inputs.device)
    hit = real & (draw < fraction)
    random_codes = torch.randint(0, vocab.codes, (b, length), generator=generator).to(inputs.device)
    previous = torch.cat([inputs[:, :1], inputs[:, :-1]], dim=1)
    following = torch.cat([inputs[:, 1:], inputs[:, -1:]], dim=1)
    following = torch.where(following >= vocab.codes, random_codes, following)  # no PAD/EOS leaks
    replaced = torch.where(kind == 0, random_codes, torch.where(kind == 1, previous, following))
    return torch.where(hit, replaced, out)
