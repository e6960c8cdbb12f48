"""Does the built-in corpus render to the same bytes every time, with every core busy?

    PYTHONPATH=. python -m bench.benchmarks.synth_determinism [utterances=80] [repeats=10]

Starts `burners` busy-loop processes (default: one per core), renders the first `utterances`
of the `SMALL` plan of `tests/corpora/test_builtin.py` to FLAC bytes once serially, then
`repeats` more times through the render thread pool, and compares every file byte for byte.
Prints one JSON line (with a digest of the reference render, to compare machines) and exits 1 if
any file differed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from bench.cli import parse
from pairalign.data.corpora.builtin import (
    BuiltinCorpusConfig,
    plan_corpus,
    render_encoded,
    thread_map,
)

SMALL = BuiltinCorpusConfig(train_sentences=6, test_sentences=4, voices_per_sentence=8)


@dataclass(frozen=True)
class DeterminismBench:
    utterances: int = 80  # the first of the SMALL plan
    repeats: int = 10  # pooled renders compared with the serial one
    workers: int = 0  # render threads; 0 = cpu count
    burners: int = -1  # busy processes; -1 = cpu count


def start_burners(n: int) -> list[subprocess.Popen]:
    """`n` processes that keep one core each busy until terminated."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def compare_repeats(specs: list, repeats: int, workers: int) -> dict[str, object]:
    fn = partial(render_encoded, sample_rate=SMALL.sample_rate, audio_format=SMALL.audio_format)
    reference = [fn(s) for s in specs]  # serial, as the test's second run
    differing: list[str] = []
    identical_repeats = 0
    for _ in range(repeats):
        again = list(thread_map(workers)(fn, specs))
        bad = [s.utterance_id for s, a, b in zip(specs, reference, again, strict=True) if a != b]
        differing += bad
        identical_repeats += not bad
    return {
        "identical_repeats": identical_repeats,
        "differing_files": len(differing),
        "differing_examples": sorted(set(differing))[:10],
        "reference_sha256": hashlib.sha256(b"".join(reference)).hexdigest(),
    }


def main(argv: Sequence[str] | None = None) -> dict:
    """The figures; exits 1 when run as a script and any file differed."""
    args = parse(DeterminismBench, argv, __doc__)
    specs = plan_corpus(SMALL)[: args.utterances]
    cores = os.cpu_count() or 1
    workers = args.workers or cores
    burners = start_burners(cores if args.burners < 0 else args.burners)
    start = time.perf_counter()
    try:
        outcome = compare_repeats(specs, args.repeats, workers)
    finally:
        for burner in burners:
            burner.terminate()
            burner.wait()
    result = {
        "bench": "builtin_synth_determinism",
        "utterances": len(specs),
        "repeats": args.repeats,
        "renders_compared": len(specs) * args.repeats,
        "workers": workers,
        "burners": len(burners),
        **outcome,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(1 if main()["differing_files"] else 0)
