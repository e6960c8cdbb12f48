"""Stage-2 switches without Ray: when the EMA teacher is off, and DDP's unused-parameter flag."""

from pairalign.objectives.refine_config import (
    RefineObjective,
    TeacherConfig,
    TermWeights,
)
from pairalign.objectives.refine_teacher import teacher_share, teacher_used
from pairalign.objectives.refine_terms import unused_parameters


def test_teacher_start_at_max_steps_switches_the_teacher_off():
    off = TeacherConfig(start=500, ramp=1)
    assert not teacher_used(off, max_steps=500)
    assert all(teacher_share(step, off) == 0.0 for step in range(500))  # the steps run_loop runs
    on = TeacherConfig(start=499, ramp=1)
    assert teacher_used(on, max_steps=500) and teacher_share(499, on) == 1.0
    assert teacher_used(TeacherConfig(), max_steps=500)  # the default: teacher from step 150


def test_unused_parameters_flag_ignores_the_stage1_weight_of_a_frozen_tokenizer():
    assert not unused_parameters(RefineObjective())
    assert unused_parameters(RefineObjective(weights=TermWeights(stage1=0.0)))
    assert not unused_parameters(RefineObjective(weights=TermWeights(stage1=0.0), freeze_vq=True))
    assert unused_parameters(RefineObjective(weights=TermWeights(timing=0.0), freeze_vq=True))
