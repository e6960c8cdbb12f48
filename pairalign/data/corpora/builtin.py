"""The built-in corpus: TIMIT-like multi-voice speech synthesised offline with espeak-ng.

Every sentence is spoken by several voice identities, so retrieval can ask "find the other
renditions of this sentence". Train and test share neither sentences nor voices. Everything is
planned up front from the seed (`plan_corpus`), so any single utterance can be re-rendered on its
own (`render`) and the same seed gives byte-identical files, however many render threads run and
however busy the machine is (`bench/benchmarks/synth_determinism.py` checks this under load).

    table = synthesize_corpus(BuiltinCorpusConfig(), "data/builtin")

writes `data/builtin/{train,test}/<voice-id>/<sentence-id>.flac` with a `.txt` transcript beside
each, `corpus.json` (the config it was built from) and `manifest.parquet`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import pyarrow as pa
import soundfile as sf
from fsspec import AbstractFileSystem

from pairalign.data.audio import resample
from pairalign.data.corpora.registry import CorpusKind, register
from pairalign.data.corpora.sentences import generate_sentences
from pairalign.data.corpora.voices import Voice, synthesize_wav, voice_pool
from pairalign.data.manifest import ManifestError, manifest_table, read_manifest, write_manifest
from pairalign.data.storage import is_remote, join, url_to_fs
from pairalign.units import SAMPLE_RATE, Hertz, Seconds

ESPEAK_SAMPLE_RATE: Hertz = 22_050
SPLITS = ("train", "test")
# Independent random streams derived from the seed.
_SENTENCE_STREAM, _VOICE_STREAM, _JITTER_STREAM = 1, 2, 3
# Bumped when `render` changes its output, so a tree from an older renderer is re-rendered, not
# mixed with new files. 2: scipy's polyphase resampler replaced torchaudio's.
RENDER_VERSION = 2
BUILTIN_MANIFEST = "manifest.parquet"  # the manifest of a synthesised corpus, in its directory

MapFn = Callable[[Callable[["UtteranceSpec"], bytes], Sequence["UtteranceSpec"]], Iterable[bytes]]


@dataclass(frozen=True)
class BuiltinCorpusConfig:
    """What to synthesise. The defaults give ~1 h of train audio and 100 x 8 test renders."""

    seed: int = 0
    train_sentences: int = 172  # x 8 voices x ~2.6 s = ~1 h of train audio
    test_sentences: int = 100
    voices_per_sentence: int = 8
    train_voices: int = 16  # the first identities of `voice_pool()`
    test_voices: int = 12  # the next ones: disjoint from train
    rate_jitter: float = 0.06  # each render's rate is base * (1 + U(-j, j))
    pitch_jitter: int = 6  # each render's pitch is base + U{-j..j} (espeak's 0-99 scale)
    min_words: int = 6
    max_words: int = 10
    sample_rate: int = SAMPLE_RATE
    audio_format: Literal["flac", "wav"] = "flac"
    workers: int = 0  # render threads; 0 means os.cpu_count()

    def __post_init__(self) -> None:
        for name in ("train_sentences", "test_sentences", "voices_per_sentence"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("train_voices", "test_voices"):
            if getattr(self, name) < self.voices_per_sentence:
                raise ValueError(
                    f"{name}={getattr(self, name)} < voices_per_sentence="
                    f"{self.voices_per_sentence}: a sentence needs that many distinct voices"
                )
        if not 0 <= self.rate_jitter < 0.5:
            raise ValueError(f"rate_jitter must be in [0, 0.5), got {self.rate_jitter}")
        if not 0 <= self.pitch_jitter <= 49:
            raise ValueError(f"pitch_jitter must be in [0, 49], got {self.pitch_jitter}")


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything needed to render one utterance, independent of every other utterance."""

    utterance_id: str
    split: str
    sentence_id: str
    text: str
    voice: Voice
    rate: int  # words per minute for this render
    pitch: int  # espeak pitch (0-99) for this render

    def relpath(self, suffix: str) -> str:
        """`<split>/<voice-id>/<sentence-id>.<suffix>` under the corpus root."""
        return f"{self.split}/{self.voice.id}/{self.sentence_id}.{suffix}"


