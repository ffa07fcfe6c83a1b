"""Observed entries in: ``Ratings``, ``TensorRatings``, label indexes, file loaders and the implicit-feedback generator."""
