"""A checkpoint's fingerprint, to show that a refactor changed no behaviour: the sha256 of its
strings (VQ strings; PairAlign strings too when it has a decoder) on the first `clips` clips of
one split, through the public `Tokenizer` API, plus every number of its run's `figures.json`
(wall-clock figures left out). Two runs from one seed, before and after a change, agree on all of
it or the change moved a number (issue 27, BENCHMARKS.md).

    PYTHONPATH=. python -m bench.experiments.fingerprint \\
        checkpoint=runs/vq-tiny/checkpoint_<time> corpus=data/builtin out=runs/vq-fingerprint.json
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from bench.cli import parse
from pairalign.data.audio import load_row_audio
from pairalign.data.manifest import read_manifest
from pairalign.data.storage import join
from pairalign.tokenizing.tokenizer import Tokenizer

CLOCK = ("seconds", "per_second", "elapsed", "minutes", "checkpoint", "mlflow", "date")


@dataclass(frozen=True)
class Fingerprint:
    checkpoint: str  # a checkpoint_<time>/ directory of a run
    corpus: str = "data/builtin"  # a corpus directory with manifest.parquet
    split: str = "test"
    clips: int = 120  # the first clips of the split, in manifest order
    out: str = ""  # JSON file ("": print only)


def strings_sha(strings: list[list[int]]) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(strings).encode()).hexdigest()[:16]
    return {"sha": digest, "tokens": sum(map(len, strings))}


def fingerprint(args: Fingerprint) -> dict[str, Any]:
    tokenizer = Tokenizer.from_checkpoint(args.checkpoint)
    manifest = read_manifest(join(args.corpus, "manifest.parquet"))
    rows = manifest.filter(pc.equal(manifest["split"], args.split)).slice(0, args.clips)
    waves = [load_row_audio(row) for row in rows.to_pylist()]
    kinds = {"vq": tokenizer.vq_strings}
    if tokenizer.decoder is not None:
        kinds["pairalign"] = tokenizer.pairalign_strings
    result: dict[str, Any] = {
        kind: strings_sha([s for wave in waves for s in make([wave])])
        for kind, make in kinds.items()
    }
    figures_file = Path(args.checkpoint).parent / "figures.json"
    if figures_file.exists():
        figures = json.loads(figures_file.read_text())
        result["figures"] = {
            k: v for k, v in figures.items() if not any(word in k for word in CLOCK)
        }
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse(Fingerprint, argv, __doc__)
    result = fingerprint(args)
    print(json.dumps({k: v for k, v in result.items() if k != "figures"}))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result


if __name__ == "__main__":
    main()
