"""Frame alignment between views from their time maps."""

import torch

from pairalign.objectives.alignment import align_frames


def run(warp_a=1.0, shift_a=0.0, warp_b=1.0, shift_b=0.0, seconds=3.0, frames=75):
    t = lambda v: torch.tensor([v])  # noqa: E731
    partner, valid = align_frames(
        frames, 0.04, t(warp_a), t(shift_a), t(warp_b), t(shift_b), t(seconds)
    )
    return partner[0], valid[0]


def test_identical_time_maps_pair_each_frame_with_itself():
    partner, valid = run()
    assert valid.all()
    assert torch.equal(partner, torch.arange(75))


def test_a_delay_in_view_b_moves_partners_later():
    partner, valid = run(shift_b=0.2)  # B hears everything 0.2 s (5 frames) later
    assert torch.equal(partner[valid], torch.arange(75)[valid] + 5)
    assert not valid[-5:].any()  # their partners would fall past B's end


def test_speed_change_scales_positions():
    partner, valid = run(warp_b=1.25)  # B plays 1.25x faster: source t -> t / 1.25
    i = torch.arange(75)
    expected = torch.floor(((i + 0.5) * 0.04 / 1.25) / 0.04).long()
    assert torch.equal(partner[valid], expected[valid]) and valid.all()


def test_frames_outside_the_real_audio_are_invalid():
    _, valid = run(seconds=2.0)
    assert valid[:50].all() and not valid[50:].any()
    _, valid = run(shift_a=0.4)  # A's first 0.4 s are zero-fill before the source starts
    assert not valid[:10].any() and valid[10:].any()
