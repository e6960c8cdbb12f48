"""Every shipped YAML loads into its stage config; bad keys and types are refused by name."""

from pathlib import Path

import pytest

from pairalign.config import ConfigError, apply_overrides, from_dict
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.views import ViewConfig
from pairalign.jobs.comparison import CompareConfig
from pairalign.jobs.demo import DemoConfig
from pairalign.jobs.dense_grid import DenseGridConfig
from pairalign.jobs.evaluation_suite import EvaluateConfig
from pairalign.jobs.tokenize_job import TokenizeConfig
from pairalign.jobs.tuning import SweepConfig
from pairalign.stages.refine import RefineConfig
from pairalign.stages.vq import VQStageConfig
from workflows.cli import CONFIG_DIR, load_config, load_yaml

STAGES = {
    "demo.yaml": DemoConfig,
    "prepare.yaml": PrepareConfig,
    "vq.yaml": VQStageConfig,
    "vq_base.yaml": VQStageConfig,
    "refine.yaml": RefineConfig,
    "vq_ship.yaml": VQStageConfig,
    "refine_ship.yaml": RefineConfig,
    "dense.yaml": DenseGridConfig,
    "tokenize_archive.yaml": TokenizeConfig,
    "evaluate.yaml": EvaluateConfig,
    "tune.yaml": SweepConfig,
    "compare.yaml": CompareConfig,
}


def test_every_shipped_yaml_is_covered():
    shipped = {p.name for p in CONFIG_DIR.glob("*.yaml")} - {"common.yaml"}
    assert shipped == set(STAGES)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_shipped_yaml_loads(name):
    config = load_config(STAGES[name], CONFIG_DIR / name)
    assert isinstance(config, STAGES[name])


def test_shipped_stage_yaml_matches_the_dataclass_defaults():
    # the YAML documents the defaults: loading it must give the same config as the dataclass
    assert load_config(VQStageConfig, CONFIG_DIR / "vq.yaml") == VQStageConfig()
    assert load_config(RefineConfig, CONFIG_DIR / "refine.yaml") == RefineConfig()


def test_overrides_apply_with_types():
    config = load_config(
        VQStageConfig, CONFIG_DIR / "vq.yaml", ["train.max_steps=7", "loss.agree=0.5", "name=x"]
    )
    assert (config.train.max_steps, config.loss.agree, config.name) == (7, 0.5, "x")


def test_a_decoder_kinds_own_settings_go_in_its_section():
    config = load_config(
        RefineConfig,
        CONFIG_DIR / "refine.yaml",
        ["decoder.kind=free", "decoder.free.memory_positions=true"],
    )
    assert config.decoder.kind == "free" and config.decoder.settings.memory_positions


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.max_step=7", "train.max_step"),
        ("train.max_steps=seven", "train.max_steps"),
        ("objective.weights.contrast=[1]", "objective.weights.contrast"),
        ("nokey", "key=value"),
        ("decoder.free.memory_positions=true", "decoder.free.memory_positions: does not apply"),
        ("objective.decoding.slack=2.0", "objective.decoding"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(RefineConfig, CONFIG_DIR / "refine.yaml", [override])


def test_unknown_and_missing_keys(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"unknown config key.*views\.nope"):
        from_dict(DemoConfig, {"views": {"nope": 1}})
    with pytest.raises(ConfigError, match="expected int"):
        from_dict(ViewConfig, {"sample_rate": 16000.5})
    (tmp_path / "a.yaml").write_text("base: b.yaml\nseed: 3\n")
    (tmp_path / "b.yaml").write_text("seed: 1\nname: from-b\n")
    assert load_yaml(tmp_path / "a.yaml") == {"seed": 3, "name": "from-b"}
    assert apply_overrides({"a": {"b": 1}}, ["a.c=2"]) == {"a": {"b": 1, "c": 2}}
