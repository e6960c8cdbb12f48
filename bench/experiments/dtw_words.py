"""How well the DTW time map between two voices' renditions of one sentence puts word boundaries
(issue 28, item 2): built-in corpus sentences rendered exactly as the corpus renders them
(`pairalign.data.corpora.builtin`: voice, pitch and rate of each utterance from `plan_corpus`,
espeak-ng's leading and trailing silence trimmed, resampled to 16 kHz), with espeak-ng's own word
events (its library, `libespeak-ng`, through ctypes: the sample at which each word starts). Two
voices of one sentence are aligned with `pairalign.timing.align`, A's word starts are mapped
through `TimeMap.from_path` into B's time and compared with B's word starts.

    PYTHONPATH=. python -m bench.experiments.dtw_words sentences=30 pairs_per_sentence=4 \\
        out=runs/dtw_words.json
    PYTHONPATH=. python -m bench.experiments.dtw_words sentences=2 pairs_per_sentence=1 \\
        "features=[logmel]" "metrics=[cosine]" "bands=[0.2]" "trims=[40]" cost_pairs=300 \\
        repeats=3 corpus=data/builtin

The boundaries are the starts of every word but the first (espeak puts the first word's event at
the start of its leading silence), where both renditions have one (espeak-ng gives none to a word
it joins to the one before, e.g. "the" in "in the"). `pad` puts each rendition between up to
`pad` seconds of faint noise at either end, for the silence trimming to matter. `truth=phoneme`
takes instead the first non-pause phoneme event of each word (espeak-ng's phoneme events), a
second reading of where a word starts: a stop's closure comes before its phoneme event.

Figures: the share of boundaries within 2 frames of B's true one at 10 ms frames (|error| <= 20
ms, the DTW's frame) and at 20 ms frames (<= 40 ms, the model's frame), median and 90th
percentile of |error|. `cost_pairs` > 0 then scores pairs of one sentence by two voices against
pairs of two sentences (train split), for the first setting of the grid: the path's mean cost per
step and its excess over the floor (`Alignment.excess`); and times `align` on those full
utterances (read from `corpus=` when given).

The renders are checked once per voice against the espeak-ng command line the corpus uses (the
same samples, or the run stops), and, with `corpus=` a synthesised built-in corpus, against its
files (16-bit, so within one step of 1/32768). espeak-ng's library keeps state from one
synthesis to the next, so each utterance is synthesised in a fresh process.
"""

from __future__ import annotations

import ctypes
import io
import itertools
import json
import math
import multiprocessing
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bench.cli import parse
from pairalign.data.audio import resample
from pairalign.data.corpora.builtin import (
    ESPEAK_SAMPLE_RATE,
    BuiltinCorpusConfig,
    UtteranceSpec,
    plan_corpus,
)
from pairalign.data.corpora.builtin import trim_silence as trim_espeak_silence
from pairalign.data.corpora.voices import synthesize_wav
from pairalign.timing import DTWConfig, TimeMap, align, frame_levels_db
from pairalign.timing.dtw import cost_matrix
from pairalign.timing.features import dct_basis
from pairalign.units import SAMPLE_RATE

HOP_SECONDS = 0.01  # the DTW frames' hop: LogMel frame i is centred at sample i * hop
FEATURES = ("logmel", "mfcc", "mfcc0", "mfcc_raw", "mfcc_raw0", "mfcc_delta")


