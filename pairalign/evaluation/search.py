"""Nearest token strings by normalised edit distance: a batched distance matrix and an exact top-k
index that computes edit distances only where a cheap lower bound cannot rule a string out.

Distances are `pairalign.strings.distance.normalized_edit_distance` (Levenshtein / longer
length, 0 for two empty strings) as float32; rapidfuzz computes them on every core, over strings
encoded as `str` (one code point per token), which is about twice as fast as handing it lists of
ints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

TokenStrings = Sequence[Sequence[int]]
# (Q, N) boolean mask, or per query the archive indices it must never get back (e.g. itself).
Exclusion = np.ndarray | Sequence[Iterable[int]]

_MAX_TOKEN = 0xD7FF  # one code point per token; the surrogates start at 0xD800
_QUERY_BLOCK = 256  # queries handled together: (block, N) float32 bounds in memory


def encode(tokens: Sequence[int]) -> str:
    """[3, 200, 7] -> '\\x03\\xc8\\x07': a token string as text for rapidfuzz, one character a
    token."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.size and (tokens.min() < 0 or tokens.max() > _MAX_TOKEN):
        raise ValueError(
            f"tokens must lie in [0, {_MAX_TOKEN}], got {tokens.min()}..{tokens.max()}"
        )
    return "".join(map(chr, tokens.tolist()))


def distance_matrix(
    queries: TokenStrings, archive: TokenStrings, *, workers: int = -1
) -> np.ndarray:
    """(Q, N) float32 normalised edit distances, all pairs, on `workers` threads (-1: all cores)."""
    return process.cdist(
        [encode(s) for s in queries],
        [encode(s) for s in archive],
        scorer=Levenshtein.normalized_distance,
        dtype=np.float32,
        workers=workers,
    )


@dataclass(frozen=True)
class SearchResult:
    """Top-k per query, nearest first, ties by archive index; rows with fewer than k candidates
    are padded with index -1 and distance inf."""

    indices: np.ndarray  # (Q, k) int64
    distances: np.ndarray  # (Q, k) float32
    # "search/computed_fraction": share of the Q x N exact distances that were computed
    stats: dict[str, float]


