"""bench/experiments/dtw_words.py: espeak-ng's library renders an utterance exactly as the
built-in corpus does, with its word starts, and the measurement runs end to end on one pair."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from bench.experiments import dtw_words
from pairalign.data.corpora.builtin import BuiltinCorpusConfig, plan_corpus, render


@pytest.fixture(scope="module")
def espeak_library():
    try:
        ctypes.CDLL("libespeak-ng.so.1")
    except OSError:
        pytest.skip("no libespeak-ng.so.1")


def test_the_library_renders_as_the_corpus_with_word_starts(espeak_library):
    spec = next(s for s in plan_corpus(BuiltinCorpusConfig()) if s.voice.word_gap)
    found = dtw_words.render(spec)
    np.testing.assert_array_equal(found.samples, render(spec))
    words = spec.text.split()
    assert 1 in found.word_starts and len(found.word_starts) <= len(words)
    starts = np.array([found.word_starts[p] for p in sorted(found.word_starts)])
    phonemes = np.array([found.phoneme_starts[p] for p in sorted(found.word_starts)])
    seconds = len(found.samples) / 16_000
    assert np.all(np.diff(starts) > 0.05) and starts[1] > 0 and starts[-1] < seconds - 0.1
    assert np.all(phonemes >= starts) and np.all(phonemes - starts < 0.1)  # a word's phonemes


def test_one_pair_end_to_end(espeak_library):
    result = dtw_words.main(
        [
            "sentences=1",
            "pairs_per_sentence=1",
            "features=[logmel]",
            "metrics=[cosine]",
            "bands=[0.2]",
            "trims=[40]",
            "cost_pairs=2",
        ]
    )
    (row,) = result["grid"]
    assert row["boundaries"] >= 4 and 0 <= row["within_2_frames_10ms"] <= 1
    assert row["within_2_frames_10ms"] <= row["within_2_frames_20ms"]
    for score in ("cost", "excess", "relative"):
        assert len(result["cost"][score]["values"]["same"]) == 2
    assert result["cost"]["align_ms_median"] > 0
