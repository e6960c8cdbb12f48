"""Each refine (stage-2) term on hand-built tensors: length pushes toward the rate, anti-bypass
penalises a decoder that ignores the condition, the contrast prefers matching pairs, weights switch
terms off.
"""

import dataclasses

import numpy as np
import pytest
import torch

from pairalign.models.decoder import FreeDecoderConfig, TokenDecoder, Vocab
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.quantizer import Quantized
from pairalign.models.vq_model import Encoded
from pairalign.objectives import refine_terms
from pairalign.objectives.refine_config import (
    RefineObjective,
    TargetConfig,
    TermSettings,
    TermWeights,
)
from pairalign.objectives.refine_terms import (
    TERMS,
    PairTargets,
    Term,
    bypass_loss,
    contrast_loss,
    expected_length,
    length_loss,
    refine_losses,
)
from pairalign.objectives.targets import Targets, teacher_forcing

VOCAB = Vocab(8)
STRINGS = [[1, 2, 3, 4], [5, 6, 7], [0, 0, 2], [3, 1]]


def encoded(frames: torch.Tensor) -> Encoded:
    b, t, _ = frames.shape
    q = Quantized(torch.zeros(b, t, dtype=torch.long), frames, frames, frames, {})
    return Encoded(frames, torch.ones(b, t, dtype=torch.bool), q, torch.zeros(b, t, 8))


@pytest.fixture(scope="module")
def trained():
    """A small decoder taught that condition i says string i (condition-dependent by training)."""
    torch.manual_seed(0)
    decoder = TokenDecoder(
        DecoderConfig(dim=32, layers=1, heads=2, dropout=0.0), VOCAB, condition_dim=16
    )
    frames = torch.randn(4, 6, 16)
    tf = teacher_forcing(STRINGS, VOCAB, 16)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    for _ in range(150):
        logits, _, _ = decoder(tf.inputs, frames, torch.ones(4, 6, dtype=torch.bool))
        loss = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), tf.outputs, reduction="none"
        )
        optimizer.zero_grad()
        ((loss * tf.mask).sum() / tf.mask.sum()).backward()
        optimizer.step()
    return decoder.eval(), encoded(frames), tf


def token_nll(decoder, cond, tf):
    logits, _, _ = decoder(tf.inputs, cond.frames, cond.mask)
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), tf.outputs, reduction="none")


def test_anti_bypass_penalises_a_decoder_that_ignores_the_condition(trained):
    decoder, cond, tf = trained
    using = bypass_loss(decoder, cond, tf, token_nll(decoder, cond, tf), margin=1.0)
    deaf = TokenDecoder(decoder.config, VOCAB, condition_dim=16).eval()
    deaf.load_state_dict(decoder.state_dict())
    with torch.no_grad():
        for layer in deaf.layers:  # cross-attention contributes nothing: the audio is bypassed
            layer.cross_attn.out.weight.zero_()
            layer.cross_attn.out.bias.zero_()
    ignoring = bypass_loss(deaf, cond, tf, token_nll(deaf, cond, tf), margin=1.0)
    assert ignoring.item() == pytest.approx(1.0, abs=1e-5)  # the full margin
    assert using.item() < 0.5 * ignoring.item()


def test_contrast_prefers_the_matching_pair(trained):
    decoder, cond, tf = trained
    config = TermSettings(contrast_negatives=3)
    matched = contrast_loss(decoder, cond, tf, config, torch.Generator().manual_seed(0))
    shuffled_cond = encoded(cond.frames[torch.tensor([1, 2, 3, 0])])
    mismatched = contrast_loss(decoder, shuffled_cond, tf, config, torch.Generator().manual_seed(0))
    assert matched < mismatched


@pytest.mark.parametrize(("eos_logit", "direction"), [(-6.0, -1), (6.0, 1)])
def test_length_loss_pushes_toward_the_rate(eos_logit, direction):
    tf = teacher_forcing([[1] * 30], VOCAB, 64)
    logits = torch.zeros(1, tf.inputs.shape[1], VOCAB.size)
    logits[..., VOCAB.eos] = eos_logit
    logits.requires_grad_(True)
    # 1 s at 10 tokens/s: rarely stopping (long) must raise EOS; stopping at once must lower it
    loss = length_loss(logits, tf, torch.tensor([1.0]), rate=10.0, eos=VOCAB.eos)
    loss.backward()
    assert loss > 0
    assert torch.sign(-logits.grad[0, :10, VOCAB.eos].sum()).item() == -direction


