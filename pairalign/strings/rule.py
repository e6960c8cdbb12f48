"""The VQ-string rule, written once: how one clip's frame codes become the runs of a VQ string.

    runs = string_runs(StringContext(codes, seconds=2.0, costs=costs), VQStringConfig(rate=8.0))

A `VQStringConfig` names a scheme (`reduce`): a key of `SCHEMES`, whose function turns a
`StringContext` (the clip's frame codes and what else is known of it) into runs (values, starts,
ends in frames). Each scheme declares which inputs of the context it reads besides the codes
(`needs`), so a missing one is an error naming the scheme. Every user goes through `string_runs`:
the `Tokenizer`'s VQ strings (and so the collapse watch), the stage-2 VQ-derived targets
(`TargetConfig.string_config`), the segment decoder's prior and the benchmarks. A new scheme is
one function and one key:

    @scheme("every_other")
    def every_other(context: StringContext, config: VQStringConfig) -> Runs: ...

- `merge` / `index`: codes grouped (`groups` > 0, through the context's `code_map`), runs shorter
  than `min_run_frames` merged into a neighbour, then cut down to `rate` by `reduce_runs`.
- `dpdp`: a duration-penalised segmentation of the frames' code costs within the rate's budget
  (`dpdp.budget_runs`); it replaces the short-run merge (`min_run_frames` not applied) and works
  on codes, not groups.
- `bpe`: byte-pair encoding of the runs (after the short-run merge; `min_run_frames=1`: the
  run-collapsed codes) with merges learned by frequency on a training corpus' strings, the
  context extra "bpe" (a `bpe.BPEMerges`): its fixed count of merges, or the fewest that meet the
  clip's budget (`bpe.BPEMerges.runs`). Codes, not groups: the merges were learned on codes.

A `rate` <= 0 keeps every run (after the merge); a `rate` > 0 needs the clip's `seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from pairalign.strings.bpe import BPEMerges
from pairalign.strings.dpdp import budget_runs
from pairalign.strings.runs import Runs, merge_short_runs, reduce_runs, runs


@dataclass(frozen=True)
class StringContext:
    """What is known of one clip when its VQ string is made. A scheme names what it reads
    (`Scheme.needs`): a field here, or a key of `extras` for inputs only it knows (a fitted table
    such as BPE merges; a partner rendition with its time map, for consensus targets)."""

    codes: np.ndarray  # (T,) each frame's nearest code, trimmed to the clip's real audio
    seconds: float | None = None  # real audio of the clip: the rate's budget
    costs: np.ndarray | None = None  # (T, K) 1 - cosine similarity of each frame and each code
    code_map: np.ndarray | None = None  # (K,) code -> group, for `VQStringConfig.groups`
    extras: Mapping[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """Whether input `name` (a field, or a key of `extras`) is given."""
        if name in _FIELDS:
            return getattr(self, name) is not None
        return self.extras.get(name) is not None


_FIELDS = frozenset(f.name for f in fields(StringContext)) - {"extras"}


def batch_contexts(
    codes: np.ndarray,
    mask: np.ndarray,
    seconds: Sequence[float] | None = None,
    costs: np.ndarray | None = None,
    code_map: np.ndarray | None = None,
) -> list[StringContext]:
    """One `StringContext` per row of a batch of VQ output: its codes (and costs) trimmed to its
    valid frames, its seconds, the batch's `code_map`. `VQModel.string_contexts` calls it with
    what a `VQStringConfig` needs. codes (B, T), mask (B, T) bool, costs (B, T, K)."""
    return [
        StringContext(
            row[valid],
            None if seconds is None else float(seconds[i]),
            None if costs is None else costs[i][valid],
            code_map,
        )
        for i, (row, valid) in enumerate(zip(codes, mask, strict=True))
    ]


@dataclass(frozen=True)
class VQStringConfig:
    """How frame codes become a VQ string (stored with a checkpoint, under `vq_strings`).

    `reduce="dpdp"` segments the frames' code costs (1 - cosine similarity) directly, with the
    per-segment penalty that fits `rate` (`dpdp.budget_runs`): the DP replaces the short-run
    merge, so `min_run_frames` is not applied, and it works on codes, not groups."""

    min_run_frames: int = 1  # runs shorter than this join a neighbour before runs collapse
    groups: int = 0  # > 0: codes clustered into this many groups (k-means on the codebook)
    rate: float = 0.0  # > 0: at most max(1, round(seconds x rate)) tokens (after the above)
    # how: a key of SCHEMES (merge the shortest runs, keep evenly spaced run indices, segment the
    # frame costs, or byte-pair encode the runs: merge, index, dpdp, bpe)
    reduce: str = "merge"

    def __post_init__(self) -> None:
        found = scheme_of(self.reduce, "reduce")
        if self.groups and not found.groups:
            raise ValueError(
                f"reduce={self.reduce!r} segments codes, not groups: "
                f"groups={self.groups} must be 0 with it"
            )

    @property
    def needs(self) -> frozenset[str]:
        """The context inputs these strings read besides the codes."""
        extra = {"seconds"} if self.rate > 0 else set()
        if self.groups:
            extra.add("code_map")
        return scheme_of(self.reduce, "reduce").needs | extra


@dataclass(frozen=True)
class Scheme:
    """One way of cutting a clip's frames into runs."""

    rule: Callable[[StringContext, VQStringConfig], Runs]
    needs: frozenset[str] = frozenset()  # context inputs it reads besides the codes
    groups: bool = True  # it reads grouped codes: `VQStringConfig.groups` may be set with it


