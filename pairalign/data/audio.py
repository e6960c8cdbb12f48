"""Audio loading: any file soundfile reads (WAV, FLAC, OGG/Vorbis, NIST SPHERE), local or `s3://`,
becomes a 1-D float32 mono array at one sample rate.

Every failure is an `AudioError` naming the file and why. libsndfile silently shortens WAV and
NIST files whose data was cut off (it trusts the file size over the header), so the header's
announced data size is checked against the bytes actually present before decoding.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import struct
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import soundfile as sf

from pairalign.data.storage import url_to_fs
from pairalign.units import SAMPLE_RATE, Hertz, Seconds

_HEAD_BYTES = 1 << 16  # enough for any WAV/NIST header we check
_OGG_MAX_PAGE = 27 + 255 + 255 * 255  # the largest possible Ogg page, in bytes


class AudioError(ValueError):
    """An audio file (or embedded audio) that cannot be decoded; `str()` is "<source>: <reason>"."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # survives pickling (Ray task errors)
        return (type(self), (self.source, self.reason))


def read_audio_bytes(source: str | os.PathLike[str]) -> bytes:
    """The encoded bytes of a local or remote audio file; missing or empty files are AudioErrors."""
    name = os.fspath(source)
    with _read_errors(name):
        fs, path = url_to_fs(name)
        with fs.open(path, "rb") as f:
            data = f.read()
    if not data:
        raise AudioError(name, "empty file (0 bytes)")
    return data


def load_audio(source: str | os.PathLike[str], *, sample_rate: Hertz = SAMPLE_RATE) -> np.ndarray:
    """Decode a local path or URL to float32 mono at `sample_rate`.  # (T,)"""
    name = os.fspath(source)
    return decode_audio(read_audio_bytes(name), name=name, sample_rate=sample_rate)


def decode_audio(data: bytes, *, name: str, sample_rate: Hertz = SAMPLE_RATE) -> np.ndarray:
    """Decode encoded audio bytes to float32 mono at `sample_rate`; errors name `name`.  # (T,)"""
    if not data:
        raise AudioError(name, "empty file (0 bytes)")
    reason = truncation_reason(data[:_HEAD_BYTES], data[-_OGG_MAX_PAGE:], len(data))
    if reason:
        raise AudioError(name, reason)
    samples, native_rate = _decode(data, name)  # (T, C)
    if not np.isfinite(samples).all():
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        raise AudioError(name, f"non-finite samples ({bad} of {samples.size} are NaN or Inf)")
    mono = samples.mean(axis=1, dtype=np.float32)  # (T,)
    return resample(mono, native_rate, sample_rate)


def load_row_audio(row: Mapping[str, Any], *, sample_rate: Hertz = SAMPLE_RATE) -> np.ndarray:
    """Audio of one manifest row: its embedded `audio` bytes if set, else the file at `path`."""
    utterance_id = str(row.get("utterance_id"))
    if row.get("audio") is not None:
        return decode_audio(bytes(row["audio"]), name=utterance_id, sample_rate=sample_rate)
    if not row.get("path"):
        raise AudioError(utterance_id, "manifest row has neither audio bytes nor a path")
    return load_audio(row["path"], sample_rate=sample_rate)


def audio_duration(source: str | os.PathLike[str]) -> Seconds:
    """Duration in seconds read from the file's header (no decoding)."""
    name = os.fspath(source)
    with _read_errors(name):
        fs, path = url_to_fs(name)
        with fs.open(path, "rb", block_size=_HEAD_BYTES) as f:
            size = f.size if hasattr(f, "size") else fs.size(path)
            head = f.read(_HEAD_BYTES)
            f.seek(max(0, size - _OGG_MAX_PAGE))
            tail = f.read()
            f.seek(0)
            info = _header_info(f, name, head, tail, size)
    return info.frames / info.samplerate


@contextlib.contextmanager
def _read_errors(name: str) -> Iterator[None]:
    """Turn the OS's file errors into AudioErrors that name the file."""
    try:
        yield
    except FileNotFoundError as err:
        raise AudioError(name, "file not found") from err
    except IsADirectoryError as err:
        raise AudioError(name, "is a directory, not an audio file") from err
    except OSError as err:
        raise AudioError(name, f"cannot read file ({err})") from err


def _header_info(f: Any, name: str, head: bytes, tail: bytes, size: int) -> Any:
    if size == 0:
        raise AudioError(name, "empty file (0 bytes)")
    reason = truncation_reason(head, tail, size)
    if reason:
        raise AudioError(name, reason)
    try:
        info = sf.info(f)
    except (sf.SoundFileError, RuntimeError) as err:
        raise AudioError(name, _open_reason(err)) from err
    if info.frames <= 0:
        raise AudioError(name, "zero-length audio (no samples)")
    return info


