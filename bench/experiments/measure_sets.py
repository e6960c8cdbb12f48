"""The evaluation sets every shipped figure is measured on, and a checkpoint's figures on them.

Sets: `builtin_test` (the built-in eval split's test half), `vcc_test` (the vcc2016-dev test half,
`bench/experiments/vcc.py`: one definition), `foreign` (unseen voices,
`bench/experiments/foreign_corpus.py`; skipped when no manifest is given). Each figure is the
library's `measure_tokenizer` on clean clips tokenized as the archive job does (3 s windows
overlapping by 1 s). Used by `bench/experiments/default_run.py` and `bench/experiments/ship.py`, so
the default and the shipped tokenizer are measured the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bench.experiments.vcc import vcc_half
from bench.experiments.vq_baselines import baseline_figures, load_half, load_train, map_at_rate
from pairalign.data.corpora.spec import CorpusConfig
from pairalign.data.views import ViewConfig
from pairalign.evaluation.eval_sets import EvalSetSpec, load_eval_set
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures
from pairalign.tokenizing.tokenizer import Tokenizer

BASELINES = ("merge", "dpdp", "bpe")


@dataclass
class Sets:
    """Loaded once per script: the clip sets and the BPE training clips."""

    corpus: str
    foreign_manifest: str = ""
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    clips: dict[str, ClipSet] = field(default_factory=dict)
    train: ClipSet | None = None

    def get(self, name: str) -> ClipSet:
        if name not in self.clips:
            if name == "builtin_test":
                self.clips[name] = load_half(CorpusConfig(builtin_dir=self.corpus), "test")
            elif name == "builtin_dev":
                self.clips[name] = load_half(CorpusConfig(builtin_dir=self.corpus), "dev")
            elif name in ("vcc_test", "vcc_dev"):
                self.clips[name] = vcc_half(name.split("_")[1], source=self.vcc_manifest)
            elif name == "foreign":
                spec = EvalSetSpec(name="foreign", source=self.foreign_manifest, split="test")
                self.clips[name] = load_eval_set(spec, ViewConfig(), view_clips=100)
            else:
                raise KeyError(name)
        return self.clips[name]

    def bpe_train(self) -> ClipSet:
        if self.train is None:
            self.train = load_train(CorpusConfig(builtin_dir=self.corpus))
        return self.train

    def names(self) -> list[str]:
        return ["builtin_test", "vcc_test"] + (["foreign"] if self.foreign_manifest else [])


def strings_figures(tokenizer: Tokenizer, clips: ClipSet, kinds=("pairalign", "vq")) -> dict:
    """{kind: {rate, map, p_at_1, consistency, archive_tokens, vocab_used}} on `clips`."""
    found = heldout_figures(tokenizer, clips, HeldoutConfig(aligned_codes=True), kinds=kinds)
    out = {}
    for kind in kinds if tokenizer.decoder is not None else ("vq",):
        key = f"{clips.name}/{kind}/"
        out[kind] = {
            "rate": round(found[key + "token_rate"], 2),
            "map": round(found[key + "map"], 4),
            "p_at_1": round(found[key + "precision_at_1"], 4),
            "consistency": round(found.get(key + "consistency", math.nan), 4),
            "archive_tokens": int(found[key + "tokens"]),
            "vocab_used": round(found[key + "vocab_used"], 4),
            "cross_voice_consistency": round(
                found.get(key + "cross_voice_consistency", math.nan), 4
            ),
        }
        if kind == "vq" and key + "aligned_code_agreement" in found:
            out[kind]["aligned_code_agreement"] = round(found[key + "aligned_code_agreement"], 4)
    return out


def baselines_at(tokenizer: Tokenizer, sets: Sets, name: str, rate: float) -> dict[str, float]:
    """MAP of the checkpoint's VQ strings compressed to `rate` by each heuristic on set `name`,
    interpolated between the rates measured around it; plus the collapsed codes' figures."""
    rates = [round(rate - 0.75, 2), round(rate, 2), round(rate + 0.75, 2)]  # brackets `rate`
    curve = baseline_figures(tokenizer, sets.get(name), rates, BASELINES, train=sets.bpe_train())
    out: dict[str, float] = {
        "collapsed_rate": round(curve["collapsed"]["token_rate"], 2),
        "collapsed_archive_tokens": int(curve["collapsed"]["tokens"]),
    }
    for reduce in BASELINES:
        out[f"{reduce}_map"] = round(map_at_rate(curve, reduce, rate), 4)
    return out


def write_json(path: str | Path, data: dict) -> None:
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
