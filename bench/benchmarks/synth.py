"""How fast the built-in corpus renders: utterances/s and seconds of audio per wall-clock second.

    PYTHONPATH=. python -m bench.benchmarks.synth [utterances=40] [workers=0]

Renders the first `utterances` of the default corpus plan to encoded FLAC bytes (what
`synthesize_corpus` writes) once serially and once with the thread pool, and prints one JSON line.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import soundfile as sf

from bench.cli import parse
from pairalign.data.corpora.builtin import (
    BuiltinCorpusConfig,
    plan_corpus,
    render_encoded,
    thread_map,
)


@dataclass(frozen=True)
class SynthBench:
    utterances: int = 40  # spread over the default corpus plan
    workers: int = 0  # render threads; 0 = cpu count


def measure(specs: list, workers: int, config: BuiltinCorpusConfig) -> dict[str, float]:
    fn = partial(render_encoded, sample_rate=config.sample_rate, audio_format=config.audio_format)
    start = time.perf_counter()
    files = list(thread_map(workers)(fn, specs))
    wall = time.perf_counter() - start
    audio = sum(sf.info(io.BytesIO(f)).duration for f in files)
    return {
        "wall_seconds": round(wall, 3),
        "utterances_per_second": round(len(specs) / wall, 2),
        "audio_seconds_per_second": round(audio / wall, 1),
        "audio_seconds": round(audio, 1),
    }


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse(SynthBench, argv, __doc__)
    config = BuiltinCorpusConfig()
    # Spread the subset over the plan so it mixes voices, sentences and splits.
    plan = plan_corpus(config)
    specs = plan[:: max(1, len(plan) // args.utterances)][: args.utterances]
    workers = args.workers or os.cpu_count() or 1
    measure(specs[:2], 1, config)  # warm up imports, torch kernels and the page cache
    serial = measure(specs, 1, config)
    pooled = measure(specs, workers, config)
    result = {
        "bench": "builtin_synth",
        "utterances": len(specs),
        "workers": workers,
        "serial": serial,
        "pool": pooled,
        "pool_audio_seconds_per_second_per_core": round(
            pooled["audio_seconds_per_second"] / workers, 1
        ),
        "pool_speedup": round(serial["wall_seconds"] / pooled["wall_seconds"], 2),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
