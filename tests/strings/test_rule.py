"""The VQ-string rule, written once: a scheme registered in one place is what the tokenizer's VQ
strings and the stage-2 training targets both use, and an input a scheme needs and is not given
is an error naming the scheme."""

import numpy as np
import pytest
import torch

from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.decoding import DecodingConfig
from pairalign.models.encoder import EncoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig
from pairalign.objectives.refine_config import RefineObjective, TargetConfig
from pairalign.objectives.refine_step import RefineStep
from pairalign.objectives.stage1 import Stage1Weights, stacked_seconds, stacked_views
from pairalign.strings.bpe import BPEMerges, apply_merges, learn_merges
from pairalign.strings.rule import (
    SCHEMES,
    Scheme,
    StringContext,
    VQStringConfig,
    string_runs,
)
from pairalign.strings.runs import Runs
from pairalign.tokenizing.tokenizer import Tokenizer

CONFIG = PairAlignConfig(
    vq=ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    ),
    decoder=DecoderConfig(dim=32, layers=1, heads=2),
    decoding=DecodingConfig(timing_seconds=1.0),
)


def cheapest(context: StringContext, config: VQStringConfig) -> Runs:
    """A dummy scheme: one token, the code of least summed cost over the clip's frames."""
    code = np.asarray([context.costs.sum(axis=0).argmin()], dtype=np.int64)
    return code, np.zeros(1, dtype=np.int64), np.asarray([len(context.codes)], dtype=np.int64)


@pytest.fixture
def registered(monkeypatch):
    """The dummy scheme under its key, for this test only."""
    monkeypatch.setitem(SCHEMES, "cheapest", Scheme(cheapest, needs=frozenset({"costs"})))
    return "cheapest"


def batch(n=3, samples=16_000):
    generator = torch.Generator().manual_seed(0)
    wave = 0.1 * torch.randn(n, samples, generator=generator)
    return {
        "view_a": wave,
        "view_b": wave + 0.01 * torch.randn(n, samples, generator=generator),
        "warp_a": torch.ones(n),
        "shift_a": torch.zeros(n),
        "warp_b": torch.full((n,), 1.1),
        "shift_b": torch.full((n,), 0.05),
        "source_seconds": torch.tensor([1.0, 0.8, 0.5]),
    }


def test_a_registered_scheme_makes_the_tokenizers_strings_and_the_training_targets(registered):
    torch.manual_seed(0)
    model = PairAlignModel(CONFIG).train()
    model(0.1 * torch.randn(2, 16_000))  # initialise the codebook
    targets = TargetConfig(scheme=registered, source="eval")  # the config accepts the new key
    step = RefineStep(model, RefineObjective(targets=targets), Stage1Weights())
    data = batch()
    seconds = stacked_seconds(data)
    both = model(stacked_views(data), seconds)
    found = step.vq_targets(data, seconds, both)  # the costs it needs are computed for it
    assert all(len(s) == 1 for s in found.a.strings + found.b.strings)

    tokenizer = Tokenizer(model, strings=VQStringConfig(reduce=registered))
    n = len(data["source_seconds"])
    vq = tokenizer.vq_strings(data["view_a"].numpy(), seconds[:n].tolist())
    assert vq == found.a.strings
    frames = [len(c) for c in tokenizer.frame_codes(data["view_a"].numpy(), seconds[:n].tolist())]
    frame = CONFIG.vq.frame_seconds
    for spans, length in zip(found.a.timing, frames, strict=True):  # the whole clip
        np.testing.assert_allclose(spans, [[0.0, length * frame]], atol=1e-6)


def partnered(context: StringContext, config: VQStringConfig) -> Runs:
    """A dummy scheme reading an input of its own: its partner's first code, over the clip."""
    code = np.asarray(context.extras["partner"][:1], dtype=np.int64)
    return code, np.zeros(1, dtype=np.int64), np.asarray([len(context.codes)], dtype=np.int64)


