"""A held-out retrieval set spoken by engines other than espeak-ng: flite, Festival (its own
diphone and HTS voices, and the MBROLA human-diphone voices), SVOX Pico and SAM.

    PYTHONPATH=. python -m bench.experiments.foreign_corpus out=data/foreign sentences=40

Every voice speaks the same sentences, drawn by the project's own sentence generator under a seed
of their own, and any sentence the default built-in corpus already holds is dropped, so neither the
voices nor the sentences have been seen in training. Each rendition is trimmed of silence,
resampled to 16 kHz mono and written as `<out>/test/<voice-id>/<sentence-id>.flac`, with
`corpus.json` (arguments, voices, engine versions) and `manifest.parquet` (speaker = voice id,
content_id = sentence id, split = "test"), which `read_user_manifest` loads as a user corpus.
Retrieval is TIMIT-style: renditions of a sentence by the other voices are the relevant ones.
40 sentences x 13 voices (520 renditions, ~26 min of audio) take 2-4 min on 2 busy cores.

Engines come from Debian; a missing engine or voice is skipped with a message:

    apt-get install flite festival festvox-kdlpc16k festvox-us-slt-hts
    # contrib/non-free: the MBROLA databases, Festival's MBROLA voices and Pico
    apt-get install mbrola festvox-us1 festvox-us2 festvox-us3 festvox-en1 libttspico-utils
    pip install --no-deps samtts  # SAM, pure Python; its pyaudio is only for playback

The voices are chosen so that no two share a speaker and a method: flite's `kal` (8 kHz) and
Festival's `kal_diphone` are left out as copies of flite's `kal16` diphones. flite's `slt`
(clustergen) and Festival's `cmu_us_slt_arctic_hts` are the same speaker, modelled two ways.
The engines take no seed and none was seen to vary between runs, so fixed arguments give the same
files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.cli import parse
from pairalign.data.audio import resample
from pairalign.data.corpora.builtin import BuiltinCorpusConfig, encode, plan_corpus, trim_silence
from pairalign.data.corpora.sentences import generate_sentences
from pairalign.data.manifest import manifest_table, write_manifest
from pairalign.units import SAMPLE_RATE, Hertz

SPLIT = "test"
PICO_LANG_DIR = Path("/usr/share/pico/lang")
_SENTENCE_STREAM = 11  # the built-in corpus draws its sentences from stream 1


@dataclass(frozen=True)
class ForeignCorpus:
    out: str  # output directory
    sentences: int = 40
    seed: int = 2024
    workers: int = 2  # render threads
    voices: tuple[str, ...] = ()  # voice ids (default: all)


@dataclass(frozen=True)
class ForeignVoice:
    """One engine's voice: `engine` says how to call it, `name` is the engine's own voice name."""

    id: str  # the manifest's speaker and the directory name, "<engine>-<voice>"
    engine: str  # "flite", "festival", "pico" or "sam"
    name: str  # flite -voice, festival voice_<name>, pico2wave -l
    about: str  # who or what speaks
    scale: float = 1.0  # festival's output gain (its diphone voices clip at 1.0)


VOICES: tuple[ForeignVoice, ...] = (
    ForeignVoice("flite-kal16", "flite", "kal16", "US male, diphones (K. Lenzo)"),
    ForeignVoice("flite-awb", "flite", "awb", "Scottish male, CMU ARCTIC clustergen"),
    ForeignVoice("flite-rms", "flite", "rms", "US male, CMU ARCTIC clustergen"),
    ForeignVoice("flite-slt", "flite", "slt", "US female, CMU ARCTIC clustergen"),
    ForeignVoice("festival-ked", "festival", "ked_diphone", "US male, LPC diphones", scale=0.5),
    ForeignVoice("festival-slt-hts", "festival", "cmu_us_slt_arctic_hts", "US female, HTS"),
    ForeignVoice(
        "festival-mbrola-us1", "festival", "us1_mbrola", "US female, MBROLA human diphones"
    ),
    ForeignVoice("festival-mbrola-us2", "festival", "us2_mbrola", "US male, MBROLA human diphones"),
    ForeignVoice("festival-mbrola-us3", "festival", "us3_mbrola", "US male, MBROLA human diphones"),
    ForeignVoice(
        "festival-mbrola-en1", "festival", "en1_mbrola", "British male, MBROLA human diphones"
    ),
    ForeignVoice("pico-en-us", "pico", "en-US", "US female, SVOX Pico"),
    ForeignVoice("pico-en-gb", "pico", "en-GB", "British female, SVOX Pico"),
    ForeignVoice("sam", "sam", "sam", "Software Automatic Mouth (1982), formant rules"),
)


def _run(cmd: list[str], **kwargs) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {result.returncode}): {result.stderr}")
    return result.stdout


def _stdout(cmd: list[str]) -> str:
    """What `cmd` prints, whatever its exit status (`flite --version` exits 1); "" if missing."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


