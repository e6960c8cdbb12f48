import torch

from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.vq_model import model_config


def _model(memory_codes: bool) -> PairAlignModel:
    torch.manual_seed(0)
    config = PairAlignConfig(model_config("tiny"), DecoderConfig(memory_codes=memory_codes))
    return PairAlignModel(config).eval()


def test_memory_codes_add_each_frames_code_to_the_condition():
    wave = 0.1 * torch.randn(2, 16_000)
    plain, with_codes = _model(False), _model(True)
    with_codes.load_state_dict(plain.state_dict())
    with torch.no_grad():
        a, b = plain(wave), with_codes(wave)
    torch.testing.assert_close(a.quantized.codes, b.quantized.codes)  # the tokenizer is unchanged
    q = plain.vq.quantizer
    expected = a.frames + q.codebook[a.quantized.codes] @ q.project.weight
    torch.testing.assert_close(b.frames, expected)
    assert not torch.allclose(a.frames, b.frames)


def test_the_tokenizer_decodes_from_the_condition_the_decoder_was_trained_on():
    from pairalign.tokenizing.tokenizer import Tokenizer

    model = _model(True)
    wave = 0.1 * torch.randn(2, 16_000)
    with torch.no_grad():
        trained_on = model(wave).frames  # the training path: frames + codes
    tokenizer = Tokenizer(model)
    condition, _ = tokenizer.condition(wave.numpy())
    torch.testing.assert_close(condition.frames, trained_on)
