"""Autoregressive token decoder: causal self-attention over the string so far, cross-attention to
the encoder condition, next-token logits and a timing head. Supports a key/value cache so greedy
decoding costs one position per step instead of re-running the prefix.

Vocabulary: the codebook's K codes, then PAD = K, BOS = K + 1, EOS = K + 2. The decoder of
`decoder.kind=free` (`decoder_kinds.py`), its own settings in `FreeDecoderConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from pairalign.models.decoding import Decoded, DecodingConfig, greedy_decode, max_lengths

if TYPE_CHECKING:
    from pairalign.models.decoder_kinds import DecoderConfig
    from pairalign.models.vq_model import Encoded, VQModel


@dataclass(frozen=True)
class FreeDecoderConfig:
    """The free decoder's own settings (`decoder.free`)."""

    # add sinusoidal positions of the condition's frames to its keys/values (the decoder can then
    # find "where" in the clip to read, even when the encoder gives no absolute positions)
    memory_positions: bool = False
    slack: float = 1.5  # decoding budget: ceil(seconds x decoding.rate x slack) tokens


@dataclass(frozen=True)
class Vocab:
    codes: int

    @property
    def pad(self) -> int:
        return self.codes

    @property
    def bos(self) -> int:
        return self.codes + 1

    @property
    def eos(self) -> int:
        return self.codes + 2

    @property
    def size(self) -> int:
        return self.codes + 3


LayerCache = dict[str, torch.Tensor]
# per layer cross-attention keys/values (B, H, T, D/H) of a condition, and its mask (B, 1, 1, T)
Memory = tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]


