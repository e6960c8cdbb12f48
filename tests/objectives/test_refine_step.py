"""The stage-2 step's switches on a tiny model: where the VQ-derived targets' codes come from, and a
frozen tokenizer (no gradient, no dropout, no codebook updates, no stage-1 terms)."""

import pytest
import torch

from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.decoding import DecodingConfig
from pairalign.models.encoder import EncoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig
from pairalign.objectives.refine_config import RefineObjective, TargetConfig
from pairalign.objectives.refine_step import RefineStep
from pairalign.objectives.stage1 import Stage1Weights, stacked_seconds, stacked_views

CONFIG = PairAlignConfig(
    vq=ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2, dropout=0.3),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    ),
    decoder=DecoderConfig(dim=32, layers=1, heads=2),
    decoding=DecodingConfig(timing_seconds=1.0),
)


def batch(n=3, samples=16_000):
    generator = torch.Generator().manual_seed(0)
    wave = 0.1 * torch.randn(n, samples, generator=generator)
    return {
        "view_a": wave,
        "view_b": wave + 0.01 * torch.randn(n, samples, generator=generator),
        "warp_a": torch.ones(n),
        "shift_a": torch.zeros(n),
        "warp_b": torch.full((n,), 1.1),
        "shift_b": torch.full((n,), 0.05),
        "source_seconds": torch.full((n,), 1.0),
    }


def cross_batch():
    """`batch()` with pair 1's view B from another recording: 0.6x A's pace, 0.1 s in, 0.7 s
    of real audio."""
    grid = torch.arange(101, dtype=torch.float32) * 0.01
    return batch() | {
        "source_seconds_b": torch.tensor([1.0, 0.7, 1.0]),
        "time_b": torch.stack([grid, 0.1 + 0.6 * grid, grid]),
        "cross": torch.tensor([0.0, 1.0, 0.0]),
    }


def step_of(source: str = "train", freeze_vq: bool = False) -> RefineStep:
    torch.manual_seed(0)
    model = PairAlignModel(CONFIG).train()
    model(0.1 * torch.randn(2, 16_000))  # initialise the codebook
    objective = RefineObjective(targets=TargetConfig(source=source), freeze_vq=freeze_vq)
    return RefineStep(model, objective, Stage1Weights())


def target_strings(step: RefineStep, data) -> list[list[int]]:
    seconds = stacked_seconds(data)
    step.model.vq.quantizer.eval()  # no codebook update between calls: only dropout varies
    both = step.model(stacked_views(data), seconds)  # a training pass (dropout on)
    targets = step.vq_targets(data, seconds, both)
    return targets.a.strings + targets.b.strings


def test_eval_targets_repeat_while_train_targets_vary_with_dropout():
    data = batch()
    train = step_of(source="train")
    assert target_strings(train, data) != target_strings(train, data)
    held = step_of(source="eval")
    first = target_strings(held, data)
    assert first == target_strings(held, data)
    assert held.model.vq.training  # the eval pass gives train mode back


@pytest.mark.parametrize("frozen", [True, False])
def test_a_frozen_tokenizer_does_not_move_while_the_decoder_does(frozen):
    step = step_of(freeze_vq=frozen)
    model = step.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    losses = step(batch())
    losses["total"].backward()
    optimizer.step()
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("decoder.") for k in moved)
    assert any(k.startswith("vq.") for k in moved) != frozen
    assert ("stage1/total" in losses) != frozen
    if frozen:  # eval mode (no dropout, no EMA codebook update), no gradient, not optimised
        assert not model.vq.training and model.decoder.training
        assert all(p.grad is None for p in model.vq.parameters())
        assert len(trainable) == len(list(model.decoder.parameters()))
        torch.testing.assert_close(losses["total"], losses["stage2/total"])


def test_a_frozen_tokenizer_stays_in_eval_mode_after_model_train():
    step = step_of(freeze_vq=True)
    data = batch()
    step.model.train()  # as a metrics pass does when it gives the mode back
    losses = step(data)
    assert not step.model.vq.training and torch.isfinite(losses["total"])
    seconds = stacked_seconds(data)
    with torch.no_grad():  # no dropout, no codebook update: the same codes every pass
        codes = [step.model(stacked_views(data), seconds).quantized.codes for _ in range(2)]
    assert torch.equal(*codes)


def test_a_step_on_cross_voice_pairs_maps_the_targets_across_recordings():
    """A batch with B from another recording (`time_b`, B's own seconds) trains; B's real audio
    sets B's condition mask."""
    data = cross_batch()
    seconds = stacked_seconds(data)
    assert seconds[4] < seconds[3]  # pair 1's view B ends with its own recording
    step = step_of()
    losses = step(data)
    assert torch.isfinite(losses["total"])
    losses["total"].backward()


def test_consensus_targets_keep_a_subset_of_each_views_runs():
    """With `targets.consensus` each view's target is its VQ-derived string with the runs the
    other view does not share merged away: never longer, never a code the view did not emit."""
    data = cross_batch()
    torch.manual_seed(0)
    model = PairAlignModel(CONFIG).eval()
    model(0.1 * torch.randn(2, 16_000))
    targets = {}
    for consensus in (False, True):
        objective = RefineObjective(
            targets=TargetConfig(source="eval", consensus=consensus, reduce=False)
        )
        step = RefineStep(model, objective, Stage1Weights())
        seconds = stacked_seconds(data)
        with torch.no_grad():
            both = model(stacked_views(data), seconds)
        targets[consensus] = step.vq_targets(data, seconds, both)
    for plain, kept in ((targets[False].a, targets[True].a), (targets[False].b, targets[True].b)):
        for p, k in zip(plain.strings, kept.strings, strict=True):
            assert 1 <= len(k) <= len(p) and set(k) <= set(p)
    step = RefineStep(model, RefineObjective(targets=TargetConfig(consensus=True)), Stage1Weights())
    model.train()
    assert torch.isfinite(step(data)["total"])
