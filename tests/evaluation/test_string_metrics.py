"""Token strings and their metrics on hand-built cases with known answers."""

import math

import pytest

from pairalign.evaluation.string_metrics import (
    content_distinctness,
    cross_view_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.strings import collapse_runs, edit_distance, normalized_edit_distance


def test_collapse_runs():
    assert collapse_runs([5, 5, 2, 2, 2, 5, 7, 7]) == [5, 2, 5, 7]
    assert collapse_runs([]) == []
    assert collapse_runs([3]) == [3]


def test_edit_distances():
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([1, 2, 3], [4, 5, 6]) == 3
    assert normalized_edit_distance([1, 2, 3, 4], [1, 2]) == 0.5
    assert normalized_edit_distance([], []) == 0.0


def test_uniform_usage_has_perplexity_equal_to_the_codes_used():
    strings = [[0, 1, 2, 3], [3, 2, 1, 0]]
    usage = vocabulary_usage(strings, vocab_size=8, prefix="x")
    assert usage["x/codes_used"] == 4 and usage["x/vocab_used"] == 0.5
    assert usage["x/entropy_bits"] == pytest.approx(2.0)
    assert usage["x/perplexity"] == pytest.approx(4.0)


def test_consistency_and_exact_match():
    out = cross_view_consistency([[1, 2, 3, 4], [5, 6]], [[1, 2, 3, 9], [5, 6]], prefix="v")
    assert out["v/consistency"] == pytest.approx(1 - (0.25 + 0.0) / 2)
    assert out["v/exact_match"] == 0.5
    with pytest.raises(ValueError):
        cross_view_consistency([[1]], [], prefix="v")


def test_string_stats():
    out = string_stats([[1, 2, 3], [1, 2, 3], [4]], [1.0, 1.0, 2.0], prefix="s")
    assert out["s/token_rate"] == pytest.approx(7 / 4)
    assert out["s/distinct_rate"] == pytest.approx(2 / 3)
    assert out["s/mean_length"] == pytest.approx(7 / 3)
    assert out["s/length_std"] == pytest.approx(
        math.sqrt(((3 - 7 / 3) ** 2 * 2 + (1 - 7 / 3) ** 2) / 3)
    )


def test_content_distinctness_counts_only_collisions_between_sentences():
    strings = [[1, 2], [1, 2], [3], [3], [4]]
    content = ["s1", "s1", "s2", "s3", "s4"]  # s1's renditions agree (fine); s2 and s3 collide
    assert content_distinctness(strings, content, "x")["x/distinct_across_content"] == 3 / 5


def test_uniform_use_of_the_whole_vocabulary_has_perplexity_equal_to_the_vocab_size():
    strings = [list(range(16)), list(range(15, -1, -1)), list(range(16))]
    usage = vocabulary_usage(strings, vocab_size=16, prefix="x")
    assert usage["x/vocab_used"] == 1.0
    assert usage["x/entropy_bits"] == pytest.approx(4.0)
    assert usage["x/perplexity"] == pytest.approx(16.0)
