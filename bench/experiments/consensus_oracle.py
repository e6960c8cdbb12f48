"""The oracle at the top of issue 28's ladder: consensus strings made with the other renditions
present. A CEILING, not a tokenizer: each clip's string is made by consulting the other
renditions of its sentence in the set it is then measured on (the relevant items of its query).

For each clip A of a set and each other rendition B of its sentence (another voice): B's frames
are aligned to A's by DTW (`pairalign.timing.align`: on the stage-1 checkpoint's quantizer
latents, `features=latents`, the default, or on normalised log-mel frames, `features=mel`), the
path becomes a time map of seconds (`TimeMap.from_path`), and each of A's 20 ms model frames
gets the frame of B that its centre maps to (frames outside the aligned stretch, i.e. trimmed
silence, have no partner). A's string is then `strings.consensus.consensus_runs_multi`: A's
VQ-string runs that at least `quorum` of the others agree with (`threshold`, `slack`: a run
agrees with B when that share of its frames' partners hold its code, within `slack` frames), the
rest merged into their neighbours. The strings are measured as every string is
(`measure_tokenizer`: tokens/s, MAP, ...; no cross-view consistency, which has no second
rendition). `quorum` 0 keeps every run: A's VQ string made from frame codes stitched across the
3 s windows (a check against the archive-path VQ strings). `pair=true` adds the consensus
against ONE other rendition (the first other voice's rendition of the sentence in utterance-id
order), the form a stage-2 consensus target takes on a cross-voice pair.

Beside it: the checkpoint's default VQ strings, and its merge and DPDP strings
(`VQStringConfig.rate`/`reduce`) at rates bracketing each oracle rate, MAP interpolated to the
oracle's measured rate (`vq_baselines.map_at_rate`).

    PYTHONPATH=. nice -n 19 python -m bench.experiments.consensus_oracle \\
        checkpoint=<stage-1 run dir> corpus=data/builtin out=runs/consensus-oracle.json
    # a variant on the same strings, reusing that run's merge/DPDP curves (the slow part)
    PYTHONPATH=. nice -n 19 python -m bench.experiments.consensus_oracle \\
        checkpoint=<stage-1 run dir> curves_from=[runs/consensus-oracle.json] features=mel

Figures (2026-12-05): BENCHMARKS.md, "Pairs that change the speaker (issue 28)".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from bench.cli import parse
from bench.experiments.measure_sets import Sets
from bench.experiments.vq_baselines import baseline_figures, map_at_rate
from pairalign.evaluation.figures import ClipSet, measure_tokenizer
from pairalign.strings.consensus import ConsensusConfig, Rendition, consensus_runs_multi
from pairalign.timing import DTWConfig, TimeMap, align, frame_levels_db
from pairalign.tokenizing.dense import clip_log_mel
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.windows import cut, padded_batches

KEPT = ("token_rate", "tokens", "map", "precision_at_1", "cross_voice_consistency")
MEL_SECONDS = 0.01  # LogMel's hop


@dataclass(frozen=True)
class ConsensusOracle:
    checkpoint: str  # a stage-1 run directory or checkpoint
    out: str = ""  # JSON file ("": print only)
    corpus: str = "data/builtin"
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    sets: tuple[str, ...] = ("builtin_test", "vcc_test")
    features: Literal["mel", "latents"] = "latents"  # what DTW aligns
    band: float = 0.2  # DTW band, a share of B's frames
    trim_db: float = 40.0  # silence trimmed before DTW (dB below the loudest frame)
    quorums: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
    threshold: float = 0.5  # share of a run's frames whose partner holds its code
    slack: int = 2  # frames of tolerance around each partner
    pair: bool = True  # also the consensus against one other rendition
    baselines: tuple[str, ...] = ("merge", "dpdp")  # at each oracle rate ("" none)
    batch_size: int = 32
    sentences: int = 0  # the first N sentences of each set (0: all), for a quick look
    # earlier outputs of this script (same checkpoint and sets): their baseline curves are
    # reused instead of measured again (variants of the oracle on the same strings)
    curves_from: tuple[str, ...] = ()


@dataclass
class ClipFrames:
    """One clip's model frames, stitched across windows as the archive job owns them."""

    codes: np.ndarray  # (T,) nearest code of each 20 ms frame
    latents: np.ndarray  # (T, C) the quantizer's unit-norm projections


