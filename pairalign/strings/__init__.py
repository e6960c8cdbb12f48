"""Token strings: runs of frame codes (`runs`), DPDP segmentation (`dpdp`), byte-pair encoding
(`bpe`), edit distances (`distance`), the VQ-string rule that chooses among them (`rule`:
`VQStringConfig`, `string_runs` and the registry of schemes) and consensus strings, the runs
that other renditions of the same content share (`consensus`)."""

from pairalign.strings.consensus import (
    ConsensusConfig,
    Rendition,
    batch_consensus_runs,
    consensus_runs,
    consensus_runs_multi,
)
from pairalign.strings.distance import edit_distance, normalized_edit_distance
from pairalign.strings.rule import (
    SCHEMES,
    Scheme,
    StringContext,
    VQStringConfig,
    scheme,
    scheme_of,
    string_runs,
)
from pairalign.strings.runs import Runs, collapse_runs

__all__ = [
    "SCHEMES",
    "ConsensusConfig",
    "Rendition",
    "Runs",
    "Scheme",
    "StringContext",
    "VQStringConfig",
    "batch_consensus_runs",
    "collapse_runs",
    "consensus_runs",
    "consensus_runs_multi",
    "edit_distance",
    "normalized_edit_distance",
    "scheme",
    "scheme_of",
    "string_runs",
]
