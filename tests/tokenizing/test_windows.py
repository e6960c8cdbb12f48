"""Long clips are cut into overlapping windows whose owned spans tile the clip, and stitched."""

import numpy as np
import pytest

from pairalign.strings.runs import collapse_runs
from pairalign.tokenizing.kinds import TokenizerSpec, load_tokenizer
from pairalign.tokenizing.windows import cut, token_spans, tokenize_clips, tokenize_clips_timed

SR = 16_000


def test_short_clip_is_one_piece_and_long_clip_windows_tile_it():
    assert cut(3 * SR, SR, window=4.0, overlap=1.0) == cut(3 * SR, SR, 4.0, 1.0, clip=0)
    (only,) = cut(3 * SR, SR, window=4.0, overlap=1.0)
    assert (only.start, only.stop, only.owns_from, only.owns_to) == (0, 3 * SR, 0.0, float("inf"))
    pieces = cut(10 * SR, SR, window=4.0, overlap=1.0)
    assert [(p.start / SR, p.stop / SR) for p in pieces] == [(0, 4), (3, 7), (6, 10)]
    assert all(p.stop - p.start == 4 * SR for p in pieces)
    assert [p.owns_from for p in pieces] == [0.0, 3.5, 6.5]
    assert [p.owns_to for p in pieces[:-1]] == [3.5, 6.5] and pieces[-1].owns_to == float("inf")
    # the last window is moved back to end at the clip's end, not padded
    assert [(p.start / SR, p.stop / SR) for p in cut(int(8.5 * SR), SR, 4.0, 1.0)] == [
        (0, 4),
        (3, 7),
        (4.5, 8.5),
    ]
    with pytest.raises(ValueError, match="overlap"):
        cut(10 * SR, SR, window=4.0, overlap=4.0)


