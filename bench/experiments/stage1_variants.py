"""Train variants of a stage one after another and measure each one's strings on one half of the
eval split with the evaluation suite (workflows/evaluate.py), collecting one table.

    PYTHONPATH=. python bench/stage1_variants.py --root /work/runs12 --half dev \
        --variant "k32:" --variant "k16:model.quantizer.codebook_size=16" ...
    PYTHONPATH=. python bench/stage1_variants.py --stage refine --init <stage-1 checkpoint> \
        --root /work/runs13 --variant "l1-copy:objective.targets.view=same ..."

Each variant is `name:override override ...` (overrides of workflows/vq.py, or of
workflows/refine.py with `--stage refine`, which measures the PairAlign strings). A variant whose
checkpoint exists is not trained again; its evaluation is redone only if `--remeasure`. The table
(`<root>/<half>.md`) lists tokens/s, MAP, P@1, MRR, consistency, vocabulary used and perplexity.
`--vcc` measures on vcc2016-dev's `--half` instead (issue 21's split, bench/vcc.py; its manifest
is written to `<root>/vcc/manifest.parquet` for workflows/evaluate.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ("token_rate", "map", "precision_at_1", "mrr", "consistency", "vocab_used", "perplexity")


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", required=True)
    parser.add_argument("--stage", default="vq", choices=("vq", "refine"))
    parser.add_argument("--init", default="", help="stage-1 checkpoint (--stage refine)")
    parser.add_argument("--half", default="dev", choices=("dev", "test"))
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--corpus", default="data/builtin")
    parser.add_argument(
        "--manifest", default="", help="measure on this manifest instead (split test)"
    )
    parser.add_argument("--vcc", action="store_true", help="measure on vcc2016-dev's --half")
    parser.add_argument(
        "--tag", default="", help="suffix of the evaluation's name (another corpus)"
    )
    parser.add_argument("--remeasure", action="store_true")
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    vcc = root / "vcc" / "manifest.parquet"
    if args.vcc:
        from vcc import vcc_manifest  # bench/ is the script's directory

        from pairalign.data.manifest import write_manifest

        write_manifest(vcc_manifest(), str(vcc))
        args.tag = args.tag or "-vcc"
    rows = []
    for spec in args.variant:
        name, _, overrides = spec.partition(":")
        log = root / f"{name}.log"
        print(f"{name}: {overrides or '(defaults)'}", flush=True)
        if not checkpoint_of(root, name):
            init = [f"init_checkpoint={args.init}"] if args.stage == "refine" else []
            run([py, f"workflows/{args.stage}.py", f"name={name}", f"storage_path={root}",
                 f"corpus.builtin_dir={args.corpus}", *init, *overrides.split()], log)  # fmt: skip
        if args.train_only:
            continue
        tag = f"{args.half}{args.tag}"
        out = root / "eval" / f"{name}-{tag}"
        figures_file = out / "figures.json"
        if args.remeasure or not figures_file.exists():
            corpus = [f"corpus.manifest={args.manifest}", "half="] if args.manifest else [
                f"corpus.builtin_dir={args.corpus}", f"half={args.half}"]  # fmt: skip
            if args.vcc:
                corpus = [f"corpus.manifest={vcc}", f"half={args.half}"]
            run([py, "workflows/evaluate.py", f"name=eval-{name}-{tag}", f"out_dir={out}",
                 f"storage_path={root}", *corpus,
                 f"tokenizers=[{{name: {name}, kind: {'pairalign' if args.stage == 'refine' else 'vq'}, "
                 f"checkpoint: {checkpoint_of(root, name)}}}]"], log)  # fmt: skip
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
        (root / f"{args.half}{args.tag}.md").write_text(table + "\n")
        print(table)


if __name__ == "__main__":
    main()
