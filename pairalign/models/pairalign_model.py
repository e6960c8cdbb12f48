"""The stage-2 model: the stage-1 VQ model (encoder, codebook, prior) plus the token decoder, and
its one decoding path (`PairAlignModel.decode`), which the `Tokenizer`, the EMA teacher, the
collapse watch and the batch metrics all call."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from pairalign.models.decoder import DecoderConfig, TokenDecoder, Vocab
from pairalign.models.decoding import Decoded, DecodingConfig, greedy_decode, max_lengths
from pairalign.models.segment_decoder import SegmentDecoder
from pairalign.models.vq_model import Encoded, ModelConfig, VQModel


@dataclass(frozen=True)
class PairAlignConfig:
    vq: ModelConfig = field(default_factory=ModelConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)


class PairAlignModel(nn.Module):
    def __init__(self, config: PairAlignConfig) -> None:
        super().__init__()
        self.config = config
        self.vq = VQModel(config.vq)
        self.vocab = Vocab(config.vq.quantizer.codebook_size)
        kind = {"free": TokenDecoder, "segment": SegmentDecoder}.get(config.decoder.kind)
        if kind is None:
            raise ValueError(f"decoder.kind={config.decoder.kind!r}: expected 'free' or 'segment'")
        self.decoder: TokenDecoder | SegmentDecoder = kind(
            config.decoder, self.vocab, config.vq.encoder.dim
        )

    def forward(self, waveform: torch.Tensor, seconds: torch.Tensor | None = None) -> Encoded:
        """The VQ model's encoding; its `frames` are the decoder's condition (with
        `decoder.memory_codes`, each frame plus its quantized code mapped into the encoder space)."""
        return decoder_condition(self.vq, self.vq(waveform, seconds),
                                 self.config.decoder.memory_codes)  # fmt: skip

    @torch.no_grad()
    def decode(self, waveform: torch.Tensor, seconds: torch.Tensor, *,
               use_cache: bool = True) -> Decoded:  # fmt: skip
        """Greedy strings of waveform (B, N) with seconds (B,) of real audio each, within the
        budget of `config.decoding` (a segment decoder has none: its strings end at the last
        frame); timing as fractions of `decoding.timing_seconds`. The caller chooses train or
        eval mode."""
        encoded = self(waveform, seconds)
        decoding = self.config.decoding
        if isinstance(self.decoder, SegmentDecoder):
            return self.decoder.greedy(self.decoder.memory_of(encoded),
                                       self.config.vq.frame_seconds, decoding.timing_seconds)  # fmt: skip
        budget = max_lengths(seconds, decoding.rate, decoding.slack, self.decoder.config.max_len)
        return greedy_decode(
            self.decoder, encoded.frames, encoded.mask, budget, use_cache=use_cache
        )

    @torch.no_grad()
    def init_from_stage1(self, state: dict[str, torch.Tensor]) -> None:
        """Load the stage-1 weights; code embeddings start from the codebook mapped back into the
        encoder space, and the code logits from the prior head when the widths match."""
        self.vq.load_state_dict(state)
        if isinstance(self.decoder, SegmentDecoder):  # copies the VQ strings as it is
            return
        q = self.vq.quantizer
        k = self.vocab.codes
        codes = q.codebook @ q.project.weight  # (K, D_enc)
        codes = self.decoder.condition(codes)  # (K, D_dec)
        self.decoder.embed.weight[:k] = codes / (codes.norm(dim=-1, keepdim=True) + 1e-6)
        prior_out = self.vq.prior[-1]
        if prior_out.in_features == self.decoder.config.dim:
            self.decoder.logits.weight[:k] = prior_out.weight
            self.decoder.logits.bias[:k] = prior_out.bias


def decoder_condition(vq: VQModel, encoded: Encoded, memory_codes: bool) -> Encoded:
    """What the decoder reads: the encoder frames, plus (with `memory_codes`) each frame's quantized
    code mapped back into the encoder space. Training and decoding both go through here."""
    if not memory_codes:
        return encoded
    codes = encoded.quantized.quantized @ vq.quantizer.project.weight  # (B, T, D)
    return replace(encoded, frames=encoded.frames + codes)
