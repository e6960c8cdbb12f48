"""The stage-1 objective on small tensors: finite namespaced losses; the contrast prefers true
pairs."""

import pytest
import torch

from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel
from pairalign.objectives.stage1 import Stage1Weights, _info_nce, stage1_losses

SMALL = ModelConfig(
    encoder=EncoderConfig(dim=32, layers=1, heads=2),
    quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
)


def batch(n=3, samples=16_000):
    torch.manual_seed(0)
    wave = 0.1 * torch.randn(n, samples)
    return {
        "view_a": wave,
        "view_b": wave + 0.01 * torch.randn(n, samples),
        "warp_a": torch.ones(n),
        "shift_a": torch.zeros(n),
        "warp_b": torch.full((n,), 1.1),
        "shift_b": torch.full((n,), 0.05),
        "source_seconds": torch.full((n,), 1.0),
    }


def test_losses_are_finite_namespaced_and_train():
    model = VQModel(SMALL).train()
    losses, a, b = stage1_losses(model, batch(), Stage1Weights())
    assert {"stage1/agree", "stage1/contrast", "stage1/prior", "vq/commit", "total"} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert a.frames.shape == b.frames.shape == (3, 51, 32)


def test_total_is_the_weighted_sum():
    model = VQModel(SMALL).train()
    w = Stage1Weights(agree=0.3, contrast=2.0, prior=0.7, commit=0.1)
    losses, _, _ = stage1_losses(model, batch(), w)
    expected = (
        0.3 * losses["stage1/agree"]
        + 2.0 * losses["stage1/contrast"]
        + 0.7 * losses["stage1/prior"]
        + 0.1 * losses["vq/commit"]
    )
    torch.testing.assert_close(losses["total"], expected)


def test_contrast_prefers_matching_pairs():
    torch.manual_seed(1)
    z = torch.nn.functional.normalize(torch.randn(64, 8), dim=-1)
    w = Stage1Weights(negatives="batch", exclude_frames=0)  # every other frame is a negative
    matched = _info_nce(z, z, w)
    shuffled = _info_nce(z, z[torch.randperm(64)], w)
    assert matched < shuffled
    assert matched < 1.0


def test_a_positives_neighbours_in_its_own_clip_are_not_its_negatives():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    rows = torch.tensor([0, 0, 0, 1, 1, 1])
    frames = torch.tensor([10, 11, 30, 10, 11, 30])
    plain = Stage1Weights(exclude_frames=0)
    wide = Stage1Weights(exclude_frames=2)
    # make frame 11 of clip 0 look like frame 10's positive: a strong negative unless excluded
    zb = z.clone()
    zb[1] = z[0]
    with_neighbour = _info_nce(z, zb, plain, rows, frames)
    without = _info_nce(z, zb, wide, rows, frames)
    assert without < with_neighbour
    # far frames and other clips' frames still count: excluding everything within 100 frames of
    # a positive in its own clip changes the loss again
    assert _info_nce(z, zb, Stage1Weights(exclude_frames=100), rows, frames) != without


def test_clip_negatives_leave_other_clips_out():
    torch.manual_seed(1)
    z = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    rows = torch.tensor([0, 0, 0, 1, 1, 1])
    frames = torch.tensor([0, 10, 20, 0, 10, 20])
    zb = z.clone()
    zb[3] = z[0]  # another clip's frame looks like frame 0's positive: a negative only in "batch"
    batch = _info_nce(z, zb, Stage1Weights(negatives="batch"), rows, frames)
    clip = _info_nce(z, zb, Stage1Weights(negatives="clip"), rows, frames)
    assert clip < batch
    # with only one clip, "clip" is "batch"
    one = torch.zeros(6, dtype=torch.long)
    torch.testing.assert_close(
        _info_nce(z, zb, Stage1Weights(negatives="clip"), one, frames),
        _info_nce(z, zb, Stage1Weights(negatives="batch"), one, frames),
    )