@dataclass(frozen=True)
class DTWWords:
    sentences: int = 30  # train sentences of the built-in plan, drawn with `seed`
    pairs_per_sentence: int = 4  # distinct voice pairs of each sentence (of its 8 voices)
    seed: int = 0
    features: tuple[str, ...] = FEATURES  # each, see `frames`
    metrics: tuple[str, ...] = ("cosine", "euclidean")
    bands: tuple[float | None, ...] = (0.2, None)
    trims: tuple[float | None, ...] = (40.0, None)  # DTWConfig.trim_db
    knot_every: tuple[int, ...] = (4,)  # TimeMap.from_path's knot_every
    truth: str = "word"  # word: espeak-ng word events; phoneme: each word's first phoneme event
    cost_pairs: int = 0  # same-sentence and different-sentence pairs for the cost figures
    repeats: int = 1  # each cost pair's `align` timed this many times, the fastest kept
    pad: float = 0.0  # seconds: each rendition between U(0, pad) s of faint noise at either end
    corpus: str = ""  # a synthesised built-in corpus to check the renders against (optional)
    out: str = ""  # JSON of every figure (optional)


# --- espeak-ng's library: the corpus's audio and its word events ----------------------------


class _Event(ctypes.Structure):
    _fields_ = [  # espeak_EVENT of speak_lib.h
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character of the text
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # sample of the output at which the event falls
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # a phoneme's name for phoneme events
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)
_WORD, _PHONEME = 1, 7  # espeak_EVENT_TYPE
_SYNCHRONOUS, _PHONEME_EVENTS = 2, 0x0001  # AUDIO_OUTPUT_SYNCHRONOUS, INITIALIZE_PHONEME_EVENTS
_RATE, _VOLUME, _PITCH, _WORDGAP = 1, 2, 3, 7  # espeak_PARAMETER
# espeak-ng's command line synthesises with espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE.
_FLAGS, _POS_CHARACTER = 0x0100 | 0x1000, 1


@dataclass(frozen=True)
class Rendition:
    """One utterance as the corpus renders it, and where its words start."""

    spec: UtteranceSpec
    samples: np.ndarray  # (N,) float32 at SAMPLE_RATE, espeak's silences trimmed as the corpus
    word_starts: dict[int, float]  # seconds of espeak-ng's word event, by the word's character
    phoneme_starts: dict[int, float]  # seconds of the word's first non-pause phoneme event


class Espeak:
    """espeak-ng's library (synchronous output, word and phoneme events). One instance
    synthesises one utterance: the library keeps state from one synthesis to the next (the
    second utterance of a process differs from the command line's by a few to a few hundred
    samples) and cannot be initialised twice, so `synthesize` runs each in a fresh process."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libespeak-ng.so.1")
        rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS)
        if rate != ESPEAK_SAMPLE_RATE:
            raise RuntimeError(f"espeak-ng's library runs at {rate} Hz, not {ESPEAK_SAMPLE_RATE}")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, bytes]] = []
        self._callback = _CALLBACK(self._collect)  # kept: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, events) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            self._events.append((e.type, e.text_position, e.sample, e.id))
            i += 1
        return 0

    def once(self, spec: UtteranceSpec) -> tuple[np.ndarray, list[tuple]]:
        """The int16 samples at 22050 Hz and the events (type, text position, sample, id)."""
        voice = spec.voice
        if self.lib.espeak_SetVoiceByName(voice.espeak.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice {voice.espeak!r}")
        for parameter, value in (
            (_RATE, spec.rate),
            (_VOLUME, voice.amplitude),
            (_PITCH, spec.pitch),
            (_WORDGAP, voice.word_gap),
        ):
            self.lib.espeak_SetParameter(parameter, value, 0)
        text = spec.text.encode() + b"\0"
        status = self.lib.espeak_Synth(text, len(text), 0, _POS_CHARACTER, 0, _FLAGS, None, None)
        self.lib.espeak_Synchronize()
        if status != 0 or not self._chunks:
            raise RuntimeError(f"espeak-ng failed on {spec.utterance_id} ({status})")
        return np.concatenate(self._chunks), self._events


def _synthesize_here(spec: UtteranceSpec) -> tuple[np.ndarray, list[tuple]]:
    return Espeak().once(spec)


def synthesize(spec: UtteranceSpec) -> tuple[np.ndarray, list[tuple]]:
    """`Espeak().once(spec)` in a fresh process: the samples `synthesize_wav` gives for `spec`
    (checked by `check`) and espeak-ng's events."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=context) as pool:  # one process per call
        return pool.submit(_synthesize_here, spec).result()


