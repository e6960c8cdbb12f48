"""bench/benchmarks/tokenize.py: the three kinds timed on the same clips, short and windowed."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from bench.benchmarks.tokenize import (
    bench_tokenizers,
    load_clips,
    load_tokenizers,
    markdown_table,
    parse_threads,
)
from pairalign.tokenizing.dense import DenseConfig

SR = 16_000


def sweeps(seconds: list[float]) -> list[np.ndarray]:
    """Noisy rising tones, one per clip."""
    rng = np.random.default_rng(0)
    out = []
    for s in seconds:
        t = np.arange(round(s * SR)) / SR
        wave = 0.3 * np.sin(2 * np.pi * np.cumsum(rng.uniform(200, 800) * (1 + t)) / SR)
        out.append((wave + 0.02 * rng.normal(size=len(t))).astype(np.float32))
    return out


def test_three_kinds_on_the_same_clips_have_positive_throughput(small_checkpoints):
    audio = sweeps([1.0, 2.5, 4.5])  # the last is cut into 3 s windows and stitched
    tokenizers = load_tokenizers(small_checkpoints["refine"], DenseConfig(k=4, pool=4), audio)
    results = bench_tokenizers(tokenizers, audio, threads=[1], batch_size=2, repeats=2)
    assert [r.kind for r in results] == ["pairalign", "vq", "dense"]
    assert {(r.clips, r.audio_seconds, r.threads) for r in results} == {(3, 8.0, 1)}
    assert all(r.audio_per_cpu_second > 0 and r.audio_per_wall_second > 0 for r in results)
    dense = results[2]
    assert dense.tokenizer == "dense-k4-p4" and dense.tokens == pytest.approx(8.0 * 25, abs=6)
    table = markdown_table(results).splitlines()
    assert len(table) == 2 + 3 and [line.split("|")[2].strip() for line in table[2:]] == [
        "pairalign",
        "vq",
        "dense",
    ]
    assert table[-1].rstrip("| ").endswith("1.00")  # dense against itself


def test_clips_come_from_any_folder_first_by_utterance_id(tmp_path, small_checkpoints):
    for i, wave in enumerate(sweeps([0.5, 1.0, 1.5])):
        (tmp_path / "v").mkdir(exist_ok=True)
        sf.write(tmp_path / "v" / f"s{2 - i}.wav", wave, SR)
    rows, audio = load_clips(str(tmp_path), split="", clips=2)
    assert [r["utterance_id"] for r in rows] == ["v/s0", "v/s1"]
    assert [len(a) / SR for a in audio] == [1.5, 1.0]
    with pytest.raises(SystemExit, match="no clips"):
        load_clips(str(tmp_path), split="test", clips=2)
    assert parse_threads("1,2") == [1, 2] and parse_threads("all")[0] >= 1
