"""Checkpoint files: old model configs, the names people give checkpoints, weights-only export."""

import json
import shutil

import numpy as np
import pytest
import torch

from pairalign.config import to_dict
from pairalign.models.checkpoint import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    FORMAT,
    VERSION,
    CheckpointError,
    checkpoint_model_config,
    export_tokenizer,
    load_checkpoint,
    resolve_checkpoint,
)
from pairalign.models.decoder import FreeDecoderConfig
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.models.decoding import DecodingConfig
from pairalign.models.encoder import EncoderConfig
from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig
from pairalign.strings.rule import VQStringConfig


def _without_positions(config: dict) -> dict:
    encoder = {k: v for k, v in config["encoder"].items() if k != "positions"}
    return {**config, "encoder": encoder}


def test_a_checkpoint_from_before_a_key_existed_keeps_what_it_was_trained_with():
    # checkpoints written before encoder.positions existed had absolute positions, whatever the
    # default is now
    old = _without_positions(to_dict(ModelConfig()))
    assert (
        checkpoint_model_config({"stage": "vq", "model_config": old}).encoder.positions
        == "absolute"
    )
    refine = to_dict(PairAlignConfig(ModelConfig(), DecoderConfig()))
    refine["vq"] = _without_positions(refine["vq"])
    loaded = checkpoint_model_config({"stage": "refine", "model_config": refine})
    assert loaded.vq.encoder.positions == "absolute"


def test_a_key_the_checkpoint_has_is_read_as_written():
    config = ModelConfig(encoder=EncoderConfig(positions="none"))
    payload = {"stage": "vq", "model_config": to_dict(config)}
    assert checkpoint_model_config(payload) == config


def _v2_layout(model_config: dict) -> dict:
    """A stage-2 model config as version 2 wrote it: the decoder's own section flattened into the
    decoder section, the free decoder's slack in `decoding`."""
    decoder, decoding = dict(model_config["decoder"]), dict(model_config["decoding"])
    own = dict(decoder.pop(decoder["kind"]))
    if "slack" in own:
        decoding["slack"] = own.pop("slack")
    return {**model_config, "decoder": {**decoder, **own}, "decoding": decoding}


def _v1_refine_checkpoint(directory, model, decoding=None) -> None:
    """A stage-2 checkpoint as version 1 wrote it: `tokenizer` config and weights, and the
    decoding settings as an untyped dict beside them."""
    config = _v2_layout(to_dict(model.config))
    del config["decoding"]
    config["tokenizer"] = config.pop("vq")
    state = {k.replace("vq.", "tokenizer.", 1): v for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": 1,
        "stage": "refine",
        "step": 7,
        "model_config": config,
        "stage_config": {},
        "model": state,
        "teacher": dict(state),
    }
    if decoding is not None:
        payload["decoding"] = decoding
    directory.mkdir()
    torch.save(payload, directory / "checkpoint.pt")


def test_a_version_1_stage2_checkpoint_loads_in_the_current_layout(tmp_path):
    from pairalign.tokenizing.tokenizer import Tokenizer

    torch.manual_seed(0)
    small = ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    )
    free = FreeDecoderConfig(slack=2.0)
    config = PairAlignConfig(
        vq=small,
        decoder=DecoderConfig(dim=32, layers=1, heads=2, settings=free),
        decoding=DecodingConfig(rate=8.0, timing_seconds=2.0),
    )
    model = PairAlignModel(config).eval()
    _v1_refine_checkpoint(
        tmp_path / "old", model, {"target_rate": 8.0, "decode_slack": 2.0, "clip_seconds": 2.0}
    )
    payload = load_checkpoint(str(tmp_path / "old"))
    assert payload["version"] == VERSION and "decoding" not in payload
    assert set(payload["model"]) == set(model.state_dict()) == set(payload["teacher"])
    tokenizer = Tokenizer.from_checkpoint(str(tmp_path / "old"))
    assert tokenizer.pairalign.config == config  # the decoding dict became the typed section
    wave = 0.1 * torch.randn(2, 16_000)
    assert tokenizer(wave.numpy()) == model.decode(wave, torch.ones(2)).strings
    _v1_refine_checkpoint(tmp_path / "older", model)  # no decoding entry: what v1 defaulted to
    older = checkpoint_model_config(load_checkpoint(str(tmp_path / "older")))
    assert older.decoding == DecodingConfig(rate=12.5, timing_seconds=3.0)
    assert older.decoder.settings.slack == 1.5


