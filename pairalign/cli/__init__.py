"""The command line for one's own audio, the one place outside workflows/ that parses arguments.

    python -m pairalign tokenize recordings/                     # token strings with time spans
    python -m pairalign tokenize recordings/ --out runs/mine      # ... as a searchable archive
    python -m pairalign search runs/mine query.wav -k 10          # the archive ranked by a clip
    python -m pairalign export runs/refine-tiny pairalign/assets/default_tokenizer.pt
    python -m pairalign export runs/refine-tiny tok.pt --default-kind vq --kind-note "<why>"

`tokenize` and `search` use the tokenizer shipped with the package
(`pairalign/assets/default_tokenizer.pt`) unless `--tokenizer` names a checkpoint, a run directory
or an exported file, and its strings of `--kind auto`: the kind the export records as measured
best (`export --default-kind`), else PairAlign when it has a decoder, VQ otherwise. A folder's
files are named by their path in it without the extension (`SM2/200001`), the id `search` takes.
Errors are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pairalign.cli.default import DEFAULT_TOKENIZER

COMMANDS = ("tokenize", "search", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pairalign",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    tok = sub.add_parser("tokenize", help="token strings (with time spans) of audio files")
    tok.add_argument("source", help="an audio file, a folder of them, or a CSV/Parquet manifest")
    _tokenizer_arguments(tok)
    tok.add_argument(
        "--out",
        default="",
        help="an archive directory, or a .jsonl file (default: print one line per file)",
    )
    tok.add_argument("--batch-size", type=int, default=16, help="clips per forward pass")
    search = sub.add_parser("search", help="rank an archive against a query clip")
    search.add_argument("archive", help="an archive directory or .jsonl file written by tokenize")
    search.add_argument("query", help="an audio file, or an utterance id of the archive")
    search.add_argument("-k", type=int, default=10, help="how many matches (default 10)")
    search.add_argument("--tokenizer", default="", help="default: the one that wrote the archive")
    export = sub.add_parser("export", help="a weights-only tokenizer file from a checkpoint")
    export.add_argument("checkpoint", help="a checkpoint directory or a run directory (latest)")
    export.add_argument("out", help="the .pt file to write")
    export.add_argument("--half", action="store_true", help="weights as float16 (half the size)")
    export.add_argument(
        "--default-kind",
        choices=("pairalign", "vq"),
        default="",
        help="the strings `--kind auto` gives with this file (default: PairAlign "
        "when it has a decoder, else VQ)",
    )
    export.add_argument(
        "--kind-note",
        default="",
        help="the measurement that decided "
        "--default-kind, stored with it and printed when auto uses it",
    )
    return parser


def _tokenizer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tokenizer",
        default="",
        help=f"a checkpoint, run directory or "
        f"exported .pt (default: {DEFAULT_TOKENIZER.name} shipped with pairalign)",
    )
    parser.add_argument(
        "--kind",
        choices=("auto", "pairalign", "vq"),
        default="auto",
        help="which strings: auto = the kind the export records as measured "
        "best, else PairAlign when the tokenizer has a decoder, else VQ",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 nothing could be done, 2 an error)."""
    from pairalign.cli.commands import run
    from pairalign.cli.inputs import CliError

    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
