"""TIMIT-style retrieval figures: every rendition queries the archive, ranked by distance.

A candidate is relevant iff it has the query's content id (the same sentence). Candidates by the
query's own speaker (or voice), the query itself included, are left out of its ranking: the same
sentence by the same voice is not a retrieval. Ties in distance are ranked by archive index
(a stable sort), so a tie neither helps nor hurts on average only if the archive order is unrelated
to content. Queries with no relevant candidate left are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pairalign.evaluation.search import distance_matrix

_QUERY_BLOCK = 256  # rows ranked together: a few (block, N) arrays in memory


def retrieval_metrics(
    distances: np.ndarray,
    query_content: Sequence,
    archive_content: Sequence,
    query_speaker: Sequence,
    archive_speaker: Sequence,
    prefix: str,
    ks: Sequence[int] = (1, 5, 10),
    query_ids: Sequence | None = None,
    archive_ids: Sequence | None = None,
) -> dict[str, float]:
    """MAP, MRR, precision at each k (hits in the top k / k) and the MAP of a random ranking, over
    queries with at least one relevant candidate. `distances` is (Q, N); ids, when given, also
    leave out the candidate that is the query itself."""
    distances = np.asarray(distances)
    q_content, a_content = np.asarray(query_content), np.asarray(archive_content)
    q_speaker, a_speaker = np.asarray(query_speaker), np.asarray(archive_speaker)
    if distances.shape != (len(q_content), len(a_content)):
        raise ValueError(
            f"distances {distances.shape} for {len(q_content)} queries x "
            f"{len(a_content)} candidates"
        )
    ap, rr, chance, hits_at = [], [], [], {k: [] for k in ks}
    for start in range(0, len(q_content), _QUERY_BLOCK):
        rows = slice(start, start + _QUERY_BLOCK)
        left_out = q_speaker[rows, None] == a_speaker[None, :]  # (B, N)
        if query_ids is not None and archive_ids is not None:
            left_out |= np.asarray(query_ids)[rows, None] == np.asarray(archive_ids)[None, :]
        relevant = (q_content[rows, None] == a_content[None, :]) & ~left_out
        # left-out candidates last, then by distance, then by archive index (lexsort is stable)
        order = np.lexsort((distances[rows], left_out), axis=-1)
        hits = np.take_along_axis(relevant, order, axis=1)  # (B, N) relevant at rank r + 1
        n_relevant = hits.sum(axis=1)
        answered = n_relevant > 0
        hits, n_relevant = hits[answered], n_relevant[answered]
        found = np.cumsum(hits, axis=1)  # relevant within the top r + 1
        rank = np.arange(1, hits.shape[1] + 1)
        ap.append((hits * found / rank).sum(axis=1) / n_relevant)
        rr.append(1.0 / (hits.argmax(axis=1) + 1))
        for k in ks:
            hits_at[k].append(found[:, min(k, hits.shape[1]) - 1] / k)
        n_candidates = (~left_out[answered]).sum(axis=1)
        chance.append(chance_average_precision(n_relevant, n_candidates))
    n_answered = sum(len(a) for a in ap)
    return {
        f"{prefix}/map": _mean(ap),
        f"{prefix}/mrr": _mean(rr),
        **{f"{prefix}/precision_at_{k}": _mean(v) for k, v in hits_at.items()},
        f"{prefix}/chance_map": _mean(chance),
        f"{prefix}/queries": float(n_answered),
        f"{prefix}/queries_skipped": float(len(q_content) - n_answered),
    }


def chance_average_precision(n_relevant: np.ndarray, n_candidates: np.ndarray) -> np.ndarray:
    """Expected AP of a uniformly random ranking of N candidates, R of them relevant (R >= 1):
    (1/N) * (H_N + (R - 1) / (N - 1) * (N - H_N)), H_N the N-th harmonic number. (A relevant item
    at rank r has on average (r - 1)(R - 1)/(N - 1) other relevant items above it.)"""
    r = np.asarray(n_relevant, dtype=np.float64)
    n = np.asarray(n_candidates, dtype=np.float64)
    harmonic = np.cumsum(1.0 / np.arange(1, int(n.max(initial=1)) + 1))[n.astype(np.int64) - 1]
    others = np.divide(r - 1, n - 1, out=np.zeros_like(r), where=n > 1)
    return (harmonic + others * (n - harmonic)) / n


def self_retrieval(
    strings: Sequence[Sequence[int]],
    content_ids: Sequence,
    speakers: Sequence,
    prefix: str,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Every string queries all the others (normalised edit distance); see `retrieval_metrics`."""
    ids = np.arange(len(strings))
    return retrieval_metrics(
        distance_matrix(strings, strings),
        content_ids,
        content_ids,
        speakers,
        speakers,
        prefix,
        ks=ks,
        query_ids=ids,
        archive_ids=ids,
    )


def _mean(blocks: list[np.ndarray]) -> float:
    """Mean over the queries of all blocks; nan when no query was answered."""
    values = np.concatenate(blocks) if blocks else np.zeros(0)
    return float(values.mean()) if len(values) else float("nan")
