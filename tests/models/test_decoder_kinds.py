"""The decoder registry: a kind is one class and one key; settings of another kind are refused."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from pairalign.config import ConfigError, from_dict, to_dict
from pairalign.models import decoder_kinds
from pairalign.models.decoder import Scored
from pairalign.models.decoder_kinds import DecoderConfig, DecoderKind
from pairalign.models.decoding import Decoded
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.segment_decoder import SegmentDecoderConfig
from pairalign.models.vq_model import model_config
from pairalign.strings.rule import VQStringConfig


def test_a_setting_of_another_kind_is_refused_by_name():
    with pytest.raises(
        ConfigError,
        match=r"decoder\.free\.memory_positions: does not apply to "
        r"decoder\.kind=segment",
    ):
        from_dict(
            DecoderConfig, {"kind": "segment", "free": {"memory_positions": True}}, where="decoder"
        )
    with pytest.raises(ConfigError, match=r"decoder\.segment\.copy_logit: does not apply"):
        from_dict(DecoderConfig, {"segment": {"copy_logit": 1.0}}, where="decoder")  # kind free
    with pytest.raises(ConfigError, match=r"decoder\.memory_positions.*a section per kind"):
        from_dict(DecoderConfig, {"memory_positions": True}, where="decoder")  # the old key
    with pytest.raises(ConfigError, match=r"decoder\.kind: 'soft' is not one of"):
        from_dict(DecoderConfig, {"kind": "soft"}, where="decoder")
    with pytest.raises(ConfigError, match=r"decoder\.segment\.copy_logit: expected float"):
        from_dict(
            DecoderConfig, {"kind": "segment", "segment": {"copy_logit": "high"}}, where="decoder"
        )
    with pytest.raises(ConfigError, match=r"expected FreeDecoderConfig, got SegmentDecoderConfig"):
        DecoderConfig(settings=SegmentDecoderConfig())  # kind free


def test_a_config_round_trips_with_only_its_kinds_section():
    config = DecoderConfig(kind="segment", dim=32, settings=SegmentDecoderConfig(copy_logit=3.0))
    written = to_dict(config)
    assert (
        written["segment"] == {"boundary_logit": 6.0, "copy_logit": 3.0, "max_segment_frames": 64}
        and "free" not in written
    )
    assert from_dict(DecoderConfig, written) == config
    assert from_dict(DecoderConfig, {"kind": "segment", "free": {}}).kind == "segment"


def test_the_vq_strings_a_decoder_copies_come_from_stage1_and_round_trip():
    stage1 = VQStringConfig(min_run_frames=3, rate=6.0, reduce="dpdp")
    segment = DecoderConfig(kind="segment").with_vq_strings(stage1)
    assert segment.min_run_frames == 3 and segment.vq_strings == stage1
    assert segment.strings == stage1
    assert from_dict(DecoderConfig, to_dict(segment)) == segment
    # a decoder's own min_run_frames stays; without vq_strings only that merge (as version 2)
    own = DecoderConfig(kind="segment", min_run_frames=2)
    assert own.with_vq_strings(stage1).strings == VQStringConfig(2, rate=6.0, reduce="dpdp")
    assert own.strings == VQStringConfig(min_run_frames=2) and "vq_strings" not in to_dict(own)
    free = DecoderConfig().with_vq_strings(stage1)  # learns its strings: every run, no prior
    assert free.min_run_frames == 1 and free.vq_strings is None
    with pytest.raises(ConfigError, match=r"decoder\.vq_strings: does not apply"):
        from_dict(DecoderConfig, {"vq_strings": {"rate": 6.0}}, where="decoder")


@dataclass(frozen=True)
class EchoConfig:
    token: int = 1


class EchoDecoder(nn.Module):
    """A dummy decoder: every clip's string is one token, its span the clip."""

    exact_timing = True
    copies_vq_strings = False

    def __init__(self, config: DecoderConfig, vocab, condition_dim: int) -> None:
        super().__init__()
        self.config, self.vocab, self.settings = config, vocab, config.settings
        self.scale = nn.Parameter(torch.ones(()))

    def memory_of(self, cond):
        return cond.mask

    def select(self, memory, rows):
        return memory[rows]

    def score(self, memory, inputs, tf, starts, clip_frames, attention=None) -> Scored:
        nll = torch.zeros(tf.outputs.shape, dtype=torch.float) * self.scale
        return Scored(
            nll, None, torch.zeros(*nll.shape, self.vocab.size), torch.zeros(*nll.shape, 2)
        )

    def greedy(self, memory, seconds, decoding, frame_seconds, *, use_cache=True) -> Decoded:
        spans = [torch.tensor([[0.0, float(s) / decoding.timing_seconds]]) for s in seconds]
        return Decoded(
            [[self.settings.token] for _ in seconds],
            spans,
            torch.ones(len(seconds), dtype=torch.bool),
        )

    def init_from_vq(self, vq) -> None:
        pass


def test_a_new_decoder_is_one_class_and_one_key(monkeypatch):
    monkeypatch.setitem(decoder_kinds.DECODERS, "echo", DecoderKind(EchoDecoder, EchoConfig))
    config = from_dict(
        PairAlignConfig,
        {"vq": to_dict(model_config("tiny")), "decoder": {"kind": "echo", "echo": {"token": 5}}},
    )
    model = PairAlignModel(config).eval()
    assert isinstance(model.decoder, EchoDecoder) and model.decoder.settings == EchoConfig(5)
    model.init_from_stage1(model.vq.state_dict())
    out = model.decode(0.1 * torch.randn(2, 16_000), torch.tensor([1.0, 0.5]))
    assert out.strings == [[5], [5]]
    assert from_dict(PairAlignConfig, to_dict(config)) == config
    with pytest.raises(ConfigError, match=r"decoder\.echo\.token: does not apply"):
        from_dict(DecoderConfig, {"kind": "free", "echo": {"token": 2}}, where="decoder")
