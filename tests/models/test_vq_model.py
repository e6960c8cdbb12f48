"""Padding changes nothing: a clip encodes to the same codes alone and batched beside longer
clips, because the front end normalises over real audio only and attention never reads padding."""

import numpy as np
import pytest
import torch

from pairalign.models.encoder import EncoderConfig
from pairalign.models.frontend import LogMel
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel

SR = 16_000


@pytest.fixture(scope="module")
def model() -> VQModel:
    torch.manual_seed(0)
    config = ModelConfig(
        encoder=EncoderConfig(dim=32, layers=2, heads=2),
        quantizer=QuantizerConfig(codebook_size=32, code_dim=8),
    )
    model = VQModel(config).train()
    model(0.1 * torch.randn(2, 48_000))  # initialise the codebook
    return model.eval()


def clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        (0.1 * rng.standard_normal(n)).astype(np.float32) for n in (20_000, 33_333, 48_000, 70_001)
    ]


@torch.no_grad()
def test_a_clip_has_the_same_codes_alone_and_beside_longer_clips(model):
    waves = clips()
    alone = []
    for wave in waves:
        encoded = model(torch.from_numpy(wave)[None])
        alone.append(
            (encoded.quantized.codes[0][encoded.mask[0]], encoded.frames[0][encoded.mask[0]])
        )
    batch = torch.zeros(len(waves), 100_000)  # every clip padded, by 30_000 to 80_000 samples
    for i, wave in enumerate(waves):
        batch[i, : len(wave)] = torch.from_numpy(wave)
    encoded = model(batch, torch.tensor([len(w) / SR for w in waves]))
    for i, (codes, frames) in enumerate(alone):
        mask = encoded.mask[i]
        assert int(mask.sum()) == len(codes) == -(-len(waves[i]) // 320)  # frames start inside
        assert torch.equal(encoded.quantized.codes[i][mask], codes)
        torch.testing.assert_close(encoded.frames[i][mask], frames, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_padded_log_mel_frames_are_zero_and_real_ones_normalised_over_real_audio():
    frontend = LogMel()
    wave = torch.from_numpy(clips()[1])
    padded = torch.nn.functional.pad(wave, (0, 16_000))[None]
    logmel = frontend(padded, torch.tensor([len(wave) / SR]))[0]  # (T, M)
    real = -(-len(wave) // 160)
    assert torch.all(logmel[real:] == 0)
    torch.testing.assert_close(logmel[:real].mean(0), torch.zeros(80), atol=1e-4, rtol=0)
    torch.testing.assert_close(logmel[:real].std(0), torch.ones(80), atol=1e-3, rtol=0)
    alone = frontend(wave[None], torch.tensor([len(wave) / SR]))[0]
    torch.testing.assert_close(alone[:real], logmel[:real])
