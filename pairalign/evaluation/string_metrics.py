"""Metrics over token strings, as flat dicts with namespaced keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from pairalign.strings.distance import normalized_edit_distance


def vocabulary_usage(
    strings: Sequence[Sequence[int]], vocab_size: int, prefix: str
) -> dict[str, float]:
    """Codes used (count and share of the vocabulary), unigram entropy (bits) and perplexity."""
    counts = Counter(t for s in strings for t in s)
    total = sum(counts.values())
    if total == 0:
        return {
            f"{prefix}/codes_used": 0.0,
            f"{prefix}/vocab_used": 0.0,
            f"{prefix}/entropy_bits": 0.0,
            f"{prefix}/perplexity": 1.0,
        }
    p = np.array(list(counts.values()), dtype=np.float64) / total
    entropy = float(-(p * np.log2(p)).sum())
    return {
        f"{prefix}/codes_used": float(len(counts)),
        f"{prefix}/vocab_used": len(counts) / vocab_size,
        f"{prefix}/entropy_bits": entropy,
        f"{prefix}/perplexity": float(2**entropy),
    }


def cross_view_consistency(
    strings_a: Sequence[Sequence[int]], strings_b: Sequence[Sequence[int]], prefix: str
) -> dict[str, float]:
    """1 - normalised edit distance between the two views' strings, and the exact-match rate."""
    if len(strings_a) != len(strings_b):
        raise ValueError(f"{len(strings_a)} strings for view A but {len(strings_b)} for view B")
    distances = [normalized_edit_distance(a, b) for a, b in zip(strings_a, strings_b, strict=True)]
    exact = [list(a) == list(b) for a, b in zip(strings_a, strings_b, strict=True)]
    return {
        f"{prefix}/consistency": 1.0 - float(np.mean(distances)) if distances else float("nan"),
        f"{prefix}/exact_match": float(np.mean(exact)) if exact else float("nan"),
    }


def cross_voice_consistency(
    strings: Sequence[Sequence[int]],
    content_ids: Sequence[str],
    speakers: Sequence[str],
    prefix: str,
    *,
    distances: np.ndarray | None = None,
) -> dict[str, float]:
    """1 - normalised edit distance between the strings of two voices' renditions of one sentence,
    averaged over every pair of clips with the same content and different speakers (each unordered
    pair once; all of them, so the figure is deterministic), and the number of such pairs. NaN
    (with 0 pairs) when no sentence is rendered by two voices. `distances`, the (N, N) normalised
    edit distances of `strings` to themselves, saves recomputing them."""
    if not len(strings) == len(content_ids) == len(speakers):
        raise ValueError(
            f"{len(strings)} strings, {len(content_ids)} content ids, {len(speakers)} speakers"
        )
    content, voice = np.asarray(list(content_ids)), np.asarray(list(speakers))
    pairs = (content[:, None] == content[None, :]) & (voice[:, None] != voice[None, :])
    first, second = np.nonzero(np.triu(pairs, k=1))
    if distances is None:
        found = [
            normalized_edit_distance(strings[i], strings[j])
            for i, j in zip(first, second, strict=True)
        ]
    else:
        found = distances[first, second]
    return {
        f"{prefix}/cross_voice_consistency": 1.0 - float(np.mean(found, dtype=np.float64))
        if len(first)
        else float("nan"),
        f"{prefix}/cross_voice_pairs": float(len(first)),
    }


def string_stats(
    strings: Sequence[Sequence[int]], seconds: Sequence[float], prefix: str
) -> dict[str, float]:
    """Token rate (tokens per second of audio), mean length and its spread, distinct-string rate."""
    lengths = np.array([len(s) for s in strings], dtype=np.float64)
    total_seconds = float(np.sum(seconds))
    distinct = len({tuple(s) for s in strings})
    return {
        f"{prefix}/token_rate": float(lengths.sum() / total_seconds)
        if total_seconds
        else float("nan"),
        f"{prefix}/tokens": float(lengths.sum()),
        f"{prefix}/mean_length": float(lengths.mean()) if len(lengths) else float("nan"),
        f"{prefix}/length_std": float(lengths.std()) if len(lengths) else float("nan"),
        f"{prefix}/distinct_rate": distinct / len(strings) if strings else float("nan"),
    }


def content_distinctness(
    strings: Sequence[Sequence[int]], content_ids: Sequence[str], prefix: str
) -> dict[str, float]:
    """Share of clips whose string no clip of *other* content (another sentence) also has.
    Renditions of one sentence may share a string; different sentences must not."""
    owners: dict[tuple[int, ...], set[str]] = {}
    for s, c in zip(strings, content_ids, strict=True):
        owners.setdefault(tuple(s), set()).add(c)
    clean = [len(owners[tuple(s)]) == 1 for s in strings]
    return {f"{prefix}/distinct_across_content": float(np.mean(clean)) if clean else float("nan")}
