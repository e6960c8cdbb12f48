"""The decoder kinds: the `Decoder` protocol every stage-2 decoder follows, the registry of kinds
(`DECODERS`: key -> decoder class and its config class) and `DecoderConfig`, the `decoder` section
(fields every kind reads, `kind`, and the chosen kind's own section).

In YAML and in checkpoints the section reads `decoder: {kind: segment, dim: 128, ...,
segment: {boundary_logit: 6.0}}`; a key under another kind's section (`decoder.free.slack` while
`kind` is segment) is refused by name. A new decoder is one module (its class and config class)
and one entry in `DECODERS`; nothing else dispatches on the kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from pairalign.config import ConfigError, from_fields, to_dict
from pairalign.models.decoder import FreeDecoderConfig, Scored, TokenDecoder, Vocab
from pairalign.models.decoding import Decoded, DecodingConfig
from pairalign.models.segment_decoder import SegmentDecoder, SegmentDecoderConfig
from pairalign.models.vq_model import Encoded, VQModel
from pairalign.strings.rule import VQStringConfig


class Decoder(Protocol):
    """What the model, the refine terms and the tokenizer ask of a decoder (an `nn.Module`)."""

    config: DecoderConfig
    vocab: Vocab
    exact_timing: bool  # timing is the decoder's own (segments), not a learned head
    copies_vq_strings: bool  # its strings at initialisation are the VQ strings

    def memory_of(self, cond: Encoded) -> Any:
        """What the decoder reads of a batch of conditions (rows selectable with `select`)."""

    def select(self, memory: Any, rows: torch.Tensor) -> Any:
        """The memory of conditions `rows` (an index tensor), without recomputing it."""

    def score(
        self,
        memory: Any,
        inputs: torch.Tensor,
        tf: Any,
        starts: torch.Tensor | None,
        clip_frames: int,
        attention: list[torch.Tensor] | None = None,
    ) -> Scored:
        """Teacher-forced NLL of strings `tf` (a `TeacherForcing`: outputs, mask, lengths) from
        the (possibly corrupted) `inputs`; `starts` (B, L) the tokens' start frames, for a
        decoder with `exact_timing` (None otherwise)."""

    def greedy(
        self,
        memory: Any,
        seconds: torch.Tensor,
        decoding: DecodingConfig,
        frame_seconds: float,
        *,
        use_cache: bool = True,
    ) -> Decoded:
        """Greedy strings of conditions with `seconds` (B,) of real audio, frames of
        `frame_seconds`; timing as fractions of `decoding.timing_seconds`."""

    def init_from_vq(self, vq: VQModel) -> None:
        """Start from the stage-1 model (already loaded) where the decoder can."""


@dataclass(frozen=True)
class DecoderKind:
    decoder: type  # built as decoder(config: DecoderConfig, vocab: Vocab, condition_dim: int)
    config: type  # a frozen config dataclass: the kind's own section, `decoder.<kind>`


DECODERS: dict[str, DecoderKind] = {
    "free": DecoderKind(TokenDecoder, FreeDecoderConfig),  # soft attention, learns where to read
    "segment": DecoderKind(SegmentDecoder, SegmentDecoderConfig),  # a segment pointer (issue 20)
}


def decoder_kind(kind: str, where: str = "decoder.kind") -> DecoderKind:
    """The registry entry of `kind`; an unknown kind raises `ConfigError` naming the known ones."""
    if kind not in DECODERS:
        raise ConfigError(f"{where}: {kind!r} is not one of {list(DECODERS)}")
    return DECODERS[kind]


@dataclass(frozen=True)
class DecoderConfig:
    # "free": soft attention, learns where to read (`TokenDecoder`); "segment": a segment pointer
    # that emits the VQ strings at initialisation (`SegmentDecoder`); any key of `DECODERS`
    kind: str = "free"
    dim: int = 128
    layers: int = 2
    heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    max_len: int = 128  # longest string (BOS and EOS included)
    # the condition also carries each frame's quantized code (its codebook vector mapped back into
    # the encoder space, added to the frame): the decoder reads which code a frame holds directly
    memory_codes: bool = False
    # the VQ strings' short-run merge, for the segment decoder's prior and for VQ-derived targets
    # (0: set when stage 2 starts, `with_vq_strings`)
    min_run_frames: int = 0
    # the stage-1 checkpoint's VQ strings, which a decoder that copies them reproduces (its prior:
    # `strings`); None: set when stage 2 starts (`with_vq_strings`), or only `min_run_frames`
    vq_strings: VQStringConfig | None = None
    # the chosen kind's own section (an instance of its `DECODERS` config class); None: defaults
    settings: Any = None

    def __post_init__(self) -> None:
        entry = decoder_kind(self.kind)
        if self.settings is None:
            object.__setattr__(self, "settings", entry.config())
        elif not isinstance(self.settings, entry.config):
            raise ConfigError(
                f"decoder.{self.kind}: expected {entry.config.__name__}, got "
                f"{type(self.settings).__name__} (another kind's settings)"
            )
        if self.vq_strings is not None and not entry.decoder.copies_vq_strings:
            raise ConfigError(
                f"decoder.vq_strings: does not apply to decoder.kind={self.kind} (it does not "
                "copy the VQ strings; set it only with a kind that does, e.g. segment)"
            )

    @property
    def strings(self) -> VQStringConfig:
        """The VQ strings a decoder that copies them reproduces: `vq_strings` (all of the stage-1
        checkpoint's settings: groups, rate, scheme), runs shorter than `min_run_frames` merged
        (without `vq_strings`, only that merge)."""
        return dataclasses.replace(
            self.vq_strings or VQStringConfig(), min_run_frames=self.min_run_frames
        )

    def with_vq_strings(self, strings: VQStringConfig) -> DecoderConfig:
        """Made concrete from the stage-1 checkpoint's VQ strings `strings`: `min_run_frames` 0
        becomes their setting for a decoder that copies the VQ strings (so it starts from exactly
        them), 1 (every run) for one that learns its strings; a decoder that copies them also
        takes them whole as `vq_strings` (where not set)."""
        copies = decoder_kind(self.kind).decoder.copies_vq_strings
        out = self
        if self.min_run_frames <= 0:
            out = dataclasses.replace(out, min_run_frames=strings.min_run_frames if copies else 1)
        if copies and self.vq_strings is None:
            out = dataclasses.replace(out, vq_strings=strings)
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> DecoderConfig:
        """The section from YAML or a checkpoint: shared keys, `kind` and `<kind>: {...}`; a
        non-empty section of another kind raises `ConfigError` naming its keys and the kind."""
        data = dict(data)

        def at(*keys: str) -> str:
            return ".".join((where, *keys) if where else keys)

        kind = data.get("kind", cls.kind)
        entry = decoder_kind(kind, at("kind"))
        shared = [f.name for f in dataclasses.fields(cls) if f.name != "settings"]
        unknown = sorted(set(data) - set(shared) - set(DECODERS))
        if unknown:
            names = ", ".join(at(k) for k in unknown)
            raise ConfigError(
                f"unknown config key(s): {names}; {cls.__name__} accepts: "
                f"{', '.join(shared)} and a section per kind ({', '.join(DECODERS)})"
            )
        for other in (k for k in DECODERS if k != kind and data.get(k)):
            keys = data[other] if isinstance(data[other], Mapping) else ()
            names = ", ".join(at(other, k) for k in keys) or at(other)
            raise ConfigError(
                f"{names}: does not apply to {at('kind')}={kind} (set it only with "
                f"{at('kind')}={other})"
            )
        section = data.get(kind) or {}
        if not isinstance(section, Mapping):
            raise ConfigError(
                f"{at(kind)}: expected a section ({entry.config.__name__}), got {section!r}"
            )
        settings = from_fields(entry.config, section, where=at(kind))
        values = from_fields(cls, {k: data[k] for k in shared if k in data}, where=where)
        return dataclasses.replace(values, settings=settings)

    def to_mapping(self) -> dict[str, Any]:
        """The section as `from_mapping` reads it (only the chosen kind's own section;
        `vq_strings` only where set)."""
        shared = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("settings", "vq_strings")
        }
        if self.vq_strings is not None:
            shared["vq_strings"] = to_dict(self.vq_strings)
        return {**shared, self.kind: to_dict(self.settings)}


def build_decoder(config: DecoderConfig, vocab: Vocab, condition_dim: int) -> Decoder:
    """The decoder `config.kind` names, reading conditions of width `condition_dim`."""
    return decoder_kind(config.kind).decoder(config, vocab, condition_dim)
