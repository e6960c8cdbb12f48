"""Splits by content: disjoint by sentence, exact sizes, the same for the same seed whatever the
row order, different for another seed."""

from __future__ import annotations

import pytest

from pairalign.data.manifest import manifest_table
from pairalign.data.splits import SplitError, parse_shares, part_sizes, split_by_content

SHARES = {"train": 2.0, "dev": 1.0, "test": 1.0}


def manifest(sentences: int = 40, speakers: int = 3, reverse: bool = False):
    rows = [
        {
            "utterance_id": f"{p}_{s:03d}",
            "path": f"/x/{p}/{s}.wav",
            "speaker": p,
            "content_id": f"{s:03d}",
            "split": "train",
        }
        for p in ("a", "b", "c")[:speakers]
        for s in range(sentences)
    ]
    return manifest_table(rows[::-1] if reverse else rows)


def parts_of(table) -> dict[str, set[str]]:
    parts: dict[str, set[str]] = {}
    for row in table.to_pylist():
        parts.setdefault(row["split"], set()).add(row["content_id"])
    return parts


def test_no_sentence_is_in_two_parts_and_sizes_follow_the_shares():
    table = split_by_content(manifest(), SHARES, seed=0)
    parts = parts_of(table)
    assert {k: len(v) for k, v in parts.items()} == {"train": 20, "dev": 10, "test": 10}
    assert not (
        parts["train"] & parts["dev"]
        or parts["train"] & parts["test"]
        or parts["dev"] & parts["test"]
    )
    by_content: dict[str, set[str]] = {}
    for row in table.to_pylist():
        by_content.setdefault(row["content_id"], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in by_content.values())  # every rendition together
    assert table.num_rows == 120


def test_deterministic_whatever_the_row_order_and_seeded():
    first = parts_of(split_by_content(manifest(), SHARES, seed=0))
    again = parts_of(split_by_content(manifest(reverse=True), SHARES, seed=0))
    assert first == again
    other = parts_of(split_by_content(manifest(), SHARES, seed=1))
    assert other != first and {k: len(v) for k, v in other.items()} == {
        k: len(v) for k, v in first.items()
    }
    # a sentence's part does not depend on which other speakers read it
    assert parts_of(split_by_content(manifest(speakers=1), SHARES, seed=0)) == first


def test_part_sizes_sum_to_n():
    assert part_sizes(7, {"a": 1, "b": 1, "c": 1}) == {"a": 3, "b": 2, "c": 2}
    assert sum(part_sizes(120, {"train": 60, "dev": 30, "test": 30}).values()) == 120


def test_parse_shares_and_its_errors():
    assert parse_shares("train:2, dev:1,test:1") == SHARES
    for bad, message in [
        ("train", "positive share"),
        ("train:0", "positive share"),
        ("a:1,a:2", "given twice"),
        ("", "no parts"),
    ]:
        with pytest.raises(SplitError, match=message):
            parse_shares(bad)
