"""workflows/dense.py on a real local Ray cluster: a 2 x 2 grid trained from a tiny built-in corpus,
a rerun that skips it all, bad audio skipped and named, the same models on local disk and S3."""

from __future__ import annotations

import os
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from pairalign.data.audio import load_row_audio
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.manifest import manifest_table, read_manifest
from pairalign.jobs.corpus import prepare
from pairalign.jobs.dense_grid import DenseGridConfig, train_dense_grid
from pairalign.tokenizing.dense import DenseTokenizer
from workflows.cli import CONFIG_DIR, load_config
from workflows.dense import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    from pairalign.data.corpora.builtin import BuiltinCorpusConfig

    out = str(tmp_path_factory.mktemp("builtin"))
    prepare(
        PrepareConfig(
            out_dir=out,
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=5, test_sentences=2),
        )
    )
    return out


def test_dense_yaml_documents_the_defaults():
    assert load_config(DenseGridConfig, CONFIG_DIR / "dense.yaml") == DenseGridConfig()
    config = load_config(DenseGridConfig, CONFIG_DIR / "dense.yaml", ["ks=[8,16]", "pools=[1,8]"])
    assert (config.ks, config.pools) == ((8, 16), (1, 8))
    assert len(DenseGridConfig().dense_configs()) == 24


def test_grid_trains_then_a_rerun_skips_it(ray_session, corpus, tmp_path, capsys):
    argv = [
        f"out_dir={tmp_path}",
        f"corpus.builtin_dir={corpus}",
        "ks=[4,8]",
        "pools=[1,4]",
        "iters=10",
        "clips_per_task=16",
    ]
    paths = main(argv)
    assert sorted(paths) == ["dense-k4-p1", "dense-k4-p4", "dense-k8-p1", "dense-k8-p4"]
    table = capsys.readouterr().out
    assert table.count(" trained") == 4 and "skipped" not in table
    clip = load_row_audio(read_manifest(f"{corpus}/manifest.parquet").to_pylist()[0])
    for name, url in paths.items():
        assert url == os.path.join(str(tmp_path), name, "dense.pt")
        tok = DenseTokenizer.load(url)
        assert tok.name == name
        tokens = tok(clip)[0]
        assert abs(len(tokens) - len(clip) / 16_000 * tok.token_rate) <= 1
        assert len(set(tokens)) > 1 and max(tokens) < tok.vocab_size
    mtimes = {name: os.path.getmtime(url) for name, url in paths.items()}

    assert main([*argv, "ks=[4,8,16]"]) == paths | {
        "dense-k16-p1": f"{tmp_path}/dense-k16-p1/dense.pt",
        "dense-k16-p4": f"{tmp_path}/dense-k16-p4/dense.pt",
    }
    table = capsys.readouterr().out
    assert table.count("skipped (saved)") == 4 and table.count(" trained") == 2
    assert {name: os.path.getmtime(url) for name, url in paths.items()} == mtimes

    main([*argv, "ks=[4,8,16]"])  # everything saved: nothing is computed, not even features
    assert capsys.readouterr().out.count("skipped (saved)") == 6


def test_bad_audio_is_skipped_and_named_and_fits_are_seeded(
    ray_session, corpus, tmp_path, s3_server, capsys
):
    manifest = read_manifest(f"{corpus}/manifest.parquet")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"this is not audio" * 10)
    extra = manifest_table([{"utterance_id": "broken", "path": str(bad), "split": "train"}])
    table = pa.concat_tables([manifest, extra])
    config = DenseGridConfig(ks=(4,), pools=(2,), iters=10, clips_per_task=16)
    local = train_dense_grid(replace(config, out_dir=str(tmp_path / "a")), table)
    out = capsys.readouterr().out
    assert f"skipped {bad}: not a recognised audio format" in out
    remote_dir = f"{s3_server}/dense-grid"
    remote = train_dense_grid(replace(config, out_dir=remote_dir), table)
    assert remote["dense-k4-p2"] == f"{remote_dir}/dense-k4-p2/dense.pt"
    a = DenseTokenizer.load(local["dense-k4-p2"])
    b = DenseTokenizer.load(remote["dense-k4-p2"])  # written to S3 by a Ray worker
    assert torch.equal(a.centroids, b.centroids)  # same seed, same data: the same model
    train = manifest.filter(pc.equal(manifest["split"], "train"))
    frames = sum(round(d * 100) // 2 for d in train["duration"].to_pylist())
    assert abs(a.fit_stats["dense/frames"] - frames) <= len(train)  # every good clip, pooled by 2
