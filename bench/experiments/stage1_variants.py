"""Train variants of a stage one after another and measure each one's strings on one half of the
eval split with the evaluation suite (workflows/evaluate.py), collecting one table.

    PYTHONPATH=. python -m bench.experiments.stage1_variants --config stage1_codebooks.yaml \\
        root=runs/variants half=dev
    PYTHONPATH=. python -m bench.experiments.stage1_variants stage=refine \\
        init=<stage-1 checkpoint> \\
        root=runs/variants "variants=[{name: l1-copy, overrides: [objective.targets.view=same]}]"

Each variant is a name and its overrides (of workflows/vq.py, or of workflows/refine.py with
`stage=refine`, which measures the PairAlign strings); several are best kept in a YAML file
(bench/experiments/configs/). A variant whose checkpoint exists is not trained again; its
evaluation is redone only if `remeasure=true`. The table (`<root>/<half>.md`) lists tokens/s, MAP,
P@1, MRR, consistency, vocabulary used and perplexity. `vcc=true` measures on vcc2016-dev's `half`
instead (issue 21's split, vcc.py; its manifest is written to `<root>/vcc/manifest.parquet` for
workflows/evaluate.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench.cli import Variant, parse

COLUMNS = ("token_rate", "map", "precision_at_1", "mrr", "consistency", "vocab_used", "perplexity")


@dataclass(frozen=True)
class Stage1Variants:
    root: str
    variants: tuple[Variant, ...] = ()
    stage: Literal["vq", "refine"] = "vq"
    init: str = ""  # stage-1 checkpoint (stage=refine)
    half: Literal["dev", "test"] = "dev"
    corpus: str = "data/builtin"
    manifest: str = ""  # measure on this manifest instead (split test)
    vcc: bool = False  # measure on vcc2016-dev's half
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    tag: str = ""  # suffix of the evaluation's name (another corpus)
    remeasure: bool = False
    train_only: bool = False


def run(cmd: list[str], log: Path) -> float:
    """Run `cmd`, its output appended to `log`; the wall time in seconds."""
    start = time.perf_counter()
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)
    seconds = time.perf_counter() - start
    print(f"  {Path(cmd[1]).name} done in {seconds:.0f} s", flush=True)
    return seconds


def checkpoint_of(root: Path, name: str) -> str:
    found = sorted(p for p in (root / name).glob("checkpoint_*") if p.is_dir())
    return str(found[-1]) if found else ""


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(Stage1Variants, argv, __doc__)
    root = Path(args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    vcc = root / "vcc" / "manifest.parquet"
    tag = args.tag
    if args.vcc:
        from bench.experiments.vcc import vcc_manifest
        from pairalign.data.manifest import write_manifest

        write_manifest(vcc_manifest(args.vcc_manifest), str(vcc))
        tag = tag or "-vcc"
    rows = []
    for variant in args.variants:
        name, overrides = variant.name, " ".join(variant.overrides)
        log = root / f"{name}.log"
        print(f"{name}: {overrides or '(defaults)'}", flush=True)
        if not checkpoint_of(root, name):
            init = [f"init_checkpoint={args.init}"] if args.stage == "refine" else []
            run(
                [
                    py,
                    f"workflows/{args.stage}.py",
                    f"name={name}",
                    f"storage_path={root}",
                    f"corpus.builtin_dir={args.corpus}",
                    *init,
                    *variant.overrides,
                ],
                log,
            )
        if args.train_only:
            continue
        half_tag = f"{args.half}{tag}"
        out = root / "eval" / f"{name}-{half_tag}"
        figures_file = out / "figures.json"
        if args.remeasure or not figures_file.exists():
            corpus = (
                [f"corpus.manifest={args.manifest}", "half="]
                if args.manifest
                else [f"corpus.builtin_dir={args.corpus}", f"half={args.half}"]
            )
            if args.vcc:
                corpus = [f"corpus.manifest={vcc}", f"half={args.half}"]
            kind = "pairalign" if args.stage == "refine" else "vq"
            run(
                [
                    py,
                    "workflows/evaluate.py",
                    f"name=eval-{name}-{half_tag}",
                    f"out_dir={out}",
                    f"storage_path={root}",
                    *corpus,
                    f"tokenizers=[{{name: {name}, kind: {kind}, "
                    f"checkpoint: {checkpoint_of(root, name)}}}]",
                ],
                log,
            )
        figures = json.loads(figures_file.read_text())
        rows.append((name, overrides, figures))
    if rows:
        lines = [
            "| variant | overrides | " + " | ".join(COLUMNS) + " |",
            "|---" * (len(COLUMNS) + 2) + "|",
        ]
        for name, overrides, figures in rows:
            cells = [f"{figures.get(f'{name}/{c}', float('nan')):.3f}" for c in COLUMNS]
            lines.append(f"| {name} | `{overrides}` | " + " | ".join(cells) + " |")
        table = "\n".join(lines)
        (root / f"{args.half}{tag}.md").write_text(table + "\n")
        print(table)


if __name__ == "__main__":
    main()
