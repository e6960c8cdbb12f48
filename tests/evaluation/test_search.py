"""Edit-distance search: distances against `editdistance`, pruned top-k against the full matrix."""

import editdistance
import numpy as np
import pytest

from pairalign.evaluation.search import StringIndex, distance_matrix, encode


def random_strings(rng, n, vocab, max_len):
    return [rng.integers(0, vocab, rng.integers(0, max_len + 1)).tolist() for _ in range(n)]


def reference_distances(queries, archive):
    """float32 of Levenshtein / longer length (0 for two empties), pair by pair."""
    out = np.zeros((len(queries), len(archive)), dtype=np.float32)
    for i, a in enumerate(queries):
        for j, b in enumerate(archive):
            longest = max(len(a), len(b))
            out[i, j] = editdistance.eval(a, b) / longest if longest else 0.0
    return out


def reference_top_k(queries, archive, k, exclude=None):
    """Stable sort of the full matrix: nearest first, ties by archive index; -1/inf padding."""
    dist = reference_distances(queries, archive)
    indices = np.full((len(queries), k), -1)
    distances = np.full((len(queries), k), np.inf, dtype=np.float32)
    for i, row in enumerate(dist):
        allowed = [
            j for j in np.argsort(row, kind="stable") if exclude is None or not exclude[i, j]
        ]
        indices[i, : len(allowed[:k])] = allowed[:k]
        distances[i, : len(allowed[:k])] = row[allowed[:k]]
    return indices, distances


def test_distances_on_hand_built_strings():
    queries = [[1, 2, 3], [], [5], [0, 1000, 1000]]
    archive = [[1, 3], [], [5, 5], [1000, 0, 1000, 7]]
    expected = [
        [1 / 3, 1.0, 1.0, 1.0],  # one deletion; all deleted; ...
        [1.0, 0.0, 1.0, 1.0],  # two empty strings are at distance 0
        [1.0, 1.0, 1 / 2, 1.0],
        [1.0, 1.0, 1.0, 2 / 4],  # tokens above 255 are tokens like any other
    ]
    np.testing.assert_array_equal(
        distance_matrix(queries, archive), np.array(expected, dtype=np.float32)
    )
    assert distance_matrix(queries, archive).dtype == np.float32


def test_tokens_outside_the_encodable_range_are_rejected():
    with pytest.raises(ValueError, match="tokens must lie"):
        encode([1, -2])
    with pytest.raises(ValueError, match="tokens must lie"):
        encode([0xD800])  # a surrogate code point


@pytest.mark.parametrize("vocab", [2, 40, 1100])
def test_distance_matrix_equals_editdistance_exactly(vocab):
    rng = np.random.default_rng(vocab)
    queries, archive = random_strings(rng, 30, vocab, 90), random_strings(rng, 70, vocab, 90)
    np.testing.assert_array_equal(
        distance_matrix(queries, archive), reference_distances(queries, archive)
    )


def test_lower_bound_never_exceeds_the_distance():
    rng = np.random.default_rng(0)
    archive = random_strings(rng, 200, 6, 30)
    index = StringIndex(archive)
    for query in random_strings(rng, 20, 8, 30):  # tokens 6, 7 are in no archive string
        exact = reference_distances([query], archive)[0]
        assert (index.lower_bounds(query) <= exact).all()


def test_lower_bound_counts_past_255_exactly():
    """Counts over 255 (uint16 histograms, int32 sums): here the bound is the distance itself."""
    index = StringIndex([[0] * 300, [1] * 10])
    bound = index.lower_bounds([0] * 280 + [1] * 20)
    np.testing.assert_array_equal(bound, np.float32([20 / 300, 290 / 300]))


@pytest.mark.parametrize(
    ("vocab", "max_len", "k", "first_chunk"),
    [(3, 8, 5, 1), (20, 40, 10, 32), (300, 15, 3, 4), (2, 4, 100, 32)],  # ties; k > archive
)
def test_search_equals_brute_force(vocab, max_len, k, first_chunk):
    rng = np.random.default_rng(vocab + k)
    archive, queries = (
        random_strings(rng, 80, vocab, max_len),
        random_strings(rng, 25, vocab, max_len),
    )
    index = StringIndex(archive, first_chunk=first_chunk)
    found, brute = index.search(queries, k), index.brute_force(queries, k)
    indices, distances = reference_top_k(queries, archive, k)
    for result in (found, brute):
        np.testing.assert_array_equal(result.indices, indices)
        np.testing.assert_array_equal(result.distances, distances)
    assert brute.stats["search/computed_fraction"] == 1.0


def test_excluded_strings_are_never_returned():
    rng = np.random.default_rng(1)
    strings = random_strings(rng, 60, 4, 10)
    index = StringIndex(strings)
    mask = rng.random((60, 60)) < 0.3
    np.fill_diagonal(mask, True)
    indices, distances = reference_top_k(strings, strings, 7, exclude=mask)
    as_sets = [set(np.flatnonzero(row)) for row in mask]
    for exclude in (mask, as_sets):
        for result in (
            index.search(strings, 7, exclude=exclude),
            index.brute_force(strings, 7, exclude=exclude),
        ):
            np.testing.assert_array_equal(result.indices, indices)
            np.testing.assert_array_equal(result.distances, distances)
    itself = index.search(strings, 7, exclude=[{i} for i in range(60)]).indices
    assert not (itself == np.arange(60)[:, None]).any()


def test_the_bound_prunes_unrelated_strings():
    """Ten noisy copies of each of 20 templates over disjoint token ranges: a query's copies come
    first, and strings from other templates share no token, so their distances are skipped."""
    rng = np.random.default_rng(2)
    templates = [rng.integers(10 * t, 10 * t + 10, 12) for t in range(20)]

    def copy(t):
        s = templates[t].copy()
        s[rng.integers(0, len(s))] = rng.integers(10 * t, 10 * t + 10)
        return s.tolist()

    archive = [copy(t) for t in range(20) for _ in range(10)]
    queries = [copy(t) for t in range(20)]
    index = StringIndex(archive, first_chunk=10)
    found = index.search(queries, 5)
    np.testing.assert_array_equal(found.indices, index.brute_force(queries, 5).indices)
    assert (found.indices // 10 == np.arange(20)[:, None]).all()
    assert found.stats["search/computed_fraction"] <= 10 / 200


def test_empty_archive_and_no_queries():
    empty = StringIndex([])
    result = empty.search([[1, 2]], 3)
    assert result.indices.tolist() == [[-1, -1, -1]] and np.isinf(result.distances).all()
    assert StringIndex([[1], [2]]).search([], 2).indices.shape == (0, 2)
