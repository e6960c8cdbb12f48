"""Any training stage on this process, without Ray: the quick loop for trying an idea in minutes
before a full `workflows/vq.py` or `workflows/refine.py` run.

    python workflows/local.py refine init_checkpoint=runs/vq-tiny/checkpoint_... \\
        train.max_steps=40 objective.weights.contrast=0 [key=value ...] [local.key=value ...]
    python workflows/local.py vq train.max_steps=40 local.threads=1

The first argument is the stage (vq, refine); every `key=value` is a key of its workflow's YAML
(`workflows/configs/<stage>.yaml`, `--config` for another), as `workflows/<stage>.py` takes it;
`local.` keys are this command's (`pairalign.stages.local.LocalRun`: out_dir, cache_dir,
batch_size, dev_sentences, view_clips, threads). It builds the train split's paired views once
and caches them (`<storage_path>/view-cache/`, reused by the next variant on the same corpus and
views), trains with the recipe and loop the Ray run uses (one batch of `train.batch_size x
train.num_workers` pairs per step), then prints the figures of the result on the dev half of the
eval split and writes them to `<storage_path>/local/<name>/figures.json`
(`pairalign.stages.local.run_local`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pairalign.config import ConfigError, apply_overrides, from_dict
from pairalign.models.checkpoint import CheckpointError
from pairalign.stages import STAGES
from pairalign.stages.local import LocalRun, run_local
from workflows.cli import parse_args, seed_everything, setup_logging

SHOWN = (
    "dev/pairalign/token_rate",
    "dev/pairalign/map",
    "dev/pairalign/consistency",
    "dev/pairalign/cross_voice_consistency",
    "dev/vq/token_rate",
    "dev/vq/map",
    "dev/vq/cross_voice_consistency",
    "dev/vq/aligned_code_agreement",
    "views_seconds",
    "train_seconds",
    "seconds_per_step",
    "cpu_seconds_per_step",
    "measure_seconds",
)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in STAGES:
        raise SystemExit(
            f"usage: workflows/local.py {{{','.join(STAGES)}}} [key=value ...]\n{__doc__}"
        )
    stage, rest = STAGES[argv[0]], argv[1:]
    local_args = [a.removeprefix("local.") for a in rest if a.startswith("local.")]
    try:  # a wrong local.* key says so in one line, as the stage's keys do
        local = from_dict(LocalRun, apply_overrides({}, local_args), where="local")
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None
    config = parse_args(
        stage.config,
        stage.config_file,
        [a for a in rest if not a.startswith("local.")],
        description=__doc__,
    )
    setup_logging()
    seed_everything(config.seed)
    try:  # a wrong init_checkpoint says so in one line, before any work
        inputs = stage.setup(config)
    except (CheckpointError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    try:  # an out_dir that is not a local run's is left alone, in one line
        figures = run_local(stage, config, local, inputs)
    except FileExistsError as err:
        raise SystemExit(f"error: {err}") from None
    shown = {k: round(figures[k], 4) for k in SHOWN if k in figures}
    print(json.dumps({"checkpoint": figures["checkpoint"], **shown}, indent=1))
    return figures


if __name__ == "__main__":
    main()
