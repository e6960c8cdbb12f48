"""The stage floor imports without Ray: a process where `import ray` fails imports every stage,
builds its config and reaches the local run's modules."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["ray"] = None  # any `import ray` (or ray.x) now raises ImportError
import pairalign.stages
import pairalign.stages.local
import pairalign.training.local
import pairalign.data.corpora.spec
from pairalign.data.corpora.prepare import PrepareConfig
PrepareConfig()
from pairalign.stages import STAGES
for stage in STAGES.values():
    stage.config()
assert not [m for m in sys.modules if m == "ray" or m.startswith("ray.")
            if sys.modules[m] is not None]
print("ok", sorted(STAGES))
"""


def test_stages_import_with_ray_blocked():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok ['refine', 'vq']"
