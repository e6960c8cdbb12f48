"""PairAlign: compact speech token strings by sequence-level self-alignment."""

__version__ = "0.1.0"
