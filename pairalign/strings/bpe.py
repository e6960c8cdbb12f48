"""Byte-pair encoding (BPE) of token strings: the usual compression of discrete speech units, the
baseline a learned tokenizer must beat at its token rate.

    merges = learn_merges(train_strings, vocab_size=64, max_merges=4000)  # [(a, b), ...]
    count = merges_for_rate(strings, seconds, merges, rate=8.0, vocab_size=64)
    short = apply_merges_all(strings, merges, count, vocab_size=64)

`learn_merges` counts the adjacent pairs of run-collapsed code strings and replaces the most
frequent pair everywhere by a new token, again and again: merge i makes token `vocab_size + i`.
Ties go to the smallest pair (a, b); a pair seen only once is not merged (it is one clip's
accident, not a unit), so fewer than `max_merges` can come back. Occurrences are counted as they
are replaced: left to right, without overlap ((a, a, a) holds one (a, a)).

`apply_merges` is standard BPE encoding: the first `count` merges in their order. Encoding one
string merges, again and again, its adjacent pair of lowest merge rank (every occurrence, left to
right), which gives what applying the merges one after another gives: a merge only makes pairs
that hold its new token, and merges of that token come later. Each merge shortens a string or
leaves it, so fewer tokens per second need more merges: `merges_for_rate` finds the fewest by
bisection. A merged token spans the union of its parts' spans (`merge_runs`). Pure python.

`BPEMerges` is a learned table as the VQ-string rule's `bpe` scheme reads it (`strings/rule.py`,
the `StringContext` extra "bpe"): the clip's run-collapsed codes encoded with a fixed number of
merges (a vocabulary chosen on a corpus, e.g. by `merges_for_rate`), or, without one, with the
fewest merges that bring the clip to its own budget (`max(1, round(seconds x rate))` tokens, as
the other schemes cut it; every merge at a rate <= 0).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from pairalign.strings.runs import Runs, run_budget

Pair = tuple[int, int]


def learn_merges(strings: Sequence[Sequence[int]], vocab_size: int, max_merges: int) -> list[Pair]:
    """Up to `max_merges` merges learned on `strings` (run-collapsed codes below `vocab_size`),
    most frequent pair first (see the module docstring)."""
    seqs = [list(s) for s in strings]
    counts: Counter[Pair] = Counter()
    where: dict[Pair, set[int]] = {}  # the strings that hold each pair
    for i, seq in enumerate(seqs):
        for pair, n in _pair_counts(seq).items():
            counts[pair] += n
            where.setdefault(pair, set()).add(i)
    heap = [(-n, pair) for pair, n in counts.items()]  # stale entries are skipped when popped
    heapq.heapify(heap)
    merges: list[Pair] = []
    while heap and len(merges) < max_merges:
        negative, pair = heapq.heappop(heap)
        if -negative != counts.get(pair, 0):
            continue
        if -negative < 2:
            break
        new = vocab_size + len(merges)
        merges.append(pair)
        changed: set[Pair] = set()
        for i in where.pop(pair):
            before = _pair_counts(seqs[i])
            seqs[i] = _merge(seqs[i], pair, new)
            after = _pair_counts(seqs[i])
            for p in before.keys() | after.keys():
                if before[p] != after[p]:
                    counts[p] += after[p] - before[p]
                    changed.add(p)
                if after[p]:
                    where.setdefault(p, set()).add(i)
                elif p in where:
                    where[p].discard(i)
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
    return merges


def apply_merges(
    string: Sequence[int], merges: Sequence[Pair], count: int, vocab_size: int
) -> list[int]:
    """`string` encoded with the first `count` of `merges` (merge i makes `vocab_size + i`)."""
    return _encode(list(string), _ranks(merges, count), vocab_size)[0]


def apply_merges_all(
    strings: Sequence[Sequence[int]], merges: Sequence[Pair], count: int, vocab_size: int
) -> list[list[int]]:
    """`apply_merges` of each string."""
    ranks = _ranks(merges, count)
    return [_encode(list(s), ranks, vocab_size)[0] for s in strings]


def merge_runs(runs: Runs, merges: Sequence[Pair], count: int, vocab_size: int) -> Runs:
    """`apply_merges` of the runs' values; a merged token starts where its first part starts and
    ends where its last part ends."""
    values, starts, ends = runs
    spans = list(zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), strict=True))
    merged, spans = _encode(np.asarray(values).tolist(), _ranks(merges, count), vocab_size, spans)
    bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    return np.asarray(merged, dtype=np.int64), bounds[:, 0], bounds[:, 1]


def merges_for_rate(
    strings: Sequence[Sequence[int]],
    seconds: Sequence[float],
    merges: Sequence[Pair],
    rate: float,
    vocab_size: int,
) -> int:
    """The fewest of `merges` after which the strings hold at most `rate` tokens per second in
    all (total tokens / total seconds); all of them when even that is too many."""
    total = float(np.sum(seconds))

    def fits(count: int) -> bool:
        tokens = sum(map(len, apply_merges_all(strings, merges, count, vocab_size)))
        return tokens <= rate * total

    return _fewest(fits, len(merges))


@dataclass(frozen=True)
class BPEMerges:
    """Learned merges as the `bpe` scheme of the VQ-string rule reads them (see the module
    docstring): merge i makes token `vocab_size + i`."""

    merges: tuple[Pair, ...]
    vocab_size: int  # the codes the merges were learned on
    count: int | None = None  # merges applied to every clip; None: the fewest that fit its budget

    def __post_init__(self) -> None:
        _ranks(self.merges, self.count or 0)  # a count beyond the merges is refused here

    def runs(self, runs: Runs, seconds: float, rate: float) -> Runs:
        """The run-collapsed `runs` of one clip of `seconds` encoded (`merge_runs`)."""
        count = self.count
        if count is None and rate <= 0:
            count = len(self.merges)
        elif count is None:
            values, budget = np.asarray(runs[0]).tolist(), run_budget(seconds, rate)
            count = _fewest(
                lambda n: len(apply_merges(values, self.merges, n, self.vocab_size)) <= budget,
                len(self.merges),
            )
        return merge_runs(runs, self.merges, count, self.vocab_size)


def _fewest(fits: Callable[[int], bool], most: int) -> int:
    """The least count in [0, most] that `fits` (monotone: more merges, fewer tokens); `most`
    when none does."""
    lo, hi = 0, most  # the answer is in [lo, hi]
    if fits(lo):
        return lo
    while hi - lo > 1:  # fits(hi) or hi = most; not fits(lo)
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _pair_counts(seq: Sequence[int]) -> Counter[Pair]:
    """The adjacent pairs of `seq` as merging replaces them: (a, a) not counted twice in a row."""
    counts: Counter[Pair] = Counter()
    taken = -1  # the position of the second token of the last (a, a) counted
    for i in range(len(seq) - 1):
        a, b = seq[i], seq[i + 1]
        if a == b:
            if taken == i:
                continue
            taken = i + 1
        counts[a, b] += 1
    return counts


def _merge(seq: list[int], pair: Pair, new: int) -> list[int]:
    """Every occurrence of `pair` in `seq`, left to right without overlap, replaced by `new`."""
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def _ranks(merges: Sequence[Pair], count: int) -> dict[Pair, int]:
    if not 0 <= count <= len(merges):
        raise ValueError(f"count {count}: expected 0..{len(merges)} (the merges given)")
    return {(int(a), int(b)): i for i, (a, b) in enumerate(merges[:count])}


def _encode(
    seq: list[int],
    ranks: dict[Pair, int],
    vocab_size: int,
    spans: list[tuple[int, int]] | None = None,
) -> tuple[list[int], list[tuple[int, int]]]:
    """`seq` with its lowest-ranked adjacent pair merged until none of `ranks` is left, and the
    spans of the merged tokens (the union of their parts') when `spans` are given."""
    spans = list(spans) if spans is not None else []
    while len(seq) > 1:
        found = [ranks.get(pair, -1) for pair in pairwise(seq)]
        rank = min((r for r in found if r >= 0), default=-1)
        if rank < 0:
            break
        out, out_spans, i = [], [], 0
        while i < len(seq):
            if i + 1 < len(seq) and found[i] == rank:
                out.append(vocab_size + rank)
                if spans:
                    out_spans.append((spans[i][0], spans[i + 1][1]))
                i += 2
            else:
                out.append(seq[i])
                if spans:
                    out_spans.append(spans[i])
                i += 1
        seq, spans = out, out_spans
    return seq, spans