@torch.no_grad()
def clip_frames(tokenizer: Tokenizer, clips: ClipSet, batch_size: int) -> list[ClipFrames]:
    """Frame codes and latents of each clip: clips longer than the window are cut as
    `tokenizing.windows.cut` cuts them, and each window keeps the frames whose centre it owns."""
    frame = tokenizer.config.frame_seconds
    rate = clips.sample_rate
    pieces = [
        p
        for i, x in enumerate(clips.audio)
        for p in cut(len(x), rate, clips.window_seconds, clips.overlap_seconds, i)
    ]
    waves = [clips.audio[p.clip][p.start : p.stop] for p in pieces]
    codes: list[list[np.ndarray]] = [[] for _ in clips.audio]
    latents: list[list[np.ndarray]] = [[] for _ in clips.audio]
    for idx, padded, seconds in padded_batches(waves, rate, clips.window_seconds, batch_size):
        encoded = tokenizer.model(torch.from_numpy(padded), torch.tensor(seconds))
        mask = encoded.mask.numpy()
        for row, j in enumerate(idx):
            piece = pieces[j]
            valid = np.flatnonzero(mask[row])
            centre = piece.start / rate + (valid + 0.5) * frame
            owned = valid[(centre >= piece.owns_from) & (centre < piece.owns_to)]
            codes[piece.clip].append(encoded.quantized.codes[row, owned].numpy())
            latents[piece.clip].append(encoded.quantized.latents[row, owned].numpy())
    return [
        ClipFrames(np.concatenate(c), np.concatenate(z))
        for c, z in zip(codes, latents, strict=True)
    ]


@dataclass
class Features:
    """What DTW aligns, per clip, and the clock of its frames."""

    frames: list[np.ndarray]  # [(T_i, D)]
    levels: list[np.ndarray]  # [(T_i,)] each frame's level in dB, for silence trimming
    step: float  # seconds between frames
    origin: float  # frame i is centred at (i + origin) x step


def dtw_features(
    clips: ClipSet, frames: list[ClipFrames], features: str, model_frame: float
) -> Features:
    """Normalised log-mel frames (10 ms, centred at i x hop) or the model's latents (20 ms)."""
    if features == "mel":
        mel = [clip_log_mel(x, sample_rate=clips.sample_rate) for x in clips.audio]
        return Features(mel, [frame_levels_db(x) for x in clips.audio], MEL_SECONDS, 0.0)
    if features == "latents":
        hop = round(model_frame * clips.sample_rate)
        levels = [frame_levels_db(x, hop, hop) for x in clips.audio]
        return Features([f.latents for f in frames], levels, model_frame, 0.5)
    raise ValueError(f"features={features!r}: mel or latents")