@dataclass
class Scored:
    """Strings scored under conditions (teacher forcing), by either decoder."""

    nll: torch.Tensor  # (B, L) per output position (tokens, then EOS); 0 where not scored
    expected_length: torch.Tensor | None  # (B,) when the decoder gives it directly
    logits: torch.Tensor  # (B, L, V) token logits
    timing: torch.Tensor  # (B, L, 2) spans as fractions of the clip


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def split(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, H, L, D/H)
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(x).chunk(2, dim=-1)
        return self.split(k), self.split(v)

    def forward(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        weights: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x (B, L, D) queries; k, v (B, H, S, D/H); mask (B, 1, L|1, S) True = may attend.
        With `weights`, the attention weights averaged over heads (B, L, S) are appended to it."""
        drop = self.dropout if self.training else 0.0
        q = self.split(self.q(x))
        if weights is None:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal
            )
        else:  # written out, to expose the weights (same result as the fused kernel)
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, H, L, S)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            attention = scores.softmax(dim=-1)
            weights.append(attention.mean(dim=1))
            y = F.dropout(attention, drop, self.training) @ v
        return self.out(y.transpose(1, 2).flatten(2))


class DecoderLayer(nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        d = config.dim
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = Attention(d, config.heads, config.dropout)
        self.cross_attn = Attention(d, config.heads, config.dropout)
        self.ff = nn.Sequential(
            nn.Linear(d, d * config.ff_mult), nn.GELU(), nn.Linear(d * config.ff_mult, d)
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        memory_mask: torch.Tensor,
        cache: LayerCache | None = None,
        weights: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        h = self.norm1(x)
        k, v = self.self_attn.keys_values(h)
        if cache is not None:  # incremental: x is the newest position only
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
            x = x + self.drop(self.self_attn(h, k, v))
        else:
            x = x + self.drop(self.self_attn(h, k, v, causal=True))
        x = x + self.drop(
            self.cross_attn(self.norm2(x), *memory_kv, mask=memory_mask, weights=weights)
        )
        return x + self.drop(self.ff(self.norm3(x)))


class TokenDecoder(nn.Module):
    exact_timing = False  # timing comes from a learned head
    copies_vq_strings = False  # learns its strings; its VQ-derived targets keep every run

    def __init__(self, config: DecoderConfig, vocab: Vocab, condition_dim: int) -> None:
        super().__init__()
        self.config, self.vocab = config, vocab
        self.settings: FreeDecoderConfig = config.settings
        self.embed = nn.Embedding(vocab.size, config.dim)
        self.position = nn.Embedding(config.max_len, config.dim)
        self.condition = nn.Linear(condition_dim, config.dim)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        self.logits = nn.Linear(config.dim, vocab.size)
        self.timing = nn.Linear(config.dim, 2)  # (start, end) as fractions of the clip

    def memory(self, frames: torch.Tensor, mask: torch.Tensor) -> Memory:
        """Per-layer cross-attention keys/values of the condition, and its attention mask."""
        c = self.condition(frames)  # (B, T, D)
        if self.settings.memory_positions:
            c = c + sinusoids(c.shape[1], c.shape[2], c.device)[None]
        kv = [layer.cross_attn.keys_values(c) for layer in self.layers]
        return kv, mask[:, None, None, :]  # (B, 1, 1, T)

    def forward(
        self,
        tokens: torch.Tensor,
        frames: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
        memory=None,
        attention: list[torch.Tensor] | None = None,
    ):
        """Teacher-forced: tokens (B, L) -> (logits (B, L, V), timing (B, L, 2), hidden (B, L, D)).
        `memory` (from `memory()`, rows already selected) replaces frames and frame_mask. With
        `attention`, each layer's cross-attention weights (B, L, T), mean over heads, go into it."""
        kv, mask = memory if memory is not None else self.memory(frames, frame_mask)
        x = self.embed(tokens) + self.position(torch.arange(tokens.shape[1], device=tokens.device))
        for layer, layer_kv in zip(self.layers, kv, strict=True):
            x = layer(x, layer_kv, mask, weights=attention)
        x = self.norm(x)
        return self.logits(x), torch.sigmoid(self.timing(x)), x

    def memory_of(self, cond: Encoded) -> Memory:
        """The memory of an `Encoded` condition."""
        return self.memory(cond.frames, cond.mask)

    def score(
        self,
        memory: Memory,
        inputs: torch.Tensor,
        tf,
        starts: torch.Tensor | None = None,
        clip_frames: int = 0,
        attention: list[torch.Tensor] | None = None,
    ) -> Scored:
        """Teacher-forced NLL of strings `tf` (outputs: tokens then EOS) from the (possibly
        corrupted) inputs; the token spans `starts` are not used (timing is predicted)."""
        logits, timing, _ = self(inputs, None, None, memory=memory, attention=attention)
        nll = F.cross_entropy(logits.transpose(1, 2), tf.outputs, reduction="none")
        return Scored(nll, None, logits, timing)

    @staticmethod
    def select(memory: Memory, rows: torch.Tensor) -> Memory:
        """The memory of conditions `rows` (an index tensor), without recomputing projections."""
        kv, mask = memory
        return [(k[rows], v[rows]) for k, v in kv], mask[rows]

    @torch.no_grad()
    def greedy(
        self,
        memory: Memory,
        seconds: torch.Tensor,
        decoding: DecodingConfig,
        frame_seconds: float,
        *,
        use_cache: bool = True,
    ) -> Decoded:
        """Greedy strings within the budget ceil(seconds x decoding.rate x slack) tokens (at most
        `max_len` - 2); timing from the head. Without `use_cache` the prefix is re-run every
        step (the reference the cached path must match)."""
        budget = max_lengths(seconds, decoding.rate, self.settings.slack, self.config.max_len)
        return greedy_decode(self, memory, budget, use_cache=use_cache)

    @torch.no_grad()
    def init_from_vq(self, vq: VQModel) -> None:
        """Code embeddings from the codebook mapped back into the encoder space, and the code
        logits from the VQ model's prior head when the widths match."""
        q = vq.quantizer
        k = self.vocab.codes
        codes = q.codebook @ q.project.weight  # (K, D_enc)
        codes = self.condition(codes)  # (K, D_dec)
        self.embed.weight[:k] = codes / (codes.norm(dim=-1, keepdim=True) + 1e-6)
        prior_out = vq.prior[-1]
        if prior_out.in_features == self.config.dim:
            self.logits.weight[:k] = prior_out.weight
            self.logits.bias[:k] = prior_out.bias

    def step(self, tokens: torch.Tensor, position: int, memory: Memory, caches: list[LayerCache]):
        """One cached step: tokens (B,) at `position` -> (logits (B, V), timing (B, 2))."""
        kv, mask = memory
        x = self.embed(tokens)[:, None] + self.position.weight[position]
        for layer, layer_kv, cache in zip(self.layers, kv, caches, strict=True):
            x = layer(x, layer_kv, mask, cache)
        x = self.norm(x)[:, 0]
        return self.logits(x), torch.sigmoid(self.timing(x))


def sinusoids(length: int, dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Sinusoidal position codes, as in the original Transformer.  # (length, dim)"""
    positions = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rates = torch.exp(torch.arange(0, dim, 2, device=device) * (-math.log(10_000.0) / dim))
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(positions * rates)
    out[:, 1::2] = torch.cos(positions * rates[: dim // 2])
    return out
