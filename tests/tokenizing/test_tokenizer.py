"""Checkpoints round-trip through Tokenizer.from_checkpoint, safely and with their config."""

import itertools

import numpy as np
import pytest
import torch

from pairalign.config import to_dict
from pairalign.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel, model_config
from pairalign.tokenizing.tokenizer import Tokenizer

SMALL = ModelConfig(
    encoder=EncoderConfig(dim=32, layers=1, heads=2),
    quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
)


def trained_model() -> VQModel:
    torch.manual_seed(0)
    model = VQModel(SMALL).train()
    model(0.1 * torch.randn(2, 16_000))  # initialise the codebook
    return model.eval()


def test_checkpoint_round_trip_gives_the_same_strings(tmp_path):
    model = trained_model()
    save_checkpoint(
        str(tmp_path),
        model_config=SMALL,
        model_state=model.state_dict(),
        stage="vq",
        stage_config={"name": "t"},
        step=7,
        optimizer={"x": torch.zeros(2)},
    )
    tokenizer = Tokenizer.from_checkpoint(str(tmp_path))
    assert tokenizer.config == SMALL and tokenizer.checkpoint_id.endswith("@step7")
    wave = 0.1 * np.random.default_rng(0).standard_normal((2, 24_000)).astype(np.float32)
    with torch.no_grad():
        codes = model(torch.from_numpy(wave)).quantized.codes.numpy()
    frames = tokenizer.frame_codes(wave)
    assert [len(c) for c in frames] == [75, 75]  # frames that start inside 1.5 s at 50 per second
    assert [c.tolist() for c in frames] == codes[:, :75].tolist()
    strings = tokenizer(wave)
    assert all(s and all(a != b for a, b in itertools.pairwise(s)) for s in strings)
    assert load_checkpoint(str(tmp_path / "checkpoint.pt"))["stage_config"] == {"name": "t"}


def test_seconds_trim_codes_to_real_audio(tmp_path):
    save_checkpoint(
        str(tmp_path),
        model_config=SMALL,
        model_state=trained_model().state_dict(),
        stage="vq",
        stage_config={},
        step=1,
    )
    tokenizer = Tokenizer.from_checkpoint(str(tmp_path))
    codes = tokenizer.frame_codes(np.zeros((2, 32_000), np.float32), seconds=[2.0, 1.0])
    assert [len(c) for c in codes] == [100, 50]  # 50 frames per second


def test_non_checkpoints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="not a loadable checkpoint"):
        load_checkpoint(str(tmp_path))
    torch.save({"format": "other"}, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="not a pairalign checkpoint"):
        load_checkpoint(str(tmp_path))


def test_named_sizes_match_the_shipped_base_config():
    from pairalign.stages.vq import VQStageConfig
    from workflows.cli import CONFIG_DIR, load_config

    assert load_config(VQStageConfig, CONFIG_DIR / "vq_base.yaml").model == model_config("base")
    assert load_config(VQStageConfig, CONFIG_DIR / "vq.yaml").model == model_config("tiny")
    assert to_dict(model_config("tiny"))["quantizer"]["codebook_size"] == 32


def test_vq_string_settings_travel_with_the_checkpoint(small_checkpoints, tmp_path):
    from pairalign.models.checkpoint import checkpoint_model_config
    from pairalign.models.quantizer import group_codes
    from pairalign.strings.rule import VQStringConfig
    from pairalign.strings.runs import collapse_runs, merge_short_runs
    from pairalign.tokenizing.kinds import VQStrings

    payload = load_checkpoint(small_checkpoints["vq"])
    save_checkpoint(
        str(tmp_path / "grouped"),
        model_config=checkpoint_model_config(payload),
        model_state=payload["model"],
        stage="vq",
        stage_config={},
        step=1,
        vq_strings={"min_run_frames": 3, "groups": 4},
    )
    plain = Tokenizer.from_checkpoint(small_checkpoints["vq"])
    grouped = Tokenizer.from_checkpoint(str(tmp_path / "grouped"))
    assert grouped.strings == VQStringConfig(min_run_frames=3, groups=4)
    wave = 0.1 * np.random.default_rng(0).standard_normal((2, 40_000)).astype(np.float32)
    codes = plain.frame_codes(wave)
    mapping = group_codes(plain.model.quantizer.codebook, 4)
    expected = [collapse_runs(merge_short_runs(mapping[c], 3)) for c in codes]
    assert grouped.vq_strings(wave) == expected
    assert max(max(s) for s in expected) < 4 and VQStrings(grouped).vocab_size == 4
    assert VQStrings(grouped).checkpoint_id != VQStrings(plain).checkpoint_id  # other strings
    assert grouped.with_strings(VQStringConfig()).vq_strings(wave) == plain.vq_strings(wave)


def test_a_vq_spec_can_read_with_other_string_settings(small_checkpoints):
    from pairalign.config import from_dict
    from pairalign.tokenizing.kinds import TokenizerSpec, load_tokenizer

    spec = from_dict(
        TokenizerSpec,
        {
            "name": "t",
            "kind": "vq",
            "checkpoint": small_checkpoints["vq"],
            "strings": {"rate": 2.0, "reduce": "index"},
        },
    )
    wave = 0.1 * np.random.default_rng(0).standard_normal((2, 32_000)).astype(np.float32)
    reduced, plain = load_tokenizer(spec), load_tokenizer(TokenizerSpec("p", "vq", spec.checkpoint))
    assert all(len(s) <= 4 for s in reduced(wave))  # 2 s x 2 tokens/s
    assert max(len(s) for s in plain(wave)) > 4
    assert reduced.checkpoint_id == plain.checkpoint_id + "+min_run1+groups0+rate2+index"
    with pytest.raises(ValueError, match="vq only"):
        load_tokenizer(TokenizerSpec("x", "pairalign", small_checkpoints["refine"], spec.strings))


def test_dpdp_strings_fit_the_budget_and_without_one_are_the_argmax_runs():
    from pairalign.strings.rule import VQStringConfig

    plain = Tokenizer(trained_model())
    wave = 0.1 * np.random.default_rng(0).standard_normal((2, 40_000)).astype(np.float32)
    seconds = [2.5, 1.3]
    budgets = [max(1, round(s * 4.0)) for s in seconds]  # 10 and 5 tokens at 4 tokens per second
    assert all(len(s) > b for s, b in zip(plain.vq_strings(wave, seconds), budgets, strict=True))
    dpdp = plain.with_strings(VQStringConfig(min_run_frames=2, rate=4.0, reduce="dpdp"))
    strings = dpdp.vq_strings(wave, seconds)
    assert all(0 < len(s) <= b for s, b in zip(strings, budgets, strict=True))
    assert all(a != b for s in strings for a, b in itertools.pairwise(s))
    for (_, starts, ends), frames in zip(dpdp.string_runs(wave, seconds), [125, 65], strict=True):
        assert starts[0] == 0 and ends[-1] == frames and (starts[1:] == ends[:-1]).all()
    # a budget that every argmax run fits: the costs' argmin is the quantizer's code
    roomy = plain.with_strings(VQStringConfig(rate=1000.0, reduce="dpdp"))
    assert roomy.vq_strings(wave, seconds) == plain.vq_strings(wave, seconds)


def test_dpdp_refuses_code_groups():
    from pairalign.strings.rule import VQStringConfig

    with pytest.raises(ValueError, match="groups=4 must be 0"):
        VQStringConfig(groups=4, rate=4.0, reduce="dpdp")
