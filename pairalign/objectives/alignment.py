"""Which frame of view B hears what frame i of view A heard, from the views' time maps.

A view maps its crop's source time s to `s / warp + shift`. Frame i of A is centred at
t_A = (i + 0.5) * h, so its source time is s = (t_A - shift_A) * warp_A. When the two views are
of one recording, B's crop has the same source time; when B is another speaker's rendition
(a cross-voice pair), the batch's `time_b` carries B's crop seconds at A's crop seconds
0, g, 2g, ... (`pairalign.data.views.ViewConfig.time_grid`, from the DTW path between the two
recordings), and s goes to B's crop through it. A's source time then goes to B's view as
s_B / warp_B + shift_B, and its partner is frame floor(t_B / h). Pairs whose source time falls
outside A's real audio, whose mapped time falls outside B's, or whose partner falls outside B,
are invalid.
"""

from __future__ import annotations

import numpy as np
import torch

from pairalign.data.views import TIME_GRID_SECONDS
from pairalign.units import Seconds


def align_frames(
    num_frames: int,
    frame_seconds: Seconds,
    warp_a: torch.Tensor,
    shift_a: torch.Tensor,
    warp_b: torch.Tensor,
    shift_b: torch.Tensor,
    source_seconds: torch.Tensor,
    time_b: torch.Tensor | None = None,
    source_seconds_b: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (partner (B, T) int64 index into B's frames, valid (B, T) bool); inputs are (B,),
    `time_b` (B, G) for pairs of two recordings (None: one recording, B's crop is A's)."""
    centre = (torch.arange(num_frames, device=warp_a.device) + 0.5) * frame_seconds  # (T,)
    source = (centre[None] - shift_a[:, None]) * warp_a[:, None]  # (B, T)
    valid = (source >= 0) & (source < source_seconds[:, None])
    source_b = source
    if time_b is not None:
        source_b = crop_to_crop(source, time_b)
        valid &= source_b >= 0
        if source_seconds_b is not None:
            valid &= source_b < source_seconds_b[:, None]
    in_b = source_b / warp_b[:, None] + shift_b[:, None]
    partner = torch.floor(in_b / frame_seconds).long()
    valid &= (partner >= 0) & (partner < num_frames)
    return partner.clamp(0, num_frames - 1), valid


def batch_frame_pairs(
    batch: dict[str, torch.Tensor], num_frames: int, frame_seconds: Seconds
) -> tuple[torch.Tensor, torch.Tensor]:
    """`align_frames` for a batch of paired views (today's pairs or cross-voice ones)."""
    return align_frames(
        num_frames,
        frame_seconds,
        batch["warp_a"],
        batch["shift_a"],
        batch["warp_b"],
        batch["shift_b"],
        batch["source_seconds"],
        batch.get("time_b"),
        batch.get("source_seconds_b"),
    )


def swapped(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The pair seen from B: views, warps, shifts and real seconds exchanged, and `time_b`
    inverted (A's crop seconds on the grid of B's), so `batch_frame_pairs(swapped(batch), ...)`
    gives each frame of B its partner in A."""
    out = dict(batch)
    for key in ("view", "warp", "shift"):
        if f"{key}_a" in batch:
            out[f"{key}_a"], out[f"{key}_b"] = batch[f"{key}_b"], batch[f"{key}_a"]
    if "time_b" in batch:
        out["source_seconds"] = batch["source_seconds_b"]
        out["source_seconds_b"] = batch["source_seconds"]
        time_b = batch["time_b"].detach().cpu().double().numpy()
        grid = np.arange(time_b.shape[1]) * TIME_GRID_SECONDS
        inverse = np.stack([_interp(grid, row, grid) for row in time_b])
        out["time_b"] = torch.as_tensor(inverse, dtype=batch["time_b"].dtype).to(
            batch["time_b"].device
        )
    return out


def crop_to_crop(source: torch.Tensor, time_b: torch.Tensor) -> torch.Tensor:
    """A's crop seconds -> B's, linear between the grid points of `time_b` and continued with
    its end slopes beyond them.  # (B, T), (B, G) -> (B, T)"""
    g = time_b.shape[1]
    position = source / TIME_GRID_SECONDS
    left = position.floor().clamp(0, g - 2).long()
    low = time_b.gather(1, left)
    high = time_b.gather(1, left + 1)
    return low + (position - left) * (high - low)


def view_to_view(
    seconds: np.ndarray, batch: dict[str, torch.Tensor], row: int, src: str, dst: str
) -> np.ndarray:
    """Times in view `src` of pair `row` -> the times in view `dst` that hear the same content
    (through the source time of each crop, and `time_b` between the crops of a cross-voice
    pair).  # (L,) -> (L,)"""
    warp_s, shift_s = float(batch[f"warp_{src}"][row]), float(batch[f"shift_{src}"][row])
    warp_d, shift_d = float(batch[f"warp_{dst}"][row]), float(batch[f"shift_{dst}"][row])
    source = (seconds - shift_s) * warp_s  # in `seconds`' own dtype, as before cross pairs
    if "time_b" in batch and src != dst:
        time_b = batch["time_b"][row].detach().cpu().double().numpy()
        grid = np.arange(len(time_b)) * TIME_GRID_SECONDS
        source = _interp(source, grid, time_b) if src == "a" else _interp(source, time_b, grid)
    return source / warp_d + shift_d


def _interp(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Piecewise-linear through (x, y), continued with the end slopes.  # (L,) -> (L,)"""
    out = np.interp(t, x, y)
    first = (y[1] - y[0]) / (x[1] - x[0])
    last = (y[-1] - y[-2]) / (x[-1] - x[-2])
    out = np.where(t < x[0], y[0] + first * (t - x[0]), out)
    return np.where(t > x[-1], y[-1] + last * (t - x[-1]), out)