def partners(
    path: np.ndarray, step: float, origin: float, model_frame: float, frames_a: int, frames_b: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each model frame of A: the model frame of B its centre maps to along the DTW path
    (`path` in feature frames of `step` seconds, frame i centred at (i + origin) x step), valid
    inside the aligned stretch of A and within B.  # (P, 2) -> (T_a,) int64, (T_a,) bool"""
    time_map = TimeMap.from_path(path, step, frame_origin=origin)
    centre = (np.arange(frames_a) + 0.5) * model_frame
    partner = np.floor(time_map(centre) / model_frame).astype(np.int64)
    first, last = (path[0, 0] + origin) * step, (path[-1, 0] + origin) * step
    valid = (centre >= first - step / 2) & (centre <= last + step / 2)
    valid &= (partner >= 0) & (partner < frames_b)
    return np.clip(partner, 0, max(frames_b - 1, 0)), valid


def renditions_of(
    clips: ClipSet, frames: list[ClipFrames], args: ConsensusOracle, model_frame: float
) -> tuple[list[list[Rendition]], dict[str, float]]:
    """Every other voice's rendition of each clip's sentence, aligned to the clip's frames."""
    feats = dtw_features(clips, frames, args.features, model_frame)
    config = DTWConfig(band=args.band, trim_db=args.trim_db)
    out: list[list[Rendition]] = [[] for _ in clips.ids]
    agree = seen = heard = 0
    started = time.perf_counter()
    for a in range(len(clips.ids)):
        for b in range(len(clips.ids)):
            same = clips.content[a] == clips.content[b]
            if a == b or not same or clips.speakers[a] == clips.speakers[b]:
                continue
            found = align(
                feats.frames[a], feats.frames[b], config, feats.levels[a], feats.levels[b]
            )
            codes_a, codes_b = frames[a].codes, frames[b].codes
            partner, valid = partners(
                found.path, feats.step, feats.origin, model_frame, len(codes_a), len(codes_b)
            )
            out[a].append(Rendition(codes_b, partner, valid))
            agree += int((codes_b[partner] == codes_a)[valid].sum())
            seen += int(valid.sum())
            heard += len(codes_a)
    pairs = sum(len(o) for o in out)
    return out, {
        "dtw_pairs": pairs,
        "dtw_seconds": round(time.perf_counter() - started, 1),
        "aligned_frame_code_agreement": round(agree / max(seen, 1), 4),
        "aligned_frames_valid": round(seen / max(heard, 1), 4),
    }


def figures_of(tokenizer: Tokenizer, clips: ClipSet, strings: list[list[int]], tag: str) -> dict:
    found = measure_tokenizer(VQStrings(tokenizer), clips, tag, strings=strings)
    return {k: round(found[f"{tag}/{k}"], 4) for k in KEPT if f"{tag}/{k}" in found}


def oracle_set(tokenizer: Tokenizer, clips: ClipSet, args: ConsensusOracle) -> dict:
    model_frame = tokenizer.config.frame_seconds
    frames = clip_frames(tokenizer, clips, args.batch_size)
    others, dtw = renditions_of(clips, frames, args, model_frame)
    base = ConsensusConfig(
        min_run_frames=tokenizer.strings.min_run_frames, threshold=args.threshold, slack=args.slack
    )
    rows = {}
    for quorum in args.quorums:
        config = replace(base, quorum=quorum)
        strings = [
            consensus_runs_multi(f.codes, o, config)[0].tolist()
            for f, o in zip(frames, others, strict=True)
        ]
        rows[f"oracle@{quorum:g}"] = figures_of(tokenizer, clips, strings, f"q{quorum:g}")
    if args.pair:  # one other rendition: the first other voice's, in utterance-id order
        config = replace(base, quorum=1.0)
        strings = [
            consensus_runs_multi(f.codes, o[:1], config)[0].tolist()
            for f, o in zip(frames, others, strict=True)
        ]
        rows["pair"] = figures_of(tokenizer, clips, strings, "pair")
    return {"dtw": dtw, "strings": rows}


def beside(
    tokenizer: Tokenizer,
    clips: ClipSet,
    found: dict,
    reduces: Sequence[str],
    curve: dict | None = None,
) -> None:
    """The checkpoint's default VQ strings, and each heuristic's MAP at each oracle rate
    (interpolated on `curve`, an earlier run's, when given; NaN outside its rates)."""
    oracle = {k: v for k, v in found["strings"].items() if k != "oracle@0"}
    measured = [v["token_rate"] + d for v in oracle.values() for d in (-1, 0, 1)]
    rates = sorted({round(2 * r) / 2 for r in measured})  # a grid of 0.5/s brackets each one
    reduces = tuple(r for r in reduces if r)
    if curve is None:
        curve = baseline_figures(tokenizer, clips, [r for r in rates if r >= 1], reduces)
    found["vq"] = {k: round(v, 4) for k, v in curve["vq"].items()}
    found["collapsed"] = {k: round(v, 4) for k, v in curve["collapsed"].items()}
    for row in oracle.values():
        for reduce in reduces:
            row[f"{reduce}_map"] = round(map_at_rate(curve, reduce, row["token_rate"]), 4)
    found["curve"] = curve


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(ConsensusOracle, argv, __doc__)
    tokenizer = Tokenizer.from_checkpoint(args.checkpoint)
    sets = Sets(args.corpus, vcc_manifest=args.vcc_manifest)
    results: dict = {"settings": asdict(args), "checkpoint": tokenizer.checkpoint_id}
    curves = earlier_curves(args.curves_from, tokenizer.checkpoint_id, args.sentences)
    for name in args.sets:
        clips = first_sentences(sets.get(name), args.sentences)
        started = time.perf_counter()
        found = oracle_set(tokenizer, clips, args)
        found["oracle_seconds"] = round(time.perf_counter() - started, 1)
        if any(args.baselines):
            started = time.perf_counter()
            beside(tokenizer, clips, found, args.baselines, curves.get(name))
            found["baseline_seconds"] = round(time.perf_counter() - started, 1)
        results[name] = found
        report(name, found)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


def earlier_curves(paths: Sequence[str], checkpoint: str, sentences: int) -> dict[str, dict]:
    """{set: baseline curve} from earlier outputs of this script of the same checkpoint."""
    curves = {}
    for path in paths:
        earlier = json.loads(Path(path).read_text())
        same = earlier["settings"]["sentences"] == sentences
        if earlier["checkpoint"] != checkpoint or not same:
            raise ValueError(f"{path}: another checkpoint or set ({earlier['checkpoint']})")
        curves |= {
            k: v["curve"] for k, v in earlier.items() if isinstance(v, dict) and "curve" in v
        }
    return curves


def first_sentences(clips: ClipSet, sentences: int) -> ClipSet:
    """The clips of the first `sentences` sentences (sorted ids; 0: all), without the fixed views
    (there is no second rendition of a view: no cross-view consistency here)."""
    keep = sorted(set(clips.content))[:sentences] if sentences else sorted(set(clips.content))
    rows = [i for i, c in enumerate(clips.content) if c in set(keep)]

    def pick(items: list) -> list:
        return [items[i] for i in rows]

    return replace(
        clips,
        ids=pick(clips.ids),
        seconds=pick(clips.seconds),
        content=pick(clips.content),
        speakers=pick(clips.speakers),
        audio=pick(clips.audio),
        views=[],
    )


def report(name: str, found: dict) -> None:
    print(f"== {name} (CEILING: the oracle consults the other renditions) {found['dtw']}")
    print({k: v for k, v in found.items() if k.endswith("_seconds")})
    for key in ("collapsed", "vq"):
        if key in found:
            print(f"{key:12s} {found[key]['token_rate']:6.2f}/s  MAP {found[key]['map']:.4f}")
    for key, row in found["strings"].items():
        extra = "  ".join(
            f"{k[:-4]} {row[k]:.4f}" for k in row if k.endswith("_map") and not math.isnan(row[k])
        )
        print(f"{key:12s} {row['token_rate']:6.2f}/s  MAP {row['map']:.4f}  {extra}", flush=True)


if __name__ == "__main__":
    main()
