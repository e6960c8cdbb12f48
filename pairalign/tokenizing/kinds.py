"""Three tokenizers behind one interface, as the archive job and the evaluation suite use them.

    tok = load_tokenizer(TokenizerSpec(name="pa", kind="pairalign", checkpoint="runs/x/..."))
    tok(waveforms, seconds)        # -> list of token lists
    tok.timed(waveforms, seconds)  # -> per clip (tokens, centre time in seconds of each token)

- `pairalign`: strings decoded by a stage-2 checkpoint (timing from its timing head);
- `vq`: collapsed frame codes of a stage-1 or stage-2 checkpoint (the VQ baseline of the model),
  read with the checkpoint's `VQStringConfig` or the spec's `strings` (e.g. a stage-2 target scheme:
  `strings: {rate: 12.5, reduce: index}` gives the VQ-derived targets of `objectives/targets.py`);
- `dense`: k-means on log-mel frames, one token per pooled frame (pairalign/tokenizing/dense.py);
- `auto` (a request, not a kind): `choose_kind` picks for a model checkpoint, once, for the command
  line and the workflows alike: the kind its export records as measured best (`default_kind`),
  else `pairalign` when it has a decoder, `vq` otherwise. `resolve_spec` makes the choice before a
  job runs, so an archive records the kind it holds and is named after it (a spec's name "" is
  its kind).

`collapses` says whether adjacent equal tokens merge (VQ strings, and a segment decoder's):
stitching windows of a long utterance re-collapses after joining (pairalign/tokenizing/windows.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from pairalign.config import ConfigError, PathStr
from pairalign.strings.rule import VQStringConfig
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.tokenizer_kind import TokenizerKind

KINDS = tuple(k.value for k in TokenizerKind)
AUTO = "auto"  # a request for a kind: resolved by `choose_kind`
Timed = tuple[np.ndarray, np.ndarray]  # tokens (L,) int64, centre times (L,) seconds


@dataclass(frozen=True)
class TokenizerSpec:
    name: str  # what the archive and the figures call it, e.g. "pairalign"; "" -> its kind
    # pairalign, vq, dense or "auto" until `resolve_spec` (a string is checked and converted here)
    kind: TokenizerKind | str
    checkpoint: PathStr  # a refine/vq checkpoint directory, or a dense.pt file
    strings: VQStringConfig | None = None  # vq only: these string settings, not the checkpoint's

    def __post_init__(self) -> None:
        if self.kind != AUTO:
            try:
                kind = TokenizerKind.parse(self.kind, f"tokenizer {self.name!r}: kind")
            except ValueError as err:
                raise ConfigError(f"{err} or {AUTO!r}") from None
            object.__setattr__(self, "kind", kind)
        if self.strings is not None and self.kind not in (TokenizerKind.VQ, AUTO):
            raise ValueError(f"tokenizer {self.name!r}: strings= applies to kind vq only")


@dataclass(frozen=True)
class KindChoice:
    kind: TokenizerKind
    reason: str  # why auto chose it ("" when the kind was named)


def choose_kind(requested: TokenizerKind | str, tokenizer: Tokenizer) -> KindChoice:
    """The strings `requested` means for a model checkpoint's `tokenizer`. A named kind as it is
    (pairalign needs a decoder); auto: the kind its export records as measured best, else
    pairalign for a checkpoint with a decoder, vq otherwise. A ValueError says what is wrong."""
    has_decoder = tokenizer.decoder is not None
    if requested != AUTO:
        return KindChoice(TokenizerKind.of_model(requested, has_decoder), "")
    if tokenizer.default_kind is not None:
        note = f": {tokenizer.kind_note}" if tokenizer.kind_note else ""
        return KindChoice(tokenizer.default_kind, f"auto: the export's measured choice{note}")
    if has_decoder:
        return KindChoice(TokenizerKind.PAIRALIGN, "auto: the tokenizer has a decoder")
    return KindChoice(TokenizerKind.VQ, "auto: a stage-1 tokenizer, no decoder")


def resolve_spec(spec: TokenizerSpec) -> tuple[TokenizerSpec, KindChoice]:
    """`spec` with its kind chosen (auto: `choose_kind`, reading the checkpoint) and its name
    ("" -> the kind); a checkpoint that cannot be read raises `CheckpointError`."""
    if spec.kind == AUTO:
        choice = choose_kind(AUTO, Tokenizer.from_checkpoint(spec.checkpoint))
    else:
        choice = KindChoice(TokenizerKind.parse(spec.kind), "")
    return replace(spec, kind=choice.kind, name=spec.name or choice.kind.value), choice


class StringTokenizer(Protocol):
    name: str
    kind: TokenizerKind
    checkpoint_id: str
    vocab_size: int
    collapses: bool

    def __call__(self, waveforms, seconds: Sequence[float] | None = None) -> list[list[int]]: ...

    def timed(self, waveforms, seconds: Sequence[float] | None = None) -> list[Timed]: ...


class PairAlignStrings:
    kind = TokenizerKind.PAIRALIGN

    def __init__(self, tokenizer: Tokenizer, name: str = "pairalign") -> None:
        if tokenizer.decoder is None:
            raise ValueError(f"{tokenizer.checkpoint_id}: not a refine checkpoint (no decoder)")
        self.tokenizer, self.name = tokenizer, name
        # a decoder of segments (exact timing) never repeats a token within a window, so a repeat
        # made by stitching windows is one run cut at the seam and joins again; a free decoder's
        # repeats are its own
        self.collapses = bool(tokenizer.decoder.exact_timing)
        self.checkpoint_id, self.vocab_size = tokenizer.checkpoint_id, tokenizer.vocab_size

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        return self.tokenizer.pairalign_strings(waveforms, seconds)

    def timed(self, waveforms, seconds=None) -> list[Timed]:
        decoded = self.tokenizer.decode(waveforms, seconds)
        span = self.tokenizer.timing_seconds
        return [
            (np.asarray(s, dtype=np.int64), (t.numpy().astype(np.float64).mean(axis=1) * span))
            for s, t in zip(decoded.strings, decoded.timing, strict=True)
        ]


class VQStrings:
    kind, collapses = TokenizerKind.VQ, True

    def __init__(self, tokenizer: Tokenizer, name: str = "vq") -> None:
        self.tokenizer, self.name = tokenizer, name
        self.vocab_size = tokenizer.vq_vocab_size
        settings = tokenizer.strings  # other string settings make other strings: another id
        default = type(settings)()
        suffix = f"+min_run{settings.min_run_frames}+groups{settings.groups}"
        if (settings.rate, settings.reduce) != (default.rate, default.reduce):
            suffix += f"+rate{settings.rate:g}+{settings.reduce}"
        self.checkpoint_id = tokenizer.checkpoint_id + (suffix if settings != default else "")

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        return self.tokenizer.vq_strings(waveforms, seconds)

    def timed(self, waveforms, seconds=None) -> list[Timed]:
        """Each run's code, at the centre of its frames."""
        frame = self.tokenizer.config.frame_seconds
        return [
            (values.astype(np.int64), (starts + ends) / 2 * frame)
            for values, starts, ends in self.tokenizer.string_runs(waveforms, seconds)
        ]


