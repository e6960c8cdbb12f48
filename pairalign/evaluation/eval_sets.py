"""Extra evaluation sets: corpora named in a config and measured beside the built-in test split.

    sets = (EvalSetSpec(name="vcc", source="vcc/manifest.parquet", split="test"),)
    clips = load_eval_set(sets[0], views, view_clips=200)      # a ClipSet named "vcc"
    eval_set_figures({"vq": VQStrings(tok)}, clips)            # {"vcc/vq/map": ..., ...}

A set is a named `CorpusSpec` (`pairalign.data.corpora.spec`): any manifest or corpus directory
(`kind: auto` recognises a CSV, a Parquet manifest, TIMIT, LibriSpeech, a folder of recordings);
`split` and `half` choose its clips (`half`: one half of the split's sentences,
`pairalign.data.splits.half_rows`, so a design is selected on one half and reported on the other).
Every figure is `measure_tokenizer`'s: retrieval by normalised edit distance with the speaker's own
recordings left out, chance MAP, cross-view consistency, token rate. Long clips are tokenized in
windows, as the archive job does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pairalign.config import ConfigError
from pairalign.data.corpora.spec import CorpusSpec
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet, load_clips, measure_tokenizer
from pairalign.tokenizing.kinds import StringTokenizer


@dataclass(frozen=True)
class EvalSetSpec(CorpusSpec):
    """A corpus measured as an evaluation set (`<name>/<tokenizer>/...`)."""

    split: str = "test"  # "": every row
    name: str = ""  # the figures' prefix, e.g. "vcc" -> vcc/<tokenizer>/map

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError(f"eval set {self.source}: give it a name (the figures' prefix)")


def load_eval_set(
    spec: EvalSetSpec,
    views: ViewConfig,
    *,
    view_clips: int,
    window_seconds: float = 0.0,
    overlap_seconds: float = 1.0,
    batch_size: int = 32,
) -> ClipSet:
    """The clean clips of `spec` (named `spec.name`) and the fixed views of its first
    `view_clips`; clips longer than the window are tokenized by overlapping windows."""
    rows = spec.select(spec.read(), f"eval set {spec.name!r}")
    return load_clips(
        rows,
        views,
        name=spec.name,
        view_clips=view_clips,
        batch_size=batch_size,
        window_seconds=window_seconds,
        overlap_seconds=overlap_seconds,
    )


def eval_set_figures(
    tokenizers: Mapping[str, StringTokenizer],
    clips: ClipSet,
    *,
    ks: Sequence[int] = (1, 5, 10),
    batch_size: int = 32,
) -> dict[str, float]:
    """Every figure of each named tokenizer on `clips`, keys `<set>/<tokenizer>/<figure>`."""
    figures = {f"{clips.name}/clips": float(len(clips.ids))}
    for name, tokenizer in tokenizers.items():
        figures |= measure_tokenizer(
            tokenizer, clips, f"{clips.name}/{name}", ks=ks, batch_size=batch_size
        )
    return figures


def checkpoint_eval_sets(
    checkpoint: str,
    specs: Sequence[EvalSetSpec],
    views: ViewConfig,
    *,
    view_clips: int,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """A training checkpoint's `checkpoint_figures` on each set, keys `<set>/vq/...` (and
    `<set>/pairalign/...` for a stage-2 checkpoint): the stages' end-of-run figures."""
    from pairalign.evaluation.figures import checkpoint_figures

    figures: dict[str, float] = {}
    for spec in specs:
        clips = load_eval_set(spec, views, view_clips=view_clips)
        found = checkpoint_figures(checkpoint, clips, ks=ks)
        prefix = f"{spec.name}/"
        figures |= {k if k.startswith(prefix) else prefix + k: v for k, v in found.items()}
    return figures
