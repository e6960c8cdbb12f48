import itertools
import math

import numpy as np
import pytest
import torch

from pairalign.config import to_dict
from pairalign.models.checkpoint import save_checkpoint
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.segment_decoder import SegmentDecoder, spans_to_frames, tile
from pairalign.models.vq_model import VQModel, model_config
from pairalign.objectives.targets import teacher_forcing, vq_targets
from pairalign.stages.refine import refine_model_config
from pairalign.strings.rule import VQStringConfig
from pairalign.strings.runs import collapse_runs
from pairalign.tokenizing.tokenizer import Tokenizer


def _model(min_run_frames: int = 2, seed: int = 0) -> PairAlignModel:
    torch.manual_seed(seed)
    decoder = DecoderConfig(kind="segment", min_run_frames=min_run_frames, dropout=0.0)
    return PairAlignModel(PairAlignConfig(model_config("tiny"), decoder)).eval()


def _speechlike(n: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Waveforms of tone bursts and noise of changing pitch and level: codes that change often."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16_000 * seconds)) / 16_000
    out = np.zeros((n, len(t)), np.float32)
    for i in range(n):
        edges = np.sort(rng.uniform(0, seconds, 12))
        pitch = rng.uniform(100, 3000, 13)[np.searchsorted(edges, t)]
        level = rng.uniform(0.01, 0.5, 13)[np.searchsorted(edges, t)]
        out[i] = level * np.sin(2 * math.pi * pitch * t) + 0.02 * rng.standard_normal(len(t))
    return out


def _vq_strings_forced(model: PairAlignModel, waves: torch.Tensor, seconds: torch.Tensor):
    """(condition, the VQ strings as targets, their teacher forcing, their start frames)."""
    with torch.no_grad():
        cond = model(waves, seconds)
    targets = vq_targets(
        cond.quantized.codes, cond.mask, seconds, VQStringConfig(min_run_frames=2), 0.02
    )
    tf = teacher_forcing(targets.strings, model.vocab, 256)
    return cond, targets, tf, spans_to_frames(targets.timing, tf.inputs.shape[1], 0.02)


@pytest.mark.parametrize("min_run_frames", [1, 2, 3])
def test_at_initialisation_greedy_strings_are_the_vq_strings(min_run_frames):
    model = _model(min_run_frames)
    waves = _speechlike(6)
    seconds = [2.0, 1.5, 2.0, 0.7, 1.9, 2.0]
    for i, s in enumerate(seconds):
        waves[i, int(s * 16_000) :] = 0.0
    decoded = model.decode(torch.from_numpy(waves), torch.tensor(seconds))
    vq = Tokenizer(model.vq, strings=VQStringConfig(min_run_frames=min_run_frames))
    expected = vq.vq_strings(waves, seconds)
    assert decoded.strings == expected
    assert min(len(s) for s in expected) > 3  # the clips do have several segments
    # timing is the segments: contiguous, from 0 to the clip's last frame
    frame = model.config.vq.frame_seconds / model.config.decoding.timing_seconds
    for timing, runs, secs in zip(
        decoded.timing, vq.string_runs(waves, seconds), seconds, strict=True
    ):
        _, starts, ends = runs
        torch.testing.assert_close(timing[:, 0], torch.tensor(starts * frame, dtype=torch.float32))
        torch.testing.assert_close(timing[:, 1], torch.tensor(ends * frame, dtype=torch.float32))
        assert timing[-1, 1].item() == pytest.approx(math.ceil(secs / 0.02 - 1e-9) * frame)


# a stage-1 checkpoint's VQ strings other than the default: codes grouped, a rate by merging the
# shortest runs, a rate by evenly spaced runs, a penalised segmentation of the frame costs
OTHER_STRINGS = {
    "groups": VQStringConfig(min_run_frames=2, groups=8),
    "rate": VQStringConfig(min_run_frames=2, rate=6.0),
    "index": VQStringConfig(rate=6.0, reduce="index"),
    "dpdp": VQStringConfig(rate=6.0, reduce="dpdp"),
}


@pytest.mark.parametrize("name", list(OTHER_STRINGS))
def test_from_a_stage1_checkpoint_greedy_strings_are_its_vq_strings(tmp_path, name):
    """The segment decoder made from a stage-1 checkpoint (`refine_model_config`) starts from
    exactly that checkpoint's VQ strings (`Tokenizer.vq_strings`), whatever its `vq_strings`."""
    strings = OTHER_STRINGS[name]
    torch.manual_seed(0)
    vq = VQModel(model_config("tiny")).eval()
    state, extra = vq.state_dict(), {"vq_strings": to_dict(strings)}
    path = save_checkpoint(
        str(tmp_path / "vq"),
        model_config=vq.config,
        model_state=state,
        stage="vq",
        stage_config={},
        step=1,
        **extra,
    )
    config = refine_model_config(path, DecoderConfig(kind="segment", dropout=0.0))
    assert config.decoder.strings == strings
    model = PairAlignModel(config)
    model.init_from_stage1(vq.state_dict())
    model.eval()
    waves = _speechlike(6)
    seconds = [2.0, 1.5, 2.0, 0.7, 1.9, 2.0]
    for i, s in enumerate(seconds):
        waves[i, int(s * 16_000) :] = 0.0
    decoded = model.decode(torch.from_numpy(waves), torch.tensor(seconds))
    tokenizer = Tokenizer.from_checkpoint(path)
    expected = tokenizer.vq_strings(waves, seconds)
    default = tokenizer.with_strings(VQStringConfig(min_run_frames=2)).vq_strings(waves, seconds)
    assert expected != default  # the setting changes the strings
    if name == "index":  # evenly spaced runs may keep two neighbours of one code: the decoder
        expected = [collapse_runs(e) for e in expected]  # joins a repeat into one segment
    assert decoded.strings == expected
    assert min(len(s) for s in expected) > 1
    if name != "index":  # timing is the runs of the VQ strings
        frame = model.config.vq.frame_seconds / model.config.decoding.timing_seconds
        runs = tokenizer.string_runs(waves, seconds)
        for timing, (_, starts, ends) in zip(decoded.timing, runs, strict=True):
            spans = torch.tensor(np.stack([starts, ends], 1) * frame, dtype=torch.float32)
            torch.testing.assert_close(timing, spans)


def test_the_vq_strings_are_the_most_likely_strings_at_initialisation():
    model = _model()
    waves = torch.from_numpy(_speechlike(4, seed=1))
    seconds = torch.full((4,), 2.0)
    cond, targets, tf, starts = _vq_strings_forced(model, waves, seconds)
    decoder = model.decoder
    memory = decoder.memory_of(cond)
    right = decoder.score(memory, tf.inputs, tf, starts, 150)
    per_token = (right.nll * tf.mask).sum(1) / tf.lengths
    assert per_token.max().item() < 0.1  # copying costs (almost) nothing
    # a string with one token changed costs one wrong token; spans moved by a frame cost ends
    wrong = [[(s[0] + 1) % 32, *s[1:]] for s in targets.strings]
    tf_wrong = teacher_forcing(wrong, model.vocab, 256)
    assert (decoder.score(memory, tf_wrong.inputs, tf_wrong, starts, 150).nll[:, 0] > 5).all()
    late = starts.clone()
    late[:, 1] += 1
    assert (decoder.score(memory, tf.inputs, tf, late, 150).nll[:, :2].sum(1) > 5).all()
    # the expected number of segments along the target's frames is its length
    torch.testing.assert_close(right.expected_length, tf.lengths.float(), atol=0.5, rtol=0)


def test_learned_parts_get_gradients_and_can_skip_boundaries():
    model = _model()
    waves = torch.from_numpy(_speechlike(2, seed=2))
    seconds = torch.full((2,), 2.0)
    cond, _, tf, starts = _vq_strings_forced(model, waves, seconds)
    decoder = model.decoder
    scored = decoder.score(decoder.memory_of(cond), tf.inputs, tf, starts, 150)
    (scored.nll.sum() + scored.expected_length.sum()).backward()
    for name in ("end_query.weight", "token.weight", "duration.weight"):
        assert dict(decoder.named_parameters())[name].grad.abs().sum() > 0, name
    before = model.decode(waves, seconds).strings
    with torch.no_grad():  # short segments now pay more than a boundary is worth: fewer tokens
        decoder.duration.weight[:6] = -20.0
    after = model.decode(waves, seconds).strings
    assert all(len(a) < len(b) for a, b in zip(after, before, strict=True))


def test_tile_makes_spans_a_tiling_of_the_valid_frames():
    starts = torch.tensor([[3, 5, 5, 9, 0], [0, 2, 4, 0, 0], [0, 1, 2, 3, 4]])
    lengths, frames = torch.tensor([4, 3, 5]), torch.tensor([10, 8, 3])
    lengths = torch.minimum(lengths, frames)
    s, e = tile(starts, lengths, frames)
    assert s[0].tolist() == [0, 5, 6, 9, 10] and e[0].tolist() == [5, 6, 9, 10, 10]
    assert s[1].tolist() == [0, 2, 4, 8, 8] and e[1].tolist() == [2, 4, 8, 8, 8]
    assert s[2].tolist() == [0, 1, 2, 3, 3] and e[2].tolist() == [1, 2, 3, 3, 3]


def test_a_model_of_either_kind_round_trips_through_its_config():
    model = _model()
    assert isinstance(model.decoder, SegmentDecoder)
    copy = PairAlignModel(model.config)
    copy.load_state_dict(model.state_dict())
    with pytest.raises(ValueError, match=r"decoder\.kind"):
        PairAlignModel(PairAlignConfig(model_config("tiny"), DecoderConfig(kind="soft")))


def test_greedy_never_repeats_a_token_nor_emits_an_empty_span():
    """A decoder whose learned token part prefers one code everywhere emits that code once, its span
    the whole clip: a repeat joins the previous segment, as VQ runs collapse."""
    model = _model()
    with torch.no_grad():
        model.decoder.token.bias[7] = 1e4  # every segment's most likely token is 7
    waves = torch.from_numpy(_speechlike(3, seed=2))
    seconds = torch.tensor([2.0, 1.2, 2.0])
    decoded = model.decode(waves, seconds)
    frame = model.config.vq.frame_seconds / model.config.decoding.timing_seconds
    for string, timing, secs in zip(decoded.strings, decoded.timing, seconds.tolist(), strict=True):
        assert string == [7]
        assert timing[0, 0].item() == 0.0
        assert timing[0, 1].item() == pytest.approx(math.ceil(secs / 0.02 - 1e-9) * frame)
    # untouched decoders too: no two equal neighbours, every span longer than zero
    decoded = _model(seed=3).decode(waves, seconds)
    for string, timing in zip(decoded.strings, decoded.timing, strict=True):
        assert all(a != b for a, b in itertools.pairwise(string))
        assert bool((timing[:, 1] > timing[:, 0]).all())