def resample(samples: np.ndarray, orig_rate: Hertz, new_rate: Hertz) -> np.ndarray:
    """Band-limited resampling of a 1-D signal to float32, ceil(T * new_rate / orig_rate) long.

    A Kaiser-windowed polyphase FIR (scipy's `resample_poly`) run in float64 by plain C loops: the
    same input gives the same bits whatever the thread count or the CPU's instruction set. (torch's
    conv1d did not: its oneDNN kernel differs by an ulp or two between AVX and AVX2/AVX-512 CPUs,
    and 16-bit encoding turned that into different files for most built-in corpus utterances.)
    """
    if orig_rate == new_rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly  # deferred: scanning corpora needs only headers

    g = math.gcd(orig_rate, new_rate)
    out = resample_poly(np.asarray(samples, dtype=np.float64), new_rate // g, orig_rate // g)
    return out.astype(np.float32)


def _decode(data: bytes, name: str) -> tuple[np.ndarray, Hertz]:
    """Decode all frames; checks that as many frames come out as the header announces."""
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError) as err:
        raise AudioError(name, _open_reason(err)) from err
    with f:
        announced, rate = f.frames, f.samplerate
        try:
            samples = f.read(dtype="float32", always_2d=True)  # (T, C)
        except (sf.SoundFileError, RuntimeError) as err:
            raise AudioError(
                name, f"truncated or corrupt audio data ({_libsndfile_text(err)})"
            ) from err
    if len(samples) == 0:
        raise AudioError(name, "zero-length audio (no samples)")
    if len(samples) < announced:
        raise AudioError(
            name, f"truncated: header announces {announced} frames, decoded {len(samples)}"
        )
    return samples, rate


def _libsndfile_text(err: Exception) -> str:
    text = str(err)
    text = re.sub(r"^Error( opening .*?)?\s*:\s*", "", text)  # drop "Error opening <obj>: "
    return text.strip().rstrip(".") or type(err).__name__


def _open_reason(err: Exception) -> str:
    text = _libsndfile_text(err)
    if "Format not recognised" in text or "unimplemented format" in text:
        return "not a recognised audio format"
    return f"malformed audio header ({text})"


def truncation_reason(head: bytes, tail: bytes, size: int) -> str | None:
    """Why a file whose first bytes are `head`, last bytes `tail` and length `size` is cut short,
    or None. WAV and NIST headers state the data size; an Ogg stream must end with a whole page
    flagged end-of-stream. Other formats (FLAC) fail loudly while decoding instead."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav_truncation(head, size)
    if head.startswith(b"NIST_1A"):
        return _nist_truncation(head, size)
    if head.startswith(b"OggS"):
        return _ogg_truncation(tail)
    return None


def _wav_truncation(head: bytes, size: int) -> str | None:
    offset = 12
    while offset + 8 <= min(len(head), size):
        chunk_id, chunk_size = struct.unpack_from("<4sI", head, offset)
        start = offset + 8
        if chunk_id == b"data":
            if chunk_size in (0, 0xFFFFFFFF):  # streaming writers leave the size unknown
                return None
            if start + chunk_size > size:
                held = size - start
                return f"truncated: header announces {chunk_size} bytes of data, file holds {held}"
            return None
        offset = start + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    if offset + 8 > size:
        return "truncated: file ends before the WAV data chunk"
    return None  # the header is longer than `head`; libsndfile checks the rest


def _nist_truncation(head: bytes, size: int) -> str | None:
    lines = head.split(b"end_head", 1)[0].decode("ascii", errors="replace").split("\n")
    if len(lines) < 2 or not lines[1].strip().isdigit():
        return None  # a bad header is libsndfile's to report
    header_size = int(lines[1])
    if header_size > size:
        return f"truncated: file ends inside the {header_size}-byte NIST header"
    rows = (line.split(None, 2) for line in lines[2:])  # "<name> -<type> <value>"
    fields = {row[0]: row[2].strip() for row in rows if len(row) == 3}
    if fields.get("sample_coding", "pcm") not in ("pcm", "ulaw", "alaw"):
        return None  # compressed (shorten) data has no fixed size
    try:
        frames = int(fields["sample_count"])
        frame_bytes = int(fields.get("channel_count", "1")) * int(fields.get("sample_n_bytes", "2"))
    except (KeyError, ValueError):
        return None
    expected = header_size + frames * frame_bytes
    if expected > size:
        return f"truncated: header announces {expected} bytes, file holds {size}"
    return None


def _ogg_truncation(tail: bytes) -> str | None:
    """The last Ogg page must end exactly at the end of the file and be flagged end-of-stream."""
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        if pos + 27 <= len(tail):
            n_segments = tail[pos + 26]
            table = tail[pos + 27 : pos + 27 + n_segments]
            if len(table) == n_segments and pos + 27 + n_segments + sum(table) == len(tail):
                if tail[pos + 5] & 0x04:
                    return None
                return "truncated: Ogg stream has no end-of-stream page"
        pos = tail.rfind(b"OggS", 0, pos)
    return "truncated: last Ogg page is incomplete"
