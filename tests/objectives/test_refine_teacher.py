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


def test_the_gate_gives_teacher_targets_only_while_the_teacher_retrieves_as_well():
    import torch

    from pairalign.models.decoder_kinds import DecoderConfig
    from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
    from pairalign.models.vq_model import model_config
    from pairalign.objectives.refine_teacher import TeacherSchedule

    model = PairAlignModel(PairAlignConfig(model_config("tiny"), DecoderConfig(kind="segment")))
    batch = {
        "view_a": torch.zeros(2, 8000),
        "view_b": torch.zeros(2, 8000),
        "source_seconds": torch.full((2,), 0.5),
        "warp_a": torch.ones(2),
        "warp_b": torch.ones(2),
        "shift_a": torch.zeros(2),
        "shift_b": torch.zeros(2),
    }
    schedule = TeacherSchedule(model, TeacherConfig(start=0, ramp=1), max_steps=10)
    assert schedule.share(5) == 1.0
    assert not schedule.judge(teacher_map=0.70, vq_target_map=0.80)  # worse: closed
    assert schedule.share(5) == 0.0 and schedule.targets(batch, 5) == (None, None)
    assert schedule.judge(teacher_map=0.80, vq_target_map=0.80)  # as good: open again
    assert schedule.share(5) == 1.0
    ungated = TeacherSchedule(model, TeacherConfig(start=0, ramp=1, gate=False), max_steps=10)
    assert ungated.judge(teacher_map=0.1, vq_target_map=0.9) and ungated.share(5) == 1.0
