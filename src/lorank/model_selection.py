"""Model selection: evaluate, k-fold and per-user splits, time-based splits."""