SCHEMES: dict[str, Scheme] = {}  # VQStringConfig.reduce and TargetConfig.scheme are its keys


def scheme(key: str, *, needs: Iterable[str] = (), groups: bool = True):
    """Register the decorated function as scheme `key`."""

    def register(rule: Callable[[StringContext, VQStringConfig], Runs]):
        SCHEMES[key] = Scheme(rule, frozenset(needs), groups)
        return rule

    return register


def scheme_of(key: str, what: str = "scheme") -> Scheme:
    """The scheme `key`; an unknown key is a ValueError naming the known ones."""
    found = SCHEMES.get(key)
    if found is None:
        raise ValueError(
            f"{what}={key!r}: expected one of {sorted(SCHEMES)} "
            "(the schemes of pairalign.strings.rule.SCHEMES)"
        )
    return found


def string_runs(context: StringContext, config: VQStringConfig) -> Runs:
    """The runs (values, starts, ends in frames, ends exclusive) of one clip's VQ string under
    `config`; an input the scheme needs and the context lacks is a ValueError naming both."""
    missing = sorted(n for n in config.needs if not context.has(n))
    if missing:
        raise ValueError(
            f"scheme {config.reduce!r} needs {', '.join(missing)} "
            f"(VQStringConfig {config}): not in the string context"
        )
    return scheme_of(config.reduce, "reduce").rule(context, config)


def merged_codes(context: StringContext, config: VQStringConfig) -> np.ndarray:
    """The frame codes as the run-based schemes see them: grouped (`groups`), runs shorter than
    `min_run_frames` merged into a neighbour.  # (T,)"""
    codes = context.codes
    if config.groups:
        codes = context.code_map[codes]
    return merge_short_runs(codes, config.min_run_frames)


def _seconds(context: StringContext) -> float:
    """The clip's seconds; without them only a rate <= 0 is asked for, which ignores them."""
    return 0.0 if context.seconds is None else context.seconds


@scheme("merge")
def _merge(context: StringContext, config: VQStringConfig) -> Runs:
    return reduce_runs(merged_codes(context, config), _seconds(context), config.rate, "merge")


@scheme("index")
def _index(context: StringContext, config: VQStringConfig) -> Runs:
    return reduce_runs(merged_codes(context, config), _seconds(context), config.rate, "index")


@scheme("dpdp", needs={"costs"}, groups=False)
def _dpdp(context: StringContext, config: VQStringConfig) -> Runs:
    return budget_runs(context.costs, _seconds(context), config.rate)


@scheme("bpe", needs={"bpe"}, groups=False)
def _bpe(context: StringContext, config: VQStringConfig) -> Runs:
    table: BPEMerges = context.extras["bpe"]
    return table.runs(runs(merged_codes(context, config)), _seconds(context), config.rate)
