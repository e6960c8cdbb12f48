import dataclasses
import os
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from pairalign.data.corpora.builtin import (
    BuiltinCorpusConfig,
    encode,
    plan_corpus,
    render,
    synthesize_corpus,
)
from pairalign.data.corpora.sentences import sentence_words
from pairalign.data.manifest import read_manifest
from pairalign.data.storage import url_to_fs

SMALL = BuiltinCorpusConfig(train_sentences=6, test_sentences=4, voices_per_sentence=8)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, pa.Table]:
    root = tmp_path_factory.mktemp("builtin")
    return root, synthesize_corpus(SMALL, str(root))


def _serial_map(fn, specs):
    return [fn(s) for s in specs]


def _without_paths(table: pa.Table) -> pa.Table:
    return table.drop_columns(["path"])


def test_same_seed_gives_identical_manifest_and_files(corpus, tmp_path):
    _, table = corpus
    again = synthesize_corpus(SMALL, str(tmp_path), map_fn=_serial_map)  # serial, not threads
    assert _without_paths(again).equals(_without_paths(table))
    for a, b in zip(
        table.column("path").to_pylist(), again.column("path").to_pylist(), strict=True
    ):
        assert Path(a).read_bytes() == Path(b).read_bytes()


def test_different_seed_gives_different_sentences():
    a = {s.text for s in plan_corpus(SMALL)}
    b = {s.text for s in plan_corpus(dataclasses.replace(SMALL, seed=1))}
    assert not a & b


def test_single_utterance_re_renders_identically(corpus):
    root, _ = corpus
    spec = plan_corpus(SMALL)[13]
    data = encode(render(spec, SMALL.sample_rate), SMALL.sample_rate, SMALL.audio_format)
    assert data == (root / spec.relpath("flac")).read_bytes()


def test_every_sentence_has_enough_distinct_voices(corpus):
    _, table = corpus
    voices = defaultdict(set)
    for row in table.select(["content_id", "speaker"]).to_pylist():
        voices[row["content_id"]].add(row["speaker"])
    assert len(voices) == SMALL.train_sentences + SMALL.test_sentences
    assert all(len(v) == SMALL.voices_per_sentence for v in voices.values())
    assert table.num_rows == len(voices) * SMALL.voices_per_sentence


def test_splits_are_disjoint_in_sentences_texts_and_voices(corpus):
    _, table = corpus
    rows = table.drop_columns(["audio"]).to_pylist()
    by_split = {split: [r for r in rows if r["split"] == split] for split in ("train", "test")}
    assert len({r["content_id"] for r in by_split["train"]}) == SMALL.train_sentences
    assert len({r["content_id"] for r in by_split["test"]}) == SMALL.test_sentences
    for key in ("content_id", "text", "speaker"):
        assert not {r[key] for r in by_split["train"]} & {r[key] for r in by_split["test"]}
    # one text per sentence id, and distinct sentences have distinct texts
    pairs = {(r["content_id"], r["text"]) for r in rows}
    assert len(pairs) == len({r["content_id"] for r in rows}) == len({r["text"] for r in rows})


def test_durations_are_sane_and_match_the_audio(corpus):
    _, table = corpus
    for path, duration in zip(
        table["path"].to_pylist(), table["duration"].to_pylist(), strict=True
    ):
        info = sf.info(path)
        assert info.samplerate == SMALL.sample_rate and info.channels == 1
        assert info.frames / info.samplerate == pytest.approx(duration, abs=1e-9)
        assert 1.0 <= duration <= 4.5, path
    assert 2.0 <= float(np.mean(table["duration"].to_numpy())) <= 3.5


def test_audio_is_finite_loud_enough_and_trimmed(corpus):
    _, table = corpus
    for path in table["path"].to_pylist():
        samples, _ = sf.read(path, dtype="float32")
        assert np.all(np.isfinite(samples))
        assert np.abs(samples).max() > 0.1
        assert np.sqrt(np.mean(samples**2)) > 0.01
        loud = np.flatnonzero(np.abs(samples) > 1e-3)
        # espeak's leading/trailing silence is trimmed to a 50 ms margin
        assert loud[0] / SMALL.sample_rate <= 0.07
        assert (len(samples) - loud[-1]) / SMALL.sample_rate <= 0.07


def test_manifest_on_disk_validates_and_equals_the_returned_one(corpus):
    root, table = corpus
    on_disk = read_manifest(str(root / "manifest.parquet"))
    assert on_disk.equals(table)
    assert table["audio"].null_count == table.num_rows
    assert all(os.path.isabs(p) and os.path.exists(p) for p in table["path"].to_pylist())


