import hashlib
import io

import numpy as np
import pytest
import soundfile as sf

from pairalign.data.corpora.voices import (
    ACCENTS,
    VARIANTS,
    Voice,
    synthesize_wav,
    voice_pool,
    voice_problem,
)

FIRST = 28  # the identities the default built-in corpus uses (16 train + 12 test)


def test_pool_is_deterministic_unique_and_diverse_at_the_start():
    pool = voice_pool(include_mbrola=False)
    assert pool == voice_pool(include_mbrola=False)
    assert len(pool) == len(ACCENTS) * len(VARIANTS)
    assert len({v.id for v in pool}) == len(pool)
    assert len({v.espeak for v in pool}) == len(pool)
    head = pool[:FIRST]
    assert {v.espeak.split("+")[0] for v in head} == {a for a, _ in ACCENTS}
    assert len({v.espeak.split("+")[1] for v in head}) == len(VARIANTS)
    assert len({v.pitch for v in head}) > 15
    assert len({v.rate for v in head}) > 15
    assert all(32 <= v.pitch <= 68 and 150 <= v.rate <= 180 for v in pool)


def test_mbrola_voices_only_follow_the_espeak_ones():
    pool, plain = voice_pool(), voice_pool(include_mbrola=False)
    assert pool[: len(plain)] == plain


@pytest.mark.parametrize("voice", voice_pool()[:FIRST], ids=lambda v: v.id)
def test_voices_used_by_default_work_in_this_espeak(voice):
    assert voice_problem(voice) is None


def test_voice_problem_catches_ignored_variants_and_missing_voices():
    assert "no effect" in voice_problem(Voice("gb", "en-gb+m3"))  # espeak-ng 1.51 quirk
    assert "no effect" in voice_problem(Voice("x", "en-us+nonexistent"))
    assert "exit 1" in voice_problem(Voice("x", "zz"))


def test_accents_are_distinct_languages():
    # espeak-ng falls back silently on partial names, so check the accents really differ.
    text = "The quiet farmer carried a heavy basket across the old bridge."
    digests = {
        hashlib.sha1(synthesize_wav(Voice(t, lang), text)).hexdigest() for lang, t in ACCENTS
    }
    assert len(digests) == len(ACCENTS)


def test_identities_sound_different():
    text = "The quiet farmer carried a heavy basket."
    digests = {
        hashlib.sha1(synthesize_wav(v, text, pitch=50, rate=175)).hexdigest()
        for v in voice_pool()[:FIRST]
    }
    assert len(digests) == FIRST


def test_pitch_and_rate_arguments_take_effect():
    voice = voice_pool()[0]
    text = "The quiet farmer carried a heavy basket."
    slow, _ = sf.read(io.BytesIO(synthesize_wav(voice, text, rate=120)))
    fast, _ = sf.read(io.BytesIO(synthesize_wav(voice, text, rate=220)))
    assert len(slow) > 1.4 * len(fast)
    low = synthesize_wav(voice, text, pitch=20)
    high = synthesize_wav(voice, text, pitch=80)
    assert low != high
    assert np.all(np.isfinite(slow))


def test_voice_rejects_out_of_range_settings():
    with pytest.raises(ValueError, match="pitch"):
        Voice("x", "en-us", pitch=120)
    with pytest.raises(ValueError, match="rate"):
        Voice("x", "en-us", rate=20)
    assert Voice("x", "en-us").espeak_args(pitch=150, rate=160)[3] == "99"