def render(spec: UtteranceSpec) -> Rendition:
    """`builtin.render(spec)` with the word starts in its seconds."""
    raw, events = synthesize(spec)
    words = [m.start() + 1 for m in re.finditer(r"\S+", spec.text)]  # 1-based
    word_sample: dict[int, int] = {}
    phoneme_sample: dict[int, int] = {}
    for kind, position, sample, name in events:
        if kind == _WORD and position in words:
            word_sample.setdefault(position, sample)
        elif kind == _PHONEME and position in words and not name.startswith(b"_"):
            phoneme_sample.setdefault(position, sample)
    if not word_sample:
        raise RuntimeError(f"{spec.utterance_id}: no word events")
    samples = raw.astype(np.float32) / 32768.0  # as soundfile reads 16-bit audio
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    trimmed = trim_espeak_silence(samples, ESPEAK_SAMPLE_RATE)
    start = max(int(loud[0]) - round(0.05 * ESPEAK_SAMPLE_RATE), 0) if loud.size else 0
    audio = resample(trimmed, ESPEAK_SAMPLE_RATE, SAMPLE_RATE)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)

    def seconds(at: dict[int, int]) -> dict[int, float]:
        return {p: (at[p] - start) / ESPEAK_SAMPLE_RATE for p in words if p in at}

    return Rendition(spec, audio, seconds(word_sample), seconds(phoneme_sample))


def check(spec: UtteranceSpec) -> None:
    """The library's samples are those of the corpus's command line (or raise)."""
    raw, _ = synthesize(spec)
    wav = synthesize_wav(spec.voice, spec.text, pitch=spec.pitch, rate=spec.rate)
    cli, _ = sf.read(io.BytesIO(wav), dtype="int16")
    if not np.array_equal(raw, cli):
        raise RuntimeError(f"{spec.utterance_id}: the library's audio differs from the CLI's")


# --- frames ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _frontend():
    from pairalign.models.frontend import LogMel

    return LogMel(SAMPLE_RATE)


def log_mel(samples: np.ndarray, normalised: bool) -> np.ndarray:
    """LogMel's 80 bins (normalised per utterance and bin, or the raw log), frame i centred at
    sample i * hop.  # (N,) -> (ceil(N / hop), 80) float64"""
    frontend = _frontend()
    frames = -(-len(samples) // frontend.hop_length)
    wave = torch.as_tensor(np.asarray(samples, np.float32))
    wave = torch.nn.functional.pad(wave, (0, max(0, frontend.mel.n_fft - len(wave))))
    with torch.no_grad():
        if normalised:
            out = frontend(wave[None])[0]
        else:
            out = torch.log(frontend.mel(wave[None])[0] + 1e-6).T
    return out[:frames].double().numpy()


def _cmvn(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0, keepdims=True)) / (x.std(0, keepdims=True) + 1e-5)


def _deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over +-width frames (edges repeated).  # (T, D) -> (T, D)"""
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    taps = range(1, width + 1)
    num = sum(
        k * (padded[width + k : len(x) + width + k] - padded[width - k : len(x) + width - k])
        for k in taps
    )
    return num / (2 * sum(k * k for k in taps))


def frames(samples: np.ndarray, kind: str) -> np.ndarray:
    """DTW frames of one recording.  # (N,) -> (T, D)
    logmel: LogMel's normalised 80 bins; mfcc: c1..c12 of the DCT of those, each normalised over
    the utterance; mfcc0: c0..c12 so; mfcc_raw / mfcc_raw0: the same of the raw log-mel (the usual
    MFCC); mfcc_delta: mfcc and its deltas."""
    if kind == "logmel":
        return log_mel(samples, normalised=True)
    if kind not in FEATURES:
        raise ValueError(f"unknown features {kind!r}: {FEATURES}")
    logmel = log_mel(samples, normalised=not kind.startswith("mfcc_raw"))
    cepstra = logmel @ dct_basis(logmel.shape[1], 13)
    if not kind.endswith("0"):
        cepstra = cepstra[:, 1:]
    if kind == "mfcc_delta":
        return np.concatenate([_cmvn(cepstra), _cmvn(_deltas(cepstra))], axis=1)
    return _cmvn(cepstra)


