"""Pseudo labels for stage 1: fitted on the train split once, kept with the run, checked against
the model they are for."""

import os

import pytest
import torch

from pairalign.config import from_dict
from pairalign.data.corpora.builtin import BuiltinCorpusConfig
from pairalign.data.corpora.prepare import PrepareConfig, prepare_corpus
from pairalign.stages.vq import VQStageConfig, fit_pseudo_labels, pseudo_labeler


@pytest.fixture(scope="module")
def train_rows(tmp_path_factory):
    table = prepare_corpus(
        PrepareConfig(
            out_dir=str(tmp_path_factory.mktemp("builtin")),
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=2, test_sentences=1),
        )
    )
    import pyarrow.compute as pc

    return table.filter(pc.equal(table["split"], "train"))


def config(tmp_path, **changes) -> VQStageConfig:
    data = {
        "name": "p",
        "storage_path": str(tmp_path),
        "fit_pseudo_labels": True,
        "model": {"quantizer": {"codebook_size": 4}},
        "loss": {"pseudo": 1.0, "pseudo_target": "codes"},
    } | changes
    return from_dict(VQStageConfig, data)


def test_pseudo_labels_are_fitted_once_and_label_every_frame(train_rows, tmp_path):
    stage = config(tmp_path)
    path = fit_pseudo_labels(stage, train_rows)
    assert path == str(tmp_path / "p" / "pseudo_labels" / "dense.pt") and os.path.exists(path)
    made = os.path.getmtime(path)
    assert fit_pseudo_labels(stage, train_rows) == path and os.path.getmtime(path) == made
    labels = pseudo_labeler(stage, path)
    clean = 0.1 * torch.randn(2, 48_000)
    out = labels(clean, torch.tensor([3.0, 1.0]))
    assert out.shape == (2, 150)  # one label per 20 ms encoder frame
    assert out[0].min() >= 0 and out.max() < 4
    assert torch.all(out[1, 50:] == -1) and torch.all(out[1, :50] >= 0)  # past the real audio


def test_labels_that_do_not_fit_the_model_are_refused(train_rows, tmp_path):
    path = fit_pseudo_labels(config(tmp_path), train_rows)
    with pytest.raises(ValueError, match="codebook_size=4"):
        pseudo_labeler(config(tmp_path, model={"quantizer": {"codebook_size": 8}}), path)
    with pytest.raises(ValueError, match="subsample"):
        pseudo_labeler(
            config(
                tmp_path, model={"quantizer": {"codebook_size": 4}, "encoder": {"subsample": 4}}
            ),
            path,
        )
    assert fit_pseudo_labels(config(tmp_path, fit_pseudo_labels=False), train_rows) == ""
