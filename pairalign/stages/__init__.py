"""The training stages without Ray: each stage's config, model building, set-up from an init
checkpoint, recipe on one worker and the strings it is judged by, as one `Stage` object
(`STAGES`); the sections every stage's config has (`config.py`), stage 2's collapse watch
(`watch.py`) and the one-process run of any stage (`local.py`). Nothing here imports Ray
(`tests/stages/test_no_ray.py`): `pairalign.jobs` runs the same recipes on Ray Train."""

from __future__ import annotations

from pairalign.stages.refine import REFINE
from pairalign.stages.stage import Stage
from pairalign.stages.vq import VQ

STAGES: dict[str, Stage] = {stage.name: stage for stage in (VQ, REFINE)}


def stage_named(name: str) -> Stage:
    """The stage called `name`, or a ValueError naming the stages there are."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; expected one of {sorted(STAGES)}")
    return STAGES[name]


__all__ = ["REFINE", "STAGES", "VQ", "Stage", "stage_named"]