def plan_corpus(
    config: BuiltinCorpusConfig, pool: Sequence[Voice] | None = None
) -> list[UtteranceSpec]:
    """Every utterance of the corpus, train then test, in a deterministic order (pure)."""
    pool = tuple(voice_pool() if pool is None else pool)
    needed = config.train_voices + config.test_voices
    if needed > len(pool):
        raise ValueError(f"train_voices + test_voices = {needed} > {len(pool)} voices in the pool")
    n_train, n_test = config.train_sentences, config.test_sentences
    rng = np.random.default_rng([config.seed, _SENTENCE_STREAM])
    texts = generate_sentences(
        n_train + n_test, rng, min_words=config.min_words, max_words=config.max_words
    )
    voices = {"train": range(config.train_voices), "test": range(config.train_voices, needed)}
    sentences = {"train": range(n_train), "test": range(n_train, n_train + n_test)}
    specs = []
    for split_index, split in enumerate(SPLITS):
        rng = np.random.default_rng([config.seed, _VOICE_STREAM, split_index])
        assignment = _assign_voices(len(sentences[split]), voices[split], config, rng)
        for index, chosen in zip(sentences[split], assignment, strict=True):
            specs += [_spec(config, split, index, texts[index], k, pool[k]) for k in chosen]
    return specs


def _assign_voices(
    n_sentences: int, voices: Sequence[int], config: BuiltinCorpusConfig, rng: np.random.Generator
) -> list[list[int]]:
    """For each sentence, `voices_per_sentence` distinct voices (pool indices): the least used so
    far, ties broken at random, so every voice of a split speaks about equally often."""
    counts = np.zeros(len(voices), dtype=np.int64)
    out = []
    for _ in range(n_sentences):
        order = np.lexsort((rng.random(len(voices)), counts))
        chosen = sorted(int(v) for v in order[: config.voices_per_sentence])
        counts[chosen] += 1
        out.append([voices[v] for v in chosen])
    return out


def _spec(
    config: BuiltinCorpusConfig,
    split: str,
    sentence_index: int,
    text: str,
    pool_index: int,
    voice: Voice,
) -> UtteranceSpec:
    rng = np.random.default_rng([config.seed, _JITTER_STREAM, sentence_index, pool_index])
    rate = round(voice.rate * (1.0 + rng.uniform(-config.rate_jitter, config.rate_jitter)))
    pitch = voice.pitch + int(rng.integers(-config.pitch_jitter, config.pitch_jitter + 1))
    sentence_id = f"s{sentence_index:04d}"
    return UtteranceSpec(
        utterance_id=f"{voice.id}_{sentence_id}",
        split=split,
        sentence_id=sentence_id,
        text=text,
        voice=voice,
        rate=rate,
        pitch=min(max(pitch, 0), 99),
    )


def render(spec: UtteranceSpec, sample_rate: Hertz = SAMPLE_RATE) -> np.ndarray:
    """The utterance's samples, float32 mono at `sample_rate`, silence trimmed at both ends."""
    wav = synthesize_wav(spec.voice, spec.text, pitch=spec.pitch, rate=spec.rate)
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")  # (T,)
    samples = trim_silence(samples, rate)
    samples = resample(samples, rate, sample_rate)  # float64 polyphase FIR
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def trim_silence(
    samples: np.ndarray, sample_rate: Hertz, *, threshold: float = 1e-3, margin: Seconds = 0.05
) -> np.ndarray:
    """Cut leading/trailing samples quieter than `threshold`, keeping `margin` seconds of each."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples
    pad = round(margin * sample_rate)
    return samples[max(loud[0] - pad, 0) : loud[-1] + pad + 1]


def encode(samples: np.ndarray, sample_rate: Hertz, audio_format: str) -> bytes:
    """16-bit FLAC or WAV file bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format=audio_format.upper(), subtype="PCM_16")
    return buffer.getvalue()


def render_encoded(spec: UtteranceSpec, *, sample_rate: Hertz, audio_format: str) -> bytes:
    """The unit of work handed to a `map_fn`: render one utterance to file bytes."""
    return encode(render(spec, sample_rate), sample_rate, audio_format)


def thread_map(workers: int = 0) -> MapFn:
    """A `map_fn` over a thread pool (espeak-ng runs in subprocesses, so threads parallelise)."""

    def map_fn(
        fn: Callable[[UtteranceSpec], bytes], specs: Sequence[UtteranceSpec]
    ) -> Iterator[bytes]:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            yield from pool.map(fn, specs)

    return map_fn


