"""
MovieLens 100K: from a file to recommendations
==============================================

Load the ratings file (its ids become the labels every answer uses), hold out
10% to see how well ALS predicts unseen ratings, then recommend unseen movies.
MovieLens may not be redistributed, so this example reads it from
``LORANK_DATA`` or ``../shared/data`` when present and uses Netflix-shaped
synthetic ratings otherwise.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt

import lorank

candidates = [Path(os.environ.get("LORANK_DATA", "")) / "ml-100k",
              Path.cwd().parent.parent / "shared" / "data" / "ml-100k",
              Path.cwd().parent / "shared" / "data" / "ml-100k"]
folder = next((p for p in candidates if (p / "u.data").exists()), None)
if folder is not None:
    R, titles = lorank.datasets.load_movielens(folder)
    source = "MovieLens 100K"
else:
    R, _ = lorank.datasets.synthetic(n_rows=943, n_cols=1682, nnz=100_000, random_state=0)
    titles = None
    source = "synthetic (MovieLens 100K shape)"
print(source, R)

train, test = R.split(test_size=0.1, random_state=0)
model = lorank.ALS(rank=10, random_state=0).fit(train, validation=test)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(model.history_["iteration"], model.history_["train_rmse"], "o-", label="train")
ax.plot(model.history_["iteration"], model.history_["valid_rmse"], "o-", label="held out 10%")
ax.set_xlabel("ALS iteration")
ax.set_ylabel("RMSE (stars)")
ax.set_title(f"ALS on {source}")
ax.legend()
fig.tight_layout()

# %%
# Recommendations for one user, by the file's id, from a model fitted on all ratings.
rec = lorank.Recommender(lorank.ALS(rank=10, random_state=0)).fit(R)
user = R.row_labels[0] if R.row_labels is not None else 0
items, scores = rec.recommend(user, n=5)
for item, score in zip(items, scores):
    name = titles.get(item, item) if isinstance(titles, dict) else item
    print(f"{score:5.2f}  {name}")
plt.show()
