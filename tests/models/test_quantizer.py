"""VQ invariants: eval output is codebook rows, codes valid, EMA tracks data, dead codes revive."""

import torch
import torch.nn.functional as F

from pairalign.models.quantizer import QuantizerConfig, VectorQuantizer


def make(k: int = 16, dim: int = 8) -> VectorQuantizer:
    torch.manual_seed(0)
    return VectorQuantizer(dim, QuantizerConfig(codebook_size=k, code_dim=4, kmeans_iters=5))


def test_eval_output_equals_codebook_rows_of_the_codes():
    vq = make()
    vq.train()
    vq(torch.randn(4, 20, 8))  # k-means initialisation and one EMA update
    vq.eval()
    out = vq(torch.randn(3, 11, 8))
    assert out.codes.shape == (3, 11) and out.codes.dtype == torch.int64
    assert ((out.codes >= 0) & (out.codes < 16)).all()
    torch.testing.assert_close(out.quantized, vq.codebook[out.codes])
    assert torch.isfinite(out.quantized).all() and torch.isfinite(out.losses["vq/commit"])


def test_codes_are_nearest_codebook_rows():
    vq = make().eval()
    out = vq(torch.randn(2, 9, 8))
    distances = torch.cdist(out.latents.reshape(-1, 4), vq.codebook)
    assert torch.equal(out.codes.reshape(-1), distances.argmin(dim=-1))


def test_straight_through_passes_gradients_to_the_encoder_side():
    vq = make().train()
    x = torch.randn(2, 10, 8, requires_grad=True)
    out = vq(x)
    (out.quantized.sum() + out.losses["vq/commit"]).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_kmeans_init_then_ema_moves_codes_to_the_data():
    vq = make(k=4)
    centres = F.normalize(torch.randn(4, 4), dim=-1)
    with torch.no_grad():  # make the projection the identity on the first 4 dims
        vq.project.weight.zero_()
        vq.project.weight[:, :4] = torch.eye(4)
        vq.project.bias.zero_()
    data = centres[torch.randint(0, 4, (2, 200))] + 0.01 * torch.randn(2, 200, 4)
    frames = torch.cat([data, torch.zeros(2, 200, 4)], dim=-1)
    vq.train()
    for _ in range(20):
        vq(frames)
    assert bool(vq.initialised)
    nearest = (vq.codebook @ centres.t()).max(dim=0).values  # best code for each centre
    assert (nearest > 0.95).all()  # random codes would sit far lower


def test_dead_codes_are_restarted_near_live_data():
    vq = make(k=8).train()
    x = torch.randn(2, 50, 8)
    vq(x)
    with torch.no_grad():
        vq.ema_count[:3] = 0.0  # three codes nobody uses
        vq.codebook[:3] = -vq.codebook[:3]
    before = int(vq.restarts)
    out = vq(x)
    assert int(vq.restarts) >= before + 3
    assert (vq.ema_count[:3] >= 0.5).all()
    similarity = vq.codebook[:3] @ out.latents.detach().reshape(-1, 4).t()
    assert (similarity.max(dim=-1).values > 0.95).all()  # each revived code sits on a real latent


def test_usage_reports_live_share_and_perplexity():
    vq = make(k=8)
    with torch.no_grad():
        vq.ema_count.fill_(1.0)
    usage = vq.usage()
    assert usage["vq/live_codes"] == 1.0
    assert abs(usage["vq/ema_perplexity"] - 8.0) < 1e-3