# --- the measurement --------------------------------------------------------------------------


def sex(spec: UtteranceSpec) -> str:
    """m, f or k (a Klatt variant) from the voice's espeak variant."""
    variant = spec.voice.espeak.partition("+")[2]
    return "k" if variant.startswith("klatt") else variant[:1]


def word_pairs(
    specs: Sequence[UtteranceSpec], sentences: int, per_sentence: int, seed: int
) -> list[tuple[UtteranceSpec, UtteranceSpec]]:
    """`per_sentence` distinct voice pairs of each of `sentences` train sentences."""
    rng = np.random.default_rng([seed, 28])
    by_sentence: dict[str, list[UtteranceSpec]] = {}
    for spec in specs:
        by_sentence.setdefault(spec.sentence_id, []).append(spec)
    ids = sorted(by_sentence)
    chosen = [ids[i] for i in rng.permutation(len(ids))[:sentences]]
    out = []
    for sentence in chosen:
        voices = by_sentence[sentence]
        combos = list(itertools.combinations(range(len(voices)), 2))
        for k in rng.permutation(len(combos))[:per_sentence]:
            a, b = combos[k]
            out.append((voices[a], voices[b]) if rng.random() < 0.5 else (voices[b], voices[a]))
    return out


class Renditions:
    """Renders, frames and frame levels, each computed once per utterance."""

    def __init__(self, corpus: str = "", pad: float = 0.0, seed: int = 0) -> None:
        self.corpus = corpus
        self.pad, self.seed = pad, seed
        self._renders: dict[str, Rendition] = {}
        self._frames: dict[tuple[str, str], np.ndarray] = {}
        self._levels: dict[str, np.ndarray] = {}
        self._checked: set[str] = set()
        self.max_corpus_difference = 0.0
        self._audio: dict[str, np.ndarray] = {}

    def __call__(self, spec: UtteranceSpec) -> Rendition:
        if spec.utterance_id not in self._renders:
            if spec.voice.id not in self._checked:
                check(spec)
                self._checked.add(spec.voice.id)
            found = render(spec)
            if self.corpus:
                self._compare(found)
            self._renders[spec.utterance_id] = self._padded(found) if self.pad else found
        return self._renders[spec.utterance_id]

    def _padded(self, found: Rendition) -> Rendition:
        """The rendition between U(0, pad) seconds of noise 60 dB below full scale at either
        end (seeded by the utterance), as a recording has, with its word starts moved."""
        seed = int.from_bytes(found.spec.utterance_id.encode()[-8:].rjust(8, b"\0"), "little")
        rng = np.random.default_rng([self.seed, seed])
        lead, tail = (round(x * SAMPLE_RATE) for x in rng.uniform(0, self.pad, 2))
        noise = 1e-3 * rng.standard_normal(lead + tail + len(found.samples)).astype(np.float32)
        noise[lead : lead + len(found.samples)] += found.samples
        shift = lead / SAMPLE_RATE
        return Rendition(
            found.spec,
            noise,
            {p: t + shift for p, t in found.word_starts.items()},
            {p: t + shift for p, t in found.phoneme_starts.items()},
        )

    def _compare(self, found: Rendition) -> None:
        path = Path(self.corpus) / found.spec.relpath("flac")
        stored, _ = sf.read(path, dtype="float32")
        if len(stored) != len(found.samples):
            raise RuntimeError(f"{path}: {len(stored)} samples, the render {len(found.samples)}")
        gap = float(np.abs(stored - found.samples).max())
        self.max_corpus_difference = max(self.max_corpus_difference, gap)
        if gap > 1.5 / 32768:
            raise RuntimeError(f"{path} differs from the render by {gap:.2e}")

    def samples(self, spec: UtteranceSpec) -> np.ndarray:
        return self(spec).samples

    def frames(self, spec: UtteranceSpec, kind: str) -> np.ndarray:
        key = (spec.utterance_id, kind)
        if key not in self._frames:
            self._frames[key] = frames(self.samples(spec), kind)
        return self._frames[key]

    def levels(self, spec: UtteranceSpec) -> np.ndarray:
        if spec.utterance_id not in self._levels:
            self._levels[spec.utterance_id] = frame_levels_db(self.samples(spec))
        return self._levels[spec.utterance_id]


