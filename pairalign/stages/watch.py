"""Collapse watch: stage 2's strings on a fixed set of dev clips, measured at every checkpoint.

A refine run can collapse (every clip decoded to a few tokens of a few codes) long before its
end-of-run figures show it. `run_stage` loads `watch_clips` clean clips of the eval split's dev
half on the driver (`load_watch`: the first sentences, a few voices each, so that every clip has
renditions of its sentence by other voices) and hands them to the workers; at each checkpoint
rank 0 measures (`watch_figures`) two sets of strings of them:

- `watch/greedy_...`: the in-memory model's greedy strings, as the PairAlign tokenizer would emit
  them (eval mode, clips padded to the training window, longer ones windowed and stitched);
- `watch/target_...`: the strings the objective trains on: the VQ-derived targets
  (`objective.targets`: `TargetConfig.string_config`) or, once the EMA teacher gives
  targets (`watch/target_teacher_share` > 0), the teacher's greedy strings.

Each gets its MAP (every clip queries the others by normalised edit distance, renditions of its
sentence by other voices are relevant: `pairalign.evaluation.retrieval.self_retrieval`) and the
perplexity of its token usage (`vocabulary_usage`); `watch/chance_map` is a random ranking's MAP.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import torch

from pairalign.data.splits import half_rows
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet, clip_strings, load_clips
from pairalign.evaluation.retrieval import self_retrieval
from pairalign.evaluation.string_metrics import vocabulary_usage
from pairalign.models.pairalign_model import PairAlignModel
from pairalign.objectives.refine_config import TargetConfig
from pairalign.tokenizing.kinds import PairAlignStrings, VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer

WATCH_VOICES = 6  # renditions (voices) of each watched sentence


def watch_rows(manifest: pa.Table, split: str, clips: int, voices: int = WATCH_VOICES) -> pa.Table:
    """At most `clips` rows of the dev half of `split`: its sentences in sorted order, the first
    `voices` renditions of each (by utterance id), as many sentences as it takes."""
    rows = half_rows(manifest, split, "dev")
    by_sentence: dict[str, list[tuple[str, int]]] = {}
    for i, (content, uid) in enumerate(
        zip(rows["content_id"].to_pylist(), rows["utterance_id"].to_pylist(), strict=True)
    ):
        by_sentence.setdefault(content, []).append((uid, i))
    chosen: list[int] = []
    for content in sorted(by_sentence):
        if len(chosen) >= clips:
            break
        chosen += [i for _, i in sorted(by_sentence[content])[:voices]]
    return rows.take(pa.array(chosen[:clips], type=pa.int64()))


def load_watch(manifest: pa.Table, split: str, views: ViewConfig, clips: int) -> ClipSet | None:
    """The clean audio of the watched clips (`watch_rows`), tokenized in windows of the views'
    clip length as the archive job tokenizes them; None when `split` has no sentence ids (no
    retrieval to measure)."""
    if None in set(manifest.filter(pc.equal(manifest["split"], split))["content_id"].to_pylist()):
        return None
    return load_clips(watch_rows(manifest, split, clips), views, name="watch", view_clips=0)


def string_figures(
    strings: Sequence[Sequence[int]], clips: ClipSet, vocab_size: int, prefix: str
) -> dict[str, float]:
    """`<prefix>_map` (retrieval of same-sentence renditions by other voices), `<prefix>_perplexity`
    (of token usage) and `<prefix>_chance_map` (a random ranking's MAP on the same clips)."""
    retrieval = self_retrieval(strings, clips.content, clips.speakers, "r", ks=(1,))
    usage = vocabulary_usage(strings, vocab_size, "u")
    return {
        f"{prefix}_map": retrieval["r/map"],
        f"{prefix}_perplexity": usage["u/perplexity"],
        f"{prefix}_chance_map": retrieval["r/chance_map"],
    }


def in_memory_tokenizer(model: PairAlignModel) -> Tokenizer:
    """A `Tokenizer` around `model` itself (no copy; it puts it in eval mode)."""
    return Tokenizer(model, device=str(next(model.parameters()).device))


@torch.no_grad()
def watch_figures(
    model: PairAlignModel,
    clips: ClipSet,
    targets: TargetConfig,
    *,
    teacher: PairAlignModel | None = None,
    teacher_share: float = 0.0,
    batch_size: int = 32,
) -> dict[str, float]:
    """The watch figures (module docstring) of `model` on `clips`; with `teacher` and a
    `teacher_share` > 0 the targets are the teacher's greedy strings. With `teacher`, both
    candidates for the targets are measured too: `watch/teacher_map` (the teacher's greedy
    strings) and `watch/vq_target_map` (the VQ-derived targets), which the teacher's gate
    compares. Every module's train/eval mode is restored afterwards."""
    modes = {m: m.training for m in model.modules()}
    try:
        tokenizer = in_memory_tokenizer(model)
        greedy = clip_strings(PairAlignStrings(tokenizer), clips, batch_size)
        strings = targets.string_config(model.config.decoder.min_run_frames)
        vq = clip_strings(VQStrings(tokenizer.with_strings(strings)), clips, batch_size)
        taught = None
        if teacher is not None:
            taught = clip_strings(PairAlignStrings(in_memory_tokenizer(teacher)), clips, batch_size)
    finally:
        for module, training in modes.items():
            module.train(training)
    vocab = tokenizer.vocab_size
    target = taught if taught is not None and teacher_share > 0 else vq
    figures = string_figures(greedy, clips, vocab, "watch/greedy")
    figures |= string_figures(target, clips, vocab, "watch/target")
    figures["watch/chance_map"] = figures.pop("watch/greedy_chance_map")
    del figures["watch/target_chance_map"]  # the same clips: the same chance
    figures["watch/target_teacher_share"] = float(teacher_share) if teacher is not None else 0.0
    if taught is not None:
        figures["watch/teacher_map"] = string_figures(taught, clips, vocab, "t")["t_map"]
        figures["watch/vq_target_map"] = string_figures(vq, clips, vocab, "v")["v_map"]
    return figures