def test_tree_is_timit_like_with_matching_transcripts(corpus):
    root, table = corpus
    for row in table.drop_columns(["audio"]).to_pylist():
        audio = root / row["split"] / row["speaker"] / f"{row['content_id']}.flac"
        assert Path(row["path"]) == audio
        assert audio.with_suffix(".txt").read_text() == row["text"] + "\n"


def test_renders_jitter_rate_and_pitch_within_bounds():
    specs = plan_corpus(SMALL)
    for s in specs:
        assert abs(s.rate - s.voice.rate) <= SMALL.rate_jitter * s.voice.rate + 0.5
        assert abs(s.pitch - s.voice.pitch) <= SMALL.pitch_jitter
    assert len({s.rate - s.voice.rate for s in specs}) > 5
    assert len({s.pitch - s.voice.pitch for s in specs}) > 5


def test_interrupted_run_resumes_and_changed_config_rerenders(tmp_path):
    config = dataclasses.replace(SMALL, train_sentences=2, test_sentences=1)
    rendered: list[str] = []

    def recording_map(fn, specs):
        rendered.extend(s.utterance_id for s in specs)
        return [fn(s) for s in specs]

    first = synthesize_corpus(config, str(tmp_path), map_fn=recording_map)
    assert len(rendered) == first.num_rows == 24
    lost = plan_corpus(config)[5]
    (tmp_path / lost.relpath("txt")).unlink()  # as if killed between audio and transcript
    rendered.clear()
    again = synthesize_corpus(config, str(tmp_path), map_fn=recording_map)
    assert rendered == [lost.utterance_id]
    assert again.equals(first)
    rendered.clear()
    synthesize_corpus(
        dataclasses.replace(config, pitch_jitter=2), str(tmp_path), map_fn=recording_map
    )
    assert len(rendered) == 24


def test_wav_output(tmp_path):
    config = dataclasses.replace(SMALL, train_sentences=1, test_sentences=1, audio_format="wav")
    table = synthesize_corpus(config, str(tmp_path))
    assert all(p.endswith(".wav") for p in table["path"].to_pylist())
    assert sf.info(table["path"][0].as_py()).format == "WAV"


def test_config_rejects_impossible_voice_counts():
    with pytest.raises(ValueError, match="voices_per_sentence"):
        BuiltinCorpusConfig(test_voices=6)
    with pytest.raises(ValueError, match="pool"):
        plan_corpus(BuiltinCorpusConfig(train_voices=100, test_voices=100))


def test_default_config_plans_an_hour_of_train_audio_and_a_full_test_set(corpus):
    _, table = corpus
    # Calibrate a words/rate duration estimate on the rendered small corpus, then apply it to
    # the default plan without rendering it.
    small = {s.utterance_id: _estimate(s) for s in plan_corpus(SMALL)}
    measured = dict(
        zip(table["utterance_id"].to_pylist(), table["duration"].to_pylist(), strict=True)
    )
    scale = sum(measured.values()) / sum(small.values())
    assert 0.7 < scale < 1.3
    specs = plan_corpus(BuiltinCorpusConfig())
    train = [s for s in specs if s.split == "train"]
    test = [s for s in specs if s.split == "test"]
    assert len(train) == 172 * 8 and len({s.sentence_id for s in test}) >= 100
    assert len(test) >= 100 * 8
    train_hours = scale * sum(_estimate(s) for s in train) / 3600
    assert 0.9 <= train_hours <= 1.25
    assert len({s.voice.id for s in train}) == 16 and len({s.voice.id for s in test}) == 12
    per_voice = Counter(s.voice.id for s in train)
    assert set(per_voice.values()) == {172 * 8 // 16}  # voices used evenly


def _estimate(spec) -> float:
    return len(sentence_words(spec.text)) * 60.0 / spec.rate


def test_s3_output_matches_local_and_resumes(corpus, s3_server):
    root, _ = corpus
    config = dataclasses.replace(SMALL, train_sentences=1, test_sentences=1)
    url = f"{s3_server}/builtin"
    table = synthesize_corpus(config, url)
    assert all(p.startswith(f"{url}/") for p in table["path"].to_pylist())
    assert read_manifest(f"{url}/manifest.parquet").equals(table)
    spec = plan_corpus(config)[3]  # the first sentences equal SMALL's: same seed, same plan
    fs, path = url_to_fs(f"{url}/{spec.relpath('flac')}")
    assert fs.cat_file(path) == (root / spec.relpath("flac")).read_bytes()
    rendered: list[str] = []
    again = synthesize_corpus(config, url, map_fn=lambda fn, specs: rendered.extend(specs) or [])
    assert rendered == [] and again.equals(table)
