"""Stage 1 (VQ): its config, its recipe on one worker (`build_vq`: the model, AdamW, the
stage-1 losses with pseudo-label targets if asked) and its `Stage` (`VQ`), which Ray Train
(`pairalign.jobs.training`), the sweep and the local run (`pairalign.stages.local`) all use.
Checkpoints load with `pairalign.tokenizing.tokenizer.Tokenizer.from_checkpoint`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import torch

from pairalign.config import PathStr, to_dict
from pairalign.data.views import ViewConfig
from pairalign.models.vq_model import ModelConfig, VQModel
from pairalign.objectives.stage1 import Stage1Weights, stage1_losses
from pairalign.stages.config import StageRunConfig
from pairalign.stages.stage import Stage, Wrap, no_wrap
from pairalign.strings.rule import VQStringConfig
from pairalign.training.loop import StageHooks


@dataclass(frozen=True)
class VQStageConfig(StageRunConfig):
    name: str = "vq-tiny"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: Stage1Weights = field(default_factory=Stage1Weights)
    # half the pairs across voices (two speakers of one sentence, DTW-aligned): BENCHMARKS.md, #28
    views: ViewConfig = field(default_factory=lambda: ViewConfig(cross_voice=0.5))
    # frame codes -> VQ strings: runs of one frame (20 ms) join a neighbour (BENCHMARKS.md, #12)
    strings: VQStringConfig = field(default_factory=lambda: VQStringConfig(min_run_frames=2))
    # a dense tokenizer (workflows/dense.py, pool = model.encoder.subsample) whose codes of the
    # clean crop are the pseudo-label targets of loss.pseudo ("": none, or fitted:
    # fit_pseudo_labels)
    pseudo_labels: PathStr = ""
    # with pseudo_labels "": fit that k-means here first, on the train split (k = the codebook size
    # with loss.pseudo_target codes, else model.label_classes), kept in <storage_path>/<name>/
    fit_pseudo_labels: bool = False

    def worker_inputs(self, manifest: pa.Table, train_rows: pa.Table) -> dict[str, str]:
        """The pseudo labels' dense tokenizer (fitted on the train rows first if asked)."""
        return {"pseudo_labels": fit_pseudo_labels(self, train_rows)}

    def needs_clean_views(self) -> bool:
        """Pseudo-label targets are the clean crop's dense codes."""
        return bool(self.pseudo_labels or self.fit_pseudo_labels)


@dataclass
class VQRun:
    """What `build_vq` makes: the model, its optimizer and the loop's hooks."""

    model: VQModel
    optimizer: torch.optim.Optimizer
    hooks: StageHooks

    def start(self, step: int, payload: dict[str, Any], device: torch.device | str) -> None:
        """Nothing besides the model and optimizer to restore."""


