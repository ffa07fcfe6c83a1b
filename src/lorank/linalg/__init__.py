"""Linear algebra on dense, sparse and factored matrices: ``svd``, ``LowRank``, ``SparsePlusLowRank``."""
