"""The sweep's stage is one of `pairalign.stages.STAGES`, checked where the config is read, and
trials start from the section named after it."""

from __future__ import annotations

import pytest

from pairalign.config import ConfigError, from_dict
from pairalign.jobs.tuning import SweepConfig, stage_base, sweep_stage
from pairalign.stages import STAGES


def test_the_sweep_trains_a_stage_of_the_registry():
    for name in STAGES:
        config = from_dict(SweepConfig, {"stage": name, name: {"seed": 3}})
        assert sweep_stage(config) is STAGES[name] and stage_base(config).seed == 3
    with pytest.raises(ConfigError, match=r"stage: 'dense' is not one of \['refine', 'vq'\]"):
        from_dict(SweepConfig, {"stage": "dense"})
