"""Which frame of view B hears what frame i of view A heard, from the views' time maps.

A view maps source time s to `s / warp + shift`. Frame i of A is centred at t_A = (i + 0.5) * h,
so its source time is s = (t_A - shift_A) * warp_A and its partner in B is frame
floor((s / warp_B + shift_B) / h). Pairs whose source time falls outside the real audio, or whose
partner falls outside B, are invalid.
"""

from __future__ import annotations

import torch

from pairalign.units import Seconds


def align_frames(
    num_frames: int,
    frame_seconds: Seconds,
    warp_a: torch.Tensor,
    shift_a: torch.Tensor,
    warp_b: torch.Tensor,
    shift_b: torch.Tensor,
    source_seconds: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (partner (B, T) int64 index into B's frames, valid (B, T) bool); inputs are (B,)."""
    centre = (torch.arange(num_frames, device=warp_a.device) + 0.5) * frame_seconds  # (T,)
    source = (centre[None] - shift_a[:, None]) * warp_a[:, None]  # (B, T)
    in_b = source / warp_b[:, None] + shift_b[:, None]
    partner = torch.floor(in_b / frame_seconds).long()
    valid = (source >= 0) & (source < source_seconds[:, None])
    valid &= (partner >= 0) & (partner < num_frames)
    return partner.clamp(0, num_frames - 1), valid
