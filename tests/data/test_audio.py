"""pairalign.data.audio: every supported format decodes to 16 kHz float32 mono with its content
kept, and every kind of bad input is an AudioError that names the file and says what is wrong."""

from __future__ import annotations

import io
import pickle
import re

import numpy as np
import pytest
import soundfile as sf

from pairalign.data.audio import (
    AudioError,
    audio_duration,
    decode_audio,
    load_audio,
    load_row_audio,
    read_audio_bytes,
    resample,
)
from pairalign.units import SAMPLE_RATE

FORMATS = [  # (soundfile format, subtype, extension)
    ("WAV", "PCM_16", "wav"),
    ("WAV", "PCM_24", "wav"),
    ("WAV", "FLOAT", "wav"),
    ("FLAC", "PCM_16", "flac"),
    ("OGG", "VORBIS", "ogg"),
    ("NIST", "PCM_16", "WAV"),  # TIMIT: a SPHERE header behind a .WAV name
]
RATES = [8_000, 16_000, 22_050, 44_100, 48_000]
SECONDS = 1.0


def peak_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(("fmt", "subtype", "ext"), FORMATS)
def test_decodes_to_16k_mono_float32(tmp_path, write_tone, fmt, subtype, ext, rate, channels):
    path = tmp_path / f"tone.{ext}"
    written = write_tone(
        path, seconds=SECONDS, sample_rate=rate, channels=channels, format=fmt, subtype=subtype
    )
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - round(len(written) * SAMPLE_RATE / rate)) <= 1
    assert abs(peak_frequency(samples, SAMPLE_RATE) - 440.0) <= 2.0
    # mono is the mean of channels: a 0.5-amplitude tone beside a silent channel halves
    middle = samples[len(samples) // 10 : -len(samples) // 10]
    expected_rms = 0.5 / channels / np.sqrt(2)
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(expected_rms, rel=0.05)
    assert audio_duration(path) == pytest.approx(SECONDS, abs=1 / rate)


def test_other_sample_rate_and_bytes_agree_with_file(tmp_path, write_tone):
    path = tmp_path / "tone.flac"
    write_tone(path, seconds=SECONDS, sample_rate=44_100, format="FLAC")
    at_8k = load_audio(str(path), sample_rate=8_000)
    assert abs(len(at_8k) - 8_000) <= 1
    assert abs(peak_frequency(at_8k, 8_000) - 440.0) <= 2.0
    from_bytes = decode_audio(path.read_bytes(), name="x")
    np.testing.assert_array_equal(from_bytes, load_audio(path))


def test_row_audio_prefers_embedded_bytes(tmp_path, write_tone):
    wav, flac = tmp_path / "a.wav", tmp_path / "b.flac"
    write_tone(wav, frequency=440.0)
    write_tone(flac, format="FLAC", frequency=1000.0)
    by_path = load_row_audio({"utterance_id": "u", "path": str(wav), "audio": None})
    embedded = load_row_audio({"utterance_id": "u", "path": None, "audio": flac.read_bytes()})
    assert peak_frequency(by_path, SAMPLE_RATE) == pytest.approx(440.0, abs=2.0)
    assert peak_frequency(embedded, SAMPLE_RATE) == pytest.approx(1000.0, abs=2.0)


@pytest.mark.parametrize("orig_rate", [8_000, 22_050, 44_100, 48_000])
def test_resample_keeps_the_band_stops_aliasing_and_has_the_promised_length(orig_rate):
    t = np.arange(orig_rate + 7) / orig_rate  # ~1 s, a length the rate ratio does not divide
    in_band = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    out = resample(in_band, orig_rate, SAMPLE_RATE)
    assert out.dtype == np.float32 and len(out) == -(-len(in_band) * SAMPLE_RATE // orig_rate)
    middle = out[len(out) // 10 : -len(out) // 10]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    assert abs(peak_frequency(out, SAMPLE_RATE) - 440.0) <= 2.0
    if orig_rate > 2 * 10_000:  # 10 kHz is above the new Nyquist (8 kHz): >= 40 dB down, no alias
        above = (0.5 * np.sin(2 * np.pi * 10_000.0 * t)).astype(np.float32)
        aliased = resample(above, orig_rate, SAMPLE_RATE)[len(out) // 10 : -len(out) // 10]
        assert np.sqrt(np.mean(aliased**2)) < 0.01 * 0.5 / np.sqrt(2)


# --- bad input -------------------------------------------------------------------------------

REASONS = {  # kind -> the text its AudioError reason must hold (and no other kind's)
    "missing": "file not found",
    "empty": "empty file",
    "not_audio": "not a recognised audio format",
    "truncated": "truncated",
    "non_finite": "non-finite samples",
    "zero_length": "zero-length audio",
}


def _truncated(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def make_bad_file(kind: str, tmp_path, write_tone) -> str:
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not_audio":
        path.write_text("utterance_id,path\nthis is a CSV, not a WAV file\n")
    elif kind == "non_finite":
        sf.write(path, np.full(1600, np.nan, dtype=np.float32), 16_000, subtype="FLOAT")
    elif kind == "zero_length":
        sf.write(path, np.zeros(0, dtype=np.float32), 16_000)
    elif kind != "missing":
        raise ValueError(kind)
    return str(path)


@pytest.mark.parametrize("kind", [k for k in REASONS if k != "truncated"])
def test_bad_input_raises_audio_error_naming_file_and_reason(tmp_path, write_tone, kind):
    path = make_bad_file(kind, tmp_path, write_tone)
    with pytest.raises(AudioError) as caught:
        load_audio(path)
    err = caught.value
    assert err.source == path and str(err) == f"{path}: {err.reason}"
    assert [k for k, text in REASONS.items() if text in err.reason] == [kind]


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9, 0.99])
@pytest.mark.parametrize(("fmt", "subtype", "ext"), FORMATS)
def test_truncated_file_is_detected(tmp_path, write_tone, fmt, subtype, ext, fraction):
    whole = tmp_path / f"whole.{ext}"
    write_tone(whole, seconds=SECONDS, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(_truncated(whole.read_bytes(), fraction))
    with pytest.raises(AudioError) as caught:
        load_audio(cut)
    assert str(cut) in str(caught.value)
    assert [k for k, text in REASONS.items() if text in caught.value.reason] == ["truncated"]


@pytest.mark.parametrize(("fmt", "subtype", "ext"), [f for f in FORMATS if f[0] != "FLAC"])
def test_duration_rejects_truncated_header_formats(tmp_path, write_tone, fmt, subtype, ext):
    """WAV, NIST and Ogg truncation shows without decoding; libsndfile alone would shorten WAV."""
    whole = tmp_path / f"whole.{ext}"
    write_tone(whole, seconds=SECONDS, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(_truncated(whole.read_bytes(), 0.7))
    if fmt != "OGG":  # the behaviour the header check exists for
        assert 0 < sf.info(str(cut)).frames < sf.info(str(whole)).frames
    with pytest.raises(AudioError, match="truncated"):
        audio_duration(cut)


@pytest.mark.parametrize("kind", ["missing", "empty", "not_audio", "zero_length"])
def test_duration_of_bad_file_raises(tmp_path, write_tone, kind):
    path = make_bad_file(kind, tmp_path, write_tone)
    with pytest.raises(AudioError, match=REASONS[kind]):
        audio_duration(path)


def test_embedded_bytes_errors_name_the_utterance(tmp_path, write_tone):
    path = tmp_path / "a.wav"
    write_tone(path)
    row = {"utterance_id": "spk1/utt7", "path": None, "audio": path.read_bytes()[:-100]}
    with pytest.raises(AudioError, match=r"^spk1/utt7: truncated"):
        load_row_audio(row)
    with pytest.raises(AudioError, match="neither audio bytes nor a path"):
        load_row_audio({"utterance_id": "spk1/utt8", "path": None, "audio": None})
    missing = str(tmp_path / "gone.flac")
    with pytest.raises(AudioError, match=f"^{re.escape(missing)}: file not found"):
        load_row_audio({"utterance_id": "u", "path": missing, "audio": None})


def test_directory_and_empty_bytes(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        read_audio_bytes(tmp_path)
    with pytest.raises(AudioError, match=r"^blob: empty file"):
        decode_audio(b"", name="blob")


def test_audio_error_survives_pickling():
    """Ray ships task errors between processes by pickling them."""
    err = pickle.loads(pickle.dumps(AudioError("s3://b/a.wav", "file not found")))
    assert isinstance(err, AudioError)
    assert (err.source, err.reason) == ("s3://b/a.wav", "file not found")
    assert str(err) == "s3://b/a.wav: file not found"


def test_stereo_bytes_from_memory_mix_to_mono():
    left = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, -left], axis=1), 16_000, format="WAV", subtype="FLOAT")
    np.testing.assert_allclose(decode_audio(buffer.getvalue(), name="x"), 0.0, atol=1e-7)