@pytest.mark.parametrize("kind", ["free", "segment"])
def test_a_version_2_stage2_checkpoint_loads_in_the_current_layout(tmp_path, kind):
    from pairalign.tokenizing.tokenizer import Tokenizer

    torch.manual_seed(0)
    small = ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    )
    settings = FreeDecoderConfig(memory_positions=True, slack=2.0) if kind == "free" else None
    decoder = DecoderConfig(
        kind=kind, dim=32, layers=1, heads=2, min_run_frames=2, settings=settings
    )
    config = PairAlignConfig(vq=small, decoder=decoder, decoding=DecodingConfig(rate=8.0))
    model = PairAlignModel(config).eval()
    written = _v2_layout(to_dict(config))
    # version 2 wrote every key of both kinds, read or not by the decoder it built
    other = {"boundary_logit": 1.0} if kind == "free" else {"memory_positions": True, "slack": 3.0}
    written["decoder"] |= {k: v for k, v in other.items() if k != "slack"}
    written["decoding"] |= {k: v for k, v in other.items() if k == "slack"}
    (tmp_path / "v2").mkdir()
    torch.save(
        {
            "format": FORMAT,
            "version": 2,
            "stage": "refine",
            "step": 3,
            "model_config": written,
            "stage_config": {},
            "model": model.state_dict(),
        },
        tmp_path / "v2" / "checkpoint.pt",
    )
    payload = load_checkpoint(str(tmp_path / "v2"))
    assert payload["version"] == VERSION and payload["model_config"] == to_dict(config)
    tokenizer = Tokenizer.from_checkpoint(str(tmp_path / "v2"))
    assert tokenizer.pairalign.config == config
    wave = 0.1 * torch.randn(2, 16_000)
    assert tokenizer(wave.numpy()) == model.decode(wave, torch.ones(2)).strings


def test_a_version_2_segment_decoder_keeps_the_prior_it_was_trained_with(tmp_path):
    """Version 2 built the segment decoder's prior from `min_run_frames` alone: a converted
    checkpoint keeps that prior (no `decoder.vq_strings`) though its stage-1 strings set more."""
    small = ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    )
    decoder = DecoderConfig(kind="segment", dim=32, layers=1, heads=2, min_run_frames=2)
    config = PairAlignConfig(vq=small, decoder=decoder)
    model = PairAlignModel(config).eval()
    strings = {"min_run_frames": 2, "groups": 0, "rate": 6.0, "reduce": "index"}
    (tmp_path / "v2").mkdir()
    torch.save(
        {
            "format": FORMAT,
            "version": 2,
            "stage": "refine",
            "step": 3,
            "model_config": _v2_layout(to_dict(config)),
            "stage_config": {},
            "model": model.state_dict(),
            "vq_strings": strings,
        },
        tmp_path / "v2" / "checkpoint.pt",
    )
    payload = load_checkpoint(str(tmp_path / "v2"))
    assert payload["model_config"] == to_dict(config) and payload["vq_strings"] == strings
    read = checkpoint_model_config(payload).decoder
    assert read.vq_strings is None and read.strings == VQStringConfig(min_run_frames=2)


def test_a_version_2_stage1_checkpoint_loads_as_written(tmp_path, small_checkpoints):
    from pairalign.tokenizing.tokenizer import Tokenizer

    payload = torch.load(f"{small_checkpoints['vq']}/checkpoint.pt", weights_only=True)
    (tmp_path / "v2").mkdir()
    torch.save({**payload, "version": 2}, tmp_path / "v2" / "checkpoint.pt")
    loaded = load_checkpoint(str(tmp_path / "v2"))
    assert loaded["version"] == VERSION and loaded["model_config"] == payload["model_config"]
    wave = 0.1 * np.random.default_rng(2).standard_normal((2, 16_000)).astype(np.float32)
    before = Tokenizer.from_checkpoint(small_checkpoints["vq"])
    assert Tokenizer.from_checkpoint(str(tmp_path / "v2"))(wave) == before(wave)


def test_a_checkpoint_of_a_later_version_is_refused_by_name(tmp_path):
    (tmp_path / "new").mkdir()
    torch.save({"format": FORMAT, "version": VERSION + 1}, tmp_path / "new" / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=rf"new: checkpoint version {VERSION + 1}"):
        load_checkpoint(str(tmp_path / "new"))


def _run_dir(tmp_path, source: str) -> str:
    """A Ray Train run directory: two checkpoints (steps 10 and 20, the older one with the newer
    name) and Ray's snapshot file beside them."""
    run = tmp_path / "vq-tiny"
    for name, step in (
        ("checkpoint_2026-12-03_10-00-00", 20),
        ("checkpoint_2026-12-03_11-00-00", 10),
    ):
        shutil.copytree(source, run / name)
        (run / name / "step.json").write_text(json.dumps({"step": step, "stage": "vq"}))
    (run / "checkpoint_manager_snapshot.json").write_text("{}")
    return str(run)


def test_a_run_directory_means_its_latest_checkpoint(tmp_path, small_checkpoints):
    run = _run_dir(tmp_path, small_checkpoints["vq"])
    assert (
        resolve_checkpoint(run) == f"{run}/checkpoint_2026-12-03_10-00-00"
    )  # step 20, not the name
    assert resolve_checkpoint(f"{run}/") == f"{run}/checkpoint_2026-12-03_10-00-00"
    from pairalign.tokenizing.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_checkpoint(run)
    assert "checkpoint_2026-12-03_10-00-00" in tokenizer.checkpoint_id


