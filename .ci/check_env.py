"""Smoke check of the project's environment: run at the end of set-up and before every test run.

Fails with one clear line when the installed packages do not fit together (torch and torchaudio
from different builds, a missing compiled op, a package the project imports that is absent).
"""

import importlib
import sys


def check() -> list[str]:
    problems = []
    try:
        import torch
        import torchaudio

        wave = torch.randn(1, 1600)
        torchaudio.functional.resample(wave, 16000, 8000)  # pure torch
        torchaudio.functional.lfilter(wave, torch.tensor([1.0, 0.0]), torch.tensor([1.0, -0.5]))
        torchaudio.transforms.MelSpectrogram(16000, n_fft=400, n_mels=40)(wave)
        if torch.__version__.split("+")[0] != torchaudio.__version__.split("+")[0]:
            problems.append(
                f"torch {torch.__version__} and torchaudio {torchaudio.__version__} differ"
            )
    except Exception as err:  # every failure is reported as one line
        problems.append(f"{_installed('torch', 'torchaudio')}: {type(err).__name__}: {err}")
    for name in (
        "ray",
        "ray.train.torch",
        "ray.data",
        "ray.tune",
        "mlflow",
        "soundfile",
        "s3fs",
        "pyarrow",
        "rapidfuzz",
        "editdistance",
        "matplotlib",
        "scipy",
        "yaml",
        "pairalign",
    ):
        try:
            importlib.import_module(name)
        except Exception as err:
            problems.append(f"import {name}: {type(err).__name__}: {err}")
    return problems


def _installed(*names: str) -> str:
    """'torch 2.11.0, torchaudio 2.11.1' as installed (whether or not they import)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


if __name__ == "__main__":
    found = check()
    for line in found:
        print(f"environment check FAILED: {line}", file=sys.stderr)
    if found:
        print(
            "environment check FAILED: rebuild the environment from requirements.lock "
            "(make venv, after removing the broken one)",
            file=sys.stderr,
        )
        sys.exit(1)
    import torch

    print(f"environment check ok: {sys.executable} (torch {torch.__version__})")
