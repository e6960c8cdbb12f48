"""Time maps between two renditions of one content, computed once per pair of recordings.

`RenditionAligner` aligns two recordings' audio (`pairalign.timing`: DTW on MFCC frames, silence
trimmed, within a band, a path whose mean cost is above `max_cost` rejected) and gives the map of
A's seconds to B's. Each map is kept in a directory under the run's storage (local or s3://;
never beside the corpus, which may be read-only), one small file per (A, B, what the DTW ran on),
so a later epoch, a retried task or a resumed run reads it instead of aligning again.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np

from pairalign.data.storage import join, url_to_fs
from pairalign.timing import DTWConfig, TimeMap, align, frame_levels_db
from pairalign.timing.features import FRAME_SECONDS, dtw_features


@dataclass(frozen=True)
class RenditionMap:
    """A's seconds -> B's seconds, or None when the path was rejected; `cost` its mean cost."""

    time_map: TimeMap | None
    cost: float

    @property
    def rejected(self) -> bool:
        return self.time_map is None


class RenditionAligner:
    """Maps between renditions, cached under `cache_dir` (None: computed every time)."""

    def __init__(self, config: DTWConfig, sample_rate: int, cache_dir: str | None = None) -> None:
        self.config, self.sample_rate = config, sample_rate
        self.key = hashlib.sha1(
            json.dumps({**asdict(config), "sample_rate": sample_rate}, sort_keys=True).encode()
        ).hexdigest()[:12]
        self.cache_dir = join(cache_dir, self.key) if cache_dir else None
        self.computed = 0  # maps aligned here (not read from the cache)

    def __call__(self, id_a: str, samples_a: np.ndarray, id_b: str, samples_b: np.ndarray):
        """The map between two recordings (their ids key the cache).  # -> RenditionMap"""
        found = self._read(id_a, id_b)
        if found is not None:
            return found
        found = self.align(samples_a, samples_b)
        self.computed += 1
        self._write(id_a, id_b, found)
        return found

    def align(self, samples_a: np.ndarray, samples_b: np.ndarray) -> RenditionMap:
        """Align two recordings' audio (no cache)."""
        return self.align_frames(self.frames(samples_a), self.frames(samples_b))

    def frames(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A recording's DTW features and frame levels in dB (what `align_frames` takes: compute
        them once for a recording aligned with several others)."""
        hop = round(self.sample_rate * FRAME_SECONDS)
        features = dtw_features(samples, self.sample_rate, self.config.features)
        return features, frame_levels_db(samples, 4 * hop, hop)

    def align_frames(
        self, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
    ) -> RenditionMap:
        """Align two recordings from their `frames`."""
        alignment = align(a[0], b[0], self.config, a[1], b[1])
        if alignment.rejected:
            return RenditionMap(None, alignment.cost)
        return RenditionMap(TimeMap.from_path(alignment.path, FRAME_SECONDS), alignment.cost)

    def _file(self, id_a: str, id_b: str) -> str | None:
        if self.cache_dir is None:
            return None
        name = hashlib.sha1(f"{id_a}\n{id_b}".encode()).hexdigest()[:20]
        return join(self.cache_dir, name[:2], f"{name}.npz")

    def _read(self, id_a: str, id_b: str) -> RenditionMap | None:
        url = self._file(id_a, id_b)
        if url is None:
            return None
        fs, path = url_to_fs(url)
        try:
            with fs.open(path, "rb") as f:
                data = np.load(io.BytesIO(f.read()))
        except FileNotFoundError:
            return None
        cost = float(data["cost"])
        if len(data["x"]) == 0:
            return RenditionMap(None, cost)
        before, after = (float(v) for v in data["slopes"])
        return RenditionMap(TimeMap(data["x"], data["y"], before, after), cost)

    def _write(self, id_a: str, id_b: str, found: RenditionMap) -> None:
        url = self._file(id_a, id_b)
        if url is None:
            return
        m = found.time_map
        buffer = io.BytesIO()
        np.savez(
            buffer,
            x=m.x if m else np.zeros(0),
            y=m.y if m else np.zeros(0),
            slopes=np.asarray([m.before, m.after] if m else [1.0, 1.0]),
            cost=np.asarray(found.cost),
        )
        fs, path = url_to_fs(url)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path + ".tmp", "wb") as f:  # a killed task leaves no half file
            f.write(buffer.getvalue())
        fs.mv(path + ".tmp", path)
