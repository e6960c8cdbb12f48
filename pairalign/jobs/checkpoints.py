"""Which checkpoints of a Ray Train run exist: the newest one Ray Train recorded (what a new
`fit` resumes from), and the clean-up of uploads it never recorded."""

from __future__ import annotations

import json
import logging

import ray.train

from pairalign.data.storage import arrow_filesystem, join, to_url, url_to_fs


def drop_unrecorded_checkpoints(storage_path: str, name: str, step: int) -> list[str]:
    """Delete the checkpoint directories of run `name` newer than `step`, the checkpoint Ray Train
    resumed from: uploads that a killed worker group finished before Ray Train recorded them.
    Their steps are trained again, so without this a step would have two checkpoints."""
    fs, root = url_to_fs(join(storage_path, name))
    fs.invalidate_cache()
    dropped = []
    for directory in fs.glob(f"{root}/checkpoint_*"):
        if not fs.isdir(directory):  # Ray Train's own checkpoint_manager_snapshot.json
            continue
        if fs.exists(f"{directory}/step.json"):
            with fs.open(f"{directory}/step.json") as f:
                if int(json.load(f)["step"]) <= step:
                    continue
        fs.rm(directory, recursive=True)
        dropped.append(directory)
    if dropped:
        logging.getLogger("pairalign").warning(
            "dropped %d checkpoint(s) newer than step %d that Ray Train never recorded: %s",
            len(dropped),
            step,
            ", ".join(dropped),
        )
    return dropped


def latest_checkpoint(storage_path: str, name: str) -> tuple[int, str]:
    """(step, directory or URL) of the newest checkpoint Ray Train recorded for run `name` (the one
    a new `fit` resumes from); (0, "") if it has none. A checkpoint directory whose upload was cut
    off by a killed job is not recorded, so it is never picked."""
    fs, root = url_to_fs(join(storage_path, name))
    if not fs.exists(root):
        return 0, ""
    filesystem, run_dir = arrow_filesystem(join(storage_path, name))
    try:
        result = ray.train.Result.from_path(run_dir, storage_filesystem=filesystem)
    except RuntimeError:  # no checkpoint record yet
        return 0, ""
    if result.checkpoint is None:
        return 0, ""
    return int(result.metrics["step"]), to_url(storage_path, result.checkpoint.path)


def latest_step(storage_path: str, name: str) -> int:
    """The step of the newest checkpoint of run `name` (0 if none)."""
    return latest_checkpoint(storage_path, name)[0]