def test_a_scheme_without_an_input_it_needs_is_refused_by_name(monkeypatch):
    monkeypatch.setitem(SCHEMES, "partnered", Scheme(partnered, needs=frozenset({"partner"})))
    codes = np.asarray([1, 1, 2, 3, 3])
    with pytest.raises(ValueError, match=r"scheme 'dpdp' needs costs"):
        string_runs(StringContext(codes, seconds=1.0), VQStringConfig(rate=2.0, reduce="dpdp"))
    with pytest.raises(ValueError, match=r"scheme 'merge' needs seconds"):  # a rate's budget
        string_runs(StringContext(codes), VQStringConfig(rate=2.0))
    with pytest.raises(ValueError, match=r"scheme 'index' needs code_map"):  # groups
        string_runs(StringContext(codes), VQStringConfig(groups=2, reduce="index"))
    with pytest.raises(ValueError, match=r"scheme 'partnered' needs partner"):
        string_runs(StringContext(codes), VQStringConfig(reduce="partnered"))
    partner = StringContext(codes, extras={"partner": np.asarray([3, 3])})  # an input of its own
    assert string_runs(partner, VQStringConfig(reduce="partnered"))[0].tolist() == [3]
    costs = np.eye(4)[codes] * -1.0 + 1.0  # each frame nearest its own code
    found = string_runs(StringContext(codes, 1.0, costs), VQStringConfig(rate=2.0, reduce="dpdp"))
    assert len(found[0]) <= 2


def test_unknown_schemes_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"reduce='nope': expected one of \['bpe', 'dpdp'"):
        VQStringConfig(reduce="nope")
    with pytest.raises(ValueError, match=r"scheme='nope': expected one of \['bpe', 'dpdp'"):
        TargetConfig(scheme="nope")


def test_the_rule_is_the_run_operations_it_names():
    """merge/index: groups, short-run merge, then the rate; no rate keeps every run."""
    codes = np.asarray([0, 0, 0, 1, 2, 2, 3, 3, 3, 3])
    code_map = np.asarray([0, 0, 1, 1])  # codes 0, 1 -> group 0; 2, 3 -> group 1
    grouped = VQStringConfig(min_run_frames=1, groups=2)
    assert string_runs(StringContext(codes, code_map=code_map), grouped)[0].tolist() == [0, 1]
    merged = string_runs(StringContext(codes), VQStringConfig(min_run_frames=2))
    assert merged[0].tolist() == [0, 2, 3] and merged[2][-1] == len(codes)
    assert string_runs(StringContext(codes), VQStringConfig())[0].tolist() == [0, 1, 2, 3]
    index = string_runs(StringContext(codes, 1.0), VQStringConfig(rate=2.0, reduce="index"))
    assert index[0].tolist() == [0, 3]


def test_bpe_is_a_scheme_of_the_rule_with_merges_learned_on_collapsed_strings():
    """bpe: the run-collapsed codes encoded with merges learned by frequency; a fixed count for
    every clip, or the fewest that meet the clip's budget; a merged token spans its parts."""
    train = [[0, 1, 2, 0, 1, 3], [0, 1, 2, 3], [2, 0, 1, 2]]  # (0, 1), then (4, 2) most frequent
    merges = tuple(learn_merges(train, vocab_size=4, max_merges=10))
    assert merges[:2] == ((0, 1), (4, 2))
    codes = np.asarray([0, 0, 1, 2, 2, 2, 3, 0, 1, 1, 3])  # collapsed: 0 1 2 3 0 1 3
    context = StringContext(codes, seconds=1.0, extras={"bpe": BPEMerges(merges, 4)})
    collapsed = VQStringConfig(min_run_frames=1, reduce="bpe")  # rate 0: every merge
    values, starts, ends = string_runs(context, collapsed)
    assert values.tolist() == apply_merges([0, 1, 2, 3, 0, 1, 3], merges, len(merges), 4)
    assert values.tolist()[:2] == [5, 3] and (starts[0], ends[0]) == (0, 6)
    assert starts[0] == 0 and ends[-1] == len(codes) and np.all(starts[1:] == ends[:-1])
    for rate, kept in ((6.0, [4, 2, 3, 4, 3]), (4.0, [5, 3, 4, 3])):  # the fewest merges that fit
        budgeted = VQStringConfig(min_run_frames=1, rate=rate, reduce="bpe")
        assert string_runs(context, budgeted)[0].tolist() == kept
    fixed = StringContext(codes, seconds=1.0, extras={"bpe": BPEMerges(merges, 4, count=1)})
    assert string_runs(fixed, budgeted)[0].tolist() == [4, 2, 3, 4, 3]  # the corpus's count
    with pytest.raises(ValueError, match=r"scheme 'bpe' needs bpe"):
        string_runs(StringContext(codes, seconds=1.0), collapsed)
    with pytest.raises(ValueError, match="segments codes, not groups"):
        VQStringConfig(groups=2, reduce="bpe")
