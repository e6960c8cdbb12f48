"""Dense geometric baseline: k-means codes of normalised log-mel frames, one token per pooled frame.

    feats = [clip_log_mel(wave) for wave in train_waves]            # [(T_i, 80)], 10 ms frames
    tok = fit_dense(feats, DenseConfig(k=8, pool=8))                 # 12.5 tokens/s
    tok(waveforms, seconds)                                          # list of token lists
    tok.timed(waveforms, seconds)                                    # [(tokens, centre seconds)]
    tok.save("runs/dense/dense-k8-p8/dense.pt"); DenseTokenizer.load("runs/dense/dense-k8-p8")
    share_log_mel(grid)          # tokenizers of a grid measured on the same clips: frames once

Frames: `LogMel` (25 ms window, 10 ms hop, normalised per utterance and bin) of each clip's real
audio alone, so padding never reaches its features. A clip of N samples keeps the ceil(N / 160)
frames whose centres (t x 10 ms) lie inside it. Pooling: `pool` consecutive frames are averaged
into one token; a last partial group is kept when it holds at least half a pool (2 x r >= pool),
so a clip of d seconds gives d x 100 / pool tokens, within one. Strings are NOT run-collapsed.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pairalign.config import from_dict, to_dict
from pairalign.data.storage import url_to_fs
from pairalign.models.frontend import LogMel
from pairalign.tokenizing.tokenizer_kind import TokenizerKind
from pairalign.units import SAMPLE_RATE, Hertz, Seconds

DENSE_FILE = "dense.pt"
FORMAT = "pairalign-dense"
VERSION = 1
HOP_SECONDS: Seconds = 0.01  # one log-mel frame per 10 ms


@dataclass(frozen=True)
class DenseConfig:
    k: int = 8  # codebook size
    pool: int = 1  # 10 ms frames averaged per token: 100 / pool tokens per second
    n_mels: int = 80
    max_frames: int = 200_000  # k-means sample cap (pooled frames), drawn reproducibly
    iters: int = 50  # Lloyd iterations at most (stops early when no assignment changes)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 1 or self.pool < 1 or self.max_frames < self.k or self.iters < 0:
            raise ValueError(f"invalid DenseConfig: {self}")

    @property
    def name(self) -> str:
        return f"dense-k{self.k}-p{self.pool}"

    @property
    def token_rate(self) -> float:
        """Tokens per second."""
        return 1.0 / (HOP_SECONDS * self.pool)


# ---------------------------------------------------------------- features


def clip_log_mel(
    waveform: np.ndarray, frontend: LogMel | None = None, sample_rate: Hertz = SAMPLE_RATE
) -> np.ndarray:
    """Normalised log-mel frames of one clip's real audio.  # (N,) -> (ceil(N / hop), n_mels)"""
    frontend = frontend or LogMel(sample_rate)
    wave = torch.as_tensor(np.ascontiguousarray(waveform, dtype=np.float32))
    n_frames = -(-len(wave) // frontend.hop_length)
    if n_frames == 0:
        return np.zeros((0, frontend.mel.n_mels), np.float32)
    n_fft = frontend.mel.n_fft
    if len(wave) < n_fft:  # centred STFT reflects n_fft / 2 samples: very short clips get zeros
        wave = torch.nn.functional.pad(wave, (0, n_fft - len(wave)))
    with torch.no_grad():
        frames = frontend(wave[None])[0]  # (T, M)
    return frames[:n_frames].numpy()


class LogMelCache:
    """Log-mel frames of the clips seen before, keyed by their samples and the front end's shape:
    the dense tokenizers of a grid share one front end, so measuring every one of them on the same
    clips (or windows) needs each clip's frames once (`share_log_mel`). Holds every clip it saw:
    one per measured clip set."""

    def __init__(self) -> None:
        self._frames: dict[tuple, np.ndarray] = {}

    def __call__(
        self, waveform: np.ndarray, frontend: LogMel, sample_rate: Hertz = SAMPLE_RATE
    ) -> np.ndarray:
        """`clip_log_mel(waveform, frontend, sample_rate)`, computed once per clip."""
        wave = np.ascontiguousarray(waveform, dtype=np.float32)
        shape = (frontend.mel.n_mels, frontend.hop_length, frontend.mel.n_fft)
        key = (hashlib.sha1(wave.tobytes()).digest(), sample_rate, shape)
        if key not in self._frames:
            self._frames[key] = clip_log_mel(wave, frontend, sample_rate)
        return self._frames[key]


def batch_log_mel(
    waveforms: np.ndarray | torch.Tensor | Sequence[np.ndarray],
    seconds: Sequence[Seconds] | None = None,
    frontend: LogMel | None = None,
    sample_rate: Hertz = SAMPLE_RATE,
    cache: LogMelCache | None = None,
) -> list[np.ndarray]:
    """Per-clip frames of a zero-padded batch (B, N), a clip (N,) or a list of clips, each clip
    cut to its `seconds` first; through `cache` when given.  # -> [(T_i, M)]"""
    if isinstance(waveforms, list | tuple) and waveforms and np.ndim(waveforms[0]) == 1:
        clips = [np.asarray(w, dtype=np.float32) for w in waveforms]
    else:
        waves = np.asarray(waveforms, dtype=np.float32)
        clips = list(waves[None] if waves.ndim == 1 else waves)
    if seconds is not None:
        if len(seconds) != len(clips):
            raise ValueError(f"{len(seconds)} durations for {len(clips)} clips")
        clips = [w[: round(float(s) * sample_rate)] for w, s in zip(clips, seconds, strict=True)]
    frontend = frontend or LogMel(sample_rate)
    frames_of = cache or clip_log_mel
    return [frames_of(w, frontend, sample_rate) for w in clips]


def pooled_length(n_frames: int, pool: int) -> int:
    """Tokens from `n_frames` frames: whole groups, plus a last partial group of >= half a pool."""
    whole, rest = divmod(n_frames, pool)
    return whole + int(rest > 0 and 2 * rest >= pool)


def pool_frames(frames: np.ndarray, pool: int) -> np.ndarray:
    """Mean of each group of `pool` consecutive frames.  # (T, M) -> (pooled_length(T), M)"""
    n = pooled_length(len(frames), pool)
    if pool == 1 or n == 0:
        return np.ascontiguousarray(frames[:n], dtype=np.float32)
    starts = np.arange(n) * pool
    used = frames[: min(n * pool, len(frames))].astype(np.float32)  # a short last rest is dropped
    sums = np.add.reduceat(used, starts, axis=0)  # (n, M)
    counts = np.minimum(starts + pool, len(frames)) - starts
    return (sums / counts[:, None]).astype(np.float32)


def token_centres(n_frames: int, pool: int) -> np.ndarray:
    """Centre time of each pooled token in seconds (frame t is centred at t x 10 ms).  # (n,)"""
    starts = np.arange(pooled_length(n_frames, pool)) * pool
    last = np.minimum(starts + pool, n_frames) - 1
    return (starts + last) / 2 * HOP_SECONDS


def sample_frames(
    features: Iterable[np.ndarray], pool: int, max_frames: int, seed: int
) -> np.ndarray:
    """A uniform sample (without replacement) of at most `max_frames` pooled frames.  # (S, M)

    Bottom-k sampling: every pooled frame gets a seeded random key and the `max_frames` smallest
    keys are kept, so memory stays bounded for an iterator and the sample depends only on the
    seed and the order of `features`."""
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    held = 0
    for clip in features:
        pooled = pool_frames(np.asarray(clip), pool)
        kept.append(pooled)
        keys.append(rng.random(len(pooled)))
        held += len(pooled)
        if held > 2 * max_frames:
            kept, keys = _smallest_keys(kept, keys, max_frames)
            held = max_frames
    if not kept:
        raise ValueError("no features to fit")
    frames, _ = _smallest_keys(kept, keys, max_frames)
    return frames[0]


def _smallest_keys(kept: list[np.ndarray], keys: list[np.ndarray], n: int):
    frames, order = np.concatenate(kept), np.concatenate(keys)
    if len(order) > n:
        pick = np.sort(np.argpartition(order, n - 1)[:n])
        frames, order = frames[pick], order[pick]
    return [frames], [order]


# ---------------------------------------------------------------- k-means


@dataclass(frozen=True)
class KMeansResult:
    centroids: torch.Tensor  # (k, M)
    inertia: float  # mean squared distance of a sample frame to its centroid
    iters: int  # Lloyd iterations run
    reseeded: int  # empty clusters re-seeded, summed over iterations


def kmeans(x: torch.Tensor, k: int, iters: int, seed: int) -> KMeansResult:
    """k-means++ initialisation, then Lloyd iterations in float32; an empty cluster is re-seeded
    with the sample point farthest from its centroid. Stops when no assignment changes."""
    x = x.float()  # (S, M)
    if len(x) < k:
        raise ValueError(f"k-means needs at least k={k} frames, got {len(x)}")
    generator = torch.Generator().manual_seed(seed)
    centroids = _kmeans_pp(x, k, generator)
    labels, dist = assign(x, centroids)
    reseeded, done = 0, 0
    while done < iters:
        done += 1
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k)
        empty = torch.nonzero(counts == 0).flatten()
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        if len(empty):
            centroids[empty] = x[torch.topk(dist, len(empty)).indices]
            reseeded += len(empty)
        new_labels, dist = assign(x, centroids)
        if torch.equal(new_labels, labels) and not len(empty):
            break
        labels = new_labels
    return KMeansResult(centroids, float(dist.mean()), done, reseeded)


