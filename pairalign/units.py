"""Unit aliases that make signatures say what a number means."""

Seconds = float
Decibels = float
Hertz = int
Semitones = float

SAMPLE_RATE: Hertz = 16_000
