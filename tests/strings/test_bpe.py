"""BPE of token strings: known merges on a hand-made example, encoding equal to applying the
merges one after another, lengths that fall with every merge, and the rate met with fewest merges.
"""

from itertools import pairwise

import numpy as np
import pytest

from pairalign.strings import collapse_runs
from pairalign.strings.bpe import (
    _merge,
    apply_merges,
    apply_merges_all,
    learn_merges,
    merge_runs,
    merges_for_rate,
)


def _collapsed_strings(seed: int, count: int = 40, vocab: int = 6) -> list[list[int]]:
    """Strings with recurring 'words' (fixed code sequences) between random codes."""
    rng = np.random.default_rng(seed)
    words = [rng.integers(0, vocab, rng.integers(2, 5)).tolist() for _ in range(5)]
    out = []
    for _ in range(count):
        codes: list[int] = []
        for _ in range(rng.integers(2, 8)):
            codes += words[rng.integers(len(words))] + rng.integers(0, vocab, 1).tolist()
        out.append(collapse_runs(codes))
    return out


def test_a_hand_made_example_gives_the_known_merges():
    strings = [[1, 2, 3, 1, 2], [1, 2, 3], [4, 1, 2]]
    # (1, 2) 4 times -> 5; then (5, 3) twice -> 6; then every pair is seen once: stop
    merges = learn_merges(strings, vocab_size=5, max_merges=10)
    assert merges == [(1, 2), (5, 3)]
    assert apply_merges([1, 2, 3, 4, 1, 2], merges, 2, vocab_size=5) == [6, 4, 5]
    assert apply_merges([1, 2, 3, 4, 1, 2], merges, 1, vocab_size=5) == [5, 3, 4, 5]
    assert apply_merges([1, 2, 3, 4, 1, 2], merges, 0, vocab_size=5) == [1, 2, 3, 4, 1, 2]
    assert learn_merges(strings, vocab_size=5, max_merges=1) == [(1, 2)]


def test_ties_go_to_the_smallest_pair_whatever_the_order_of_the_strings():
    strings = [[3, 4], [1, 2], [3, 4], [1, 2]]
    assert learn_merges(strings, 5, 10) == [(1, 2), (3, 4)]
    assert learn_merges(strings[::-1], 5, 10) == [(1, 2), (3, 4)]


def test_a_repeated_code_pair_is_counted_as_it_is_replaced():
    # (7, 7, 7) holds one (7, 7) to replace, not two: [8, 7], then (8, 7) -> 9
    merges = learn_merges([[7, 7, 7], [7, 7, 7]], vocab_size=8, max_merges=10)
    assert merges == [(7, 7), (8, 7)]
    assert apply_merges([7, 7, 7, 7, 7], merges, 2, vocab_size=8) == [8, 9]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_encoding_equals_applying_the_merges_one_after_another(seed):
    strings = _collapsed_strings(seed)
    merges = learn_merges(strings[:30], vocab_size=6, max_merges=60)
    assert len(merges) > 5
    for string in strings[30:]:
        for count in (0, 1, len(merges) // 2, len(merges)):
            expected = list(string)
            for i, pair in enumerate(merges[:count]):
                expected = _merge(expected, pair, 6 + i)
            assert apply_merges(string, merges, count, vocab_size=6) == expected


@pytest.mark.parametrize("seed", [0, 1])
def test_every_merge_shortens_the_training_strings_and_none_lengthens_others(seed):
    strings = _collapsed_strings(seed)
    train, other = strings[:30], strings[30:]
    merges = learn_merges(train, vocab_size=6, max_merges=60)
    lengths = [sum(map(len, apply_merges_all(train, merges, c, 6))) for c in range(len(merges) + 1)]
    assert all(b < a for a, b in pairwise(lengths))  # each seen >= twice
    others = [sum(map(len, apply_merges_all(other, merges, c, 6))) for c in range(len(merges) + 1)]
    assert all(b <= a for a, b in pairwise(others))


def test_the_rate_is_met_with_the_fewest_merges():
    strings = _collapsed_strings(3)
    seconds = [len(s) / 20 for s in strings]  # 20 tokens/s before any merge
    merges = learn_merges(strings, vocab_size=6, max_merges=200)

    def rate(count: int) -> float:
        return sum(map(len, apply_merges_all(strings, merges, count, 6))) / sum(seconds)

    for target in (19.0, 15.0, 10.0, rate(len(merges))):
        count = merges_for_rate(strings, seconds, merges, target, vocab_size=6)
        assert rate(count) <= target and (count == 0 or rate(count - 1) > target)
    assert merges_for_rate(strings, seconds, merges, 25.0, 6) == 0  # already below
    unreachable = rate(len(merges)) - 1
    assert merges_for_rate(strings, seconds, merges, unreachable, 6) == len(merges)


def test_a_merged_token_spans_its_parts():
    runs = (np.array([1, 2, 3, 1, 2]), np.array([0, 2, 5, 9, 10]), np.array([2, 5, 9, 10, 14]))
    values, starts, ends = merge_runs(runs, [(1, 2), (5, 3)], 2, vocab_size=5)
    assert values.tolist() == [6, 5]
    assert starts.tolist() == [0, 9] and ends.tolist() == [9, 14]
    empty = merge_runs((np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)), [(1, 2)], 1, 5)
    assert [len(x) for x in empty] == [0, 0, 0]


def test_a_count_beyond_the_merges_is_refused():
    with pytest.raises(ValueError, match=r"count 3: expected 0\.\.2"):
        apply_merges([1, 2], [(1, 2), (5, 3)], 3, vocab_size=5)
