"""bench/experiments/pareto.py on tiny untrained checkpoints and noisy tones: strings made from the
cached contexts are the tokenizer's own, one set's entry has the issue's shape with the
heuristics at each seed's rate, and the verdict is the issue's test."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from bench.experiments.pareto import (
    ContextCache,
    RuleStrings,
    SetMeasure,
    Stage2,
    measure_set,
    probe_rates,
    verdict,
)
from bench.experiments.pareto_report import plot, table
from bench.experiments.vq_baselines import BPEStrings
from pairalign.evaluation.figures import ClipSet, clip_strings
from pairalign.strings.bpe import BPEMerges, learn_merges
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer


def clips(name: str, count: int, seed: int, samples: int = 32_000) -> ClipSet:
    """Noisy tones: two renditions (voices x, y) of each sentence."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16_000
    audio = [
        (
            0.3 * np.sin(2 * np.pi * (200 + 40 * (i // 2)) * t * (1 + t))
            + 0.05 * rng.standard_normal(len(t))
        ).astype(np.float32)
        for i in range(count)
    ]
    return ClipSet(
        name=name,
        ids=[f"u{i:02d}" for i in range(count)],
        seconds=[samples / 16_000] * count,
        content=[f"s{i // 2}" for i in range(count)],
        speakers=["x", "y"] * (count // 2),
        audio=audio,
        views=[],
    )


@pytest.fixture(scope="module")
def tokenizer(small_checkpoints) -> Tokenizer:
    return Tokenizer.from_checkpoint(small_checkpoints["vq"])


def test_cached_strings_are_the_tokenizers_own_windows_included(tokenizer):
    data = clips("dev", 4, 0, samples=72_000)  # 4.5 s: two windows stitched
    cache = ContextCache(tokenizer)
    for config in (tokenizer.strings, replace(tokenizer.strings, rate=20.0, reduce="dpdp")):
        own = VQStrings(tokenizer.with_strings(config))
        assert clip_strings(RuleStrings(cache, config, "x"), data) == clip_strings(own, data)
    collapsed = replace(tokenizer.strings, min_run_frames=1)
    merges = learn_merges(clip_strings(VQStrings(tokenizer.with_strings(collapsed)), data), 16, 50)
    bpe = BPEStrings(VQStrings(tokenizer.with_strings(collapsed)), merges, len(merges))
    extras = {"bpe": BPEMerges(tuple(merges), 16, len(merges))}
    rule = RuleStrings(cache, replace(collapsed, reduce="bpe"), "bpe", extras)
    waves = np.stack(clips("dev", 3, 1).audio)
    assert rule(waves) == bpe(waves) and rule.vocab_size == bpe.vocab_size
    assert len(cache.found) == 8 + 3  # each window encoded once


def test_one_sets_entry_has_the_issues_shape(tokenizer, small_checkpoints, tmp_path):
    data, train = clips("test", 8, 2), clips("train", 16, 3)
    cache, store = ContextCache(tokenizer), {}
    collapsed = replace(tokenizer.strings, min_run_frames=1)
    strings = clip_strings(RuleStrings(cache, collapsed, "collapsed"), train)
    merges = BPEMerges(tuple(learn_merges(strings, 16, 200)), 16)
    measure = SetMeasure("test", data, cache, lambda: merges, store, lambda: None)
    seeds = [Stage2(small_checkpoints["refine"], s, s, 12.5, True) for s in (0, 1)]
    found = measure_set(measure, [seeds], [12.5], grid=(40.0,))
    for kind in ("collapsed", "vq"):
        assert set(found[kind]) == {"rate", "map", "archive_tokens"}
    (point,) = found["points"]
    assert point["target_rate"] == 12.5 and [s["seed"] for s in point["seeds"]] == [0, 1]
    keys = {"seed", "rate", "map", "archive_tokens", "merged_map", "dpdp_map", "bpe_map"}
    assert all(set(s) == keys for s in point["seeds"])
    rates = [f["rate"] for f in found["curves"]["merge"]]
    assert [f["target"] for f in found["curves"]["merge"]] == probe_rates(
        (40.0,), [s["rate"] for s in point["seeds"]]
    )
    for s in point["seeds"]:  # at a rate the merge curve brackets, its MAP is interpolated
        if min(rates) <= s["rate"] <= max(rates):
            assert 0 <= s["merged_map"] <= 1
    assert set(point["verdict"]) >= {"every_seed_above", "mean_above_by_more_than_spread"}
    size = len(store)
    again = measure_set(measure, [seeds], [12.5], grid=(40.0,))  # from the store
    assert json.dumps(again) == json.dumps(found)  # (NaN where BPE cannot reach a seed's rate)
    assert len(store) == size
    result = {"test": found}
    assert "| PairAlign @12.5/s seed 1 |" in table(result, ["test"])
    plot(result, ["test"], tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_the_verdict_is_every_seed_above_and_the_mean_above_by_more_than_the_spread():
    def seeds(maps, best=0.80):
        return [
            {"map": m, "merged_map": best - 0.05, "dpdp_map": best, "bpe_map": 0.5} for m in maps
        ]

    clear = verdict(seeds([0.85, 0.86, 0.84]))
    assert clear["every_seed_above"] and clear["beats_heuristics"]
    assert clear["gains"] == [0.05, 0.06, 0.04] and clear["mean_gain"] == 0.05
    noisy = verdict(seeds([0.81, 0.90, 0.802]))  # all above, but the spread is wider than the gain
    assert noisy["every_seed_above"] and not noisy["mean_above_by_more_than_spread"]
    one_below = verdict(seeds([0.85, 0.86, 0.79]))
    assert not one_below["every_seed_above"] and not one_below["beats_heuristics"]
    unmeasured = verdict(seeds([0.9, 0.9], best=float("nan")))  # only BPE reaches the rate
    assert unmeasured["gains"] == [0.4, 0.4] and unmeasured["unreached"] == [
        "dpdp_map",
        "merged_map",
    ]
    none = [{"map": 0.9, "merged_map": math.nan, "dpdp_map": math.nan, "bpe_map": math.nan}]
    assert not verdict(none)["beats_heuristics"]