def load_tokenizer(spec: TokenizerSpec, device: str = "cpu") -> StringTokenizer:
    """The strings `spec` names (kind auto chosen by `choose_kind`; name "" -> the kind)."""
    if spec.kind == TokenizerKind.DENSE:
        from pairalign.tokenizing.dense import DenseTokenizer

        dense = DenseTokenizer.load(spec.checkpoint, device=device)
        dense.name = spec.name or TokenizerKind.DENSE.value
        return dense
    tokenizer = Tokenizer.from_checkpoint(spec.checkpoint, device=device)
    kind = choose_kind(spec.kind, tokenizer).kind
    if spec.strings is not None:
        if kind != TokenizerKind.VQ:
            raise ValueError(
                f"tokenizer {spec.name!r}: strings= applies to kind vq only, and "
                f"kind {spec.kind} is {kind} here"
            )
        tokenizer = tokenizer.with_strings(spec.strings)
    return string_tokenizer(tokenizer, kind, spec.name)


def string_tokenizer(tokenizer: Tokenizer, kind: TokenizerKind, name: str = "") -> StringTokenizer:
    """The `kind` strings of a model checkpoint's `tokenizer` (pairalign or vq)."""
    if kind == TokenizerKind.PAIRALIGN:
        return PairAlignStrings(tokenizer, name or kind.value)
    return VQStrings(tokenizer, name or kind.value)
