from pairalign.config import to_dict
from pairalign.models.checkpoint import checkpoint_model_config
from pairalign.models.decoder import DecoderConfig
from pairalign.models.encoder import EncoderConfig
from pairalign.models.pairalign_model import PairAlignConfig
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
