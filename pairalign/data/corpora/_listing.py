"""Directory listing and header reads shared by the corpus adapters; local paths and URLs alike."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pairalign.data.audio import AudioError, audio_duration
from pairalign.data.storage import is_remote, join, url_to_fs
from pairalign.units import Seconds

_HEADER_THREADS = 16  # header reads are latency-bound on S3


@dataclass(frozen=True)
class Entry:
    name: str  # base name, as stored (case kept)
    url: str  # local path or URL, usable with url_to_fs / load_audio
    is_dir: bool


def list_dir(url: str) -> list[Entry]:
    """Entries directly under `url`, sorted by name; [] when it is missing or not a directory."""
    if not is_remote(url):
        if not os.path.isdir(url):
            return []
        with os.scandir(url) as it:
            entries = [Entry(e.name, os.path.join(url, e.name), e.is_dir()) for e in it]
        return sorted(entries, key=lambda e: e.name)
    fs, path = url_to_fs(url)
    if not fs.isdir(path):
        return []
    entries = []
    for info in fs.ls(path, detail=True):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        entries.append(Entry(name, join(url, name), info["type"] == "directory"))
    return sorted(entries, key=lambda e: e.name)


def read_text(url: str) -> str:
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


def durations(urls: Sequence[str]) -> list[Seconds]:
    """Header durations of many files, read concurrently; the first bad file raises AudioError."""
    if len(urls) < 2:
        return [audio_duration(u) for u in urls]
    with ThreadPoolExecutor(max_workers=_HEADER_THREADS) as pool:
        return list(pool.map(audio_duration, urls))


def try_durations(urls: Sequence[str]) -> list[Seconds | AudioError]:
    """Header durations of many files, read concurrently; a bad file gives its AudioError."""

    def one(url: str) -> Seconds | AudioError:
        try:
            return audio_duration(url)
        except AudioError as err:
            return err

    if len(urls) < 2:
        return [one(u) for u in urls]
    with ThreadPoolExecutor(max_workers=_HEADER_THREADS) as pool:
        return list(pool.map(one, urls))


def known_durations(urls: Sequence[str]) -> list[Seconds | None]:
    """Header durations; None where a header cannot be read (the jobs reject that file when they
    decode it, with the reason)."""
    return [None if isinstance(d, AudioError) else d for d in try_durations(urls)]