def _kmeans_pp(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Each next centre is drawn with probability proportional to its squared distance."""
    x_sq = (x**2).sum(1)  # (S,)
    picks = [int(torch.randint(len(x), (1,), generator=generator))]
    closest = torch.full_like(x_sq, float("inf"))
    for _ in range(k):
        centre = x[picks[-1]]
        closest = torch.minimum(closest, (x_sq - 2 * (x @ centre) + centre @ centre).clamp(min=0))
        if len(picks) == k:
            break
        cumulative = torch.cumsum(closest.double(), 0)
        if cumulative[-1] <= 0:  # every point sits on a centre already: draw uniformly
            picks.append(int(torch.randint(len(x), (1,), generator=generator)))
            continue
        draw = torch.rand(1, generator=generator, dtype=torch.float64) * cumulative[-1]
        picks.append(min(int(torch.searchsorted(cumulative, draw)), len(x) - 1))
    return x[picks].clone()


def assign(
    x: torch.Tensor, centroids: torch.Tensor, chunk: int = 16384
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of each row and its squared distance.  # (S, M), (k, M) -> (S,), (S,)"""
    c_sq = (centroids**2).sum(1)  # (k,)
    labels, dists = [], []
    for part in x.split(chunk):
        d = torch.addmm(c_sq, part, centroids.T, alpha=-2)  # (s, k): |c|^2 - 2 x.c
        best, idx = d.min(1)
        labels.append(idx)
        dists.append((best + (part**2).sum(1)).clamp(min=0))
    if not labels:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0)
    return torch.cat(labels), torch.cat(dists)