def synthesize_corpus(
    config: BuiltinCorpusConfig,
    out_url: str,
    *,
    map_fn: MapFn | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pa.Table:
    """Render the corpus under `out_url` (local or s3://) and return its manifest.

    `map_fn(fn, specs)` must yield `fn(spec)` for each spec in order; the default is a thread
    pool of `config.workers` threads. Utterances already written by an interrupted run with the
    same config are kept, not re-rendered. `progress(done, total)` is called after each
    utterance written (and once before the first, with the count already on disk).
    """
    out_url = out_url if is_remote(out_url) else os.path.abspath(out_url)
    specs = plan_corpus(config)
    fs, root = url_to_fs(out_url)
    done = _completed(fs, root, specs, _stamp(config, specs), config.audio_format)
    todo = [s for s in specs if s.utterance_id not in done]
    fn = partial(render_encoded, sample_rate=config.sample_rate, audio_format=config.audio_format)
    results = (map_fn or thread_map(config.workers))(fn, todo)
    for voice_dir in sorted({f"{s.split}/{s.voice.id}" for s in todo}):
        fs.makedirs(f"{root}/{voice_dir}", exist_ok=True)
    durations: dict[str, Seconds] = {}
    if progress is not None:
        progress(len(specs) - len(todo), len(specs))
    for written, (spec, data) in enumerate(
        zip(todo, results, strict=True), len(specs) - len(todo) + 1
    ):
        fs.pipe_file(f"{root}/{spec.relpath(config.audio_format)}", data)
        fs.pipe_file(f"{root}/{spec.relpath('txt')}", _transcript(spec))  # written last: marks done
        durations[spec.utterance_id] = sf.info(io.BytesIO(data)).duration
        if progress is not None:
            progress(written, len(specs))
    for spec in specs:
        if spec.utterance_id in done:
            with fs.open(f"{root}/{spec.relpath(config.audio_format)}", "rb") as f:
                durations[spec.utterance_id] = sf.info(f).duration
    table = manifest_table(
        {
            "utterance_id": s.utterance_id,
            "path": join(out_url, *s.relpath(config.audio_format).split("/")),
            "speaker": s.voice.id,
            "content_id": s.sentence_id,
            "text": s.text,
            "duration": durations[s.utterance_id],
            "split": s.split,
        }
        for s in specs
    )
    write_manifest(table, join(out_url, BUILTIN_MANIFEST))
    return table


def _transcript(spec: UtteranceSpec) -> bytes:
    return (spec.text + "\n").encode()


def _stamp(config: BuiltinCorpusConfig, specs: Sequence[UtteranceSpec]) -> str:
    """What the tree was built from: the config, a digest of the plan, the renderer version."""
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k != "workers"}
    fields["plan_sha256"] = hashlib.sha256(repr(list(specs)).encode()).hexdigest()
    fields["render_version"] = RENDER_VERSION
    return json.dumps(fields, sort_keys=True, indent=1) + "\n"


def _completed(
    fs: AbstractFileSystem,
    root: str,
    specs: Sequence[UtteranceSpec],
    stamp: str,
    audio_format: str,
) -> set[str]:
    """Ids already rendered under `root` from the same `stamp`; resets the tree's stamp otherwise.

    An utterance counts as done when its audio file is non-empty and its transcript (written
    after the audio) has the expected size. A tree built from another config keeps nothing: its
    transcripts are removed before the new config's stamp is written.
    """
    stamp_path = f"{root}/corpus.json"
    files = fs.find(root, detail=True) if fs.exists(root) else {}
    sizes = {path: info.get("size", 0) for path, info in files.items()}
    same = stamp_path in sizes and fs.cat_file(stamp_path).decode() == stamp
    if not same:
        stale = [p for p in (f"{root}/{s.relpath('txt')}" for s in specs) if p in sizes]
        if stale:
            fs.rm(stale)
        fs.makedirs(root, exist_ok=True)
        fs.pipe_file(stamp_path, stamp.encode())
        return set()
    return {
        s.utterance_id
        for s in specs
        if sizes.get(f"{root}/{s.relpath(audio_format)}", 0) > 44
        and sizes.get(f"{root}/{s.relpath('txt')}") == len(_transcript(s))
    }


def read_builtin(root: str) -> pa.Table:
    """The manifest of the built-in corpus synthesised in `root` (`kind: builtin`; a missing one
    is a ManifestError: `pairalign.data.corpora.spec.load_manifest` synthesises it instead)."""
    path = join(root, BUILTIN_MANIFEST)
    fs, fs_path = url_to_fs(path)
    if not fs.exists(fs_path):
        raise ManifestError(
            f"{root}: no built-in corpus here (no {BUILTIN_MANIFEST}); synthesise it with "
            f"workflows/prepare.py out_dir={root}"
        )
    return read_manifest(path)


register(CorpusKind.BUILTIN, read_builtin)  # by name only: `auto` reads its manifest file
