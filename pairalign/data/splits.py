"""Splits by content: every rendition of a sentence goes to the same part, so no sentence is in two.

    shares = parse_shares("train:2,dev:1,test:1")       # {"train": 2.0, "dev": 1.0, "test": 1.0}
    table = split_by_content(manifest, shares, seed=0)   # its `split` column rewritten

The distinct content ids are ordered by a seeded hash (SHA-256 of "<seed>:<content id>"), then cut
into consecutive parts whose sizes follow the shares (largest remainders), so the same manifest,
shares and seed always give the same parts, and a sentence's part does not depend on the order of
the rows. Rows without a content id are their own content (their utterance id).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

Half = Literal["dev", "test"]


class SplitError(ValueError):
    """Shares that cannot be parsed or used."""


def parse_shares(spec: str) -> dict[str, float]:
    """`"train:2,dev:1,test:1"` -> {"train": 2.0, "dev": 1.0, "test": 1.0} (relative sizes)."""
    shares: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        name, sep, raw = item.partition(":")
        name = name.strip()
        try:
            share = float(raw) if sep else math.nan
        except ValueError:
            share = math.nan
        if not name or not (math.isfinite(share) and share > 0):
            raise SplitError(f"splits {spec!r}: {item!r} is not '<name>:<positive share>'")
        if name in shares:
            raise SplitError(f"splits {spec!r}: part {name!r} given twice")
        shares[name] = share
    if not shares:
        raise SplitError(f"splits {spec!r}: no parts (expected e.g. 'train:2,dev:1,test:1')")
    return shares


def content_order(content_ids: list[str], seed: int) -> list[str]:
    """The distinct ids of `content_ids` in the order of their seeded hash."""

    def key(cid: str) -> str:
        return hashlib.sha256(f"{seed}:{cid}".encode()).hexdigest()

    return sorted(set(content_ids), key=lambda cid: (key(cid), cid))


def part_sizes(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """`n` items shared out in proportion to `shares`, by largest remainders (sums to n)."""
    total = sum(shares.values())
    exact = {name: n * share / total for name, share in shares.items()}
    sizes = {name: math.floor(x) for name, x in exact.items()}
    by_remainder = sorted(shares, key=lambda name: -(exact[name] - sizes[name]))
    for name in by_remainder[: n - sum(sizes.values())]:
        sizes[name] += 1
    return sizes


def content_parts(content_ids: list[str], shares: Mapping[str, float], seed: int) -> dict[str, str]:
    """{content id: part name} for the distinct ids of `content_ids`."""
    order = content_order(content_ids, seed)
    parts, start = {}, 0
    for name, size in part_sizes(len(order), shares).items():
        parts |= dict.fromkeys(order[start : start + size], name)
        start += size
    return parts


def split_by_content(table: pa.Table, shares: Mapping[str, float], seed: int = 0) -> pa.Table:
    """`table` (a manifest) with its `split` column set by content: see the module docstring."""
    if not shares:
        raise SplitError("split_by_content: no parts")
    content = pc.coalesce(table["content_id"], table["utterance_id"]).to_pylist()
    parts = content_parts(content, shares, seed)
    split = pa.array([parts[cid] for cid in content], pa.string())
    return table.set_column(table.column_names.index("split"), "split", split)


def half_rows(manifest: pa.Table, split: str, half: Half, sentences: int = 0) -> pa.Table:
    """The rows of `split` whose sentence is in `half`: the distinct content ids sorted, the
    even-ranked ones `dev`, the odd-ranked ones `test`; the first `sentences` of them (0: all)."""
    rows = manifest.filter(pc.equal(manifest["split"], split))
    ids = sorted(set(rows["content_id"].to_pylist()))
    chosen = ids[0 if half == "dev" else 1 :: 2]
    if sentences:
        chosen = chosen[:sentences]
    if not chosen:
        raise ValueError(f"split {split!r} has no sentences for the {half} half")
    return rows.filter(pc.is_in(rows["content_id"], pa.array(chosen)))
