"""The one way tokenizers are measured on a set of clips. The stages' end-of-run figures, the
sweep's held-out selection and the evaluation suite all call `measure_tokenizer`.

A `ClipSet` holds clean clips (in utterance-id order, with their sentence and voice) and fixed
paired views of some of them. For each tokenizer, `measure_tokenizer` gives, under a prefix:
- token rate, archive tokens, mean length and spread, distinct strings (`string_stats`);
- vocabulary use: codes, share of the vocabulary, entropy, perplexity;
- distinctness across sentences and the mean normalised edit distance between clips of
  different sentences (non-degeneracy);
- retrieval: every clip queries the others by normalised edit distance, renditions of its
  sentence by other voices are relevant, its own voice is left out (MAP, MRR, P@k, chance MAP);
- cross-view consistency on the fixed views (two augmentations of one recording);
- cross-voice consistency: 1 - normalised edit distance between the clean strings of two voices'
  renditions of one sentence, over every such pair of clips (`cross_voice_consistency`, NaN when no
  sentence has two voices; `cross_voice_pairs` counts them);
- for a checkpoint, the aligned-frame code agreement across voices of its stage-1 codes
  (`vq/aligned_code_agreement`, `pairalign.evaluation.frame_agreement`).

Clean clips are tokenized as the archive job tokenizes them (`pairalign.tokenizing.windows`):
padded to the window, longer ones cut into overlapping windows and stitched, so a clip's string
never depends on the clips beside it. The suite passes the strings it read from its archive.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.views import ViewConfig, make_views, pair_rng
from pairalign.evaluation.retrieval import retrieval_metrics
from pairalign.evaluation.search import distance_matrix
from pairalign.evaluation.string_metrics import (
    content_distinctness,
    cross_view_consistency,
    cross_voice_consistency,
    string_stats,
    vocabulary_usage,
)
from pairalign.progress import Progress
from pairalign.tokenizing.kinds import StringTokenizer
from pairalign.tokenizing.windows import tokenize_clips

log = logging.getLogger("pairalign.evaluate")

EVAL_VIEW_SEED = 12345  # the views every evaluation compares (fixed, unlike training)
ViewBatch = tuple[np.ndarray, list[float], np.ndarray, list[float]]  # (B, N) views A, B + seconds


@dataclass
class ClipSet:
    """Clips to measure on. `audio` may be empty when strings come from elsewhere (an archive)."""

    name: str  # e.g. "dev", "test", "eval"
    ids: list[str]  # utterance ids, sorted
    seconds: list[float]  # real audio of each clip
    content: list[str]  # sentence of each clip (the utterance id when unknown)
    speakers: list[str]  # voice of each clip (the utterance id when unknown)
    audio: list[np.ndarray]  # [(N_i,)] at `sample_rate`, or [] (see above)
    views: list[ViewBatch]  # fixed paired views of the first `view_clips` rows
    sample_rate: int = 16_000
    window_seconds: float = 3.0  # clips are padded to this; longer ones cut into windows ...
    overlap_seconds: float = 1.0  # ... overlapping by this much (as the archive job does)


def load_clips(
    rows: pa.Table,
    views: ViewConfig,
    *,
    name: str,
    view_clips: int,
    batch_size: int = 32,
    keep_audio: bool = True,
    window_seconds: float = 0.0,
    overlap_seconds: float = 1.0,
) -> ClipSet:
    """The decodable clips of `rows` in utterance-id order, and the fixed evaluation views of the
    first `view_clips` rows as given. A clip that cannot be decoded is left out of everything.
    Clean clips are tokenized in windows of `window_seconds` (0: the views' clip length)."""
    clean = []
    for row in rows.to_pylist():
        try:
            wave = load_row_audio(row, sample_rate=views.sample_rate)
        except AudioError:
            continue
        uid = row["utterance_id"]
        clean.append((uid, row.get("content_id") or uid, row.get("speaker") or uid, wave))
    clean.sort(key=lambda c: c[0])
    return ClipSet(
        name=name,
        ids=[c[0] for c in clean],
        seconds=[len(c[3]) / views.sample_rate for c in clean],
        content=[c[1] for c in clean],
        speakers=[c[2] for c in clean],
        audio=[c[3] for c in clean] if keep_audio else [],
        views=view_batches(rows.slice(0, view_clips), views, batch_size) if view_clips else [],
        sample_rate=views.sample_rate,
        window_seconds=window_seconds or views.clip_seconds,
        overlap_seconds=overlap_seconds,
    )


def view_batches(rows: pa.Table, views: ViewConfig, batch_size: int) -> list[ViewBatch]:
    """Both views of each decodable clip (seed `EVAL_VIEW_SEED`, epoch 0, as the training pipeline
    makes them), with where their real audio ends, in batches of `batch_size`."""
    fixed = replace(views, seed=EVAL_VIEW_SEED)
    pairs = []
    for row in rows.to_pylist():
        try:
            samples = load_row_audio(row, sample_rate=fixed.sample_rate)
        except AudioError:
            continue
        pair = make_views(samples, fixed, pair_rng(fixed.seed, 0, row["utterance_id"]))
        # float32 as in the training batches, so the frame masks are the ones training saw
        source = np.float32(pair.source_seconds)
        ends = [
            float(
                min(
                    source / np.float32(v.warp) + max(np.float32(v.shift), np.float32(0)),
                    fixed.clip_seconds,
                )
            )
            for v in (pair.a, pair.b)
        ]
        pairs.append((pair.a.samples, ends[0], pair.b.samples, ends[1]))
    out = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        out.append(
            (
                np.stack([p[0] for p in chunk]),
                [p[1] for p in chunk],
                np.stack([p[2] for p in chunk]),
                [p[3] for p in chunk],
            )
        )
    return out


def clip_strings(
    tokenizer: StringTokenizer, clips: ClipSet, batch_size: int = 32, what: str = ""
) -> list[list[int]]:
    """The string of each clean clip, as the archive job writes it (a clip's string does not
    depend on its batch), with a progress line every 10 s when it takes that long."""
    progress = Progress(
        f"measure {what or tokenizer.name}: strings",
        total=len(clips.audio),
        unit="clips",
        log=log.info,
    )
    strings: list[list[int]] = []
    for start in range(0, len(clips.audio), 4 * batch_size):
        strings += tokenize_clips(
            tokenizer,
            clips.audio[start : start + 4 * batch_size],
            clips.sample_rate,
            window=clips.window_seconds,
            overlap=clips.overlap_seconds,
            batch_size=batch_size,
        )
        progress.update(len(strings))
    return strings


def measure_tokenizer(
    tokenizer: StringTokenizer,
    clips: ClipSet,
    prefix: str,
    *,
    strings: Sequence[Sequence[int]] | None = None,
    ks: Sequence[int] = (1, 5, 10),
    batch_size: int = 32,
) -> dict[str, float]:
    """Every figure of `tokenizer` on `clips`, keys `<prefix>/<figure>` (see the module docstring).
    `strings`, one per clip in `clips.ids` order, replaces tokenizing the clean clips."""
    if strings is None:
        strings = clip_strings(tokenizer, clips, batch_size, prefix)
    if len(strings) != len(clips.ids):
        raise ValueError(f"{len(strings)} strings for {len(clips.ids)} clips")
    figures = string_stats(strings, clips.seconds, prefix)
    figures |= vocabulary_usage(strings, tokenizer.vocab_size, prefix)
    figures |= content_distinctness(strings, clips.content, prefix)
    distances = distance_matrix(strings, strings) if strings else np.zeros((0, 0))
    ids = np.arange(len(strings))
    figures |= retrieval_metrics(
        distances,
        clips.content,
        clips.content,
        clips.speakers,
        clips.speakers,
        prefix,
        ks=ks,
        query_ids=ids,
        archive_ids=ids,
    )
    unrelated = np.asarray(clips.content)[:, None] != np.asarray(clips.content)[None, :]
    figures[f"{prefix}/unrelated_distance"] = (
        float(distances[unrelated].mean()) if unrelated.any() else float("nan")
    )
    figures |= cross_voice_consistency(
        strings, clips.content, clips.speakers, prefix, distances=distances
    )
    if clips.views:
        total = sum(len(batch[1]) for batch in clips.views)
        progress = Progress(
            f"measure {prefix}: paired views", total=total, unit="pairs", log=log.info
        )
        strings_a, strings_b = [], []
        for wave_a, secs_a, wave_b, secs_b in clips.views:
            strings_a += tokenizer(wave_a, secs_a)
            strings_b += tokenizer(wave_b, secs_b)
            progress.update(len(strings_a))
        figures |= cross_view_consistency(strings_a, strings_b, prefix)
    return figures


def frame_code_figures(tokenizer, clips: ClipSet, prefix: str) -> dict[str, float]:
    """Aligned-frame code agreement across voices of a tokenizer's stage-1 codes on `clips`
    (`pairalign.evaluation.frame_agreement`); nothing when the clips carry no audio."""
    from pairalign.evaluation.frame_agreement import aligned_code_agreement, clip_frame_codes

    if not clips.audio:
        return {}
    codes = clip_frame_codes(tokenizer.frame_codes, clips.audio, clips.sample_rate)
    return aligned_code_agreement(
        codes,
        tokenizer.config.frame_seconds,
        clips.audio,
        clips.sample_rate,
        clips.content,
        clips.speakers,
        prefix,
    )


def checkpoint_figures(
    checkpoint: str, clips: ClipSet, *, ks: Sequence[int] = (1, 5, 10), batch_size: int = 32
) -> dict[str, float]:
    """A training checkpoint's strings on `clips`: `vq/...` (its collapsed frame codes) and, for a
    stage-2 checkpoint, `pairalign/...` side by side, with `compare/token_reduction`."""
    from pairalign.tokenizing.kinds import PairAlignStrings, VQStrings
    from pairalign.tokenizing.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    kinds: dict[str, StringTokenizer] = {"vq": VQStrings(tokenizer)}
    if tokenizer.decoder is not None:
        kinds["pairalign"] = PairAlignStrings(tokenizer)
    figures = {
        f"{clips.name}/clips": float(len(clips.ids)),
        "vq/frame_rate": 1.0 / tokenizer.config.frame_seconds,
    }
    for kind, strings_of in kinds.items():
        figures |= measure_tokenizer(strings_of, clips, kind, ks=ks, batch_size=batch_size)
    figures |= frame_code_figures(tokenizer, clips, "vq")
    if "pairalign" in kinds:
        figures["compare/token_reduction"] = 1 - figures["pairalign/tokens"] / figures["vq/tokens"]
    return figures
