"""Stage-2 targets: VQ-derived strings at a token rate, teacher forcing, prefix corruption."""

import numpy as np
import torch

from pairalign.models.decoder import Vocab
from pairalign.objectives.targets import corrupt_prefix, teacher_forcing, vq_targets

VOCAB = Vocab(10)


def test_vq_targets_collapse_runs_and_thin_to_the_rate():
    codes = torch.tensor([[1, 1, 2, 2, 3, 4, 4, 5, 6, 6], [7, 7, 7, 7, 7, 7, 7, 7, 7, 7]])
    mask = torch.ones_like(codes, dtype=torch.bool)
    out = vq_targets(codes, mask, torch.tensor([1.0, 1.0]), rate=100.0, frame_seconds=0.1)
    assert out.strings == [[1, 2, 3, 4, 5, 6], [7]]
    np.testing.assert_allclose(out.timing[0][:, 0], [0.0, 0.2, 0.4, 0.5, 0.7, 0.8], atol=1e-6)
    thinned = vq_targets(codes, mask, torch.tensor([1.0, 1.0]), rate=3.0, frame_seconds=0.1)
    assert thinned.strings[0] == [1, 3, 6]  # 3 of the 6 runs, evenly spaced, in order
    spans = thinned.timing[0]
    np.testing.assert_allclose(spans[0], [0.0, 0.4], atol=1e-6)
    assert abs(spans[-1][1] - 1.0) < 1e-6


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
