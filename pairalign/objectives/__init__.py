"""Training signals: frame alignment across views, the stage-1 losses, stage-2 targets and
losses, and the whole refinement step with its EMA teacher."""
