"""Voice identities for the built-in corpus: espeak-ng accents crossed with voice variants.

An identity is an accent (an espeak-ng English language), a variant (formants, pitch range,
breathiness: `m1`..`m7`, `f1`..`f5`, the Klatt synthesiser `klatt`..`klatt3`) and its own base
pitch and speaking rate. `voice_pool()` orders the 8 x 15 = 120 combinations so that identity `k`
has accent `k % 8` and variant `k % 15` (a bijection because 8 and 15 are coprime): any prefix of
the pool cycles through accents and variants at once, so the first 28 identities are as different
as the pool allows. MBROLA voices follow, only where their database is installed, so the start of
the pool is the same on every machine.

British English is the `en` language: in espeak-ng 1.51 `en-gb+<variant>` silently ignores the
variant, which `voice_problem` detects by comparing against the plain language's output.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

ESPEAK = "espeak-ng"
MBROLA_DIR = Path("/usr/share/mbrola")
CHECK_TEXT = "The quiet farmer carried a heavy basket across the old bridge."

# (espeak-ng language, short tag used in voice ids).
ACCENTS: tuple[tuple[str, str], ...] = (
    ("en-us", "us"),
    ("en", "gb"),
    ("en-gb-scotland", "scot"),
    ("en-gb-x-rp", "rp"),
    ("en-gb-x-gbclan", "lanc"),
    ("en-gb-x-gbcwmd", "wmid"),
    ("en-029", "carib"),
    ("en-us-nyc", "nyc"),
)
VARIANTS: tuple[str, ...] = tuple("m1 f1 m2 f2 klatt m3 f3 m4 klatt2 f4 m5 f5 m6 klatt3 m7".split())
# espeak-ng voice name -> MBROLA database directory under MBROLA_DIR.
MBROLA_VOICES: tuple[tuple[str, str], ...] = (
    ("mb-us1", "us1"),
    ("mb-us2", "us2"),
    ("mb-us3", "us3"),
    ("mb-en1", "en1"),
)


@dataclass(frozen=True)
class Voice:
    """One speaker identity: an espeak-ng voice string and its base prosody."""

    id: str  # filesystem-safe, e.g. "scot-f2"
    espeak: str  # espeak-ng -v argument, e.g. "en-gb-scotland+f2"
    pitch: int = 50  # espeak base pitch, 0-99
    rate: int = 175  # words per minute
    amplitude: int = 100  # espeak amplitude, 0-200
    word_gap: int = 0  # extra pause between words, units of 10 ms

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"voice {self.id}: pitch {self.pitch} outside 0-99")
        if not 80 <= self.rate <= 450:
            raise ValueError(f"voice {self.id}: rate {self.rate} outside 80-450 words/min")
        if not 0 <= self.amplitude <= 200:
            raise ValueError(f"voice {self.id}: amplitude {self.amplitude} outside 0-200")

    def espeak_args(self, *, pitch: int | None = None, rate: int | None = None) -> list[str]:
        """espeak-ng options for this voice, with `pitch`/`rate` overriding the base values."""
        pitch = self.pitch if pitch is None else int(min(max(pitch, 0), 99))
        rate = self.rate if rate is None else int(rate)
        args = ["-v", self.espeak, "-p", str(pitch), "-s", str(rate), "-a", str(self.amplitude)]
        if self.word_gap:
            args += ["-g", str(self.word_gap)]
        return args


def voice_pool(*, include_mbrola: bool = True) -> tuple[Voice, ...]:
    """All identities, in the diverse order described in the module docstring."""
    n = len(ACCENTS) * len(VARIANTS)
    pool = [_espeak_identity(k) for k in range(n)]
    if include_mbrola:
        pool += [
            Voice(id=name, espeak=name, pitch=_base_pitch(n + i), rate=_base_rate(n + i))
            for i, (name, database) in enumerate(MBROLA_VOICES)
            if (MBROLA_DIR / database).exists()
        ]
    return tuple(pool)


def _espeak_identity(k: int) -> Voice:
    language, tag = ACCENTS[k % len(ACCENTS)]
    variant = VARIANTS[k % len(VARIANTS)]
    return Voice(
        id=f"{tag}-{variant}",
        espeak=f"{language}+{variant}",
        pitch=_base_pitch(k),
        rate=_base_rate(k),
        word_gap=1 if k % 7 == 3 else 0,
    )


def _base_pitch(k: int) -> int:
    """Base pitches spread over 32-68 (espeak's default is 50) without a pattern that tracks k."""
    return 32 + (k * 13) % 37


def _base_rate(k: int) -> int:
    """Base rates spread over 150-180 words/min (espeak-ng's default is 175)."""
    return 150 + (k * 23) % 31


def synthesize_wav(
    voice: Voice, text: str, *, pitch: int | None = None, rate: int | None = None
) -> bytes:
    """espeak-ng's WAV output (22050 Hz, 16-bit mono) for `text`; raises if espeak-ng fails."""
    cmd = [ESPEAK, *voice.espeak_args(pitch=pitch, rate=rate), "--stdout", text]
    result = subprocess.run(cmd, capture_output=True, check=False)
    if result.returncode != 0 or len(result.stdout) <= 44:
        stderr = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{' '.join(cmd[:-1])} failed (exit {result.returncode}): {stderr}")
    return result.stdout


def voice_problem(voice: Voice, text: str = CHECK_TEXT) -> str | None:
    """Why `voice` does not work in this espeak-ng, or None when it does.

    Checks that espeak-ng exits 0 with audio, and that a `+variant` changes the sound (espeak-ng
    falls back silently to the plain language when a variant does not apply).
    """
    try:
        audio = synthesize_wav(voice, text)
    except (RuntimeError, OSError) as err:
        return str(err)
    language, _, variant = voice.espeak.partition("+")
    if variant:
        plain = Voice(
            id="plain",
            espeak=language,
            pitch=voice.pitch,
            rate=voice.rate,
            amplitude=voice.amplitude,
            word_gap=voice.word_gap,
        )
        try:
            if synthesize_wav(plain, text) == audio:
                return f"variant {variant!r} has no effect on language {language!r}"
        except (RuntimeError, OSError) as err:
            return str(err)
    return None
