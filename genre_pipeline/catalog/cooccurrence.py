"""Which genres occur together: co-occurrence matrix, heatmap and spectral co-clustering.

Tutorial step: "Analysing genre co-occurrence". The tutorial built the matrix with nested
Python loops over a pickled list, drew a seaborn heatmap, and ran scikit-learn's
``SpectralCoclustering`` to show genre blocks. Same science here, as plain functions: the
matrix is one sparse product (``Y.T @ Y``), and plots are returned as PNG bytes so the
Dagster UI can show them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


def label_matrix(movie_genres: Sequence[Sequence[str]], genre_names: Sequence[str]) -> np.ndarray:
    """Binary movies × genres matrix (a genre listed twice for one movie counts once)."""
    index = {name: j for j, name in enumerate(genre_names)}
    matrix = np.zeros((len(movie_genres), len(genre_names)), dtype=np.int64)
    for i, genres in enumerate(movie_genres):
        for name in genres:
            if name in index:
                matrix[i, index[name]] = 1
    return matrix


def cooccurrence_matrix(movie_genres: Sequence[Sequence[str]], genre_names: Sequence[str]) -> pd.DataFrame:
    """Symmetric genre × genre counts: [a, b] = movies with both a and b; diagonal = genre counts."""
    labels = label_matrix(movie_genres, genre_names)
    counts = labels.T @ labels
    return pd.DataFrame(counts, index=list(genre_names), columns=list(genre_names))


def spectral_coclusters(matrix: pd.DataFrame, n_clusters: int, seed: int = 0) -> tuple[pd.DataFrame, list[int]]:
    """Spectral co-clustering of the co-occurrence matrix.

    Returns (one row per genre with its ``cluster``, the genre order that groups clusters
    together for the reordered heatmap). Genres that never occur are left out of the fit
    (the algorithm needs positive row and column sums) and put in cluster -1.
    """
    from sklearn.cluster import SpectralCoclustering

    names = list(matrix.index)
    present = [n for n in names if matrix.loc[n].sum() > 0]
    k = max(1, min(n_clusters, len(present) - 1)) if len(present) > 2 else 1
    clusters = {n: -1 for n in names}
    if k >= 2:
        data = matrix.loc[present, present].to_numpy(dtype=float) + 1e-9
        model = SpectralCoclustering(n_clusters=k, random_state=seed)
        model.fit(data)
        for name, label in zip(present, model.row_labels_):
            clusters[name] = int(label)
    else:
        for name in present:
            clusters[name] = 0
    frame = pd.DataFrame({"genre": names, "cluster": [clusters[n] for n in names], "movie_count": [int(matrix.loc[n, n]) for n in names]})
    order_frame = frame.assign(_c=frame["cluster"].where(frame["cluster"] >= 0, 10**6)).sort_values(
        ["_c", "movie_count"], ascending=[True, False], kind="mergesort"
    )
    order = [names.index(g) for g in order_frame["genre"]]
    return frame, order


def heatmap_png(matrix: pd.DataFrame, title: str, order: Sequence[int] | None = None, clusters: Sequence[int] | None = None) -> bytes:
    """A labelled heatmap of the matrix as PNG bytes (log-scaled colour, counts annotated)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if order is not None:
        matrix = matrix.iloc[list(order), list(order)]
    values = matrix.to_numpy(dtype=float)
    n = len(matrix)
    size = max(5.0, 0.42 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=90)
    image = ax.imshow(np.log1p(values), cmap="viridis")
    ax.set_xticks(range(n), labels=list(matrix.columns), rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels=list(matrix.index), fontsize=8)
    if n <= 25:
        peak = values.max() if values.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{int(values[i, j])}", ha="center", va="center", fontsize=6,
                        color="black" if peak and np.log1p(values[i, j]) > 0.6 * np.log1p(peak) else "white")
    if clusters is not None and order is not None:
        ordered = [clusters[i] for i in order]
        for pos in range(1, n):
            if ordered[pos] != ordered[pos - 1]:
                ax.axhline(pos - 0.5, color="red", linewidth=1.2)
                ax.axvline(pos - 0.5, color="red", linewidth=1.2)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="log(1 + movies)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


@dataclass
class CooccurrenceAnalysis:
    """The co-occurrence matrix, its spectral co-clusters and both heatmaps (what the asset stores)."""

    matrix: pd.DataFrame  # genre x genre counts, diagonal = movies per genre
    clusters: pd.DataFrame  # genre, cluster (-1: genre absent), movie_count
    heatmap_png: bytes
    coclustered_png: bytes
    n_clusters: int

    @property
    def rows(self) -> int:
        return len(self.matrix)

    def groups(self) -> dict[str, list[str]]:
        """Cluster number -> its genres."""
        return {str(c): list(g) for c, g in self.clusters.groupby("cluster")["genre"]}

    def save(self, folder: Path) -> None:
        self.matrix.reset_index(names="genre").to_parquet(folder / "matrix.parquet", index=False)
        self.clusters.to_parquet(folder / "clusters.parquet", index=False)
        (folder / "heatmap.png").write_bytes(self.heatmap_png)
        (folder / "coclusters.png").write_bytes(self.coclustered_png)
        (folder / "clusters.json").write_text(json.dumps({"n_clusters": self.n_clusters, "groups": self.groups()}, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> CooccurrenceAnalysis:
        matrix = pd.read_parquet(folder / "matrix.parquet").set_index("genre")
        matrix.index.name = None
        info = json.loads((folder / "clusters.json").read_text())
        return cls(matrix=matrix, clusters=pd.read_parquet(folder / "clusters.parquet"),
                   heatmap_png=(folder / "heatmap.png").read_bytes(), coclustered_png=(folder / "coclusters.png").read_bytes(),
                   n_clusters=int(info["n_clusters"]))


def analyse(movie_genres: Sequence[Sequence[str]], genre_names: Sequence[str], n_clusters: int, seed: int = 0) -> CooccurrenceAnalysis:
    """Matrix, co-clusters and heatmaps for the movies' genre lists over ``genre_names``."""
    matrix = cooccurrence_matrix(movie_genres, genre_names)
    clusters, order = spectral_coclusters(matrix, n_clusters, seed)
    heatmap = heatmap_png(matrix, "Genre co-occurrence (diagonal = movies per genre)")
    reordered = heatmap_png(matrix, f"Spectral co-clustering, K={n_clusters}", order=order, clusters=list(clusters["cluster"]))
    return CooccurrenceAnalysis(matrix=matrix, clusters=clusters, heatmap_png=heatmap, coclustered_png=reordered, n_clusters=n_clusters)
