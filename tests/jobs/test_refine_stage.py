"""Stage-2 job switches without Ray: when the EMA teacher is off, and DDP's unused-parameter flag."""

from pairalign.jobs.refine_stage import some_terms_off, teacher_share, teacher_used
from pairalign.objectives.stage2 import Stage2Config


def test_teacher_start_at_max_steps_switches_the_teacher_off():
    off = Stage2Config(teacher_start=500, teacher_ramp=1)
    assert not teacher_used(off, max_steps=500)
    assert all(teacher_share(step, off) == 0.0 for step in range(500))  # the steps run_loop runs
    on = Stage2Config(teacher_start=499, teacher_ramp=1)
    assert teacher_used(on, max_steps=500) and teacher_share(499, on) == 1.0
    assert teacher_used(Stage2Config(), max_steps=500)  # the default: teacher from step 150


def test_unused_parameters_flag_ignores_the_stage1_weight_of_a_frozen_tokenizer():
    assert not some_terms_off(Stage2Config())
    assert some_terms_off(Stage2Config(stage1=0.0))
    assert not some_terms_off(Stage2Config(stage1=0.0, freeze_tokenizer=True))
    assert some_terms_off(Stage2Config(timing=0.0, freeze_tokenizer=True))
