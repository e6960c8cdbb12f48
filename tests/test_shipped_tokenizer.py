"""The shipped tokenizer (`pairalign/assets/default_tokenizer.pt`) is what its recipe says, and
what a user gets from it by default has no empty spans and no token repeated by the decoder."""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pairalign.cli import main
from pairalign.cli.default import DEFAULT_TOKENIZER
from pairalign.config import to_dict
from pairalign.models.checkpoint import load_checkpoint
from pairalign.stages.refine import RefineConfig, refine_decoding
from pairalign.stages.vq import VQStageConfig
from workflows.cli import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "workflows" / "configs"
SPAN = re.compile(r"^(-?\d+)@(\d+\.\d\d)-(\d+\.\d\d)$")
pytestmark = pytest.mark.skipif(not DEFAULT_TOKENIZER.exists(), reason="no shipped tokenizer")


@pytest.fixture(scope="module")
def payload() -> dict:
    """The asset as the library reads it: a version-2 export, converted to the current layout on
    load (`checkpoint.upgrade_v2`)."""
    return load_checkpoint(str(DEFAULT_TOKENIZER))


def test_the_asset_is_built_by_its_recipe(payload):
    stage1 = load_config(VQStageConfig, CONFIGS / "vq_ship.yaml")
    stage2 = load_config(RefineConfig, CONFIGS / "refine_ship.yaml")
    config = payload["model_config"]
    assert config["vq"] == to_dict(stage1.model)
    # the decoder section as configured, min_run_frames 0 taken from the stage-1 strings
    decoder = replace(stage2.decoder, min_run_frames=stage1.strings.min_run_frames)
    assert config["decoder"] == to_dict(decoder)
    assert config["decoding"] == to_dict(refine_decoding(stage2))
    assert payload["vq_strings"] == asdict(stage1.strings)
    assert payload["default_kind"] in ("vq", "pairalign") and payload["kind_note"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Speech-like clips: tones of changing pitch and level with noise, 1.2 to 8 s long."""
    folder = tmp_path_factory.mktemp("recordings")
    rng = np.random.default_rng(4)
    for i, seconds in enumerate((1.2, 2.6, 3.0, 4.5, 8.0)):
        t = np.arange(int(16_000 * seconds)) / 16_000
        edges = np.sort(rng.uniform(0, seconds, int(seconds * 8)))
        pitch = rng.uniform(100, 3000, len(edges) + 1)[np.searchsorted(edges, t)]
        level = rng.uniform(0.02, 0.5, len(edges) + 1)[np.searchsorted(edges, t)]
        wave = level * np.sin(2 * np.pi * pitch * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(folder / f"clip{i}.wav", wave.astype(np.float32), 16_000)
    return folder


@pytest.mark.parametrize("kind", [None, "pairalign", "vq"])
def test_default_strings_have_no_empty_span_and_no_repeated_token(folder, kind, payload, capsys):
    argv = ["tokenize", str(folder)] + (["--kind", kind] if kind else [])
    assert main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 5
    for line in lines:
        spans = [SPAN.match(s).groups() for s in line.split("  ")[3].split()]
        tokens = [int(t) for t, _, _ in spans]
        assert len(tokens) > 2
        assert all(a != b for a, b in itertools.pairwise(tokens))
        assert all(float(end) > float(start) for _, start, end in spans)
    if kind is None:  # the measured choice, said in the closing line
        assert f"with {payload['default_kind']} (auto: the export's measured choice" in err
