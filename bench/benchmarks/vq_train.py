"""Stage-1 training throughput (clips/s, a clip being one pair of 3 s views).

    PYTHONPATH=. python -m bench.benchmarks.vq_train                  # model only, one core
    PYTHONPATH=. python -m bench.benchmarks.vq_train run=runs/vq      # + read a finished vq.py run

model: forward + backward + AdamW step of the stage-1 objective on synthetic 3 s pairs, one
thread (the model's own cost per core). run: the median `train/clips_per_second` that a finished
`workflows/vq.py` run logged to MLflow (Ray Data views + DDP workers on the same machine), first
report excluded. Prints one JSON line.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bench.cli import parse
from pairalign.models.vq_model import VQModel, model_config
from pairalign.objectives.stage1 import Stage1Weights, stage1_losses


@dataclass(frozen=True)
class VQTrainBench:
    size: str = "tiny"  # model size (model_config)
    batch: int = 16  # pairs per step
    steps: int = 10  # timed steps, after two untimed
    run: str = ""  # storage_path of a finished vq.py run
    name: str = "vq-tiny"  # its run name


def model_throughput(size: str, batch: int, steps: int) -> float:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = VQModel(model_config(size)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    wave = 0.1 * torch.randn(batch, 48_000)
    data = {
        "view_a": wave,
        "view_b": wave + 0.01 * torch.randn_like(wave),
        "warp_a": torch.ones(batch),
        "shift_a": torch.zeros(batch),
        "warp_b": torch.full((batch,), 1.05),
        "shift_b": torch.full((batch,), 0.03),
        "source_seconds": torch.full((batch,), 2.8),
    }
    for i in range(steps + 2):
        if i == 2:
            start = time.perf_counter()
        losses, _, _ = stage1_losses(model, data, Stage1Weights())
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def run_throughput(storage: str, name: str) -> float:
    import mlflow

    from pairalign.jobs.tracking import find_mlflow_run

    run_id = find_mlflow_run(f"sqlite:///{os.path.abspath(storage)}/mlflow.db", name)
    if run_id is None:
        raise SystemExit(f"{storage}: no MLflow run named {name!r}")
    history = mlflow.MlflowClient().get_metric_history(run_id, "train/clips_per_second")
    values = [m.value for m in sorted(history, key=lambda m: m.step)][1:]
    return statistics.median(values)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse(VQTrainBench, argv, __doc__)
    result = {
        "bench": "vq_train",
        "size": args.size,
        "batch": args.batch,
        "model_clips_per_second_one_core": round(
            model_throughput(args.size, args.batch, args.steps), 1
        ),
    }
    if args.run:
        result["run_clips_per_second"] = round(run_throughput(args.run, args.name), 1)
    result |= {
        "cores": os.cpu_count(),
        "cpu": platform.machine(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
