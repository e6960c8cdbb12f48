"""vcc2016-dev, the project's recorded-speech set, and the one split every bench script measures it
by (issue 21): 6 people reading the same 120 sentences (Voice Conversion Challenge 2016 training
data, Toda et al., Interspeech 2016, DOI 10.7488/ds/1575, CC BY 4.0), read from
`../shared/data/vcc2016-dev/manifest.csv` beside the repository (`VCC_MANIFEST`; the scripts'
`vcc_manifest` key names another copy).

The corpus's `manifest.csv` is read as one split and its sentences ranked by sorted id from 0:
the even ranks (100001, 100003, ...) are the `test` part, the odd ranks (100002, 100004, ...) the
`train` part (dense fits, stage-1 mixes); the test part's halves follow the library's rule
(`pairalign.data.splits.half_rows`): the `dev` half (100001, 100005, ...: choices) and the
`test` half (100003, 100007, ..., 100119: reports), each 30 sentences x 6 speakers = 180 clips.
(The recorded issue-21 figures reproduce on these halves: the shipped tokenizer's VQ strings give
12.4 tokens/s, MAP 0.843, P@1 0.961 on the test half, as in BENCHMARKS.md.)

    from bench.experiments.vcc import vcc_half, VCC_SPLIT
    clips = vcc_half("test")                 # a ClipSet named "test", as load_half gives
    PYTHONPATH=. python -m bench.experiments.vcc out=runs/vcc   # manifest.parquet with that
        # split, for workflows/evaluate.py corpus.manifest=runs/vcc/manifest.parquet half=test

Only bench/ reads ../shared: the library, the tests and the README never do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from bench.cli import parse
from pairalign.data.corpora.spec import read_corpus
from pairalign.data.manifest import write_manifest
from pairalign.data.splits import Half, half_rows
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.heldout import HeldoutConfig, load_heldout

# ../shared/data/vcc2016-dev/manifest.csv from the repository root
VCC_MANIFEST = Path(__file__).resolve().parents[3] / "shared/data/vcc2016-dev/manifest.csv"
VCC_SPLIT = (
    "vcc2016-dev (VCC 2016, Toda et al.; DOI 10.7488/ds/1575; CC BY 4.0): sentences by "
    "sorted id from 0, even ranks test, odd ranks train; test's halves by half_rows: dev "
    "100001, 100005, ..., test 100003, 100007, ... (30 sentences x 6 speakers each)"
)
Part = Literal["train", "dev", "test"]


def vcc_manifest(source: str | Path = VCC_MANIFEST) -> pa.Table:
    """The corpus's manifest (`source`, "": VCC_MANIFEST) with its `split` column set to issue
    21's `train` and `test` parts."""
    source = source or VCC_MANIFEST
    table = read_corpus(str(source))
    splits = set(table["split"].to_pylist())
    if len(splits) != 1:
        raise ValueError(f"{source}: expected one split, found {sorted(splits)}")
    test = half_rows(table, splits.pop(), "dev")["content_id"]  # sorted ids[0::2]
    split = pc.if_else(pc.is_in(table["content_id"], test), "test", "train")
    return table.set_column(table.schema.get_field_index("split"), "split", split)


def vcc_rows(part: Part, sentences: int = 0, source: str | Path = VCC_MANIFEST) -> pa.Table:
    """The rows of the `train` part, or of the test part's `dev` or `test` half (the first
    `sentences` of it, 0: all)."""
    manifest = vcc_manifest(source)
    if part == "train":
        return manifest.filter(pc.equal(manifest["split"], "train"))
    return half_rows(manifest, "test", part, sentences)


def vcc_half(
    half: Half,
    config: HeldoutConfig | None = None,
    views: ViewConfig | None = None,
    source: str | Path = VCC_MANIFEST,
) -> ClipSet:
    """The clips of the `dev` or `test` half (a ClipSet named `half`, like
    vq_baselines.load_half), with the fixed views of the first `config.view_clips`."""
    config = config or HeldoutConfig()
    rows = vcc_rows(half, config.sentences, source)
    return load_heldout(rows, half, views or ViewConfig(), config)


def describe(rows: pa.Table) -> dict[str, object]:
    ids = sorted(set(rows["content_id"].to_pylist()))
    return {
        "clips": rows.num_rows,
        "sentences": len(ids),
        "speakers": len(set(rows["speaker"].to_pylist())),
        "first": ids[:3],
        "last": ids[-1],
    }


@dataclass(frozen=True)
class VCCSplit:
    out: str = ""  # write <out>/manifest.parquet with the split
    vcc_manifest: str = ""  # the corpus's manifest.csv; "": VCC_MANIFEST (../shared/data/...)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(VCCSplit, argv, __doc__)
    parts = {p: describe(vcc_rows(p, source=args.vcc_manifest)) for p in ("train", "dev", "test")}
    print(json.dumps({"split": VCC_SPLIT, **parts}, indent=1))
    if args.out:
        path = str(Path(args.out).resolve() / "manifest.parquet")
        write_manifest(vcc_manifest(args.vcc_manifest), path)
        print(f"manifest: {path}")


if __name__ == "__main__":
    main()
