"""Stage-2 targets: VQ-derived strings at a token rate (the tokenizer's VQ strings under the same
settings), teacher forcing, prefix corruption."""

from functools import partial

import numpy as np
import pytest
import torch

from pairalign.models.decoder import Vocab
from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel
from pairalign.objectives.targets import (
    consensus_targets,
    corrupt_prefix,
    teacher_forcing,
    vq_targets,
)
from pairalign.strings.consensus import ConsensusConfig
from pairalign.strings.rule import VQStringConfig
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer

VOCAB = Vocab(10)
INDEX = partial(VQStringConfig, reduce="index")  # evenly spaced runs


def test_vq_targets_collapse_runs_and_thin_to_the_rate():
    codes = torch.tensor([[1, 1, 2, 2, 3, 4, 4, 5, 6, 6], [7, 7, 7, 7, 7, 7, 7, 7, 7, 7]])
    mask = torch.ones_like(codes, dtype=torch.bool)
    out = vq_targets(codes, mask, torch.tensor([1.0, 1.0]), INDEX(rate=100.0), frame_seconds=0.1)
    assert out.strings == [[1, 2, 3, 4, 5, 6], [7]]
    np.testing.assert_allclose(out.timing[0][:, 0], [0.0, 0.2, 0.4, 0.5, 0.7, 0.8], atol=1e-6)
    thinned = vq_targets(codes, mask, torch.tensor([1.0, 1.0]), INDEX(rate=3.0), frame_seconds=0.1)
    assert thinned.strings[0] == [1, 3, 6]  # 3 of the 6 runs, evenly spaced, in order
    spans = thinned.timing[0]
    np.testing.assert_allclose(spans[0], [0.0, 0.4], atol=1e-6)
    assert abs(spans[-1][1] - 1.0) < 1e-6


def test_merge_targets_span_their_merged_runs_and_rate_zero_keeps_every_run():
    codes = torch.tensor([[1, 1, 1, 2, 3, 3, 4, 4, 4, 4]])
    mask = torch.ones_like(codes, dtype=torch.bool)
    merged = vq_targets(
        codes, mask, torch.tensor([1.0]), VQStringConfig(rate=3.0, reduce="merge"), 0.1
    )
    assert merged.strings == [[1, 3, 4]]  # the 1-frame 2 joins its longer (left) neighbour
    np.testing.assert_allclose(merged.timing[0], [[0.0, 0.4], [0.4, 0.6], [0.6, 1.0]], atol=1e-6)
    every = vq_targets(codes, mask, torch.tensor([1.0]), INDEX(rate=0.0), 0.1)
    assert every.strings == [[1, 2, 3, 4]]


@pytest.fixture(scope="module")
def tiny_tokenizer_model() -> VQModel:
    torch.manual_seed(0)
    config = ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    )
    model = VQModel(config).train()
    model(0.1 * torch.randn(2, 16_000))  # initialise the codebook
    return model.eval()


@pytest.mark.parametrize(("rate", "reduce"), [(0.0, "merge"), (6.0, "merge"), (6.0, "index")])
def test_vq_targets_are_the_tokenizers_vq_strings(tiny_tokenizer_model, rate, reduce):
    model = tiny_tokenizer_model
    wave = 0.1 * torch.randn(3, 32_000, generator=torch.Generator().manual_seed(1))
    seconds = torch.tensor([2.0, 1.3, 0.7])
    with torch.no_grad():
        encoded = model(wave, seconds)
    strings = VQStringConfig(rate=rate, reduce=reduce)
    targets = vq_targets(
        encoded.quantized.codes, encoded.mask, seconds, strings, model.config.frame_seconds
    )
    tokenizer = Tokenizer(model, strings=VQStringConfig(rate=rate, reduce=reduce))
    assert tokenizer.vq_strings(wave.numpy(), seconds.tolist()) == targets.strings
    if rate:  # round(seconds x 6) at most, fewer than all the runs
        assert all(len(s) <= n for s, n in zip(targets.strings, [12, 8, 4], strict=True))
        every = vq_targets(encoded.quantized.codes, encoded.mask, seconds, INDEX(), 0.02).strings
        assert all(len(e) > len(s) for e, s in zip(every, targets.strings, strict=True))
    timed = VQStrings(tokenizer).timed(wave.numpy(), seconds.tolist())
    for (tokens, centres), strings, spans in zip(
        timed, targets.strings, targets.timing, strict=True
    ):
        assert tokens.tolist() == strings
        np.testing.assert_allclose(centres, spans.mean(axis=1), atol=1e-5)