class CorpusFiles(Renditions):
    """The same utterances read from a synthesised built-in corpus (the renders' samples within
    one 16-bit step, as `Renditions(corpus)` checks), without their word starts."""

    def samples(self, spec: UtteranceSpec) -> np.ndarray:
        if spec.utterance_id not in self._audio:
            path = Path(self.corpus) / spec.relpath("flac")
            self._audio[spec.utterance_id] = sf.read(path, dtype="float32")[0]
        return self._audio[spec.utterance_id]


def boundary_errors(
    renditions: Renditions,
    pairs: Sequence[tuple[UtteranceSpec, UtteranceSpec]],
    kind: str,
    config: DTWConfig,
    truth: str,
    knot_every: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Mapped minus true seconds of every boundary (word starts but the first) of every pair,
    and the pair each belongs to.  # -> (K,), (K,) int"""
    errors, owner = [], []
    for index, (spec_a, spec_b) in enumerate(pairs):
        found = align(
            renditions.frames(spec_a, kind),
            renditions.frames(spec_b, kind),
            config,
            renditions.levels(spec_a),
            renditions.levels(spec_b),
        )
        time_map = TimeMap.from_path(found.path, HOP_SECONDS, knot_every=knot_every)
        field = "word_starts" if truth == "word" else "phoneme_starts"
        at_a, at_b = getattr(renditions(spec_a), field), getattr(renditions(spec_b), field)
        shared = sorted(set(at_a) & set(at_b) - {1})  # words but the first that both voice
        start_a = np.array([at_a[p] for p in shared])
        start_b = np.array([at_b[p] for p in shared])
        errors.append(time_map(start_a) - start_b)
        owner.append(np.full(len(start_a), index))
    return np.concatenate(errors), np.concatenate(owner)


def summary(errors: np.ndarray) -> dict[str, float]:
    size = np.abs(errors)
    return {
        "within_2_frames_10ms": float(np.mean(size <= 0.02 + 1e-9)),
        "within_2_frames_20ms": float(np.mean(size <= 0.04 + 1e-9)),
        "median_ms": float(np.median(size) * 1000),
        "p90_ms": float(np.percentile(size, 90) * 1000),
        "mean_signed_ms": float(np.mean(errors) * 1000),
        "boundaries": len(errors),
    }


def cost_figures(
    renditions: Renditions,
    specs: Sequence[UtteranceSpec],
    kind: str,
    config: DTWConfig,
    count: int,
    seed: int,
    repeats: int = 1,
) -> dict:
    """Scores of `count` pairs of one sentence by two voices and of `count` pairs of two
    sentences (two voices): the path's mean cost per step (`cost`), its excess over the floor
    (`excess`: `Alignment.excess`) and its cost over the mean of all frame pairs (`relative`); and
    the time `align` takes on them."""
    rng = np.random.default_rng([seed, 29])
    by_sentence: dict[str, list[UtteranceSpec]] = {}
    for spec in specs:
        by_sentence.setdefault(spec.sentence_id, []).append(spec)
    ids = sorted(by_sentence)
    same, other = [], []
    for _ in range(count):
        voices = by_sentence[ids[rng.integers(len(ids))]]
        a, b = rng.choice(len(voices), 2, replace=False)
        same.append((voices[a], voices[b]))
        s, t = rng.choice(len(ids), 2, replace=False)
        a_spec = by_sentence[ids[s]][rng.integers(len(by_sentence[ids[s]]))]
        b_spec = next(
            v for v in rng.permutation(by_sentence[ids[t]]) if v.voice.id != a_spec.voice.id
        )
        other.append((a_spec, b_spec))
    out: dict = {"pairs": count, "feature": kind, "config": _config_dict(config)}
    feature_ms = []
    for spec in {s.utterance_id: s for pair in same + other for s in pair}.values():
        renditions.samples(spec)  # rendered or read first: only the frames are timed
        start = time.perf_counter()
        renditions.frames(spec, kind)
        feature_ms.append((time.perf_counter() - start) * 1000)
        renditions.levels(spec)
    costs: dict[str, dict[str, list[float]]] = {"cost": {}, "excess": {}, "relative": {}}
    align_ms, seconds = [], []
    for name, pairs in (("same", same), ("different", other)):
        for score in costs.values():
            score[name] = []
        for spec_a, spec_b in pairs:
            a, b = renditions.frames(spec_a, kind), renditions.frames(spec_b, kind)
            levels_a, levels_b = renditions.levels(spec_a), renditions.levels(spec_b)
            fastest = math.inf
            for _ in range(max(repeats, 1)):
                start = time.perf_counter()
                found = align(a, b, config, levels_a, levels_b)
                fastest = min(fastest, (time.perf_counter() - start) * 1000)
            align_ms.append(fastest)
            costs["cost"][name].append(found.cost)
            costs["excess"][name].append(found.excess)
            costs["relative"][name].append(found.cost / _mean_frame_cost(a, b, config, found))
            seconds.append((len(a) + len(b)) / 2 * HOP_SECONDS)
    for score, values in costs.items():
        out[score] = _separation(np.asarray(values["same"]), np.asarray(values["different"]))
        out[score]["values"] = values
    out["align_ms_median"] = float(np.median(align_ms))
    out["align_ms_p90"] = float(np.percentile(align_ms, 90))
    out["features_ms_median"] = float(np.median(feature_ms))
    out["utterance_seconds_median"] = float(np.median(seconds))
    return out


def _mean_frame_cost(a: np.ndarray, b: np.ndarray, config: DTWConfig, found) -> float:
    """The mean cost of every frame of A against every frame of B, between the path's ends (the
    silences `align` trimmed): what a path through unrelated frames would cost per step."""
    (start_a, start_b), (end_a, end_b) = found.path[0], found.path[-1]
    return float(cost_matrix(a[start_a : end_a + 1], b[start_b : end_b + 1], config.metric).mean())


def _separation(same: np.ndarray, other: np.ndarray) -> dict:
    """Percentiles of a score for true and mismatched pairs, and thresholds: above the worst
    true pair (rounded up to 0.01), at the true pairs' 99th percentile, and where the shares of
    true pairs rejected and mismatched pairs kept are equal."""
    percentiles = (0, 1, 5, 25, 50, 75, 95, 99, 100)
    out: dict = {
        name: {f"p{p}": float(np.percentile(values, p)) for p in percentiles}
        for name, values in (("same", same), ("different", other))
    }
    grid = np.unique(np.concatenate([same, other]))
    equal = grid[
        np.argmin(np.abs(np.mean(same > grid[:, None], 1) - np.mean(other <= grid[:, None], 1)))
    ]
    thresholds = {
        "above_all_true": float(np.ceil(same.max() * 100) / 100),
        "true_p99": float(np.percentile(same, 99)),
        "equal_error": float(equal),
    }
    out["thresholds"] = {
        name: {
            "max_cost": t,
            "true_kept": float(np.mean(same <= t)),
            "mismatched_rejected": float(np.mean(other > t)),
        }
        for name, t in thresholds.items()
    }
    return out


def _config_dict(config: DTWConfig) -> dict:
    return {"metric": config.metric, "band": config.band, "trim_db": config.trim_db}


def print_costs(found: dict) -> None:
    print(
        f"{found['pairs']} pairs each; align: median {found['align_ms_median']:.1f} ms, p90 "
        f"{found['align_ms_p90']:.1f} ms per pair (utterances median "
        f"{found['utterance_seconds_median']:.2f} s); frames: median "
        f"{found['features_ms_median']:.1f} ms per utterance"
    )
    for score in ("cost", "excess", "relative"):
        for name in ("same", "different"):
            cells = " ".join(f"{k}={v:.3f}" for k, v in found[score][name].items())
            print(f"{score} {name}: {cells}")
        for name, t in found[score]["thresholds"].items():
            print(
                f"{score} threshold {name} {t['max_cost']:.3f}: true kept {t['true_kept']:.3f}, "
                f"mismatched rejected {t['mismatched_rejected']:.3f}"
            )


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse(DTWWords, argv, __doc__)
    if args.truth not in ("word", "phoneme"):
        raise SystemExit(f"truth must be word or phoneme, not {args.truth!r}")
    specs = [s for s in plan_corpus(BuiltinCorpusConfig()) if s.split == "train"]
    pairs = word_pairs(specs, args.sentences, args.pairs_per_sentence, args.seed)
    renditions = Renditions(args.corpus, args.pad, args.seed)
    kinds = ["".join(sorted({sex(a), sex(b)})) for a, b in pairs]
    result: dict = {"settings": vars(args) | {"pairs": len(pairs)}, "grid": []}
    print(f"{len(pairs)} pairs of {args.sentences} sentences; truth: {args.truth}")
    print(
        "| features | metric | band | trim dB | knot every | within 2 frames at 10 ms "
        "| at 20 ms | median ms | p90 ms | mean signed ms | boundaries | s |"
    )
    print("|---" * 12 + "|")
    for kind, metric, band, trim, knots in itertools.product(
        args.features, args.metrics, args.bands, args.trims, args.knot_every
    ):
        config = DTWConfig(metric=metric, band=band, trim_db=trim)
        start = time.perf_counter()
        errors, owner = boundary_errors(renditions, pairs, kind, config, args.truth, knots)
        found = summary(errors)
        by_kind = {
            k: summary(errors[np.isin(owner, [i for i, x in enumerate(kinds) if x == k])])
            for k in sorted(set(kinds))
        }
        result["grid"].append(
            {
                "features": kind,
                **_config_dict(config),
                "knot_every": knots,
                **found,
                "by_sexes": by_kind,
            }
        )
        print(
            f"| {kind} | {metric} | {band} | {trim} | {knots} "
            f"| {found['within_2_frames_10ms']:.3f} "
            f"| {found['within_2_frames_20ms']:.3f} | {found['median_ms']:.1f} "
            f"| {found['p90_ms']:.1f} | {found['mean_signed_ms']:+.1f} | {found['boundaries']} "
            f"| {time.perf_counter() - start:.0f} |",
            flush=True,
        )
    if args.cost_pairs > 0:
        kind, metric, band, trim = (args.features[0], args.metrics[0], args.bands[0], args.trims[0])
        config = DTWConfig(metric=metric, band=band, trim_db=trim)
        source = CorpusFiles(args.corpus) if args.corpus and not args.pad else renditions
        result["cost"] = cost_figures(
            source, specs, kind, config, args.cost_pairs, args.seed, args.repeats
        )
        print_costs(result["cost"])
    if args.corpus:
        result["max_corpus_difference"] = renditions.max_corpus_difference
        print(f"renders against {args.corpus}: max |difference| {renditions.max_corpus_difference}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