def hazard_logits(hazards: list[list[float]]) -> torch.Tensor:
    """Logits whose softmax gives EOS (the last index) exactly these probabilities."""
    assert VOCAB.eos == VOCAB.size - 1
    h = torch.tensor(hazards, dtype=torch.float64)[..., None]  # (B, L, 1)
    return torch.cat([(1 - h).expand(-1, -1, VOCAB.size - 1) / (VOCAB.size - 1), h], -1).log()


def test_expected_length_on_hand_built_hazards():
    tf = teacher_forcing([[1, 2, 3]], VOCAB, 16)  # positions 0..3; the target's EOS at 3
    cases = {  # hazards at positions 0..3 -> expected tokens
        (0.0, 0.5, 0.5, 1.0): 1 + 0.5 + 0.25,  # 1 w.p. 1/2, 2 w.p. 1/4, 3 w.p. 1/4
        (1.0, 0.5, 0.5, 1.0): 1.75,  # an EOS at position 0 is never decoded: ignored
        (0.0, 0.0, 0.0, 1.0): 3.0,  # stops exactly at the target's end
        (0.0, 0.0, 0.0, 0.0): 4.0,  # never stops within the target: n + 1
        (0.0, 1.0, 0.0, 0.0): 1.0,  # stops after the first token
    }
    for hazards, tokens in cases.items():
        got = expected_length(hazard_logits([list(hazards)]), tf, VOCAB.eos)
        assert got.item() == pytest.approx(tokens), hazards


def test_expected_length_of_a_row_does_not_depend_on_its_batch():
    short = teacher_forcing([[1, 2]], VOCAB, 16)
    both = teacher_forcing([[1, 2], [1, 2, 3, 4, 5]], VOCAB, 16)
    hazards = [[0.3, 0.2, 0.4, 0.9, 0.1, 0.5], [0.1, 0.1, 0.2, 0.3, 0.4, 0.5]]
    alone = expected_length(hazard_logits([hazards[0][:3]]), short, VOCAB.eos)
    batched = expected_length(hazard_logits(hazards), both, VOCAB.eos)
    assert alone.item() == pytest.approx(1 + 0.8 + 0.8 * 0.6)
    assert batched[0].item() == pytest.approx(alone.item())
    s = torch.tensor(hazards[1][1:]).neg().add(1).cumprod(0)
    assert batched[1].item() == pytest.approx(1 + s.sum().item())  # positions 1..5 of 5 tokens


class Recorder(torch.nn.Module):
    """A decoder that notes which (input strings, condition) pairs it scored."""

    exact_timing = False

    def __init__(self, decoder: TokenDecoder) -> None:
        super().__init__()
        self.inner, self.calls, self.frames = decoder, [], None
        self.vocab, self.config = decoder.vocab, decoder.config

    def memory_of(self, cond):
        self.frames = cond.frames
        return self.inner.memory_of(cond)

    def score(self, memory, inputs, tf, starts=None, clip_frames=0, **kwargs):
        self.calls.append((inputs[:, 1:].tolist(), self.frames))
        return self.inner.score(memory, inputs, tf, starts, clip_frames, **kwargs)


@pytest.mark.parametrize("view", ["cross", "same"])
def test_target_view_pairs_the_right_strings_and_times(trained, view, monkeypatch):
    decoder, cond, _ = trained
    a, b = cond, encoded(cond.frames + 1.0)
    strings_a, strings_b = [[1, 2], [3], [4, 5], [6]], [[7], [1, 1], [2], [3, 4]]
    timing_a = [0.1 * torch.ones(len(x), 2).numpy() for x in strings_a]
    timing_b = [0.2 * torch.ones(len(x), 2).numpy() for x in strings_b]
    targets = PairTargets(Targets(strings_a, timing_a), Targets(strings_b, timing_b))
    batch = {
        "warp_a": torch.ones(4),
        "warp_b": torch.full((4,), 2.0),
        "source_seconds": torch.ones(4),
        "shift_a": torch.zeros(4),
        "shift_b": torch.zeros(4),
    }
    seen = []
    monkeypatch.setitem(
        refine_terms.TERMS,
        "timing",
        Term(lambda side: seen.append(side.timing) or side.logits.new_zeros(()), always=True),
    )
    recorder = Recorder(decoder)
    config = RefineObjective(
        targets=TargetConfig(corruption=0.0, view=view),
        weights=TermWeights(bypass=0.0, contrast=0.0),
    )
    refine_losses(recorder, a, b, targets, batch, config, frame_seconds=0.04, clip_seconds=3.0)
    padded = lambda strings: [x + [VOCAB.pad] * (2 - len(x)) for x in strings]  # noqa: E731
    (inputs_1, frames_1), (inputs_2, frames_2) = recorder.calls
    assert frames_1 is a.frames and frames_2 is b.frames
    if view == "cross":  # y_B under c_A, y_A under c_B; B's times in A's time (warp 2 -> x2)
        assert (inputs_1, inputs_2) == (padded(strings_b), padded(strings_a))
        assert seen[0][0][0, 0] == pytest.approx(0.4) and seen[1][0][0, 0] == pytest.approx(0.05)
    else:  # y_A under c_A, y_B under c_B, each in its own time
        assert (inputs_1, inputs_2) == (padded(strings_a), padded(strings_b))
        assert seen[0][0][0, 0] == pytest.approx(0.1) and seen[1][0][0, 0] == pytest.approx(0.2)


