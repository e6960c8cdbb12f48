"""Every benchmark of bench/benchmarks/ (run by `make bench`) runs end to end on tiny data and
reports its figures; the timings themselves are not checked."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from bench.benchmarks import decode, search, synth, synth_determinism, tokenize, views, vq_train
from pairalign.data.manifest import manifest_table, write_manifest

SR = 16_000


def noisy_tones(folder, count: int, seconds: float = 1.0) -> list[str]:
    """`count` noisy tones written as wav files under `folder`; their paths."""
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * SR)) / SR
    paths = []
    for i in range(count):
        wave = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.02 * rng.normal(size=len(t))
        path = folder / f"s{i}.wav"
        sf.write(path, wave.astype(np.float32), SR)
        paths.append(str(path))
    return paths


def test_decode_on_noise_without_a_corpus(tmp_path, small_checkpoints, capsys):
    result = decode.main(
        [f"checkpoint={small_checkpoints['refine']}", f"corpus={tmp_path}", "batch=2", "repeats=1"]
    )
    assert result["clips"] == "noise" and result["batch"] == 2 and result["audio_seconds"] == 6.0
    assert min(result[f"realtime_per_core_{k}"] for k in ("cached", "uncached", "vq")) > 0
    assert json.loads(capsys.readouterr().out) == result


def test_search_on_small_synthetic_populations():
    result = search.main(["queries=20", "archive=200"])
    for name in search.POPULATIONS:
        assert result[f"{name}/queries"] == 20 and result[f"{name}/strings"] == 200
        assert 0 < result[f"{name}/computed_fraction"] <= 1
        assert 0 <= result[f"{name}/top10_same_template"] <= 1
    assert result["pairalign_vs_vq_search"] > 0


def test_synth_renders_two_utterances():
    result = synth.main(["utterances=2", "workers=1"])
    assert result["utterances"] == 2 and result["serial"]["audio_seconds"] > 0
    assert result["pool"]["utterances_per_second"] > 0


def test_synth_determinism_two_utterances_one_repeat():
    result = synth_determinism.main(["utterances=2", "repeats=1", "workers=1", "burners=0"])
    assert result["renders_compared"] == 2 and result["differing_files"] == 0
    assert result["identical_repeats"] == 1 and len(result["reference_sha256"]) == 64


def test_tokenize_three_kinds_on_a_folder(tmp_path, small_checkpoints):
    (tmp_path / "v").mkdir()
    noisy_tones(tmp_path / "v", 2)
    out = tmp_path / "tokenize.json"
    results = tokenize.main(
        [
            f"checkpoint={small_checkpoints['refine']}",
            f"corpus={tmp_path}",
            "split=",
            "clips=2",
            "dense_k=4",
            "dense_pool=4",
            "batch=2",
            f"out={out}",
        ]
    )
    assert [r.kind for r in results] == ["pairalign", "vq", "dense"]
    report = json.loads(out.read_text())
    assert report["args"]["clips"] == 2 and len(report["results"]) == 3


def test_views_core_only_on_a_small_manifest(tmp_path):
    rows = [
        {
            "utterance_id": f"u{i}",
            "path": p,
            "speaker": "x",
            "content_id": f"c{i}",
            "split": "train",
        }
        for i, p in enumerate(noisy_tones(tmp_path, 3, seconds=2.0))
    ]
    write_manifest(manifest_table(rows), str(tmp_path / "manifest.parquet"))
    result = views.main([f"corpus={tmp_path}", "pairs=3", "ray=false"])
    assert result["pairs"] == 3 and result["core_pairs_per_second"] > 0
    assert "ray_pairs_per_second" not in result


@pytest.mark.slow  # starts a local Ray cluster
def test_views_through_ray_on_a_small_manifest(tmp_path):
    paths = noisy_tones(tmp_path, 4, seconds=2.0)
    rows = [
        {
            "utterance_id": f"u{i}",
            "path": p,
            "speaker": "x",
            "content_id": f"c{i}",
            "split": "train",
        }
        for i, p in enumerate(paths)
    ]
    write_manifest(manifest_table(rows), str(tmp_path / "manifest.parquet"))
    result = views.main([f"corpus={tmp_path}", "pairs=4"])
    assert result["pairs"] == 4 and result["ray_pairs_per_second"] > 0


def test_vq_train_one_step():
    result = vq_train.main(["batch=2", "steps=1"])
    assert result["size"] == "tiny" and result["model_clips_per_second_one_core"] > 0


def test_a_benchmark_refuses_an_unknown_key():
    with pytest.raises(SystemExit):
        vq_train.main(["batchsize=2"])
