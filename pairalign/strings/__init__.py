"""Token strings: runs of frame codes (`runs`), DPDP segmentation (`dpdp`), byte-pair encoding
(`bpe`), edit distances (`distance`) and the VQ-string rule that chooses among them (`rule`:
`VQStringConfig`, `string_runs` and the registry of schemes)."""

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
    "Runs",
    "Scheme",
    "StringContext",
    "VQStringConfig",
    "collapse_runs",
    "edit_distance",
    "normalized_edit_distance",
    "scheme",
    "scheme_of",
    "string_runs",
]
