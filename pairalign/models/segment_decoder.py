"""A decoder that copies the VQ strings by construction: an autoregressive segment pointer.

Each step holds the first frame `s` of the segment it emits. It reads the string so far (causal
self-attention) and the whole condition (cross-attention), then

- predicts where the segment ends: a hazard per frame after `s`, the segment ending at the
  first frame whose hazard is above one half (decoding), `log P(end = e) = log sigma(z_e) +
  sum_{s < t < e} log sigma(-z_t)` (training). The hazard logit is a fixed prior plus a learned
  part: `z_e = +boundary_logit` where the VQ strings have a boundary (a change of the merged code
  between frames e - 1 and e), `-boundary_logit` elsewhere, plus query . key and a duration bias,
  both zero at initialisation. The last valid frame always ends the string (EOS is implied).
- predicts which token the segment carries: the share of the segment's frames holding each
  merged code, times `copy_logit`, plus a learned part (zero at initialisation) from the step's
  state and the mean condition over the segment.

At initialisation greedy decoding therefore returns exactly the VQ strings (the runs of the
VQ-string rule `pairalign.strings.rule.string_runs` under `SegmentDecoder.strings`, the stage-1
checkpoint's VQ-string settings, read from the contexts `VQModel.string_contexts` makes, as
`Tokenizer.vq_strings` makes them), with exact timing: the segments. (A string with two equal
neighbours, as `reduce: index` under a rate can make, comes out with them as one token: a repeat
joins its segment.) Training moves the learned parts: compression is the hazard learning to skip
boundaries. Vocabulary as `TokenDecoder`'s (codes, PAD, BOS, EOS). The decoder of
`decoder.kind=segment` (`decoder_kinds.py`), its own settings in `SegmentDecoderConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pairalign.models.decoder import DecoderLayer, LayerCache, Scored, Vocab, sinusoids
from pairalign.models.decoding import Decoded, DecodingConfig
from pairalign.strings.rule import StringContext, VQStringConfig, batch_contexts, string_runs

if TYPE_CHECKING:
    from pairalign.models.decoder_kinds import DecoderConfig
    from pairalign.models.vq_model import Encoded, VQModel


@dataclass(frozen=True)
class SegmentDecoderConfig:
    """The segment decoder's own settings (`decoder.segment`): the prior hazard logit (+ at a VQ
    boundary, - elsewhere), the weight of the segment's code shares on the token logits, the
    longest duration with its own bias. (The VQ strings' short-run merge is the shared
    `decoder.min_run_frames`: it also makes the VQ-derived targets.)"""

    boundary_logit: float = 6.0
    copy_logit: float = 10.0
    max_segment_frames: int = 64


@dataclass
class SegmentMemory:
    """What the segment decoder reads of a batch of conditions (rows selectable with `select`)."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer cross-attention keys/values
    mask: torch.Tensor  # (B, 1, 1, T) attention mask
    frames: torch.Tensor  # (B, T, D) the projected condition (with positions)
    end_keys: torch.Tensor  # (B, T, D) key of "the segment ends after frame e - 1", e = 1..T
    boundary: torch.Tensor  # (B, T) prior hazard logits of ends e = 1..T
    code_share: torch.Tensor  # (B, T + 1, K) cumulative one-hot merged codes (prefix sums)
    frame_sums: torch.Tensor  # (B, T + 1, D) cumulative condition (prefix sums)
    length: torch.Tensor  # (B,) valid frames

    def select(self, rows: torch.Tensor) -> SegmentMemory:
        return SegmentMemory(
            [(k[rows], v[rows]) for k, v in self.kv],
            self.mask[rows],
            self.frames[rows],
            self.end_keys[rows],
            self.boundary[rows],
            self.code_share[rows],
            self.frame_sums[rows],
            self.length[rows],
        )


def prior_codes(
    contexts: list[StringContext], strings: VQStringConfig, mask: torch.Tensor
) -> torch.Tensor:
    """Frame codes as the VQ strings see them, per row: the runs of the VQ-string rule
    (`string_runs` of the row's context under `strings`) spread over their frames; -1 past the
    valid frames.  # (B, T)"""
    out = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
    for i, context in enumerate(contexts):
        values, starts, ends = string_runs(context, strings)
        out[i, : len(context.codes)] = torch.from_numpy(np.repeat(values, ends - starts))
    return out