class StringIndex:
    """Exact top-k search by normalised edit distance, pruned by a bag-of-tokens lower bound.

    For strings a, b with token histograms ha, hb: ed(a, b) >= max(la, lb) - sum_c min(ha[c], hb[c])
    (an alignment keeps at most min(ha[c], hb[c]) copies of token c unchanged, and every other
    position of the longer string costs an edit), so bound(a, b) = that / max(la, lb) <= d(a, b).
    Why pruning never drops a true top-k result: the k-th best distance tau of any k computed
    candidates is >= the true k-th best, so every true top-k string (ties included) has
    bound <= d <= tau and gets its exact distance computed. (float32 rounding is monotone, so the
    inequality survives it.)
    """

    def __init__(self, strings: TokenStrings, *, workers: int = -1, first_chunk: int = 32) -> None:
        self.strings = [encode(s) for s in strings]
        self.workers = workers
        self.first_chunk = first_chunk  # candidates (at least k) whose distances set tau
        self.lengths = np.array([len(s) for s in self.strings], dtype=np.int32)  # (N,)
        self.counts = _token_counts(strings)  # (V, N): token-major, a query gathers its rows
        self.present = (self.counts > 0).view(np.uint8)  # (V, N)

    def __len__(self) -> int:
        return len(self.strings)

    def lower_bounds(self, query: Sequence[int]) -> np.ndarray:
        """(N,) float32 bag-of-tokens bound on the normalised distance of `query` to each string."""
        tokens, counts = np.unique(np.asarray(query, dtype=np.int64), return_counts=True)
        known = tokens < len(self.counts)  # a token no archive string has shares nothing
        tokens, counts = tokens[known], counts[known]
        # shared <= len(query), so a query under 256 tokens sums in uint8 (4x faster than int32)
        total = np.uint8 if len(query) < 256 else np.int32
        once = tokens[counts == 1]  # most tokens: min(h, 1) is presence, no minimum needed
        shared = self.present[once].sum(axis=0, dtype=total)  # (N,)
        if len(once) < len(tokens):
            rows = self.counts[tokens[counts > 1]]  # (T, N)
            cap = np.minimum(counts[counts > 1], np.iinfo(rows.dtype).max).astype(rows.dtype)
            shared += np.minimum(rows, cap[:, None]).sum(axis=0, dtype=total)
        longest = np.maximum(self.lengths, len(query))
        bound = np.zeros(len(longest))  # 0 for two empty strings
        np.divide(longest - shared, longest, out=bound, where=longest > 0)
        return bound.astype(np.float32)  # float64 then float32, as the exact distances are

    def search(
        self, queries: TokenStrings, k: int, *, exclude: Exclusion | None = None
    ) -> SearchResult:
        """Exact top-k (identical to `brute_force`), computing exact distances only for the
        `first_chunk` lowest-bound candidates and then those whose bound is <= their k-th best."""
        _check_k(k)
        encoded = [encode(q) for q in queries]
        out_i, out_d, computed = [], [], 0
        if len(self) == 0:
            return _result([], [], 0, 0, k, len(queries))
        for start in range(0, len(queries), _QUERY_BLOCK):
            block = range(start, min(start + _QUERY_BLOCK, len(queries)))
            bounds = np.stack([self.lower_bounds(queries[q]) for q in block])  # (B, N)
            excluded = _exclusion_mask(exclude, block, len(self))
            bounds[excluded] = np.inf
            # 1. exact distances for the lowest bounds: the k-th best of them is tau
            chunk = min(len(self), max(k, self.first_chunk))
            cols = np.argpartition(bounds, chunk - 1, axis=1)[:, :chunk]  # (B, chunk)
            rows = np.repeat(np.arange(len(block)), chunk)
            cols = cols.ravel()
            keep = ~excluded[rows, cols]
            rows, cols = rows[keep], cols[keep]
            dist = self._pair_distances(encoded, block.start, rows, cols)
            tau = _kth_smallest(rows, dist, len(block), k)  # (B,)
            # 2. exact distances for every other candidate the bound cannot rule out
            todo = (bounds <= tau[:, None]) & ~excluded
            todo[rows, cols] = False
            more_rows, more_cols = np.nonzero(todo)
            more = self._pair_distances(encoded, block.start, more_rows, more_cols)
            rows = np.concatenate([rows, more_rows])
            cols = np.concatenate([cols, more_cols])
            dist = np.concatenate([dist, more])
            computed += len(dist)
            indices, distances = _top_k(rows, cols, dist, len(block), k)
            out_i.append(indices)
            out_d.append(distances)
        return _result(out_i, out_d, computed, len(queries) * len(self), k, len(queries))

    def brute_force(
        self, queries: TokenStrings, k: int, *, exclude: Exclusion | None = None
    ) -> SearchResult:
        """Reference top-k from the full distance matrix (rapidfuzz cdist + a partition)."""
        _check_k(k)
        out_i, out_d = [], []
        if len(self) == 0:
            return _result([], [], 0, 0, k, len(queries))
        for start in range(0, len(queries), _QUERY_BLOCK):
            block = range(start, min(start + _QUERY_BLOCK, len(queries)))
            dist = process.cdist(
                [encode(queries[q]) for q in block],
                self.strings,
                scorer=Levenshtein.normalized_distance,
                dtype=np.float32,
                workers=self.workers,
            )
            excluded = _exclusion_mask(exclude, block, len(self))
            dist[excluded] = np.inf
            kth = min(k, len(self)) - 1
            tau = np.partition(dist, kth, axis=1)[:, kth]
            rows, cols = np.nonzero((dist <= tau[:, None]) & ~excluded)  # the k best and ties
            indices, distances = _top_k(rows, cols, dist[rows, cols], len(block), k)
            out_i.append(indices)
            out_d.append(distances)
        pairs = len(queries) * len(self)
        return _result(out_i, out_d, pairs, pairs, k, len(queries))

    def _pair_distances(
        self, encoded: list[str], offset: int, rows: np.ndarray, cols: np.ndarray
    ) -> np.ndarray:
        """Distances of the (query offset + rows[i], archive cols[i]) pairs, on every core."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return process.cpdist(
            [encoded[offset + r] for r in rows.tolist()],
            [self.strings[c] for c in cols.tolist()],
            scorer=Levenshtein.normalized_distance,
            dtype=np.float32,
            workers=self.workers,
        )


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _token_counts(strings: TokenStrings) -> np.ndarray:
    """(V, N) histogram of each string's tokens, in the smallest unsigned int that holds them."""
    n = len(strings)
    flat = np.concatenate(
        [np.asarray(s, dtype=np.int64) for s in strings] + [np.zeros(0, np.int64)]
    )
    owner = np.repeat(np.arange(n), [len(s) for s in strings])
    vocab = int(flat.max()) + 1 if flat.size else 0
    counts = np.bincount(flat * n + owner, minlength=vocab * n).reshape(vocab, n)
    top = counts.max() if counts.size else 0
    return counts.astype(np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.uint32)


def _exclusion_mask(exclude: Exclusion | None, block: range, n: int) -> np.ndarray:
    """(B, N) True where query block[i] must not get archive string j back."""
    if exclude is None:
        return np.zeros((len(block), n), dtype=bool)
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        return exclude[block.start : block.stop].copy()
    mask = np.zeros((len(block), n), dtype=bool)
    for i, q in enumerate(block):
        mask[i, list(exclude[q])] = True
    return mask


def _kth_smallest(rows: np.ndarray, dist: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """(n_rows,) k-th smallest of each row's distances; inf where a row has fewer than k."""
    order = np.lexsort((dist, rows))
    rows, dist = rows[order], dist[order]
    start = np.searchsorted(rows, np.arange(n_rows))
    end = np.searchsorted(rows, np.arange(n_rows), side="right")
    tau = np.full(n_rows, np.inf, dtype=np.float32)
    full = end - start >= k
    tau[full] = dist[start[full] + k - 1]
    return tau


def _top_k(
    rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, n_rows: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest of the given (row, col, distance) triples per row, ties by column index."""
    order = np.lexsort((cols, dist, rows))
    rows, cols, dist = rows[order], cols[order], dist[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within its row
    keep = rank < k
    indices = np.full((n_rows, k), -1, dtype=np.int64)
    distances = np.full((n_rows, k), np.inf, dtype=np.float32)
    indices[rows[keep], rank[keep]] = cols[keep]
    distances[rows[keep], rank[keep]] = dist[keep]
    return indices, distances


def _result(
    indices: list[np.ndarray],
    distances: list[np.ndarray],
    computed: int,
    pairs: int,
    k: int,
    n_queries: int,
) -> SearchResult:
    """Blocks stacked; no blocks (no queries or an empty archive): all padding."""
    if not indices:
        indices = [np.full((n_queries, k), -1, np.int64)]
        distances = [np.full((n_queries, k), np.inf, np.float32)]
    return SearchResult(
        indices=np.concatenate(indices),
        distances=np.concatenate(distances),
        stats={"search/computed_fraction": computed / pairs if pairs else 0.0},
    )
