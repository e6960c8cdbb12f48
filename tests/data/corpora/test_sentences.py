import itertools

import editdistance
import numpy as np
import pytest

from pairalign.data.corpora import sentences as S
from pairalign.data.corpora.sentences import generate_sentences, sample_sentence, sentence_words


def test_same_seed_same_sentences_and_other_seed_differs():
    a = generate_sentences(50, np.random.default_rng(7))
    b = generate_sentences(50, np.random.default_rng(7))
    c = generate_sentences(50, np.random.default_rng(8))
    assert a == b
    assert len(set(a) & set(c)) < 5


def test_sentences_are_pairwise_at_least_three_words_apart():
    out = generate_sentences(300, np.random.default_rng(0))
    words = [sentence_words(s) for s in out]
    assert len(set(out)) == 300
    closest = min(editdistance.eval(a, b) for a, b in itertools.combinations(words, 2))
    assert closest >= 3


@pytest.mark.parametrize(("lo", "hi"), [(6, 10), (8, 8), (5, 7)])
def test_word_counts_stay_in_range(lo, hi):
    out = generate_sentences(80, np.random.default_rng(1), min_words=lo, max_words=hi)
    counts = {len(sentence_words(s)) for s in out}
    assert min(counts) >= lo and max(counts) <= hi


def test_default_lengths_are_spread_over_the_range():
    out = generate_sentences(250, np.random.default_rng(0))
    counts = [len(sentence_words(s)) for s in out]
    assert set(counts) >= {6, 7, 8, 9}
    assert 7 <= np.mean(counts) <= 9


def test_a_shorter_call_is_a_prefix_of_a_longer_one():
    short = generate_sentences(20, np.random.default_rng(3))
    long = generate_sentences(60, np.random.default_rng(3))
    assert long[:20] == short


def test_sentences_are_lexically_varied():
    out = generate_sentences(250, np.random.default_rng(0))
    vocabulary = {w for s in out for w in sentence_words(s)}
    assert len(vocabulary) > 250
    first_words = {sentence_words(s)[0] for s in out}
    assert len(first_words) > 20  # not all one template
    assert sum(s.endswith("?") for s in out) > 10  # questions are there


def test_surface_form_capital_punctuation_and_articles():
    rng = np.random.default_rng(5)
    for _ in range(500):
        s = sample_sentence(rng)
        assert s[0].isupper() and s[-1] in ".?"
        words = sentence_words(s)
        for a, nxt in itertools.pairwise(words):
            if a == "a":
                assert nxt[0] not in "aeio" and nxt not in {"honest", "umbrella"}, s
            if a == "an":
                assert nxt[0] in "aeiou" or nxt == "honest", s


def test_vocabulary_is_a_few_hundred_distinct_words():
    lists = [S.NOUNS, S.ADJECTIVES, S.ADVERBS, S.NAMES, S.PREPOSITIONS]
    for words in lists:
        assert len(set(words)) == len(words)
    verbs = {w for pair in S.VERBS + S.INTRANSITIVE for w in pair}
    total = len(verbs) + sum(len(w) for w in lists)
    assert 250 <= total <= 800


def test_impossible_request_raises_instead_of_looping():
    with pytest.raises(RuntimeError, match="rejected"):
        generate_sentences(3, np.random.default_rng(0), min_edit_distance=50, max_tries=200)
    with pytest.raises(ValueError):
        generate_sentences(3, np.random.default_rng(0), min_words=9, max_words=6)
