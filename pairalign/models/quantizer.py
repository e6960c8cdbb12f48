"""Vector quantizer with an EMA codebook, k-means initialisation and dead-code restarts.

Latents and codes live on the unit sphere (cosine distance), which keeps codebook usage broad.
Gradients pass straight through; the commitment loss pulls latents to their codes. In DDP the
EMA statistics are summed over ranks and initialisation/restarts come from rank 0, so every
rank holds the same codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class QuantizerConfig:
    codebook_size: int = 32
    code_dim: int = 32
    decay: float = 0.99
    kmeans_iters: int = 10
    dead_after: float = 0.5  # a code whose EMA count falls below this is restarted
    temperature: float = 0.1  # for the soft assignment logits


@dataclass
class Quantized:
    """What the quantizer returns for frames (B, T, D)."""

    codes: torch.Tensor  # (B, T) int64
    quantized: torch.Tensor  # (B, T, C) straight-through in training, codebook rows in eval
    latents: torch.Tensor  # (B, T, C) unit-norm projections of the input frames
    logits: torch.Tensor  # (B, T, K) cosine similarity / temperature
    losses: dict[str, torch.Tensor]  # {"vq/commit": ...}


class VectorQuantizer(nn.Module):
    def __init__(self, dim: int, config: QuantizerConfig) -> None:
        super().__init__()
        self.config = config
        self.project = nn.Linear(dim, config.code_dim)
        k, c = config.codebook_size, config.code_dim
        self.register_buffer("codebook", F.normalize(torch.randn(k, c), dim=-1))
        self.register_buffer("ema_count", torch.ones(k))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("restarts", torch.tensor(0, dtype=torch.long))

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None) -> Quantized:
        """frames (B, T, D); mask (B, T) True where a frame is real (used for EMA updates)."""
        latents = F.normalize(self.project(frames), dim=-1)  # (B, T, C)
        if self.training:
            flat = latents.detach()[mask] if mask is not None else latents.detach().flatten(0, 1)
            if not bool(self.initialised):
                self._kmeans_init(flat)
        # a copy: the EMA update below changes the codebook in place, and logits may be trained
        codebook = self.codebook.clone() if self.training else self.codebook
        logits = latents @ codebook.t() / self.config.temperature  # (B, T, K)
        codes = logits.argmax(dim=-1)  # (B, T)
        chosen = codebook[codes]  # (B, T, C)
        if self.training:
            flat_codes = codes[mask] if mask is not None else codes.flatten()
            self._ema_update(flat, flat_codes)
            quantized = latents + (chosen - latents).detach()
        else:
            quantized = chosen
        commit = F.mse_loss(latents, chosen.detach(), reduction="none").sum(-1)  # (B, T)
        commit = commit[mask].mean() if mask is not None else commit.mean()
        return Quantized(codes, quantized, latents, logits, {"vq/commit": commit})

    def costs(self, quantized: Quantized) -> torch.Tensor:
        """Each frame's distance to each code, 1 - cosine similarity (latents and codes are unit
        vectors, the logits their cosine over the temperature): what DPDP segments.  # (B, T, K)"""
        return 1 - quantized.logits.detach() * self.config.temperature

    @torch.no_grad()
    def usage(self) -> dict[str, float]:
        """Codebook health from the EMA counts: share of live codes and perplexity."""
        p = self.ema_count / self.ema_count.sum()
        perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
        live = (self.ema_count >= self.config.dead_after).float().mean()
        return {"vq/live_codes": float(live), "vq/ema_perplexity": float(perplexity)}

    @torch.no_grad()
    def _kmeans_init(self, flat: torch.Tensor) -> None:
        k = self.config.codebook_size
        generator = torch.Generator(device="cpu").manual_seed(0)
        pick = torch.randint(len(flat), (k,), generator=generator).to(flat.device)
        centroids = flat[pick].clone()
        for _ in range(self.config.kmeans_iters):
            assign = (flat @ centroids.t()).argmax(dim=-1)
            sums = torch.zeros_like(centroids).index_add_(0, assign, flat)
            counts = torch.bincount(assign, minlength=k).float()
            empty = counts == 0
            centroids = torch.where(empty[:, None], centroids, F.normalize(sums, dim=-1))
        _broadcast(centroids)
        self.codebook.copy_(centroids)
        self.ema_sum.copy_(centroids)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        k, decay = self.config.codebook_size, self.config.decay
        counts = torch.bincount(codes, minlength=k).float()
        sums = torch.zeros_like(self.ema_sum).index_add_(0, codes, flat)
        _all_reduce(counts)
        _all_reduce(sums)
        self.ema_count.mul_(decay).add_(counts, alpha=1 - decay)
        self.ema_sum.mul_(decay).add_(sums, alpha=1 - decay)
        self.codebook.copy_(F.normalize(self.ema_sum, dim=-1))
        self._restart_dead(flat)

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor) -> None:
        dead = self.ema_count < self.config.dead_after  # identical on every rank
        n = int(dead.sum())
        if n == 0 or len(flat) == 0:
            return
        pick = torch.randint(len(flat), (n,), device=flat.device)
        fresh = flat[pick] + 0.01 * torch.randn_like(flat[pick])
        fresh = F.normalize(fresh, dim=-1)
        _broadcast(fresh)
        self.codebook[dead] = fresh
        self.ema_sum[dead] = fresh
        self.ema_count[dead] = 1.0
        self.restarts.add_(n)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce(t: torch.Tensor) -> None:
    if _distributed():
        dist.all_reduce(t)


def _broadcast(t: torch.Tensor) -> None:
    if _distributed():
        dist.broadcast(t, src=0)


def group_codes(codebook: torch.Tensor, groups: int, iters: int = 50, seed: int = 0) -> np.ndarray:
    """Spherical k-means of the codebook rows into `groups` clusters (k-means++ start, seeded):
    the group of each code.  # (K, C) -> (K,)"""
    rows = F.normalize(codebook.detach().cpu().double(), dim=-1)
    k = len(rows)
    if not 0 < groups <= k:
        raise ValueError(f"groups={groups} must be in 1..{k} (the codebook size)")
    generator = torch.Generator().manual_seed(seed)
    centres = [int(torch.randint(k, (1,), generator=generator))]
    for _ in range(groups - 1):  # k-means++: next centre far from the chosen ones
        far = (1 - rows @ rows[centres].T).clamp(min=0).min(dim=1).values ** 2
        centres.append(int(torch.multinomial(far + 1e-12, 1, generator=generator)))
    means = rows[centres].clone()
    assign = (rows @ means.T).argmax(dim=1)
    for _ in range(iters):
        for g in range(groups):
            members = rows[assign == g]
            if len(members):
                means[g] = F.normalize(members.sum(0), dim=0)
        new = (rows @ means.T).argmax(dim=1)
        if torch.equal(new, assign):
            break
        assign = new
    return assign.numpy().astype(np.int64)