def _read_wav(path: Path) -> tuple[np.ndarray, Hertz]:
    samples, rate = sf.read(path, dtype="float32", always_2d=True)  # (T, C)
    return samples.mean(axis=1), rate  # (T,)


def _flite(voice: ForeignVoice, text: str, tmp: Path) -> tuple[np.ndarray, Hertz]:
    _run(["flite", "-voice", voice.name, "-t", text, "-o", str(tmp / "out.wav")])
    return _read_wav(tmp / "out.wav")


def _festival(voice: ForeignVoice, text: str, tmp: Path) -> tuple[np.ndarray, Hertz]:
    (tmp / "in.txt").write_text(text + "\n")
    cmd = ["text2wave", "-scale", str(voice.scale), "-eval", f"(voice_{voice.name})"]
    _run([*cmd, "-o", str(tmp / "out.wav"), str(tmp / "in.txt")])
    return _read_wav(tmp / "out.wav")


def _pico(voice: ForeignVoice, text: str, tmp: Path) -> tuple[np.ndarray, Hertz]:
    _run(["pico2wave", "-l", voice.name, "-w", str(tmp / "out.wav"), text])
    return _read_wav(tmp / "out.wav")


def _sam(voice: ForeignVoice, text: str, tmp: Path) -> tuple[np.ndarray, Hertz]:
    from samtts import SamTTS  # optional: only this engine needs it

    pcm = b"".join(bytes(chunk) for chunk in SamTTS().iter_audio_data_from_paragraph(text))
    samples = (np.frombuffer(pcm, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0  # (T,)
    return samples, 22_050


ENGINES: dict[str, Callable[[ForeignVoice, str, Path], tuple[np.ndarray, Hertz]]] = {
    "flite": _flite,
    "festival": _festival,
    "pico": _pico,
    "sam": _sam,
}


def installed_voices(engine: str) -> set[str] | None:
    """The voice names `engine` offers here, or None when the engine itself is missing."""
    if engine == "sam":
        try:
            import samtts  # noqa: F401
        except ImportError:
            return None
        return {"sam"}
    binary = {"flite": "flite", "festival": "festival", "pico": "pico2wave"}[engine]
    if shutil.which(binary) is None:
        return None
    if engine == "flite":
        return set(_run(["flite", "-lv"]).split(":", 1)[1].split())
    if engine == "festival":
        return set(_run(["festival", "-b", "(print (voice.list))"]).strip("()\n").split())
    return {p.name.removesuffix("_ta.bin") for p in PICO_LANG_DIR.glob("*_ta.bin")}


def available_voices(wanted: tuple[ForeignVoice, ...]) -> list[ForeignVoice]:
    """The voices of `wanted` that can be rendered here; says why each other one is skipped."""
    found: dict[str, set[str] | None] = {e: installed_voices(e) for e in {v.engine for v in wanted}}
    usable = []
    for voice in wanted:
        names = found[voice.engine]
        if names is None:
            print(f"skip {voice.id}: engine {voice.engine!r} is not installed")
        elif voice.name not in names:
            print(f"skip {voice.id}: {voice.engine} has no voice {voice.name!r} here")
        else:
            usable.append(voice)
    return usable


def engine_versions(engines: set[str]) -> dict[str, str]:
    """What each engine says its version is (for corpus.json)."""
    out = {}
    if "flite" in engines:
        out["flite"] = _stdout(["flite", "--version"]).split("version:")[-1].strip()
    if "festival" in engines:
        out["festival"] = _stdout(["festival", "--version"]).strip()
    if "pico" in engines:
        package = "${Version}", "libttspico-utils"
        out["pico"] = _stdout(["dpkg-query", "-W", "-f", *package]) or "unknown"
    if "sam" in engines:
        from importlib.metadata import version

        out["sam"] = f"samtts {version('samtts')}"
    return out


def foreign_sentences(n: int, seed: int) -> list[str]:
    """`n` generated sentences, none of which the default built-in corpus speaks."""
    builtin = {spec.text for spec in plan_corpus(BuiltinCorpusConfig())}
    rng = np.random.default_rng([seed, _SENTENCE_STREAM])
    texts = [t for t in generate_sentences(2 * n + 10, rng) if t not in builtin]
    if len(texts) < n:
        raise ValueError(f"only {len(texts)} new sentences for {n} wanted")
    return texts[:n]


def render(voice: ForeignVoice, text: str, sample_rate: Hertz = SAMPLE_RATE) -> np.ndarray:
    """One rendition: float32 mono at `sample_rate`, silence trimmed at both ends."""
    with tempfile.TemporaryDirectory(prefix="foreign-tts-") as tmp:
        samples, rate = ENGINES[voice.engine](voice, text, Path(tmp))
    samples = resample(trim_silence(samples, rate), rate, sample_rate)
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def synthesize(voices: list[ForeignVoice], texts: list[str], out: Path, workers: int) -> list[dict]:
    """Render every voice x sentence under `out` and return the manifest rows."""
    jobs = [(v, f"f{i:04d}", t) for v in voices for i, t in enumerate(texts)]

    def one(job: tuple[ForeignVoice, str, str]) -> dict:
        voice, sentence_id, text = job
        samples = render(voice, text)
        path = out / SPLIT / voice.id / f"{sentence_id}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(samples, SAMPLE_RATE, "flac"))
        return {
            "utterance_id": f"{voice.id}_{sentence_id}",
            "path": str(path),
            "speaker": voice.id,
            "content_id": sentence_id,
            "text": text,
            "duration": len(samples) / SAMPLE_RATE,
            "split": SPLIT,
            "rms": float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))),
        }

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, jobs))


