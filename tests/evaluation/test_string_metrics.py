"""Token strings and their metrics on hand-built cases with known answers."""

import math
from dataclasses import replace
from types import SimpleNamespace

import pytest

from pairalign.evaluation.figures import ClipSet, measure_tokenizer
from pairalign.evaluation.search import distance_matrix
from pairalign.evaluation.string_metrics import (
    content_distinctness,
    cross_view_consistency,
    cross_voice_consistency,
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


# two sentences, two voices; x says sentence a twice. Pairs of one sentence and two voices:
# (a x, a y) 0.25, (a x again, a y) 0.75, (b x, b y) 0.5; a x with a x again shares a voice.
VOICED = {
    "strings": [[1, 2, 3, 4], [9, 9, 9, 9], [1, 2, 3, 9], [5, 6], [7, 6]],
    "content_ids": ["a", "a", "a", "b", "b"],
    "speakers": ["x", "x", "y", "x", "y"],
}


def test_cross_voice_consistency_averages_pairs_of_two_voices_of_one_sentence():
    out = cross_voice_consistency(**VOICED, prefix="v")
    assert out["v/cross_voice_consistency"] == pytest.approx(1 - (0.25 + 0.75 + 0.5) / 3)
    assert out["v/cross_voice_pairs"] == 3 and len(out) == 2
    distances = distance_matrix(VOICED["strings"], VOICED["strings"])
    given = cross_voice_consistency(**VOICED, prefix="v", distances=distances)
    assert given["v/cross_voice_consistency"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        cross_voice_consistency([[1]], ["a", "a"], ["x", "y"], prefix="v")


def test_cross_voice_consistency_without_two_voices_of_a_sentence_is_nan():
    one_voice = cross_voice_consistency([[1], [2], [3]], ["a", "a", "b"], ["x", "x", "y"], "v")
    assert math.isnan(one_voice["v/cross_voice_consistency"])
    assert one_voice["v/cross_voice_pairs"] == 0
    empty = cross_voice_consistency([], [], [], "v")
    assert math.isnan(empty["v/cross_voice_consistency"]) and empty["v/cross_voice_pairs"] == 0


def test_measure_tokenizer_reports_cross_voice_consistency_from_the_clean_strings():
    clips = ClipSet(
        name="dev",
        ids=[f"u{i}" for i in range(5)],
        seconds=[1.0] * 5,
        content=VOICED["content_ids"],
        speakers=VOICED["speakers"],
        audio=[],
        views=[],
    )
    tokenizer = SimpleNamespace(name="vq", vocab_size=16)  # never called: the strings are given
    figures = measure_tokenizer(tokenizer, clips, "vq", strings=VOICED["strings"])
    assert figures["vq/cross_voice_consistency"] == pytest.approx(0.5)
    assert figures["vq/cross_voice_pairs"] == 3 and "vq/map" in figures
    one_voice = replace(clips, speakers=["x"] * 5)  # NaN, like MAP without another voice
    figures = measure_tokenizer(tokenizer, one_voice, "vq", strings=VOICED["strings"])
    assert math.isnan(figures["vq/cross_voice_consistency"]) and math.isnan(figures["vq/map"])


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
