"""Retrieval figures on hand-built rankings with answers worked out by hand."""

import numpy as np
import pytest

from pairalign.evaluation.retrieval import (
    chance_average_precision,
    retrieval_metrics,
    self_retrieval,
)

# six archive renders: (content, speaker)
ARCHIVE_CONTENT = ["A", "B", "A", "C", "A", "B"]
ARCHIVE_SPEAKER = ["s0", "s1", "s2", "s3", "s1", "s2"]


def test_map_mrr_and_precision_on_a_hand_built_ranking():
    distances = np.array(
        [
            [0.0, 0.1, 0.2, 0.3, 0.3, 0.5],  # "A" by s0: 0 is its own voice; 3 beats 4 on the tie
            [0.9, 0.9, 0.9, 0.0, 0.9, 0.9],  # "C" by s3: its one match is its own voice: skipped
            [0.4, 0.0, 0.2, 0.1, 0.0, 0.1],  # "B" by s1: 1 and 4 left out; 3 beats 5 on the tie
        ]
    )
    out = retrieval_metrics(
        distances,
        ["A", "C", "B"],
        ARCHIVE_CONTENT,
        ["s0", "s3", "s1"],
        ARCHIVE_SPEAKER,
        "r",
        ks=(1, 5, 10),
    )
    # query A ranks 1 2 3 4 5 -> relevant at ranks 2 and 4: AP = (1/2 + 2/4) / 2 = 1/2
    # query B ranks 3 5 2 0   -> relevant at rank 2: AP = 1/2
    assert out["r/map"] == pytest.approx(0.5)
    assert out["r/mrr"] == pytest.approx(0.5)
    assert out["r/precision_at_1"] == 0.0
    assert out["r/precision_at_5"] == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert out["r/precision_at_10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    # N = 5, R = 2: (H_5 + (1/4)(5 - H_5)) / 5 = 711/1200; N = 4, R = 1: H_4 / 4 = 25/48
    assert out["r/chance_map"] == pytest.approx((711 / 1200 + 25 / 48) / 2)
    assert out["r/queries"] == 2 and out["r/queries_skipped"] == 1


def test_ties_are_ranked_by_archive_index():
    distances = np.array([[0.5, 0.5, 0.5]])
    first = retrieval_metrics(distances, ["A"], ["A", "B", "B"], ["q"], ["x", "y", "z"], "r")
    last = retrieval_metrics(distances, ["A"], ["B", "B", "A"], ["q"], ["x", "y", "z"], "r")
    assert first["r/map"] == 1.0 and last["r/map"] == pytest.approx(1 / 3)


def test_own_speaker_renders_are_left_out_of_the_ranking():
    """The same sentence by the query's own voice, at distance 0, must neither count as a hit nor
    push the other voices' renders down."""
    distances = np.array([[0.0, 0.0, 0.4, 0.3]])
    out = retrieval_metrics(
        distances, ["A"], ["A", "A", "A", "B"], ["me"], ["me", "me", "you", "them"], "r", ks=(1,)
    )
    assert out["r/map"] == pytest.approx(1 / 2)  # ranking: B (0.3), A (0.4)
    assert out["r/precision_at_1"] == 0.0
    assert out["r/chance_map"] == pytest.approx(chance_average_precision(1, 2))


def test_self_retrieval_leaves_out_the_query_itself():
    """Three sentences by three voices; renders of one sentence are identical strings."""
    sentences = {"a": [1, 2, 3, 4], "b": [5, 6, 7, 8], "c": [1, 6, 3, 9, 9]}
    content = [c for c in "abc" for _ in range(3)]
    strings = [sentences[c] for c in content]
    out = self_retrieval(strings, content, ["v1", "v2", "v3"] * 3, "s", ks=(1, 2, 3))
    assert out["s/map"] == 1.0 and out["s/mrr"] == 1.0
    assert out["s/precision_at_2"] == 1.0 and out["s/precision_at_3"] == pytest.approx(2 / 3)
    assert out["s/queries"] == 9
    # each query: 6 candidates by the two other voices, 2 of them relevant
    assert out["s/chance_map"] == pytest.approx(float(chance_average_precision(2, 6)))
    # with one voice for everything, no query has a candidate left
    assert self_retrieval(strings, content, ["v"] * 9, "s")["s/queries_skipped"] == 9


def _average_precision(relevant_sorted: np.ndarray) -> float:
    ranks = np.flatnonzero(relevant_sorted) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


@pytest.mark.parametrize(("n", "r"), [(1, 1), (2, 2), (5, 2), (10, 1), (20, 7), (50, 3)])
def test_chance_map_formula_matches_simulation(n, r):
    rng = np.random.default_rng(n * 100 + r)
    relevant = np.zeros(n, dtype=bool)
    relevant[:r] = True
    simulated = [_average_precision(rng.permutation(relevant)) for _ in range(20_000)]
    expected = float(chance_average_precision(r, n))
    standard_error = np.std(simulated) / np.sqrt(len(simulated))
    assert abs(np.mean(simulated) - expected) <= 4 * standard_error + 1e-12


def test_random_distances_score_chance_map():
    rng = np.random.default_rng(0)
    q_content, a_content = rng.integers(0, 8, 400), rng.integers(0, 8, 300)
    q_speaker, a_speaker = rng.integers(0, 5, 400), rng.integers(0, 5, 300)
    out = retrieval_metrics(rng.random((400, 300)), q_content, a_content, q_speaker, a_speaker, "r")
    assert out["r/map"] == pytest.approx(out["r/chance_map"], abs=0.01)
    assert 0.12 < out["r/chance_map"] < 0.2  # about 1/8 relevant, plus the early-rank bonus


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 queries x 3 candidates"):
        retrieval_metrics(np.zeros((2, 2)), [1, 2], [1, 2, 3], [1, 2], [1, 2, 3], "r")
