"""Frame alignment between views from their time maps."""

import numpy as np
import torch

from pairalign.objectives.alignment import align_frames, view_to_view


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


def test_a_cross_voice_pair_goes_through_the_map_between_the_crops():
    """B's crop says A's content 1.5x slower, starting 0.1 s later: A's frame at source time s
    pairs with B's frame at 0.1 + 1.5 s; B's real audio ends at 2.0 s."""
    grid = torch.arange(301, dtype=torch.float32) * 0.01
    time_b = (0.1 + 1.5 * grid)[None]
    ones, zeros = torch.ones(1), torch.zeros(1)
    partner, valid = align_frames(
        100, 0.02, ones, zeros, ones, zeros, torch.full((1,), 2.0), time_b, torch.full((1,), 2.0)
    )
    centre = (torch.arange(100) + 0.5) * 0.02
    expected = torch.floor((0.1 + 1.5 * centre) / 0.02).long()
    inside = 0.1 + 1.5 * centre < 2.0
    assert torch.equal(valid[0], inside)
    assert torch.equal(partner[0][inside], expected[inside])


def test_view_to_view_inverts_across_the_pair():
    grid = torch.arange(301, dtype=torch.float32) * 0.01
    batch = {
        "warp_a": torch.tensor([1.1]),
        "shift_a": torch.tensor([0.05]),
        "warp_b": torch.tensor([0.9]),
        "shift_b": torch.tensor([-0.02]),
        "time_b": (0.2 + 1.25 * grid)[None],
    }
    t = np.array([0.3, 0.9, 1.7])
    in_b = view_to_view(t, batch, 0, "a", "b")
    source_a = (t - 0.05) * 1.1
    np.testing.assert_allclose(in_b, (0.2 + 1.25 * source_a) / 0.9 - 0.02, atol=1e-5)
    np.testing.assert_allclose(view_to_view(in_b, batch, 0, "b", "a"), t, atol=1e-5)
    same = {k: v for k, v in batch.items() if k != "time_b"}  # one recording: warps only
    np.testing.assert_allclose(view_to_view(t, same, 0, "a", "b"), source_a / 0.9 - 0.02, atol=1e-6)


def test_swapped_pairs_frames_of_b_with_frames_of_a():
    from pairalign.objectives.alignment import batch_frame_pairs, swapped

    grid = torch.arange(301, dtype=torch.float32) * 0.01
    batch = {
        "warp_a": torch.tensor([1.0]),
        "shift_a": torch.tensor([0.0]),
        "warp_b": torch.tensor([1.0]),
        "shift_b": torch.tensor([0.0]),
        "source_seconds": torch.tensor([3.0]),
        "source_seconds_b": torch.tensor([3.0]),
        "time_b": (0.5 * grid)[None],  # B says A's content twice as fast
    }
    back = swapped(batch)
    np.testing.assert_allclose(back["time_b"][0, :100].numpy(), 2 * grid[:100].numpy(), atol=1e-5)
    partner, valid = batch_frame_pairs(back, 150, 0.02)
    assert valid[0, :70].all()
    expected = torch.floor((2 * (torch.arange(70) + 0.5) * 0.02) / 0.02).long()
    assert torch.equal(partner[0, :70], expected)