def build_vq(
    config: VQStageConfig, inputs: dict[str, Any], rank: int = 0, wrap: Wrap = no_wrap
) -> VQRun:
    """The stage-1 recipe on one worker: paired-view batches -> stage-1 losses -> AdamW; the
    model wrapped for the loop by `wrap` (DDP on Ray), the pseudo labels' dense tokenizer from
    `inputs["pseudo_labels"]` (else `config.pseudo_labels`)."""
    torch.manual_seed(config.seed + rank)
    model = VQModel(config.model)
    # a label head that no loss term reads gets no gradient
    head_unused = config.model.label_classes > 0 and not (
        config.loss.pseudo > 0 and config.loss.pseudo_target == "head"
    )
    ddp = wrap(model, head_unused)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
    )
    labeler = pseudo_labeler(config, inputs.get("pseudo_labels", ""))

    def losses(batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        if labeler is not None:
            batch = {**batch, "labels": labeler(batch["clean"], batch["source_seconds"])}
        return stage1_losses(ddp, batch, config.loss)[0]

    hooks = StageHooks(
        losses=losses,
        report_metrics=lambda batch: model.quantizer.usage(),
        progress={"codebook perplexity": "vq/ema_perplexity"},
        checkpoint_extra=lambda: {"vq_strings": to_dict(config.strings)},
    )
    return VQRun(model, optimizer, hooks)


def pseudo_label_classes(config: VQStageConfig) -> int:
    """How many pseudo-label classes the stage's model predicts."""
    on_codes = config.loss.pseudo_target == "codes"
    return config.model.quantizer.codebook_size if on_codes else config.model.label_classes


def fit_pseudo_labels(config: VQStageConfig, train_rows: pa.Table, max_clips: int = 2000) -> str:
    """The dense k-means whose codes are the pseudo labels: `config.pseudo_labels`, or (with
    `fit_pseudo_labels`) one fitted now on up to `max_clips` train clips (by utterance id) and
    kept at <storage_path>/<name>/pseudo_labels/dense.pt, reused when it is there. "" if none."""
    if config.pseudo_labels or not config.fit_pseudo_labels:
        return config.pseudo_labels
    from pairalign.data.audio import AudioError, load_row_audio
    from pairalign.data.storage import join, url_to_fs
    from pairalign.tokenizing.dense import DenseConfig, clip_log_mel, fit_dense

    path = join(config.storage_path, config.name, "pseudo_labels", "dense.pt")
    fs, fs_path = url_to_fs(path)
    if fs.exists(fs_path):
        return path
    dense_config = DenseConfig(
        k=pseudo_label_classes(config),
        pool=config.model.encoder.subsample,
        n_mels=config.model.encoder.n_mels,
        seed=config.seed,
    )
    rows = train_rows.sort_by("utterance_id").slice(0, max_clips).to_pylist()
    features = []
    for row in rows:
        try:
            features.append(clip_log_mel(load_row_audio(row, sample_rate=config.model.sample_rate)))
        except AudioError:
            continue  # the views pipeline records it as a reject
    logging.getLogger("pairalign").info(
        "vq: pseudo labels: k-means (k=%d, %d frames pooled) of %d train clips -> %s",
        dense_config.k,
        dense_config.pool,
        len(features),
        path,
    )
    return fit_dense(features, dense_config).save(path)


def pseudo_labeler(config: VQStageConfig, path: str = ""):
    """`labels(clean (B, N), seconds (B,)) -> (B, T) int64` (-1 past the real audio) from the dense
    tokenizer at `path` (default `config.pseudo_labels`), or None without pseudo-label targets."""
    path = path or config.pseudo_labels
    if not path:
        return None
    from pairalign.tokenizing.dense import DenseTokenizer

    dense = DenseTokenizer.load(path)
    if dense.config.pool != config.model.encoder.subsample:
        raise ValueError(
            f"pseudo_labels={path}: pool {dense.config.pool} must equal "
            f"model.encoder.subsample={config.model.encoder.subsample} (one label a frame)"
        )
    if dense.vocab_size != pseudo_label_classes(config):
        where = (
            "model.quantizer.codebook_size"
            if config.loss.pseudo_target == "codes"
            else "model.label_classes"
        )
        raise ValueError(
            f"pseudo_labels={path} has {dense.vocab_size} classes: set {where}={dense.vocab_size}"
        )

    @torch.no_grad()
    def labels(clean: torch.Tensor, seconds: torch.Tensor) -> torch.Tensor:
        codes = dense(clean.cpu(), seconds.tolist())
        out = torch.full((len(codes), max(map(len, codes))), -1, dtype=torch.long)
        for i, row in enumerate(codes):
            out[i, : len(row)] = torch.as_tensor(row)
        return out.to(clean.device)

    return labels


VQ = Stage(
    name="vq",
    config=VQStageConfig,
    config_file="vq.yaml",
    strings="vq",
    setup=lambda config: {},
    model_config=lambda config, inputs: config.model,
    recipe=build_vq,
)
