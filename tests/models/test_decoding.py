"""The token decoder and greedy decoding: the KV cache changes nothing but the cost."""

import torch

from pairalign.models.decoder import TokenDecoder, Vocab
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.decoding import greedy_decode, max_lengths


def decoder_and_condition(seed: int = 0, batch: int = 5):
    torch.manual_seed(seed)
    decoder = TokenDecoder(
        DecoderConfig(dim=32, layers=2, heads=4, max_len=40), Vocab(12), condition_dim=24
    ).eval()
    frames = torch.randn(batch, 30, 24)
    mask = torch.arange(30)[None] < torch.tensor([30, 25, 20, 30, 10])[:batch, None]
    return decoder, frames, mask


def test_cached_decoding_gives_exactly_the_uncached_strings():
    for seed in range(3):
        decoder, frames, mask = decoder_and_condition(seed)
        budget = torch.tensor([20, 35, 5, 12, 38])
        cached = greedy_decode(decoder, decoder.memory(frames, mask), budget, use_cache=True)
        plain = greedy_decode(decoder, decoder.memory(frames, mask), budget, use_cache=False)
        assert cached.strings == plain.strings
        for a, b in zip(cached.timing, plain.timing, strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_strings_respect_budget_vocabulary_and_have_timing():
    decoder, frames, mask = decoder_and_condition()
    budget = torch.tensor([3, 7, 1, 12, 38])
    out = greedy_decode(decoder, decoder.memory(frames, mask), budget)
    for s, t, cap in zip(out.strings, out.timing, budget.tolist(), strict=True):
        assert 1 <= len(s) <= cap
        assert all(0 <= x < 12 for x in s)  # codes only: no PAD, BOS or EOS
        assert t.shape == (len(s), 2) and ((t >= 0) & (t <= 1)).all()


def test_eos_ends_a_string():
    decoder, frames, mask = decoder_and_condition()
    with torch.no_grad():  # make EOS the top choice after the first token
        decoder.logits.bias.zero_()
        decoder.logits.bias[decoder.vocab.eos] = 1e4
    out = greedy_decode(decoder, decoder.memory(frames, mask), torch.full((5,), 30))
    assert [len(s) for s in out.strings] == [1] * 5 and out.ended.all()


def test_max_lengths_follow_duration_and_rate():
    budget = max_lengths(torch.tensor([3.0, 1.0, 100.0]), rate=12.5, slack=1.5, cap=128)
    assert budget.tolist() == [57, 19, 126]