def fit_dense(
    features: Iterable[np.ndarray], config: DenseConfig, device: str = "cpu"
) -> DenseTokenizer:
    """k-means on at most `config.max_frames` pooled frames drawn from per-clip log-mel `features`
    ([(T_i, n_mels)] unpooled, as `clip_log_mel` gives)."""
    sample = sample_frames(features, config.pool, config.max_frames, config.seed)
    if sample.shape[1] != config.n_mels:
        raise ValueError(f"features have {sample.shape[1]} bins, config.n_mels={config.n_mels}")
    result = kmeans(torch.from_numpy(sample).to(device), config.k, config.iters, config.seed)
    stats = {
        "dense/frames": float(len(sample)),
        "dense/inertia": result.inertia,
        "dense/iters": float(result.iters),
        "dense/reseeded": float(result.reseeded),
    }
    return DenseTokenizer(result.centroids, config, fit_stats=stats, device=device)


# ---------------------------------------------------------------- tokenizer


class DenseTokenizer:
    """Waveforms -> one k-means code per pooled log-mel frame (adjacent equal codes stay apart)."""

    kind, collapses = TokenizerKind.DENSE, False

    def __init__(
        self,
        centroids: torch.Tensor,
        config: DenseConfig,
        *,
        path: str = "",
        fit_stats: dict[str, float] | None = None,
        device: str = "cpu",
    ) -> None:
        if tuple(centroids.shape) != (config.k, config.n_mels):
            raise ValueError(f"centroids {tuple(centroids.shape)} do not match {config}")
        self.device = torch.device(device)
        self.centroids = centroids.float().to(self.device)  # (k, M)
        self.config = config
        self.name = config.name  # settable: an archive may call it something else
        self.fit_stats = dict(fit_stats or {})
        digest = hashlib.sha1(self.centroids.cpu().numpy().tobytes()).hexdigest()[:12]
        self.checkpoint_id = f"{path or 'unsaved'}@{digest}"
        self.frontend = LogMel(SAMPLE_RATE, config.n_mels)
        self.log_mel_cache: LogMelCache | None = None  # shared by a grid: `share_log_mel`

    @property
    def vocab_size(self) -> int:
        return self.config.k

    @property
    def token_rate(self) -> float:
        return self.config.token_rate

    def encode_features(self, frames: np.ndarray) -> np.ndarray:
        """Codes of one clip's unpooled log-mel frames.  # (T, M) -> (pooled_length(T),) int64"""
        pooled = torch.from_numpy(pool_frames(frames, self.config.pool)).to(self.device)
        return assign(pooled, self.centroids)[0].cpu().numpy().astype(np.int64)

    @torch.no_grad()
    def timed(
        self, waveforms: np.ndarray | torch.Tensor, seconds: Sequence[Seconds] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per clip: (tokens int64, centre time of each token in seconds).  # [((n,), (n,))]"""
        out = []
        for frames in batch_log_mel(waveforms, seconds, self.frontend, cache=self.log_mel_cache):
            out.append((self.encode_features(frames), token_centres(len(frames), self.config.pool)))
        return out

    def __call__(
        self, waveforms: np.ndarray | torch.Tensor, seconds: Sequence[Seconds] | None = None
    ) -> list[list[int]]:
        """(N,) or (B, N) float32 at 16 kHz, zero-padded; `seconds`: real length of each clip."""
        return [tokens.tolist() for tokens, _ in self.timed(waveforms, seconds)]

    def save(self, path: str) -> str:
        """Write the tokenizer to `path` (a file, or a directory that gets `dense.pt`); returns the
        file's URL. Written to a temporary name first, so a present file is always complete."""
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "config": to_dict(self.config),
            "centroids": self.centroids.cpu(),
            "fit_stats": self.fit_stats,
        }
        url = _file_url(str(path))
        fs, fs_path = url_to_fs(url)
        fs.makedirs(os.path.dirname(fs_path) or ".", exist_ok=True)
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        with fs.open(f"{fs_path}.tmp", "wb") as f:
            f.write(buffer.getvalue())
        fs.mv(f"{fs_path}.tmp", fs_path)
        return url

    @classmethod
    def load(cls, path: str, device: str = "cpu") -> DenseTokenizer:
        """Read a tokenizer written by `save` (its file, or the directory holding `dense.pt`)."""
        fs, fs_path = url_to_fs(str(path))
        url = str(path)
        if fs.isdir(fs_path):
            fs_path, url = f"{fs_path.rstrip('/')}/{DENSE_FILE}", _file_url(url)
        if not fs.exists(fs_path):
            raise FileNotFoundError(f"{path}: no dense tokenizer found")
        with fs.open(fs_path, "rb") as f:
            payload = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{path}: not a dense tokenizer file")
        if payload.get("version") != VERSION:
            raise ValueError(
                f"{path}: dense format version {payload.get('version')}, expected {VERSION}"
            )
        config = from_dict(DenseConfig, payload["config"])
        return cls(
            payload["centroids"], config, path=url, fit_stats=payload["fit_stats"], device=device
        )


def share_log_mel(tokenizers: Iterable[DenseTokenizer]) -> LogMelCache:
    """Give `tokenizers` (a grid measured on the same clips) one `LogMelCache`: each clip's frames
    are computed once for all of them. Their strings are unchanged."""
    cache = LogMelCache()
    for tokenizer in tokenizers:
        tokenizer.log_mel_cache = cache
    return cache


def _file_url(path: str) -> str:
    """`path` itself when it names a `.pt` file, else `<path>/dense.pt`."""
    return path if path.endswith(".pt") else f"{path.rstrip('/')}/{DENSE_FILE}"
