"""
Image compression at ranks 10 to 100
====================================

The best rank-k approximation keeps the top k singular triplets: ``(m + n)·k``
numbers instead of ``m·n``. The relative error falls quickly at first, then
slowly as the image's fine texture has to be paid for rank by rank.
"""

import matplotlib.pyplot as plt
import numpy as np

import lorank
from lorank.demo import sample_image

img = sample_image(256)
ranks = [10, 20, 50, 100]
fig, axes = plt.subplots(1, len(ranks) + 1, figsize=(12, 3))
axes[0].imshow(img, cmap="gray")
axes[0].set_title("original")
for ax, k in zip(axes[1:], ranks):
    C = lorank.compress(img, k)
    error = np.linalg.norm(img - C.to_dense()) / np.linalg.norm(img)
    ax.imshow(C.to_dense(), cmap="gray")
    ax.set_title(f"rank {k}: {C.compression_ratio:.1f}x smaller\nerror {error:.3f}")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()
plt.show()