def test_teacher_forcing_shapes():
    tf = teacher_forcing([[1, 2, 3], [4]], VOCAB, max_len=16)
    assert tf.inputs.tolist() == [[11, 1, 2, 3], [11, 4, 10, 10]]
    assert tf.outputs.tolist() == [[1, 2, 3, 12], [4, 12, 10, 10]]
    assert tf.mask.tolist() == [[True] * 4, [True, True, False, False]]


def test_corruption_never_touches_targets_bos_or_padding():
    strings = [list(range(1, 9)), [3, 3], [5] * 20]
    tf = teacher_forcing(strings, VOCAB, max_len=32)
    outputs_before = tf.outputs.clone()
    generator = torch.Generator().manual_seed(0)
    corrupted = corrupt_prefix(tf.inputs, tf.lengths, 0.5, VOCAB, generator)
    assert torch.equal(tf.outputs, outputs_before)
    assert (corrupted[:, 0] == VOCAB.bos).all()
    padding = torch.arange(tf.inputs.shape[1])[None] > tf.lengths[:, None]
    assert torch.equal(corrupted[padding], tf.inputs[padding])
    assert (corrupted[~padding][1:] != VOCAB.eos).all()
    changed = (corrupted != tf.inputs) & ~padding
    assert 0 < changed.sum() < (~padding).sum()


def test_corruption_rate_is_about_the_fraction():
    tf = teacher_forcing([[1, 2, 3, 4, 5, 6, 7, 8, 9, 0] * 3] * 200, VOCAB, max_len=64)
    corrupted = corrupt_prefix(tf.inputs, tf.lengths, 0.2, VOCAB, torch.Generator().manual_seed(1))
    rate = (corrupted[:, 1:] != tf.inputs[:, 1:]).float().mean().item()
    assert 0.1 < rate < 0.2  # hits that repeat an equal neighbour change nothing
    assert torch.equal(corrupt_prefix(tf.inputs, tf.lengths, 0.0, VOCAB), tf.inputs)


def test_dpdp_targets_segment_the_frame_costs_within_the_budget():
    from pairalign.strings.dpdp import budget_runs

    dpdp = VQStringConfig(rate=10.0, reduce="dpdp")

    rng = np.random.default_rng(0)
    costs = torch.from_numpy(rng.uniform(0, 2, (2, 50, 8)).astype(np.float32))
    codes = costs.argmin(-1)
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[1, 40:] = False
    seconds = torch.tensor([1.0, 0.8])
    targets = vq_targets(codes, mask, seconds, dpdp, 0.02, costs=costs)
    for i, n in enumerate((50, 40)):
        values, starts, _ = budget_runs(costs[i, :n].numpy(), float(seconds[i]), 10.0)
        assert targets.strings[i] == values.tolist()
        assert len(targets.strings[i]) <= round(float(seconds[i]) * 10)
        np.testing.assert_allclose(targets.timing[i][:, 0], starts * 0.02, rtol=1e-6)
    with pytest.raises(ValueError, match="costs"):
        vq_targets(codes, mask, seconds, dpdp, 0.02)


def test_consensus_targets_drop_the_run_the_other_voice_does_not_share_then_meet_the_rate():
    # A: 1 1 1 1 7 7 2 2 2 2 3 3; B holds 3 where A has 7, and the rest as A
    codes = torch.tensor([[1, 1, 1, 1, 7, 7, 2, 2, 2, 2, 3, 3]])
    other = torch.tensor([[1, 1, 1, 1, 3, 3, 2, 2, 2, 2, 3, 3]])
    mask = torch.ones_like(codes, dtype=torch.bool)
    partner = torch.arange(12)[None]
    seconds = torch.tensor([1.2])
    args = (codes, mask, other, mask, partner, mask, seconds)
    found = consensus_targets(*args, VQStringConfig(min_run_frames=2), frame_seconds=0.1)
    assert found.strings == [[1, 2, 3]]
    np.testing.assert_allclose(found.timing[0], [[0.0, 0.5], [0.5, 1.0], [1.0, 1.2]], atol=1e-6)
    # a rate of 2/s leaves max(1, round(1.2 x 2)) = 2 tokens: the shortest run joins a neighbour
    cut = consensus_targets(*args, VQStringConfig(min_run_frames=2, rate=2.0), frame_seconds=0.1)
    assert cut.strings == [[1, 2]]
    everything = ConsensusConfig(threshold=0.0)
    kept = consensus_targets(*args, VQStringConfig(), frame_seconds=0.1, consensus=everything)
    assert kept.strings == vq_targets(codes, mask, seconds, VQStringConfig(), 0.1).strings
    with pytest.raises(ValueError, match="consensus targets cut codes"):
        consensus_targets(*args, VQStringConfig(reduce="dpdp"), frame_seconds=0.1)