def test_pseudo_labels_are_read_at_the_source_time_of_each_frame():
    from pairalign.models.quantizer import Quantized
    from pairalign.models.vq_model import Encoded
    from pairalign.objectives.stage1 import _pseudo_loss

    frames, classes = 20, 4
    labels = torch.arange(frames)[None] % classes  # (1, T) the clean crop's class at each frame
    batch = {
        "labels": labels,
        "source_seconds": torch.tensor([0.4]),
        "warp_a": torch.tensor([1.0]),
        "shift_a": torch.tensor([0.04]),
    }  # 2 frames later
    # a view whose frame t heard source frame t - 2: logits that name that class are right
    right = torch.full((1, frames, classes), -10.0)
    for t in range(2, frames):
        right[0, t, (t - 2) % classes] = 10.0
    wrong = right.roll(1, dims=1)
    q = Quantized(
        torch.zeros(1, frames, dtype=torch.long),
        torch.zeros(1, frames, 2),
        torch.zeros(1, frames, 2),
        torch.zeros(1, frames, 2),
        {},
    )
    mask = torch.ones(1, frames, dtype=torch.bool)

    def encoded(logits):
        return Encoded(torch.zeros(1, frames, 3), mask, q, torch.zeros(1, frames, 2), logits)

    good = _pseudo_loss(encoded(right), batch, 0.02, "a")
    bad = _pseudo_loss(encoded(wrong), batch, 0.02, "a")
    assert good < 1e-3 < 5.0 < bad


def test_pseudo_labels_can_supervise_the_codebook_assignment_itself():
    from pairalign.models.quantizer import Quantized
    from pairalign.models.vq_model import Encoded
    from pairalign.objectives.stage1 import _pseudo_loss

    frames, classes = 10, 4
    labels = torch.arange(frames)[None] % classes
    batch = {
        "labels": labels,
        "source_seconds": torch.tensor([0.2]),
        "warp_a": torch.tensor([1.0]),
        "shift_a": torch.tensor([0.0]),
    }
    logits = torch.full((1, frames, classes), -10.0)
    logits[0, torch.arange(frames), labels[0]] = 10.0  # the codebook picks each frame's class
    q = Quantized(
        logits.argmax(-1), torch.zeros(1, frames, 2), torch.zeros(1, frames, 2), logits, {}
    )
    x = Encoded(
        torch.zeros(1, frames, 3),
        torch.ones(1, frames, dtype=torch.bool),
        q,
        torch.zeros(1, frames, classes),
    )  # no label head at all
    assert _pseudo_loss(x, batch, 0.02, "a", target="codes") < 1e-3
    with pytest.raises(ValueError, match="label_classes"):
        _pseudo_loss(x, batch, 0.02, "a", target="head")


def test_codes_as_pseudo_label_targets_train_through_the_codebook_update():
    # the codebook's EMA update changes it in place during the forward pass; the assignment
    # logits must still backpropagate into the encoder
    model = VQModel(SMALL).train()
    data = batch() | {"labels": torch.randint(0, 16, (3, 50))}
    weights = Stage1Weights(pseudo=1.0, pseudo_target="codes")
    losses, _, _ = stage1_losses(model, data, weights)
    assert "stage1/pseudo" in losses
    losses["stage1/pseudo"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_frames_sharing_a_partner_under_dtw_are_not_each_others_negatives():
    """Under DTW two far frames of A (a held sound) can share one partner in B: with
    `exclude_partner_frames` neither is the other's negative."""
    torch.manual_seed(2)
    z = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    rows = torch.zeros(4, dtype=torch.long)
    frames = torch.tensor([0, 20, 40, 60])
    partners = torch.tensor([5, 6, 30, 50])  # frames 0 and 20 of A both hear B's frames 5-6
    zb = z.clone()
    zb[1] = z[0]
    w = Stage1Weights(exclude_frames=2)
    plain = _info_nce(z, zb, w, rows, frames, None)
    excluded = _info_nce(z, zb, Stage1Weights(exclude_frames=2), rows, frames, partners)
    assert excluded < plain


def test_a_cross_voice_batch_reports_its_share_and_code_agreement():
    model = VQModel(SMALL).train()
    b = batch()
    grid = torch.arange(101, dtype=torch.float32) * 0.01
    b |= {
        "source_seconds_b": torch.full((3,), 0.9),
        "time_b": torch.stack([grid, 0.05 + 0.8 * grid, grid]),
        "cross": torch.tensor([0.0, 1.0, 0.0]),
        "dtw_cost": torch.tensor([float("nan"), 0.3, float("nan")]),
    }
    losses, _, _ = stage1_losses(model, b, Stage1Weights(exclude_partner_frames=True))
    assert losses["stage1/cross_voice_share"] == pytest.approx(1 / 3)
    assert 0.0 <= losses["stage1/cross_voice_code_agreement"] <= 1.0
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
