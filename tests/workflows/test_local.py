"""workflows/local.py: stage 1, then stage 2 from its checkpoint, each on this process without
Ray (the stages' own recipes, views cached), measured on the dev half of the eval split."""

from __future__ import annotations

import json

import pytest

from pairalign.data.corpora.builtin import BuiltinCorpusConfig
from pairalign.data.corpora.prepare import prepare_builtin
from pairalign.tokenizing.tokenizer import Tokenizer
from workflows.local import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("builtin"))
    prepare_builtin(BuiltinCorpusConfig(train_sentences=2, test_sentences=2), out)
    return out


def test_both_stages_run_locally(corpus, tmp_path):
    common = [
        f"storage_path={tmp_path}",
        f"corpus.builtin_dir={corpus}",
        "train.batch_size=4",
        "train.num_workers=1",
        "train.max_steps=2",
        "train.warmup_steps=1",
        "train.report_every=1",
        "train.checkpoint_every=2",
        "local.view_clips=2",
        "local.threads=1",
    ]
    small = [
        "model.encoder.dim=32",
        "model.encoder.layers=1",
        "model.encoder.heads=2",
        "model.quantizer.codebook_size=16",
        "model.quantizer.code_dim=8",
    ]
    vq = main(["vq", *common, *small, "name=v"])
    assert Tokenizer.from_checkpoint(vq["checkpoint"]).decoder is None
    assert {"dev/vq/map", "dev/vq/token_rate"} <= set(vq) and "dev/pairalign/map" not in vq
    refine = main(
        [
            "refine",
            *common,
            "name=r",
            f"init_checkpoint={vq['checkpoint']}",
            "decoder.dim=32",
            "decoder.layers=1",
            "decoder.heads=2",
            "watch_clips=0",
        ]
    )
    assert {"dev/pairalign/map", "dev/vq/map"} <= set(refine)
    assert Tokenizer.from_checkpoint(refine["checkpoint"]).decoder is not None
    written = json.loads((tmp_path / "local" / "r" / "figures.json").read_text())
    assert written["steps"] == 2.0 and written["checkpoint"] == refine["checkpoint"]


def test_a_stage_is_named_first():
    with pytest.raises(SystemExit, match=r"usage: workflows/local\.py"):
        main(["train.max_steps=2"])


def test_a_wrong_local_key_is_one_line():
    with pytest.raises(SystemExit, match=r"^error: unknown config key\(s\): local\.thread;"):
        main(["vq", "local.thread=1"])
    with pytest.raises(SystemExit, match=r"^error: local\.threads: expected int"):
        main(["vq", "local.threads=many"])