class SegmentDecoder(nn.Module):
    exact_timing = True  # timing comes from the segments, not from a head
    copies_vq_strings = True  # its strings at initialisation are the VQ strings

    def __init__(self, config: DecoderConfig, vocab: Vocab, condition_dim: int) -> None:
        super().__init__()
        self.config, self.vocab = config, vocab
        self.settings: SegmentDecoderConfig = config.settings
        d = config.dim
        self.embed = nn.Embedding(vocab.size, d)
        self.condition = nn.Linear(condition_dim, d)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(d)
        self.end_query = nn.Linear(d, d)
        self.end_key = nn.Linear(2 * d, d)
        self.duration = nn.Embedding(self.settings.max_segment_frames + 1, 1)
        self.segment = nn.Linear(d, d)
        self.token = nn.Linear(d, vocab.size)
        for layer in (self.end_query, self.token):  # the learned parts start at zero
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.duration.weight)

    @property
    def strings(self) -> VQStringConfig:
        """The VQ strings the prior reproduces (`DecoderConfig.strings`: the stage-1 checkpoint's
        `vq_strings`, runs shorter than `min_run_frames` merged)."""
        return self.config.strings

    def memory(
        self, frames: torch.Tensor, mask: torch.Tensor, contexts: list[StringContext]
    ) -> SegmentMemory:
        """frames (B, T, D_enc), mask (B, T), contexts what the VQ-string rule reads of each row
        (`VQModel.string_contexts`)."""
        b, t, _ = frames.shape
        c = self.condition(frames) + sinusoids(t, self.config.dim, frames.device)[None]
        kv = [layer.cross_attn.keys_values(c) for layer in self.layers]
        merged = prior_codes(contexts, self.strings, mask)
        length = mask.sum(1)
        change = torch.zeros(b, t, dtype=torch.bool, device=frames.device)  # end e = j + 1
        change[:, :-1] = (merged[:, 1:] != merged[:, :-1]) & mask[:, 1:]
        prior = torch.where(change, 1.0, -1.0) * self.settings.boundary_logit
        following = torch.cat([c[:, 1:], torch.zeros_like(c[:, :1])], dim=1)
        end_keys = self.end_key(torch.cat([c, following], dim=-1))  # frames e - 1 and e
        onehot = F.one_hot(merged.clamp(min=0), self.vocab.codes).float() * mask[..., None]
        zero_k = onehot.new_zeros(b, 1, self.vocab.codes)
        code_share = torch.cat([zero_k, onehot.cumsum(1)], dim=1)
        frame_sums = torch.cat([c.new_zeros(b, 1, c.shape[-1]), (c * mask[..., None]).cumsum(1)], 1)
        return SegmentMemory(
            kv, mask[:, None, None, :], c, end_keys, prior, code_share, frame_sums, length
        )

    @staticmethod
    def select(memory: SegmentMemory, rows: torch.Tensor) -> SegmentMemory:
        return memory.select(rows)

    def memory_of(self, cond: Encoded) -> SegmentMemory:
        """The memory of an `Encoded` condition: its rows' VQ-string contexts where it carries
        them (`PairAlignModel.forward`), else its frame codes alone (enough for strings that only
        merge short runs; others raise naming what they need)."""
        contexts = cond.contexts
        if contexts is None:
            contexts = batch_contexts(cond.quantized.codes.cpu().numpy(), cond.mask.cpu().numpy())
        return self.memory(cond.frames, cond.mask, contexts)

    def _state(
        self,
        tokens: torch.Tensor,
        starts: torch.Tensor,
        memory: SegmentMemory,
        caches: list[LayerCache] | None = None,
    ) -> torch.Tensor:
        """Decoder states of steps with input tokens (B, L) starting at frames (B, L)."""
        at = starts.clamp(max=memory.frames.shape[1] - 1)
        here = torch.gather(memory.frames, 1, at[..., None].expand(-1, -1, memory.frames.shape[-1]))
        x = self.embed(tokens) + here
        for i, (layer, layer_kv) in enumerate(zip(self.layers, memory.kv, strict=True)):
            x = layer(x, layer_kv, memory.mask, caches[i] if caches is not None else None)
        return self.norm(x)

    def _hazards(
        self, state: torch.Tensor, starts: torch.Tensor, memory: SegmentMemory
    ) -> torch.Tensor:
        """Hazard logits of ends e = 1..T for steps starting at `starts` (B, L); steps cannot
        end at or before their start (-inf) and must end at the last valid frame (+inf)."""
        q = self.end_query(state)  # (B, L, D)
        scores = q @ memory.end_keys.transpose(1, 2) / q.shape[-1] ** 0.5  # (B, L, T)
        ends = torch.arange(1, memory.frames.shape[1] + 1, device=state.device)
        duration = (ends[None, None] - starts[..., None]).clamp(0, self.settings.max_segment_frames)
        z = memory.boundary[:, None] + scores + self.duration(duration)[..., 0]
        z = z.masked_fill(ends[None, None] <= starts[..., None], float("-inf"))
        last = ends[None, None] == memory.length[:, None, None]
        z = z.masked_fill(last, float("inf"))
        return z.masked_fill(ends[None, None] > memory.length[:, None, None], float("-inf"))

    def _token_logits(
        self, state: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor, memory: SegmentMemory
    ) -> torch.Tensor:
        """Token logits (B, L, V) of segments [starts, ends) (frames)."""
        size = (ends - starts).clamp(min=1)[..., None].float()

        def pooled(sums: torch.Tensor) -> torch.Tensor:
            pick = lambda at: torch.gather(sums, 1, at[..., None].expand(-1, -1, sums.shape[-1]))  # noqa: E731
            return (pick(ends) - pick(starts)) / size

        learned = self.token(state + self.segment(pooled(memory.frame_sums)))
        share = pooled(memory.code_share) * self.settings.copy_logit
        codes = self.vocab.codes
        return torch.cat(
            [learned[..., :codes] + share, torch.full_like(learned[..., codes:], float("-inf"))], -1
        )

    def score(
        self,
        memory: SegmentMemory,
        inputs: torch.Tensor,
        tf,
        starts: torch.Tensor,
        clip_frames: int,
        attention: list[torch.Tensor] | None = None,
    ) -> Scored:
        """Teacher-forced NLL of strings `tf` (outputs: tokens then EOS) whose tokens start at
        frames `starts` (B, L) of the condition; the spans are made a tiling of each row's valid
        frames (`tile`). `inputs` are the (possibly corrupted) teacher-forced inputs. Each token's
        NLL is that of its token and of its end; EOS is implied by the last segment (NLL 0).
        `expected_length`: segments the hazards would give along the target's frames."""
        lengths = torch.minimum(tf.lengths, memory.length)
        starts, ends = tile(starts, lengths, memory.length)
        state = self._state(inputs, starts, memory)
        z = self._hazards(state, starts, memory)  # (B, L, T)
        e = torch.arange(1, z.shape[-1] + 1, device=z.device)[None, None]
        between = (e > starts[..., None]) & (e < ends[..., None])
        survive = (F.logsigmoid(-z).nan_to_num(0.0, neginf=0.0) * between).sum(-1)
        at_end = torch.gather(z, 2, (ends - 1).clamp(min=0)[..., None])[..., 0]
        end_nll = -(survive + F.logsigmoid(at_end))
        logits = self._token_logits(state, starts, ends, memory)
        outputs = tf.outputs.clamp(max=self.vocab.codes - 1)  # EOS/PAD columns scored as 0 below
        token_nll = F.cross_entropy(logits.transpose(1, 2), outputs, reduction="none")
        real = torch.arange(tf.outputs.shape[1], device=z.device)[None] < lengths[:, None]
        nll = torch.where(real, token_nll + end_nll, torch.zeros_like(token_nll))
        hazard = torch.sigmoid(z).nan_to_num(0.0) * (
            (e > starts[..., None]) & (e <= ends[..., None]) & (e < memory.length[:, None, None])
        )
        expected = 1 + (hazard.sum(-1) * real).sum(1)  # the last segment's forced end counts 1
        timing = torch.stack([starts, ends], -1).float() / clip_frames
        return Scored(nll, expected, logits, timing)

    @torch.no_grad()
    def init_from_vq(self, vq: VQModel) -> None:
        """Nothing to copy: the decoder emits the VQ strings as it is."""

    @torch.no_grad()
    def greedy(
        self,
        memory: SegmentMemory,
        seconds: torch.Tensor,
        decoding: DecodingConfig,
        frame_seconds: float,
        *,
        use_cache: bool = True,
    ) -> Decoded:
        """Greedy strings: each segment ends at the first hazard above one half, carries its most
        likely token (a token equal to the previous one extends that token's span, as VQ runs
        collapse); the string ends at the last valid frame, so there is no budget (`seconds`
        and `decoding.rate` are not used) and the steps always use the cache. Timing as
        fractions of `decoding.timing_seconds`."""
        b = memory.length.shape[0]
        device = memory.frames.device
        start = torch.zeros(b, dtype=torch.long, device=device)
        token = torch.full((b,), self.vocab.bos, dtype=torch.long, device=device)
        done = memory.length <= 0
        caches: list[LayerCache] = [{} for _ in self.layers]
        strings: list[list[int]] = [[] for _ in range(b)]
        spans: list[list[tuple[int, int]]] = [[] for _ in range(b)]
        for _ in range(int(memory.length.max())):
            state = self._state(token[:, None], start[:, None], memory, caches)
            z = self._hazards(state, start[:, None], memory)[:, 0]  # (B, T)
            end = (z > 0).float().argmax(-1) + 1  # the first end above one half (+inf at the last)
            token = self._token_logits(state, start[:, None], end[:, None], memory)[:, 0].argmax(-1)
            for i in torch.nonzero(~done).flatten().tolist():
                if strings[i] and strings[i][-1] == int(token[i]):  # one token, one run: the
                    spans[i][-1] = (spans[i][-1][0], int(end[i]))  # repeat joins its segment
                else:
                    strings[i].append(int(token[i]))
                    spans[i].append((int(start[i]), int(end[i])))
            done = done | (end >= memory.length)
            start = torch.minimum(end, memory.length - 1).clamp(min=0)
            if bool(done.all()):
                break
        scale = frame_seconds / decoding.timing_seconds
        timing = [torch.tensor(s, dtype=torch.float32).reshape(-1, 2) * scale for s in spans]
        return Decoded(strings, timing, torch.ones(b, dtype=torch.bool))


