"""The shipped tokenizer: trained until dev MAP stops rising, measured like the default, exported.

    PYTHONPATH=. python -m bench.experiments.ship root=runs/ship corpus=data/builtin \\
        dense_dir=runs/dense foreign=data/foreign/manifest.parquet

1. Stage 1: `workflows/vq.py --config workflows/configs/vq_ship.yaml` (every checkpoint kept).
2. Its learning curve: each checkpoint's VQ strings on the dev halves (built-in eval split's dev
   half; vcc2016-dev's dev half, `vcc.py`). The chosen step is the first whose mean dev MAP
   (built-in and vcc2016-dev) is within `tolerance` of the best point: where it stops rising.
3. Stage 2: `workflows/refine.py --config workflows/configs/refine_ship.yaml` from that checkpoint;
   its learning curve on the PairAlign strings (step 0: the VQ strings it starts from); chosen
   alike.
4. The chosen stage-2 checkpoint measured as `default_run stage=refine` measures the default
   (test halves, unseen voices, merge/DPDP/BPE at its rate, best dense at or below its rate).
5. Which strings `--kind auto` gives: PairAlign only when, on both test halves (built-in and
   vcc2016-dev), its strings retrieve at least as well as the VQ strings at a lower rate; else VQ.
6. Exported with that choice (`python -m pairalign export ... --default-kind`) to `export`, and
   `bench/results/ship.json` and `bench/results/ship_learning_curve.png` written.

Trained runs and measured points are reused when the script is run again (`<root>/curve.json`).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.cli import parse
from bench.experiments.default_run import measure_checkpoint, refine_result
from bench.experiments.measure_sets import Sets, strings_figures, write_json
from bench.experiments.stage1_variants import run
from pairalign.models.checkpoint import load_checkpoint
from pairalign.tokenizing.tokenizer import Tokenizer
from workflows.cli import load_yaml

CONFIGS = Path(__file__).resolve().parents[2] / "workflows" / "configs"


@dataclass(frozen=True)
class Ship:
    root: str = "runs/ship"
    corpus: str = "data/builtin"
    dense_dir: str = "runs/dense"
    foreign: str = ""  # unseen voices: foreign_corpus.py's manifest.parquet
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    tolerance: float = 0.005  # of the best mean dev MAP
    export: str = "pairalign/assets/default_tokenizer.pt"
    out: str = "bench/results/ship.json"


def checkpoints(run_dir: Path) -> list[tuple[int, str]]:
    """(step, checkpoint directory) of every checkpoint of a run, by step."""
    found = [
        (int(load_checkpoint(str(p))["step"]), str(p))
        for p in run_dir.glob("checkpoint_*")
        if (p / "checkpoint.pt").exists()
    ]
    return sorted(found)


def curve_points(stage: int, run_dir: Path, kind: str, sets: Sets, cache: dict) -> list[dict]:
    """The learning curve of one run: each checkpoint's `kind` strings on both dev halves."""
    points = []
    for step, checkpoint in checkpoints(run_dir):
        key = f"{stage}:{checkpoint}"
        if key not in cache:
            tokenizer = Tokenizer.from_checkpoint(checkpoint)
            dev = strings_figures(tokenizer, sets.get("builtin_dev"), (kind,))[kind]
            vcc = strings_figures(tokenizer, sets.get("vcc_dev"), (kind,))[kind]
            cache[key] = {
                "stage": stage,
                "steps": step,
                "dev_map": dev["map"],
                "rate": dev["rate"],
                "vcc_dev_map": vcc["map"],
                "vcc_rate": vcc["rate"],
                "checkpoint": checkpoint,
            }
            print(json.dumps(cache[key]), flush=True)
        points.append(cache[key])
    return points


def stop_rising(points: list[dict], tolerance: float) -> dict:
    """The first point whose mean dev MAP is within `tolerance` of the best point's."""
    best = max(mean_dev_map(p) for p in points)
    return next(p for p in points if mean_dev_map(p) >= best - tolerance)


def mean_dev_map(point: dict) -> float:
    return (point["dev_map"] + point["vcc_dev_map"]) / 2


def train(config: str, root: Path, corpus: str, stage: str, extra: list[str], log: Path) -> Path:
    """Train `workflows/<stage>.py --config <config>` unless its last checkpoint is there."""
    data = load_yaml(CONFIGS / config)
    run_dir = root / data["name"]
    found = checkpoints(run_dir) if run_dir.exists() else []
    init = next((a.split("=", 1)[1] for a in extra if a.startswith("init_checkpoint=")), None)
    if found and init and load_checkpoint(found[-1][1])["stage_config"]["init_checkpoint"] != init:
        raise SystemExit(
            f"{run_dir} was trained from another stage-1 checkpoint than {init}: "
            "move it away to train again"
        )
    if not found or found[-1][0] < data["train"]["max_steps"]:
        seconds = run(
            [
                sys.executable,
                f"workflows/{stage}.py",
                "--config",
                str(CONFIGS / config),
                f"storage_path={root}",
                f"corpus.builtin_dir={corpus}",
                *extra,
            ],
            log,
        )
        (root / f"{data['name']}.train_seconds").write_text(f"{seconds:.1f}\n")
    return run_dir


