"""VQ strings of one checkpoint under several string settings, measured on one half of the eval
split (or any manifest) by the evaluation path every workflow uses (`measure_tokenizer`).

    PYTHONPATH=. python -m bench.experiments.vq_probe checkpoint=runs/vq-tiny/checkpoint_<time> \\
        corpus=data/builtin half=dev "min_runs=[1,2,3]" "groups=[0,8,16,32]"
    PYTHONPATH=. python -m bench.experiments.vq_probe checkpoint=... \\
        manifest=data/foreign/manifest.parquet split=test

No training: the same encoder and codebook, read with other `VQStringConfig`s (runs shorter than
`min_run_frames` merged into a neighbour; codes grouped by k-means on the codebook).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow.compute as pc

from bench.cli import parse
from pairalign.data.manifest import read_manifest
from pairalign.data.splits import half_rows
from pairalign.data.storage import join
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import load_clips, measure_tokenizer
from pairalign.strings.rule import VQStringConfig
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer

COLUMNS = ("token_rate", "map", "precision_at_1", "mrr", "consistency", "vocab_used", "perplexity")


@dataclass(frozen=True)
class VQProbe:
    checkpoint: str
    corpus: str = "data/builtin"  # built-in corpus directory
    manifest: str = ""  # any manifest instead of corpus
    split: str = "test"
    half: Literal["dev", "test", "all"] = "dev"
    min_runs: tuple[int, ...] = (1,)  # VQStringConfig.min_run_frames, each
    groups: tuple[int, ...] = (0,)  # VQStringConfig.groups, each
    view_clips: int = 200


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(VQProbe, argv, __doc__)
    manifest = read_manifest(args.manifest or join(args.corpus, "manifest.parquet"))
    if args.half == "all":
        rows = manifest.filter(pc.equal(manifest["split"], args.split))
    else:
        rows = half_rows(manifest, args.split, args.half)
    clips = load_clips(rows, ViewConfig(), name=args.half, view_clips=args.view_clips)
    base = Tokenizer.from_checkpoint(args.checkpoint)
    print(f"{len(clips.ids)} clips ({args.half} half of {args.split}); views of {args.view_clips}")
    print("| min run | groups | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for min_run, groups in itertools.product(args.min_runs, args.groups):
        start = time.perf_counter()
        tokenizer = base.with_strings(VQStringConfig(min_run_frames=min_run, groups=groups))
        found = measure_tokenizer(VQStrings(tokenizer), clips, "vq")
        cells = [f"{found.get(f'vq/{c}', float('nan')):.3f}" for c in COLUMNS]
        print(
            f"| {min_run} | {groups} | "
            + " | ".join(cells)
            + f" |  ({time.perf_counter() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()