def test_weights_switch_terms_off_and_sum_to_total(trained):
    decoder, cond, _ = trained
    batch = {k: torch.ones(4) for k in ("warp_a", "warp_b", "source_seconds")}
    batch |= {k: torch.zeros(4) for k in ("shift_a", "shift_b")}
    timing = [torch.rand(len(s), 2).numpy() for s in STRINGS]
    targets = PairTargets(Targets(STRINGS, timing), Targets(STRINGS, timing))
    config = RefineObjective(targets=TargetConfig(corruption=0.0))
    full = refine_losses(
        decoder, cond, cond, targets, batch, config, frame_seconds=0.04, clip_seconds=3.0
    )
    expected = sum(
        getattr(config.weights, k) * full[f"stage2/{k}"]
        for k in ("cross", "bypass", "contrast", "length", "timing", "align")
    )
    torch.testing.assert_close(full["total"], expected)
    off = refine_losses(
        decoder,
        cond,
        cond,
        targets,
        batch,
        dataclasses.replace(config, weights=TermWeights(contrast=0.0, bypass=0.0)),
        frame_seconds=0.04,
        clip_seconds=3.0,
    )
    assert "stage2/contrast" not in off and "stage2/bypass" not in off
    torch.testing.assert_close(off["stage2/cross"], full["stage2/cross"])


def test_guided_attention_rewards_reading_the_runs_frames():
    from pairalign.objectives.refine_terms import alignment_loss
    from pairalign.objectives.targets import teacher_forcing

    vocab = Vocab(8)
    tf = teacher_forcing([[1, 2], [3]], vocab, max_len=8)
    timing = [np.array([[0.0, 0.04], [0.10, 0.14]]), np.array([[0.06, 0.10]])]  # seconds
    frames = 10  # 20 ms each
    on = torch.full((2, tf.inputs.shape[1], frames), 1e-3)
    on[0, 0, 0:2] = on[0, 1, 5:7] = on[1, 0, 3:5] = 1.0  # each token on its own run's frames
    off = on.flip(-1)
    on, off = on / on.sum(-1, keepdim=True), off / off.sum(-1, keepdim=True)
    good, bad = alignment_loss(on, timing, tf, 0.02), alignment_loss(off, timing, tf, 0.02)
    assert good < 0.05 < 1.0 < bad


def test_the_decoder_exposes_the_attention_it_used():
    torch.manual_seed(0)
    decoder = TokenDecoder(
        DecoderConfig(dim=16, layers=2, heads=2, dropout=0.0), Vocab(8), 12
    ).eval()
    frames, mask = torch.randn(2, 5, 12), torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    tokens = torch.tensor([[9, 1, 2], [9, 3, 4]])
    attention: list[torch.Tensor] = []
    with torch.no_grad():
        logits, _, _ = decoder(tokens, frames, mask, attention=attention)
        fused, _, _ = decoder(tokens, frames, mask)
    torch.testing.assert_close(logits, fused)  # the written-out path gives the same result
    assert len(attention) == 2 and attention[-1].shape == (2, 3, 5)
    torch.testing.assert_close(attention[-1].sum(-1), torch.ones(2, 3))
    assert torch.all(attention[-1][1, :, 3:] == 0)  # padding frames get no attention


def test_memory_positions_tell_identical_frames_apart():
    torch.manual_seed(0)
    frames, mask = torch.ones(1, 6, 12), torch.ones(1, 6, dtype=torch.bool)
    for on in (False, True):
        free = FreeDecoderConfig(memory_positions=on)
        decoder = TokenDecoder(
            DecoderConfig(dim=16, layers=1, heads=2, settings=free), Vocab(8), 12
        )
        keys, _ = decoder.memory(frames, mask)[0][0]  # the layer's keys (B, H, T, D/H)
        distinct = len({tuple(row.round(decimals=5).tolist()) for row in keys[0, 0]})
        assert distinct == (6 if on else 1)


def test_every_term_has_a_weight_and_every_weight_a_term():
    assert set(TERMS) | {"stage1"} == {f.name for f in dataclasses.fields(TermWeights)}
