"""The stage-2 model: the stage-1 VQ model (encoder, codebook, prior) plus a decoder of the kind
its config names (`decoder_kinds.DECODERS`), and its one decoding path (`PairAlignModel.decode`),
which the `Tokenizer`, the EMA teacher, the collapse watch and the batch metrics all call."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from pairalign.models.decoder import Vocab
from pairalign.models.decoder_kinds import Decoder, DecoderConfig, build_decoder
from pairalign.models.decoding import Decoded, DecodingConfig
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
        self.decoder: Decoder = build_decoder(config.decoder, self.vocab, config.vq.encoder.dim)

    def forward(self, waveform: torch.Tensor, seconds: torch.Tensor | None = None) -> Encoded:
        """The VQ model's encoding; its `frames` are the decoder's condition (with
        `decoder.memory_codes`, each frame plus its quantized code mapped into the encoder space).
        For a decoder that copies the VQ strings it carries what the VQ-string rule reads of each
        row (`contexts`, under `decoder.strings`: real seconds, costs, code groups as needed)."""
        encoded = self.vq(waveform, seconds)
        if self.decoder.copies_vq_strings:
            if seconds is None:  # as the VQ model takes them
                seconds = torch.full(
                    (len(waveform),), waveform.shape[1] / self.config.vq.sample_rate
                )
            contexts = self.vq.string_contexts(encoded, self.config.decoder.strings, seconds)
            encoded = replace(encoded, contexts=contexts)
        return decoder_condition(self.vq, encoded, self.config.decoder.memory_codes)

    @torch.no_grad()
    def decode(
        self, waveform: torch.Tensor, seconds: torch.Tensor, *, use_cache: bool = True
    ) -> Decoded:
        """Greedy strings of waveform (B, N) with seconds (B,) of real audio each, as the decoder
        makes them (`Decoder.greedy`: the free decoder within its budget, the segment decoder to
        the last frame); timing as fractions of `decoding.timing_seconds`. The caller chooses
        train or eval mode."""
        encoded = self(waveform, seconds)
        memory, frame_seconds = self.decoder.memory_of(encoded), self.config.vq.frame_seconds
        return self.decoder.greedy(
            memory, seconds, self.config.decoding, frame_seconds, use_cache=use_cache
        )

    @torch.no_grad()
    def init_from_stage1(self, state: dict[str, torch.Tensor]) -> None:
        """Load the stage-1 weights, then let the decoder start from them (`init_from_vq`)."""
        self.vq.load_state_dict(state)
        self.decoder.init_from_vq(self.vq)


def decoder_condition(vq: VQModel, encoded: Encoded, memory_codes: bool) -> Encoded:
    """What the decoder reads: the encoder frames, plus (with `memory_codes`) each frame's quantized
    code mapped back into the encoder space. Training and decoding both go through here."""
    if not memory_codes:
        return encoded
    codes = encoded.quantized.quantized @ vq.quantizer.project.weight  # (B, T, D)
    return replace(encoded, frames=encoded.frames + codes)