def tile(
    starts: torch.Tensor, lengths: torch.Tensor, frames: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token start frames (B, L) made a tiling of each row's `frames` valid frames by its first
    `lengths` tokens: the first starts at 0, starts strictly increase and leave a frame for every
    later token; each token ends where the next starts, the last at the end. Positions past a
    row's length get an empty span at its end. -> (starts, ends), both (B, L)."""
    width = starts.shape[1]
    idx = torch.arange(width, device=starts.device)[None]
    s = starts.clone()
    s[:, 0] = 0
    s = torch.cummax(s - idx, dim=1).values + idx  # strictly increasing
    s = torch.minimum(s, frames[:, None] - lengths[:, None] + idx)  # room for the later tokens
    real = idx < lengths[:, None]
    s = torch.where(real, s, frames[:, None].expand(-1, width))
    following = torch.cat([s[:, 1:], frames[:, None]], dim=1)
    e = torch.where(idx + 1 < lengths[:, None], following, frames[:, None].expand(-1, width))
    return s.clamp(min=0), e


def spans_to_frames(timing: list[np.ndarray], width: int, frame_seconds: float) -> torch.Tensor:
    """Token start seconds of each row (`Targets.timing`, (n, 2)) as frame indices (B, width)."""
    out = torch.zeros(len(timing), width, dtype=torch.long)
    for i, t in enumerate(timing):
        n = min(len(t), width)
        out[i, :n] = torch.from_numpy(
            np.round(np.asarray(t[:n, 0]) / frame_seconds).astype(np.int64)
        )
    return out
