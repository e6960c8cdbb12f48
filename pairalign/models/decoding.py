"""Batched greedy decoding, with a key/value cache (one position per step) or without it (the
prefix re-run every step, kept as the reference the cached path must match exactly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from pairalign.units import Seconds

if TYPE_CHECKING:
    from pairalign.models.decoder import LayerCache, Memory, TokenDecoder


@dataclass(frozen=True)
class DecodingConfig:
    """What greedy decoding needs besides the weights, whatever the decoder; part of
    `PairAlignConfig`, so it travels in every stage-2 checkpoint. A decoder's own settings (the
    free decoder's budget slack) are in its section of `DecoderConfig`; the length cap is the
    decoder's `max_len`."""

    rate: float = 12.5  # tokens per second the model was trained toward (the targets' rate)
    timing_seconds: Seconds = 3.0  # timing-head fractions are of this many seconds (the clip)


@dataclass
class Decoded:
    strings: list[list[int]]  # codes only, BOS/EOS stripped
    timing: list[
        torch.Tensor
    ]  # (L_i, 2) (start, end) per token, fractions of the training clip length
    ended: torch.Tensor  # (B,) True where EOS was emitted before the length cap


def max_lengths(seconds: torch.Tensor, rate: float, slack: float, cap: int) -> torch.Tensor:
    """Token budget per clip: ceil(seconds x rate x slack), at least 1, at most cap - 2."""
    budget = torch.ceil(seconds * rate * slack).long().clamp(min=1, max=cap - 2)
    return budget


@torch.no_grad()
def greedy_decode(
    decoder: TokenDecoder, memory: Memory, max_len: torch.Tensor, *, use_cache: bool = True
) -> Decoded:
    """Greedy strings of a `TokenDecoder` from its `memory` of B conditions, max_len (B,) tokens
    before a forced stop. Without `use_cache` the prefix is re-run every step (the reference)."""
    vocab = decoder.vocab
    mask = memory[1]  # (B, 1, 1, T)
    tokens = torch.full((mask.shape[0], 1), vocab.bos, dtype=torch.long, device=mask.device)
    done = torch.zeros(mask.shape[0], dtype=torch.bool, device=mask.device)
    caches: list[LayerCache] = [{} for _ in decoder.layers]
    timings = []
    for position in range(int(max_len.max())):
        if use_cache:
            logits, timing = decoder.step(tokens[:, -1], position, memory, caches)
        else:
            all_logits, all_timing, _ = decoder(tokens, None, None, memory=memory)
            logits, timing = all_logits[:, -1], all_timing[:, -1]
        logits[:, [vocab.pad, vocab.bos]] = float("-inf")
        if position == 0:
            logits[:, vocab.eos] = float("-inf")  # every string has at least one token
        nxt = logits.argmax(dim=-1)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        timings.append(timing)
        done |= (nxt == vocab.eos) | (position + 1 >= max_len.to(done.device))
        if bool(done.all()):
            break
    return _strip(tokens[:, 1:].cpu(), torch.stack(timings, 1).cpu(), max_len.cpu(), vocab)


def _strip(tokens: torch.Tensor, timing: torch.Tensor, max_len: torch.Tensor, vocab) -> Decoded:
    strings, times = [], []
    ended = torch.zeros(len(tokens), dtype=torch.bool)
    for i, row in enumerate(tokens.tolist()):
        out = []
        for t in row[: int(max_len[i]) + 1]:
            if t == vocab.eos:
                ended[i] = True
                break
            out.append(t)
        out = out[: int(max_len[i])]
        strings.append(out)
        times.append(timing[i, : len(out)].cpu())
    return Decoded(strings, times, ended)
