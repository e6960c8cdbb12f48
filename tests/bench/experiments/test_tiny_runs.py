"""Experiments of bench/experiments/ that need no training and no data outside the repository,
run end to end on a tiny corpus (two voices x four sentences of noisy tones) through their
`key=value` command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from bench.experiments import dense_collapsed, eval_artefacts, fingerprint, vq_probe
from pairalign.data.manifest import manifest_table, write_manifest
from pairalign.tokenizing.dense import DenseConfig, batch_log_mel, fit_dense

SR = 16_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    """A corpus directory whose test split has 4 sentences x 2 voices of 2 s."""
    root = tmp_path_factory.mktemp("corpus")
    rng, t, rows = np.random.default_rng(0), np.arange(2 * SR) / SR, []
    for sentence in range(4):
        for voice, shift in (("x", 0), ("y", 10)):
            tone = np.sin(2 * np.pi * (200 + 60 * sentence + shift) * t * (1 + t))
            wave = 0.3 * tone + 0.03 * rng.normal(size=len(t))
            path = root / f"{voice}{sentence}.wav"
            sf.write(path, wave.astype(np.float32), SR)
            rows.append(
                {
                    "utterance_id": f"{voice}{sentence}",
                    "path": str(path),
                    "speaker": voice,
                    "content_id": f"c{sentence}",
                    "split": "test",
                }
            )
    write_manifest(manifest_table(rows), str(root / "manifest.parquet"))
    return str(root)


def table_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]


def test_vq_probe_one_row_per_setting(corpus, small_checkpoints, capsys):
    vq_probe.main(
        [
            f"checkpoint={small_checkpoints['vq']}",
            f"corpus={corpus}",
            "half=all",
            "min_runs=[1, 2]",
            "view_clips=2",
        ]
    )
    rows = table_rows(capsys.readouterr().out)
    assert [r[:2] for r in rows] == [["1", "0"], ["2", "0"]]
    assert float(rows[1][2]) < float(rows[0][2])  # longer runs merged: fewer tokens/s


def test_dense_collapsed_one_row_per_min_run(corpus, tmp_path, capsys):
    clips = [sf.read(f"{corpus}/x{i}.wav", dtype="float32")[0] for i in range(4)]
    fit_dense(batch_log_mel(clips), DenseConfig(k=4, iters=5)).save(str(tmp_path / "dense-k4-p1"))
    dense_collapsed.main(
        [
            f"dense={tmp_path / 'dense-k4-p1'}",
            f"corpus={corpus}",
            "half=dev",
            "min_runs=[1, 3]",
            "view_clips=2",
        ]
    )
    rows = table_rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["dense-k4-p1-collapsed-r1", "dense-k4-p1-collapsed-r3"]
    assert float(rows[1][1]) < float(rows[0][1]) < 100  # collapsed: below the 100/s of frames


def test_eval_artefacts_budget_and_windows(corpus, small_checkpoints, capsys):
    eval_artefacts.main(
        [f"refine={small_checkpoints['refine']}", f"corpus={corpus}", "batch_size=2"]
    )
    out = json.loads(capsys.readouterr().out)
    assert out["dev/clips"] == 4 and out["windows"] == 4  # 2 s clips: one window each
    assert out["map/vq/all/queries"] == 4 and out["map/pairalign_whole/long/queries"] == 0
    assert 0 <= out["pairalign/hit_budget_share"] <= 1


def test_budget_figures_refuse_a_checkpoint_without_a_budget(small_checkpoints):
    from pairalign.tokenizing.tokenizer import Tokenizer

    stage1 = Tokenizer.from_checkpoint(small_checkpoints["vq"])
    with pytest.raises(ValueError, match="need a stage-2 checkpoint"):
        eval_artefacts.budget_figures(stage1, None, 12.5, 2)  # type: ignore[arg-type]


def test_fingerprint_is_the_same_twice_and_changes_with_the_strings(
    corpus, small_checkpoints, tmp_path
):
    argv = [f"checkpoint={small_checkpoints['vq']}", f"corpus={corpus}", "clips=3"]
    first = fingerprint.main([*argv, f"out={tmp_path / 'a.json'}"])
    assert first == fingerprint.main(argv)
    assert first["vq"]["tokens"] > 0 and json.loads((tmp_path / "a.json").read_text()) == first
    assert fingerprint.main([*argv[:2], "clips=2"])["vq"] != first["vq"]
