"""The collapse watch of stage 2: which clips it watches, and its figures on a tiny model."""

from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa
import pytest
import torch

from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.string_metrics import vocabulary_usage
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.encoder import EncoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig
from pairalign.objectives.refine_config import TargetConfig
from pairalign.objectives.targets import vq_targets
from pairalign.stages.watch import string_figures, watch_figures, watch_rows
from pairalign.strings.rule import VQStringConfig

SMALL = PairAlignConfig(
    vq=ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    ),
    decoder=DecoderConfig(dim=32, layers=1, heads=2),
)
KEYS = {
    "watch/greedy_map",
    "watch/greedy_perplexity",
    "watch/target_map",
    "watch/target_perplexity",
    "watch/chance_map",
    "watch/target_teacher_share",
}


def _clips(sentences: int = 3, voices: int = 3, seconds: float = 1.0) -> ClipSet:
    """Tones: a frequency per sentence, an amplitude and a little noise per voice. Ids put the
    voices first, so that a tie in distance is not broken in favour of the query's sentence."""
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * 16_000)) / 16_000
    ids, content, speakers, audio = [], [], [], []
    for v in range(voices):
        for s in range(sentences):
            ids.append(f"v{v}_s{s}")
            content.append(f"s{s}")
            speakers.append(f"v{v}")
            wave = (0.2 + 0.1 * v) * np.sin(2 * np.pi * (200 + 300 * s) * t)
            audio.append((wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32))
    return ClipSet(
        name="watch",
        ids=ids,
        seconds=[seconds] * len(ids),
        content=content,
        speakers=speakers,
        audio=audio,
        views=[],
    )


@pytest.fixture(scope="module")
def model() -> PairAlignModel:
    torch.manual_seed(0)
    model = PairAlignModel(SMALL).train()
    model(0.1 * torch.randn(2, 32_000))  # initialise the codebook
    return model


def test_watch_rows_take_the_first_dev_sentences_with_a_few_voices_each():
    rows = [
        {"utterance_id": f"v{v}_s{s}", "content_id": f"s{s}", "speaker": f"v{v}", "split": split}
        for split, sentences in (("test", range(10, 16)), ("train", range(3)))
        for s in sentences
        for v in range(8)
    ]
    manifest = pa.Table.from_pylist(rows)
    chosen = watch_rows(manifest, "test", 12, voices=6)
    assert chosen["content_id"].to_pylist() == ["s10"] * 6 + ["s12"] * 6  # even-ranked: dev half
    assert set(chosen["speaker"].to_pylist()) == {f"v{v}" for v in range(6)}
    assert set(chosen["split"].to_pylist()) == {"test"}
    assert len(watch_rows(manifest, "test", 100, voices=6)) == 3 * 6  # all the dev half has


def test_map_falls_when_every_sentence_gets_the_same_string():
    clips = _clips()
    distinct = [[int(c[1:]), int(c[1:]) + 5] for c in clips.content]  # one string per sentence
    figures = string_figures(distinct, clips, 16, "w")
    assert figures["w_map"] == 1.0
    assert figures["w_perplexity"] == pytest.approx(6.0)  # six codes used equally often
    collapsed = string_figures([[3]] * len(clips.ids), clips, 16, "w")
    assert collapsed["w_map"] < 0.9 and collapsed["w_perplexity"] == 1.0
    assert 0 < collapsed["w_chance_map"] == figures["w_chance_map"] < 1


def test_watch_figures_of_a_tiny_model_leave_it_as_it_was(model):
    clips = _clips()
    targets = TargetConfig(rate=8.0, scheme="merge")
    modes = [m.training for m in model.modules()]
    state = copy.deepcopy(model.state_dict())
    figures = watch_figures(model, clips, targets)
    assert set(figures) == KEYS
    assert all(0 <= figures[f"watch/{k}_map"] <= 1 for k in ("greedy", "target", "chance"))
    for kind in ("greedy", "target"):
        assert 1 <= figures[f"watch/{kind}_perplexity"] <= 16
    assert figures["watch/target_teacher_share"] == 0.0
    assert [m.training for m in model.modules()] == modes  # train mode back
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # no EMA update


def test_the_targets_are_the_objectives_vq_targets(model):
    clips = _clips()
    config = TargetConfig(rate=8.0, scheme="index")
    figures = watch_figures(model, clips, config)
    model.eval()
    with torch.no_grad():  # the clips padded to the 3 s window, as the watch tokenizes them
        wave = torch.zeros(len(clips.ids), 48_000)
        wave[:, :16_000] = torch.from_numpy(np.stack(clips.audio))
        seconds = torch.tensor(clips.seconds)
        encoded = model.vq(wave, seconds)
    model.train()
    index = VQStringConfig(rate=8.0, reduce="index")
    targets = vq_targets(
        encoded.quantized.codes, encoded.mask, seconds, index, SMALL.vq.frame_seconds
    ).strings
    expected = string_figures(targets, clips, 16, "t")
    assert figures["watch/target_map"] == pytest.approx(expected["t_map"])
    assert figures["watch/target_perplexity"] == pytest.approx(
        vocabulary_usage(targets, 16, "u")["u/perplexity"]
    )


def test_with_the_teacher_in_use_the_targets_are_its_greedy_strings(model):
    clips = _clips()
    targets = TargetConfig(rate=8.0)
    teacher = copy.deepcopy(model).eval()  # the model's own weights: the same greedy strings
    figures = watch_figures(model, clips, targets, teacher=teacher, teacher_share=0.5)
    assert figures["watch/target_teacher_share"] == 0.5
    assert figures["watch/target_map"] == figures["watch/greedy_map"]
    assert figures["watch/target_perplexity"] == figures["watch/greedy_perplexity"]


def test_with_a_teacher_both_candidates_for_the_targets_are_measured(model):
    clips = _clips()
    targets = TargetConfig(rate=8.0, scheme="merge")
    teacher = copy.deepcopy(model).eval()
    before = watch_figures(model, clips, targets, teacher=teacher, teacher_share=0.0)
    assert set(before) == KEYS | {"watch/teacher_map", "watch/vq_target_map"}
    assert before["watch/teacher_map"] == before["watch/greedy_map"]  # the same weights
    assert before["watch/vq_target_map"] == before["watch/target_map"]  # not in use yet
    plain = watch_figures(model, clips, targets)
    assert plain["watch/target_map"] == before["watch/vq_target_map"]
