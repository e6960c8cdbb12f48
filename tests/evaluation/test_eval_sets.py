"""Extra evaluation sets: a user's CSV measured as the built-in split is, halves by sentence,
long clips in windows, each speaker's own recordings left out of its queries."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.data.views import ViewConfig
from pairalign.evaluation.eval_sets import (
    EvalSetSpec,
    checkpoint_eval_sets,
    eval_set_figures,
    load_eval_set,
)
from pairalign.evaluation.figures import clip_strings
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.windows import tokenize_clips


@pytest.fixture
def recordings(tmp_path, write_tone) -> str:
    """3 speakers x 4 sentences (a tone per sentence); sentence s3 lasts 4.5 s."""
    lines = ["utterance_id,path,speaker,content_id,split"]
    for speaker in ("p1", "p2", "p3"):
        (tmp_path / speaker).mkdir()
        for s in range(4):
            seconds = 4.5 if s == 3 else 1.0
            write_tone(tmp_path / speaker / f"s{s}.wav", seconds=seconds, frequency=200.0 * (s + 1))
            lines.append(f"{speaker}_s{s},{speaker}/s{s}.wav,{speaker},s{s},test")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "manifest.csv")


def test_halves_are_disjoint_by_sentence(recordings):
    views = ViewConfig()
    dev = load_eval_set(EvalSetSpec(name="rec", source=recordings, half="dev"), views, view_clips=0)
    test = load_eval_set(
        EvalSetSpec(name="rec", source=recordings, half="test"), views, view_clips=0
    )
    assert set(dev.content) == {"s0", "s2"} and set(test.content) == {"s1", "s3"}
    assert len(dev.ids) == len(test.ids) == 6 and dev.name == "rec"


def test_figures_of_a_set_with_long_clips(recordings, small_checkpoints):
    clips = load_eval_set(EvalSetSpec(name="rec", source=recordings), ViewConfig(), view_clips=4)
    assert max(clips.seconds) == pytest.approx(4.5)
    tokenizer = VQStrings(Tokenizer.from_checkpoint(small_checkpoints["vq"]))
    figures = eval_set_figures({"vq": tokenizer}, clips)
    assert figures["rec/clips"] == 12
    # every clip queries the 8 clips by other speakers, 2 of them relevant
    assert figures["rec/vq/queries"] == 12 and figures["rec/vq/queries_skipped"] == 0
    assert 0 < figures["rec/vq/chance_map"] < 0.5 and 0 <= figures["rec/vq/map"] <= 1
    assert "rec/vq/consistency" in figures
    # a long clip's string is the archive job's: windows of 3 s, stitched
    long = clips.ids.index("p1_s3")
    (expected,) = tokenize_clips(tokenizer, [clips.audio[long]], 16_000, window=3.0, overlap=1.0)
    assert clips.window_seconds == 3.0 and clip_strings(tokenizer, clips)[long] == expected
    assert np.isfinite(figures["rec/vq/token_rate"]) and figures["rec/vq/token_rate"] > 0


def test_checkpoint_figures_under_the_set_name(recordings, small_checkpoints):
    figures = checkpoint_eval_sets(
        small_checkpoints["refine"],
        [EvalSetSpec(name="rec", source=recordings)],
        ViewConfig(),
        view_clips=2,
    )
    assert figures["rec/clips"] == 12
    assert {"rec/vq/map", "rec/pairalign/map", "rec/compare/token_reduction"} <= set(figures)
