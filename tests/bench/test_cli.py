"""bench/cli.py: every bench/ script reads its settings as the workflows do, YAML and `key=value`
on a typed dataclass, and refuses what it does not know."""

from __future__ import annotations

import importlib

import pytest

from bench.cli import CONFIGS, Variant, parse, settings
from bench.experiments.refine_variants import RefineVariants
from bench.experiments.stage1_variants import Stage1Variants
from bench.experiments.vq_baselines import VQBaselines
from pairalign.config import ConfigError

SCRIPTS = [
    f"bench.benchmarks.{name}"
    for name in ("decode", "search", "synth", "synth_determinism", "tokenize", "views", "vq_train")
] + [
    f"bench.experiments.{name}"
    for name in (
        "consensus_oracle",
        "default_run",
        "dense_collapsed",
        "eval_artefacts",
        "foreign_corpus",
        "pareto",
        "real_speech",
        "refine_variants",
        "ship",
        "stage1_variants",
        "vcc",
        "vq_baselines",
        "vq_probe",
    )
]


def test_defaults_then_overrides_typed():
    args = settings(
        VQBaselines,
        overrides=["checkpoint=c", "out=o.json", "rates=[6, 7.5]", "vcc=true", "half=test"],
    )
    assert args.rates == (6.0, 7.5) and args.vcc and args.half == "test"
    assert args.reduces == ("merge", "dpdp", "bpe") and args.train_clips == 400


def test_a_config_by_name_with_variants_and_overrides_after_it():
    args = settings(Stage1Variants, "stage1_codebooks.yaml", ["root=runs/x", "half=test"])
    assert args.variants[0] == Variant("k32") and args.half == "test" and args.root == "runs/x"
    assert args.variants[1].overrides == ("model.quantizer.codebook_size=16",)
    ladder = settings(
        RefineVariants,
        CONFIGS / "refine_variants_issue20.yaml",
        ["out=v.jsonl", "init_checkpoint=ck", "seeds=[0, 1]"],
    )
    assert ladder.seeds == (0, 1) and "decoder.kind=segment" in ladder.common
    assert [v.name for v in ladder.variants] == ["copy", "seg-m9.7-300"]


def test_unknown_keys_wrong_types_and_missing_keys_are_refused():
    with pytest.raises(ConfigError, match="ratez"):
        settings(VQBaselines, overrides=["checkpoint=c", "out=o", "ratez=[1]"])
    with pytest.raises(ConfigError, match="half"):
        settings(VQBaselines, overrides=["checkpoint=c", "out=o", "half=train"])
    with pytest.raises(ConfigError, match="checkpoint"):
        settings(VQBaselines, overrides=["out=o"])
    with pytest.raises(SystemExit):
        parse(VQBaselines, ["out=o"])


@pytest.mark.parametrize("module", SCRIPTS)
def test_every_script_lists_its_keys(module, capsys):
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(["--help"])
    assert exit_.value.code == 0 and "Keys and defaults:" in capsys.readouterr().out