class FrameClock:
    """A tokenizer whose token i sits at (i + 0.5) * 0.1 s and is the clip-time decisecond it
    covers, shifted by where the window starts: stitching must rebuild the clip's clock exactly."""

    name, kind, checkpoint_id, vocab_size = "clock", "test", "clock", 1000

    def __init__(self, collapses: bool, per_second: bool = False) -> None:
        self.collapses, self.per_second = collapses, per_second

    def timed(self, waveforms, seconds=None):
        out = []
        for wave, secs in zip(np.atleast_2d(waveforms), seconds, strict=True):
            n = round(secs * 10)
            offset = round(wave[0] * 10)  # each test clip stores its own time in the samples
            centres = (np.arange(n) + 0.5) / 10
            tokens = np.arange(n) + offset
            out.append((tokens // 10 if self.per_second else tokens, centres))
        return out

    def __call__(self, waveforms, seconds=None):
        return [t.tolist() for t, _ in self.timed(waveforms, seconds)]


def test_stitched_tokens_cover_the_clip_once_in_order():
    clock = np.arange(int(10.3 * SR)) / SR  # sample value = its time, so windows know their start
    (tokens,) = tokenize_clips(
        FrameClock(collapses=False), [clock.astype(np.float32)], SR, window=4.0, overlap=1.0
    )
    assert tokens == list(range(103))


def test_collapsing_tokenizer_merges_runs_cut_at_a_boundary(small_checkpoints):
    clock = (np.arange(int(10.3 * SR)) / SR).astype(np.float32)
    # one token per second of clip time: the runs of seconds 3 and 6 are cut at 3.5 s and 6.5 s
    (seconds,) = tokenize_clips(FrameClock(collapses=True, per_second=True), [clock], SR)
    assert seconds == list(range(11))
    vq = load_tokenizer(TokenizerSpec("vq", "vq", small_checkpoints["vq"]))
    wave = 0.1 * np.random.default_rng(1).standard_normal(9 * SR).astype(np.float32)
    (stitched,) = tokenize_clips(vq, [wave], SR, window=4.0, overlap=1.0)
    assert len(stitched) > 0 and stitched == collapse_runs(stitched)


@pytest.mark.parametrize("kind", ["vq", "pairalign"])
def test_batched_clips_of_mixed_lengths_match_one_by_one(small_checkpoints, kind):
    checkpoint = small_checkpoints["refine" if kind == "pairalign" else "vq"]
    tok = load_tokenizer(TokenizerSpec(kind, kind, checkpoint))
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (SR, 3 * SR, 2 * SR + 7)]
    together = tokenize_clips(tok, clips, SR, batch_size=2)
    alone = [tokenize_clips(tok, [c], SR)[0] for c in clips]
    assert together == alone
    timed = tok.timed(clips[1][None], [3.0])[0]
    assert len(timed[0]) == len(timed[1]) and np.all((timed[1] >= 0) & (timed[1] <= 3.0))


class Backwards(FrameClock):
    """Emits each window's tokens latest first: stitching must keep the emitted order."""

    def timed(self, waveforms, seconds=None):
        return [(t[::-1], c[::-1]) for t, c in super().timed(waveforms, seconds)]


def test_stitching_keeps_each_windows_emitted_order():
    clock = (np.arange(int(10.3 * SR)) / SR).astype(np.float32)
    (tokens,) = tokenize_clips(Backwards(collapses=False), [clock], SR, window=4.0, overlap=1.0)
    # windows start at 0, 3, 6 and 6.3 s and own [0, 3.5), [3.5, 6.5), [6.5, 8.15), [8.15, ...):
    # each window's share reversed, the windows in order
    expected = [*range(34, -1, -1), *range(64, 34, -1), *range(80, 64, -1), *range(102, 80, -1)]
    assert tokens == expected


@pytest.mark.parametrize("seconds", [3.0, 3.0 + 1 / SR, 0.01])
def test_edge_lengths_and_zero_overlap(seconds):
    clock = (np.arange(round(seconds * SR)) / SR).astype(np.float32)
    (tokens,) = tokenize_clips(FrameClock(collapses=False), [clock], SR, window=3.0, overlap=0.0)
    assert tokens == list(range(round(seconds * 10)))
    assert tokenize_clips(FrameClock(collapses=False), [], SR) == []
    with pytest.raises(ValueError, match="overlap"):
        cut(10 * SR, SR, window=3.0, overlap=2.99999)


def test_timed_stitching_gives_the_same_strings_with_clip_times():
    clock = (np.arange(int(10.3 * SR)) / SR).astype(np.float32)
    (tokens, centres), (short_tokens, _) = tokenize_clips_timed(
        FrameClock(collapses=False), [clock, clock[: 2 * SR]], SR, window=4.0, overlap=1.0
    )
    assert tokens.tolist() == list(range(103)) and short_tokens.tolist() == list(range(20))
    np.testing.assert_allclose(centres, (np.arange(103) + 0.5) / 10)  # clip time, not window time
    # a collapsed run cut by a boundary (second 3, cut at 3.5 s) is one token at its mean centre
    (per_second, at) = tokenize_clips_timed(
        FrameClock(collapses=True, per_second=True), [clock], SR
    )[0]
    assert per_second.tolist() == list(range(11))
    np.testing.assert_allclose(
        at[3], 3.5
    )  # deciseconds 30..39 joined: centre 3.45..3.95 -> 3.5 mean
    untimed = tokenize_clips(FrameClock(collapses=True, per_second=True), [clock], SR)[0]
    assert untimed == per_second.tolist()


@pytest.mark.parametrize("kind", ["vq", "pairalign"])
def test_timed_strings_equal_the_archive_strings_of_a_checkpoint(small_checkpoints, kind):
    tok = load_tokenizer(TokenizerSpec(kind, kind, small_checkpoints["refine"]))
    rng = np.random.default_rng(2)
    clips = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (SR, 7 * SR)]
    timed = tokenize_clips_timed(tok, clips, SR)
    assert [t.tolist() for t, _ in timed] == tokenize_clips(tok, clips, SR)


def test_spans_tile_the_clip_in_order():
    spans = token_spans(np.array([0.2, 0.6, 0.5, 1.4]), seconds=2.0)  # a centre out of order
    np.testing.assert_allclose(spans, [[0, 0.4], [0.4, 0.6], [0.6, 1.0], [1.0, 2.0]])
    assert token_spans(np.zeros(0), 1.0).shape == (0, 2)


def test_a_segment_decoders_strings_never_repeat_a_token_across_window_seams(tmp_path):
    """A segment decoder that prefers one token everywhere gives one token for a 9 s clip cut in
    four windows: each window's run of it joins at the seams, as VQ runs do."""
    import torch

    from pairalign.models.checkpoint import save_checkpoint
    from pairalign.models.decoder_kinds import DecoderConfig
    from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
    from pairalign.models.vq_model import model_config

    torch.manual_seed(0)
    config = PairAlignConfig(model_config("tiny"), DecoderConfig(kind="segment", dropout=0.0))
    model = PairAlignModel(config).eval()
    with torch.no_grad():
        model.decoder.token.bias[5] = 1e4
    save_checkpoint(
        str(tmp_path / "seg"),
        model_config=config,
        model_state=model.state_dict(),
        stage="refine",
        stage_config={},
        step=1,
    )
    tok = load_tokenizer(TokenizerSpec("pairalign", "pairalign", str(tmp_path / "seg")))
    assert tok.collapses
    wave = 0.1 * np.random.default_rng(2).standard_normal(9 * SR).astype(np.float32)
    assert tokenize_clips(tok, [wave], SR) == [[5]]
    (tokens, centres) = tokenize_clips_timed(tok, [wave], SR)[0]
    assert tokens.tolist() == [5] and 0 < centres[0] < 9
