"""Artefacts the held-out evaluation could carry, measured on the dev half of the eval split
(`pairalign.evaluation.heldout`), printed as JSON:

- budget: how many of a stage-2 checkpoint's PairAlign strings stop at the decoding budget
  ceil(seconds x decoding.rate x decoder.free.slack) instead of at EOS (`Decoded.ended` False), per
  decoded window as the evaluation decodes them; and, for a hypothetical model that copies VQ
  strings at `copy_rate` tokens/s with the same slack, the share of the dev clips' collapsed VQ
  code strings (min_run_frames=1, same checkpoint) that such a budget would cut.
- windows: the dev clips' durations, and MAP of the PairAlign and VQ strings over all queries and
  separately over queries up to and over the window (clips longer than it are cut into windows
  and stitched, `pairalign.tokenizing.windows`); the archive is always every clip. `_whole`:
  the same with no windows, every clip padded to the longest (a padding the model never saw);
  `pairalign_collapsed`: the PairAlign strings with adjacent repeats collapsed.
- dpdp (`dpdp=true`): a stage-1 checkpoint's VQ strings with min_run_frames=2 cut to each rate by
  `merge` and by `dpdp` (`heldout_figures`, kinds ("vq",)): token rate, MAP, consistency.

    PYTHONPATH=. python -m bench.experiments.eval_artefacts refine=runs/refine-tiny \\
        corpus=data/builtin [dpdp=true vq=runs/vq-tiny/checkpoint_...]
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from bench.cli import parse
from pairalign.data.manifest import read_manifest
from pairalign.data.splits import half_rows
from pairalign.data.storage import join
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet, clip_strings
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures, load_heldout
from pairalign.evaluation.retrieval import retrieval_metrics
from pairalign.evaluation.search import distance_matrix
from pairalign.models.decoding import max_lengths
from pairalign.strings.rule import VQStringConfig
from pairalign.strings.runs import collapse_runs
from pairalign.tokenizing.kinds import PairAlignStrings, VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.windows import cut, padded_batches

DPDP_KEYS = ("token_rate", "mean_length", "map", "precision_at_1", "consistency", "vocab_used")


def windows_of(data: ClipSet) -> tuple[list[np.ndarray], list[bool]]:
    """The pieces the evaluation tokenizes (`windows.tokenize_clips`: clips cut by `windows.cut`)
    and whether each one's clip was cut into windows."""
    waves, windowed = [], []
    for i, wave in enumerate(data.audio):
        pieces = cut(len(wave), data.sample_rate, data.window_seconds, data.overlap_seconds, i)
        waves += [wave[piece.start : piece.stop] for piece in pieces]
        windowed += [len(pieces) > 1] * len(pieces)
    return waves, windowed


def budget_figures(
    tokenizer: Tokenizer, data: ClipSet, copy_rate: float, batch_size: int
) -> dict[str, float]:
    """PairAlign strings that hit the budget, and VQ strings a copy at `copy_rate` would cut."""
    if tokenizer.pairalign is None:
        raise ValueError("budget figures need a stage-2 checkpoint (a stage-1 one has no decoder)")
    decoding, decoder = tokenizer.pairalign.config.decoding, tokenizer.pairalign.config.decoder
    if not hasattr(decoder.settings, "slack"):
        raise ValueError(
            f"budget figures need a decoder with a length budget (decoder.free.slack); this "
            f"checkpoint's is decoder.kind={decoder.kind}"
        )
    slack = decoder.settings.slack
    cap = tokenizer.pairalign.decoder.config.max_len
    collapsed = tokenizer.with_strings(VQStringConfig(min_run_frames=1))
    waves, windowed = windows_of(data)
    strings, ended, vq_lengths, seconds = [], [], [], []
    # each piece zero-padded to the window, as the evaluation pads it
    for _, batch, secs in padded_batches(waves, data.sample_rate, data.window_seconds, batch_size):
        seconds += secs
        decoded = tokenizer.decode(batch, secs)
        strings += decoded.strings
        ended += decoded.ended.tolist()
        vq_lengths += [len(s) for s in collapsed.vq_strings(batch, secs)]
    secs_t = torch.tensor(seconds)
    budget = max_lengths(secs_t, decoding.rate, slack, cap).numpy()
    copy_budget = max_lengths(secs_t, copy_rate, slack, cap).numpy()
    hit, windowed = ~np.asarray(ended), np.asarray(windowed)
    lengths, vq_lengths = np.asarray([len(s) for s in strings]), np.asarray(vq_lengths)
    vq_rate = vq_lengths / np.asarray(seconds)
    repeats = np.asarray([np.mean(np.diff(s) == 0) if len(s) > 1 else 0.0 for s in strings])
    return {
        "windows": float(len(waves)),
        "decoding_rate": decoding.rate,
        "decoding_slack": slack,
        "pairalign/hit_budget": float(hit.sum()),
        "pairalign/hit_budget_share": float(hit.mean()),
        "pairalign/hit_budget_windowed": float((hit & windowed).sum()),
        "pairalign/windows_windowed": float(windowed.sum()),
        "pairalign/at_budget_length": float((lengths >= budget).sum()),
        "pairalign/mean_length": float(lengths.mean()),
        "pairalign/mean_budget": float(budget.mean()),
        "pairalign/repeat_share_hit": float(repeats[hit].mean()) if hit.any() else 0.0,
        "pairalign/repeat_share_ended": float(repeats[~hit].mean()),
        "copy/rate": copy_rate,
        "copy/mean_budget": float(copy_budget.mean()),
        "copy/vq_cut": float((vq_lengths > copy_budget).sum()),
        "copy/vq_cut_share": float((vq_lengths > copy_budget).mean()),
        "copy/vq_over_rate_share": float((vq_rate > copy_rate).mean()),  # over the rate, no slack
        "vq1/token_rate_mean": float(vq_rate.mean()),
        "vq1/token_rate_p50": float(np.percentile(vq_rate, 50)),
        "vq1/token_rate_p90": float(np.percentile(vq_rate, 90)),
        "vq1/token_rate_max": float(vq_rate.max()),
    }


