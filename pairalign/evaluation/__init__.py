"""Measuring token strings: string metrics, edit-distance search and retrieval, the sweep probe,
held-out halves, Pareto fronts, plots, and the one function that measures tokenizers on clips."""
