"""Decoding throughput: seconds of audio tokenized per second, per CPU core, batch of 64 clips.

    PYTHONPATH=. python -m bench.benchmarks.decode checkpoint=runs/refine-tiny/checkpoint_...
    PYTHONPATH=. python -m bench.benchmarks.decode     # an untrained tiny model (same cost)

Times `Tokenizer.pairalign_strings` (encoder + greedy decoding with the KV cache) and, for
reference, the same decoding without the cache (the prefix re-run every step) and the VQ strings,
on one thread, 3 s clips of the built-in corpus's test split (or noise when it is missing).
Prints one JSON line.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from bench.cli import parse
from pairalign.config import to_dict
from pairalign.models.checkpoint import save_checkpoint
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.tokenizing.tokenizer import Tokenizer


@dataclass(frozen=True)
class DecodeBench:
    checkpoint: str = ""  # a refine checkpoint; "": an untrained tiny model
    corpus: str = "data/builtin"  # its test split's clips; noise when it has no manifest
    batch: int = 64  # clips
    repeats: int = 3  # timed runs after a warm-up (the best counts; the uncached run once)


def clips(corpus: str, n: int) -> tuple[np.ndarray, str]:
    manifest = os.path.join(corpus, "manifest.parquet")
    if not os.path.exists(manifest):
        return 0.1 * np.random.default_rng(0).standard_normal((n, 48_000)).astype(
            np.float32
        ), "noise"
    import pyarrow.compute as pc

    from pairalign.data.audio import load_row_audio
    from pairalign.data.manifest import read_manifest

    table = read_manifest(manifest)
    rows = table.filter(pc.equal(table["split"], "test")).slice(0, n).to_pylist()
    out = np.zeros((len(rows), 48_000), np.float32)
    for i, row in enumerate(rows):
        audio = load_row_audio(row)[:48_000]
        out[i, : len(audio)] = audio
    return out, corpus


def timed(fn, *args, repeats: int = 3, **kwargs) -> tuple[float, object]:
    fn(*args, **kwargs)  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse(DecodeBench, argv, __doc__)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="pairalign-bench-decode-") as untrained:
        path = args.checkpoint
        if not path:
            path = untrained
            model = PairAlignModel(PairAlignConfig())
            save_checkpoint(
                path,
                model_config=model.config,
                model_state=model.state_dict(),
                stage="refine",
                stage_config={},
                step=0,
            )
        tokenizer = Tokenizer.from_checkpoint(path)
    wave, source = clips(args.corpus, args.batch)
    audio_seconds = wave.shape[0] * wave.shape[1] / 16_000
    cached, strings = timed(tokenizer.pairalign_strings, wave, repeats=args.repeats)
    uncached, _ = timed(lambda w: tokenizer.decode(w, use_cache=False).strings, wave, repeats=1)
    vq, _ = timed(tokenizer.vq_strings, wave, repeats=args.repeats)
    result = {
        "bench": "decode",
        "checkpoint": args.checkpoint or "untrained tiny",
        "clips": source,
        "batch": len(wave),
        "audio_seconds": audio_seconds,
        "mean_tokens": float(np.mean([len(s) for s in strings])),
        "realtime_per_core_cached": round(audio_seconds / cached, 1),
        "realtime_per_core_uncached": round(audio_seconds / uncached, 1),
        "realtime_per_core_vq": round(audio_seconds / vq, 1),
        "model": to_dict(tokenizer.config)["encoder"],
        "cpu": platform.machine(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