def duration_figures(data: ClipSet) -> dict[str, float]:
    secs = np.asarray(data.seconds)
    edges = [0, 1, 2, 3, 4, 5, np.inf]
    counts, _ = np.histogram(secs, bins=edges)
    out = {f"seconds/p{p}": float(np.percentile(secs, p)) for p in (0, 10, 50, 90, 100)}
    out |= {
        f"seconds/count_{lo:g}_{hi:g}": float(n)
        for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
    }
    out["seconds/over_window"] = float((secs > data.window_seconds).sum())
    return out


def split_map(
    strings: list[list[int]], data: ClipSet, prefix: str, window: float
) -> dict[str, float]:
    """MAP over all queries and over queries up to / over `window` seconds; every clip is a
    candidate."""
    distances = distance_matrix(strings, strings)
    content, speakers = np.asarray(data.content), np.asarray(data.speakers)
    ids = np.arange(len(strings))
    secs = np.asarray(data.seconds)
    out = {}
    for name, rows in (("all", secs >= 0), ("short", secs <= window), ("long", secs > window)):
        out[f"{prefix}/{name}/queries"] = float(rows.sum())
        if rows.any():
            figures = retrieval_metrics(
                distances[rows],
                content[rows],
                content,
                speakers[rows],
                speakers,
                "m",
                query_ids=ids[rows],
                archive_ids=ids,
            )
            out[f"{prefix}/{name}/map"] = figures["m/map"]
    out[f"{prefix}/token_rate"] = sum(map(len, strings)) / float(secs.sum())
    return out


def dpdp_figures(checkpoint: str, data: ClipSet, rates: list[float]) -> dict[str, float]:
    base = Tokenizer.from_checkpoint(checkpoint)
    out = {}
    for rate in rates:
        for reduce in ("merge", "dpdp"):
            began = time.perf_counter()
            tokenizer = base.with_strings(
                VQStringConfig(min_run_frames=2, rate=rate, reduce=reduce)
            )
            figures = heldout_figures(tokenizer, data, HeldoutConfig(), kinds=("vq",))
            key = f"dpdp/rate{rate:g}/{reduce}"
            out |= {f"{key}/{k}": figures[f"{data.name}/vq/{k}"] for k in DPDP_KEYS}
            out[f"{key}/seconds"] = time.perf_counter() - began
    return out


@dataclass(frozen=True)
class EvalArtefacts:
    refine: str = ""  # a stage-2 run directory or checkpoint
    corpus: str = "data/builtin"
    copy_rate: float = 21.5
    dpdp: bool = False  # also merge vs dpdp on `vq`
    vq: str = ""  # a stage-1 checkpoint (for dpdp)
    rates: tuple[float, ...] = (6.5, 9.7, 12.5)
    threads: int = 1
    batch_size: int = 32
    sentences: int = 0  # of the dev half (0: all)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(EvalArtefacts, argv, __doc__)
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    manifest = read_manifest(join(args.corpus, "manifest.parquet"))
    config = HeldoutConfig(sentences=args.sentences)
    rows = half_rows(manifest, "test", "dev", config.sentences)
    data = load_heldout(rows, "dev", ViewConfig(), config)
    out: dict[str, float | str] = {"dev/clips": float(len(data.ids))}
    out |= duration_figures(data)
    if args.refine:
        tokenizer = Tokenizer.from_checkpoint(args.refine)
        out["refine"] = tokenizer.checkpoint_id
        out |= budget_figures(tokenizer, data, args.copy_rate, args.batch_size)
        kinds = {"pairalign": PairAlignStrings(tokenizer), "vq": VQStrings(tokenizer)}
        # whole clips, every one padded to the longest: no stitching, but another padding
        whole = replace(data, window_seconds=max(data.seconds) + 0.01)
        for kind, strings_of in kinds.items():
            for name, clips in (("", data), ("_whole", whole)):
                strings = clip_strings(strings_of, clips, args.batch_size, kind)
                out |= split_map(strings, clips, f"map/{kind}{name}", data.window_seconds)
                if kind == "pairalign" and not name:  # repeats collapsed, as VQ strings are
                    collapsed = [collapse_runs(s) for s in strings]
                    out |= split_map(collapsed, data, f"map/{kind}_collapsed", data.window_seconds)
    if args.dpdp:
        out["vq"] = args.vq
        out |= dpdp_figures(args.vq, data, list(args.rates))
    out["seconds"] = time.perf_counter() - began
    print(
        json.dumps(
            {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}, indent=1
        )
    )


if __name__ == "__main__":
    main()
