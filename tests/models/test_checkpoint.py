import pytest
import torch

from pairalign.config import to_dict
from pairalign.models.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    checkpoint_model_config,
    load_checkpoint,
)
from pairalign.models.decoder import DecoderConfig
from pairalign.models.decoding import DecodingConfig
from pairalign.models.encoder import EncoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig


def _without_positions(config: dict) -> dict:
    encoder = {k: v for k, v in config["encoder"].items() if k != "positions"}
    return {**config, "encoder": encoder}


def test_a_checkpoint_from_before_a_key_existed_keeps_what_it_was_trained_with():
    # checkpoints written before encoder.positions existed had absolute positions, whatever the
    # default is now
    old = _without_positions(to_dict(ModelConfig()))
    assert (
        checkpoint_model_config({"stage": "vq", "model_config": old}).encoder.positions
        == "absolute"
    )
    refine = to_dict(PairAlignConfig(ModelConfig(), DecoderConfig()))
    refine["vq"] = _without_positions(refine["vq"])
    loaded = checkpoint_model_config({"stage": "refine", "model_config": refine})
    assert loaded.vq.encoder.positions == "absolute"


def test_a_key_the_checkpoint_has_is_read_as_written():
    config = ModelConfig(encoder=EncoderConfig(positions="none"))
    payload = {"stage": "vq", "model_config": to_dict(config)}
    assert checkpoint_model_config(payload) == config


def _v1_refine_checkpoint(directory, model, decoding=None) -> None:
    """A stage-2 checkpoint as version 1 wrote it: `tokenizer` config and weights, and the
    decoding settings as an untyped dict beside them."""
    config = to_dict(model.config)
    del config["decoding"]
    config["tokenizer"] = config.pop("vq")
    state = {k.replace("vq.", "tokenizer.", 1): v for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "version": 1, "stage": "refine", "step": 7,
               "model_config": config, "stage_config": {}, "model": state,
               "teacher": dict(state)}  # fmt: skip
    if decoding is not None:
        payload["decoding"] = decoding
    directory.mkdir()
    torch.save(payload, directory / "checkpoint.pt")


def test_a_version_1_stage2_checkpoint_loads_as_version_2(tmp_path):
    from pairalign.tokenizing.tokenizer import Tokenizer

    torch.manual_seed(0)
    small = ModelConfig(encoder=EncoderConfig(dim=32, layers=1, heads=2),
                        quantizer=QuantizerConfig(codebook_size=16, code_dim=8))  # fmt: skip
    config = PairAlignConfig(vq=small, decoder=DecoderConfig(dim=32, layers=1, heads=2),
                             decoding=DecodingConfig(rate=8.0, slack=2.0, timing_seconds=2.0))  # fmt: skip
    model = PairAlignModel(config).eval()
    _v1_refine_checkpoint(tmp_path / "old", model,
                          {"target_rate": 8.0, "decode_slack": 2.0, "clip_seconds": 2.0})  # fmt: skip
    payload = load_checkpoint(str(tmp_path / "old"))
    assert payload["version"] == VERSION and "decoding" not in payload
    assert set(payload["model"]) == set(model.state_dict()) == set(payload["teacher"])
    tokenizer = Tokenizer.from_checkpoint(str(tmp_path / "old"))
    assert tokenizer.pairalign.config == config  # the decoding dict became the typed section
    wave = 0.1 * torch.randn(2, 16_000)
    assert tokenizer(wave.numpy()) == model.decode(wave, torch.ones(2)).strings
    _v1_refine_checkpoint(tmp_path / "older", model)  # no decoding entry: what v1 defaulted to
    assert checkpoint_model_config(load_checkpoint(str(tmp_path / "older"))).decoding == (
        DecodingConfig(rate=12.5, slack=1.5, timing_seconds=3.0)
    )


def test_a_checkpoint_of_a_later_version_is_refused_by_name(tmp_path):
    (tmp_path / "new").mkdir()
    torch.save({"format": FORMAT, "version": VERSION + 1}, tmp_path / "new" / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=r"new: checkpoint version 3"):
        load_checkpoint(str(tmp_path / "new"))