def test_what_is_not_a_checkpoint_gets_one_line_saying_what_was_expected(
    tmp_path, small_checkpoints
):
    run = _run_dir(tmp_path, small_checkpoints["vq"])
    with pytest.raises(
        CheckpointError, match="Ray Train's record of a run, not a checkpoint"
    ) as err:
        load_checkpoint(f"{run}/checkpoint_manager_snapshot.json")
    assert f"give the run directory ({run})" in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        CheckpointError, match=r"not a checkpoint file .* expected a checkpoint directory"
    ):
        load_checkpoint(str(tmp_path / "notes.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint_\\*/ holding one"):
        resolve_checkpoint(str(tmp_path / "empty"))
    with pytest.raises(CheckpointError, match="no such file or directory"):
        resolve_checkpoint(str(tmp_path / "missing"))
    np.save(tmp_path / "array.npy", np.zeros(3))  # a file that is neither a zip nor a checkpoint
    with pytest.raises(CheckpointError, match=r"array\.npy: not a checkpoint file"):
        resolve_checkpoint(str(tmp_path / "array.npy"))


@pytest.mark.parametrize("stage", ["vq", "refine"])
def test_an_export_is_weights_only_and_tokenizes_as_its_checkpoint(
    tmp_path, small_checkpoints, stage
):
    from pairalign.tokenizing.tokenizer import Tokenizer

    source = small_checkpoints[stage]
    shutil.copytree(source, tmp_path / "run" / "checkpoint_x")
    out = export_tokenizer(str(tmp_path / "run"), str(tmp_path / "tok.pt"))
    payload = torch.load(out, weights_only=True)  # plain values and tensors only
    assert payload["format"] == EXPORT_FORMAT and payload["version"] == EXPORT_VERSION == 3
    assert payload["source"] == "run/checkpoint_x"  # no directories of the machine it came from
    assert not {"optimizer", "stage_config", "default_kind", "kind_note"} & set(payload)
    wave = 0.1 * np.random.default_rng(1).standard_normal((2, 48_000)).astype(np.float32)
    original, exported = Tokenizer.from_checkpoint(source), Tokenizer.from_checkpoint(out)
    assert exported.kind == stage.replace("refine", "pairalign")
    assert exported(wave) == original(wave) and exported.vq_strings(wave) == original.vq_strings(
        wave
    )
    if stage == "refine":  # a stage-1 tokenizer has no decoder timing
        assert exported.timing_seconds == original.timing_seconds
    half = export_tokenizer(source, str(tmp_path / "half.pt"), dtype=torch.float16)
    assert (tmp_path / "half.pt").stat().st_size < 0.7 * (tmp_path / "tok.pt").stat().st_size
    assert Tokenizer.from_checkpoint(half).model.quantizer.codebook.dtype == torch.float32


def test_an_export_records_its_default_kind_and_a_version_1_export_still_loads(
    tmp_path, small_checkpoints
):
    from pairalign.tokenizing.tokenizer import Tokenizer

    note = "retrieval MAP 0.93 (vq) vs 0.58 (pairalign), test half"
    chosen = export_tokenizer(
        small_checkpoints["refine"], str(tmp_path / "vq.pt"), default_kind="vq", kind_note=note
    )
    payload = torch.load(chosen, weights_only=True)
    assert (payload["default_kind"], payload["kind_note"]) == ("vq", note)
    tokenizer = Tokenizer.from_checkpoint(chosen)
    assert (tokenizer.default_kind, tokenizer.kind_note) == ("vq", note)
    assert tokenizer.decoder is not None  # the choice does not drop the decoder
    # a version-1 export (before default kinds) loads, with no recorded choice
    old = {k: v for k, v in payload.items() if k not in ("default_kind", "kind_note")}
    old["model_config"] = _v2_layout(old["model_config"])  # version-2 checkpoints' layout
    torch.save({**old, "version": 1}, tmp_path / "v1.pt")
    before = Tokenizer.from_checkpoint(str(tmp_path / "v1.pt"))
    assert (before.default_kind, before.kind_note) == (None, "")
    torch.save({**payload, "version": EXPORT_VERSION + 1}, tmp_path / "later.pt")
    with pytest.raises(CheckpointError, match=rf"tokenizer version {EXPORT_VERSION + 1}, expected"):
        Tokenizer.from_checkpoint(str(tmp_path / "later.pt"))
    torch.save({**payload, "default_kind": "dense"}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=r"default_kind 'dense' is not a kind of its strings"):
        Tokenizer.from_checkpoint(str(tmp_path / "odd.pt"))


def test_an_export_refuses_a_default_kind_its_model_cannot_give(tmp_path, small_checkpoints):
    with pytest.raises(CheckpointError, match="pairalign needs a decoder; a vq checkpoint"):
        export_tokenizer(small_checkpoints["vq"], str(tmp_path / "a.pt"), default_kind="pairalign")
    with pytest.raises(CheckpointError, match=r"'bpe' is not one of \['pairalign', 'vq'\]"):
        export_tokenizer(small_checkpoints["refine"], str(tmp_path / "b.pt"), default_kind="bpe")
    with pytest.raises(CheckpointError, match="give the default kind too"):
        export_tokenizer(small_checkpoints["refine"], str(tmp_path / "c.pt"), kind_note="why")
    assert not list(tmp_path.iterdir())  # nothing written
