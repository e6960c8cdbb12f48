"""The stage-2 (refine) objective's config, in sections: where the targets come from, when the
EMA teacher takes over, the terms' settings and their weights. (The free decoder's decoding
budget is its own setting, `decoder.free.slack`.)

Every weight in `TermWeights` is a term of `refine_terms.TERMS` (plus `stage1`, the stage-1
terms that anchor a VQ model that trains); weight 0 switches a term off."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pairalign.models.decoding import DecodingConfig
from pairalign.strings.rule import VQStringConfig, scheme_of
from pairalign.units import Seconds


@dataclass(frozen=True)
class TargetConfig:
    rate: float = 12.5  # tokens per second of speech (VQ-derived targets, length term, budget)
    # VQ-derived targets cut to the rate by this scheme of the VQ-string rule (a key of
    # `pairalign.strings.SCHEMES`): shortest runs merged, evenly spaced runs, or a
    # duration-penalised segmentation of the frame codes' costs (merge, index, dpdp)
    scheme: str = "merge"
    reduce: bool = True  # False: VQ-derived targets keep every run (no rate reduction)
    view: Literal["cross", "same"] = "cross"  # y_B | c_A and y_A | c_B, or y_A | c_A (a copy)
    source: Literal["train", "eval"] = "train"  # VQ-derived targets' codes: which pass
    corruption: float = 0.15  # fraction of teacher-forced input tokens corrupted (0: off)
    # consensus targets (issue 28): each view's VQ-derived target keeps only the runs the other
    # view's codes share over the aligned frames (DTW-aligned for a cross-voice pair), the rest
    # merged into their neighbours, then cut to the rate (scheme merge or index)
    consensus: bool = False
    consensus_threshold: float = 0.5  # share of a run's aligned frames that must agree

    def __post_init__(self) -> None:
        scheme_of(self.scheme, "scheme")

    @property
    def vq_rate(self) -> float:
        """The rate VQ-derived targets are cut to: `rate`, or 0 (every run) without `reduce`."""
        return self.rate if self.reduce else 0.0

    def string_config(self, min_run_frames: int = 1) -> VQStringConfig:
        """The VQ-string settings of the VQ-derived targets (the training targets and the collapse
        watch): this scheme at `vq_rate`, runs shorter than the model's `min_run_frames` merged
        first (schemes that merge runs)."""
        return VQStringConfig(min_run_frames=min_run_frames, rate=self.vq_rate, reduce=self.scheme)


@dataclass(frozen=True)
class TeacherConfig:
    start: int = 150  # steps of VQ-derived targets before the EMA teacher takes over
    ramp: int = 150  # steps over which teacher targets replace VQ-derived ones
    decay: float = 0.99
    # teacher targets only while the collapse watch finds the teacher's strings at least as good
    # (dev MAP) as the VQ-derived targets; judged at each checkpoint (needs watch clips)
    gate: bool = True


@dataclass(frozen=True)
class TermSettings:
    bypass_margin: float = 1.0  # nats per token
    contrast_negatives: int = 3
    contrast_temperature: float = 0.1


@dataclass(frozen=True)
class TermWeights:
    cross: float = 1.0  # cross-paired teacher forcing
    bypass: float = 0.5  # anti-bypass hinge
    contrast: float = 1.0  # likelihood contrast
    length: float = 1.0  # length control toward targets.rate
    timing: float = 0.5  # timing head
    align: float = 1.0  # guided attention: token i reads the frames of its run
    stage1: float = 0.5  # stage-1 terms anchoring a VQ model that trains


@dataclass(frozen=True)
class RefineObjective:
    targets: TargetConfig = field(default_factory=TargetConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    terms: TermSettings = field(default_factory=TermSettings)
    weights: TermWeights = field(default_factory=TermWeights)
    freeze_vq: bool = False  # stage-1 model frozen (eval mode, no grad): decoder only

    def decoding_config(self, clip_seconds: Seconds) -> DecodingConfig:
        """How the model decodes (saved in its config): the targets' rate, timing fractions of the
        training clip."""
        return DecodingConfig(rate=self.targets.rate, timing_seconds=clip_seconds)