def report(rows: list[dict]) -> list[str]:
    """Per-voice count, mean/min duration and mean RMS; flags renditions too short or quiet."""
    lines = [f"{'voice':28s} {'n':>3s} {'mean_s':>6s} {'min_s':>6s} {'rms':>6s} {'dBFS':>6s}"]
    for speaker in dict.fromkeys(r["speaker"] for r in rows):
        mine = [r for r in rows if r["speaker"] == speaker]
        durations = np.array([r["duration"] for r in mine])
        rms = float(np.mean([r["rms"] for r in mine]))
        lines.append(
            f"{speaker:28s} {len(mine):3d} {durations.mean():6.2f} {durations.min():6.2f} "
            f"{rms:6.3f} {20 * np.log10(max(rms, 1e-9)):6.1f}"
        )
    bad = [r["utterance_id"] for r in rows if r["duration"] < 0.5 or r["rms"] < 3e-3]
    lines.append(f"suspect (shorter than 0.5 s or RMS < 3e-3): {bad or 'none'}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(ForeignCorpus, argv, __doc__.split("\n\n")[0])
    wanted = VOICES
    if args.voices:
        unknown = sorted(set(args.voices) - {v.id for v in VOICES})
        if unknown:
            raise SystemExit(f"unknown voice id(s) {unknown}; known: {[v.id for v in VOICES]}")
        wanted = tuple(v for v in VOICES if v.id in args.voices)
    voices = available_voices(wanted)
    if len(voices) < 2:
        raise SystemExit(f"{len(voices)} voice(s) usable: retrieval needs at least 2")
    print(f"{len(voices)} voices: {', '.join(v.id for v in voices)}")
    out = Path(os.path.abspath(args.out))
    texts = foreign_sentences(args.sentences, args.seed)
    start = time.perf_counter()
    rows = synthesize(voices, texts, out, args.workers)
    wall = time.perf_counter() - start
    table = manifest_table([{k: v for k, v in r.items() if k != "rms"} for r in rows])
    write_manifest(table, str(out / "manifest.parquet"))
    meta = {
        "args": asdict(args),
        "voices": [asdict(v) | {"id": v.id} for v in voices],
        "engines": engine_versions({v.engine for v in voices}),
        "sentences": texts,
    }
    (out / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    print("\n".join(report(rows)))
    audio = sum(r["duration"] for r in rows)
    print(f"{len(rows)} renditions, {audio / 60:.1f} min of audio in {wall:.1f} s")
    print(f"manifest: {out / 'manifest.parquet'}")


if __name__ == "__main__":
    main()