def decide_kind(shipped: dict) -> tuple[str, str]:
    """("pairalign" | "vq", the measurement that decided it)."""
    sets = {
        "built-in test half": (
            shipped["map"],
            shipped["rate"],
            shipped["vq_map"],
            shipped["vq_rate"],
        ),
        "vcc2016-dev test half": (
            shipped["vcc_map"],
            shipped["vcc_rate"],
            shipped["vcc_vq_map"],
            shipped["vcc_vq_rate"],
        ),
    }
    wins = all(pa >= vq and pa_rate < vq_rate for pa, pa_rate, vq, vq_rate in sets.values())
    note = "; ".join(
        f"{name}: PairAlign MAP {pa:.3f} at {pr:.1f}/s, VQ {vq:.3f} at {vr:.1f}/s"
        for name, (pa, pr, vq, vr) in sets.items()
    )
    return ("pairalign" if wins else "vq"), note


def plot(points: list[dict], stage1_steps: int, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for stage, marker, label in ((1, "o", "stage 1 (VQ strings)"), (2, "s", "stage 2 (PairAlign)")):
        ps = [p for p in points if p["stage"] == stage]
        if not ps:
            continue
        offset = 0 if stage == 1 else stage1_steps
        steps = [p["steps"] + offset for p in ps]
        axes[0].plot(steps, [p["dev_map"] for p in ps], marker=marker, label=f"{label}, built-in")
        axes[0].plot(
            steps,
            [p["vcc_dev_map"] for p in ps],
            marker=marker,
            ls="--",
            label=f"{label}, vcc2016-dev",
        )
        axes[1].plot(steps, [p["rate"] for p in ps], marker=marker, label=label)
    axes[0].set(xlabel="training steps (stage 2 after the chosen stage-1 step)", ylabel="dev MAP")
    axes[1].set(xlabel="training steps", ylabel="tokens/s (built-in dev half)")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(Ship, argv, __doc__)
    root, corpus = Path(args.root).resolve(), str(Path(args.corpus).resolve())
    root.mkdir(parents=True, exist_ok=True)
    log, cache_file = root / "ship.log", root / "curve.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    foreign = str(Path(args.foreign).resolve()) if args.foreign else ""
    sets = Sets(corpus, foreign, vcc_manifest=args.vcc_manifest)

    vq_dir = train("vq_ship.yaml", root, corpus, "vq", [], log)
    curve1 = curve_points(1, vq_dir, "vq", sets, cache)
    cache_file.write_text(json.dumps(cache, indent=1))
    chosen1 = stop_rising(curve1, args.tolerance)
    refine_dir = train(
        "refine_ship.yaml",
        root,
        corpus,
        "refine",
        [f"init_checkpoint={chosen1['checkpoint']}"],
        log,
    )
    start = dict(chosen1, stage=2, steps=0)
    curve2 = [start, *curve_points(2, refine_dir, "pairalign", sets, cache)]
    cache_file.write_text(json.dumps(cache, indent=1))
    chosen2 = stop_rising(curve2[1:], args.tolerance)

    name = f"refine-ship-step{chosen2['steps']}"
    found = measure_checkpoint(
        root, name, chosen2["checkpoint"], "refine", corpus, Path(args.dense_dir), log
    )
    shipped = refine_result([found], sets)
    kind, note = decide_kind(shipped)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pairalign",
            "export",
            chosen2["checkpoint"],
            args.export,
            "--default-kind",
            kind,
            "--kind-note",
            note,
        ],
        check=True,
    )
    minutes = sum(float(p.read_text()) for p in root.glob("*-ship.train_seconds")) / 60
    result = {
        "recipe": {
            "stage1": load_yaml(CONFIGS / "vq_ship.yaml"),
            "stage2": load_yaml(CONFIGS / "refine_ship.yaml"),
            "stage1_config": "workflows/configs/vq_ship.yaml",
            "stage2_config": "workflows/configs/refine_ship.yaml",
            "rule": f"first checkpoint within {args.tolerance} of the best mean dev MAP "
            "(built-in dev half, vcc2016-dev dev half); the shipped stages are the checkpoints at "
            "`steps` of runs of these configs (training is deterministic for a seed: a rebuild "
            "gives the same checkpoints)",
        },
        "learning_curve": [
            {k: p[k] for k in ("stage", "steps", "dev_map", "vcc_dev_map", "rate")}
            for p in curve1 + curve2
        ],
        "default_kind": kind,
        "kind_note": note,
        "export": args.export,
        **shipped,
        "steps": {"stage1": chosen1["steps"], "stage2": chosen2["steps"]},
        "train_minutes": round(minutes, 1),
        "seeds_note": "one seed (0): the shipped recipe was trained once",
        "date": datetime.date.today().isoformat(),
    }
    write_json(args.out, result)
    plot(curve1 + curve2, chosen1["steps"], Path(args.out).with_name("ship_learning_curve.png"))
    print(
        yaml.safe_dump(
            {k: v for k, v in result.items() if k not in ("recipe", "learning_curve")},
            sort_keys=False,
        )
    )


if __name__ == "__main__":
    main()
