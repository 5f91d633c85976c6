"""Genre co-occurrence (genre_pipeline.catalog.cooccurrence): matrix, co-clusters, heatmaps, the stored analysis."""

from __future__ import annotations

import io
import json

import matplotlib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from genre_pipeline.catalog import cooccurrence

BLOCKS = ["A", "B", "C", "D", "E", "F"]
# three disjoint genre pairs; the second genre of each pair has one movie more than the first
BLOCK_MOVIES = [["A", "B"]] * 20 + [["C", "D"]] * 20 + [["E", "F"]] * 20 + [["B"], ["D"], ["F"]]


@pytest.fixture
def drawn(monkeypatch) -> list[Figure]:
    """Every matplotlib figure saved during the test (the real ``savefig`` still writes the PNG)."""
    figures: list[Figure] = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def _clusters(movie_genres, names, n_clusters, seed=0) -> tuple[dict[str, int], list[int]]:
    frame, order = cooccurrence.spectral_coclusters(cooccurrence.cooccurrence_matrix(movie_genres, names), n_clusters, seed)
    return dict(zip(frame["genre"], frame["cluster"])), order


# --- the matrix -----------------------------------------------------------------------------------


def test_cooccurrence_hand_made_case():
    names = ["Action", "Adventure", "Comedy", "Romance"]
    movie_genres = [["Action", "Adventure"], ["Action"], ["Comedy", "Romance"], ["Action", "Adventure", "Comedy"], ["Action", "Action"]]
    matrix = cooccurrence.cooccurrence_matrix(movie_genres, names)
    expected = np.array(
        [
            [4, 2, 1, 0],  # Action: 4 movies (duplicate label counted once); with Adventure twice
            [2, 2, 1, 0],
            [1, 1, 2, 1],
            [0, 0, 1, 1],
        ]
    )
    np.testing.assert_array_equal(matrix.to_numpy(), expected)
    assert list(matrix.index) == names and list(matrix.columns) == names
    assert (matrix.dtypes == np.int64).all()


def test_matrix_is_symmetric_with_genre_counts_on_the_diagonal():
    names = ["A", "B", "C", "D", "E"]
    rng = np.random.default_rng(3)
    movie_genres = [list(rng.choice(names, size=rng.integers(0, 4), replace=True)) + ["Unlisted"] for _ in range(200)]
    matrix = cooccurrence.cooccurrence_matrix(movie_genres, names).to_numpy()
    assert (matrix == matrix.T).all()
    assert list(np.diag(matrix)) == [sum(name in genres for genres in movie_genres) for name in names]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            assert matrix[i, j] == sum(a in genres and b in genres for genres in movie_genres)


def test_label_matrix_is_binary_and_ignores_unlisted_genres():
    labels = cooccurrence.label_matrix([["B", "B", "X"], [], ["A", "C"]], ["A", "B", "C"])
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [[0, 1, 0], [0, 0, 0], [1, 0, 1]])


# --- spectral co-clustering -----------------------------------------------------------------------


def test_coclustering_separates_disjoint_blocks_and_orders_by_cluster_then_size():
    matrix = cooccurrence.cooccurrence_matrix(BLOCK_MOVIES, BLOCKS)
    clusters, order = cooccurrence.spectral_coclusters(matrix, n_clusters=3, seed=0)
    assert list(clusters.columns) == ["genre", "cluster", "movie_count"]
    assert list(clusters["genre"]) == BLOCKS
    assert list(clusters["movie_count"]) == [20, 21, 20, 21, 20, 21]
    label = dict(zip(clusters["genre"], clusters["cluster"]))
    assert label["A"] == label["B"] and label["C"] == label["D"] and label["E"] == label["F"]
    assert sorted({label["A"], label["C"], label["E"]}) == [0, 1, 2]
    assert sorted(order) == list(range(6))
    ordered = [BLOCKS[i] for i in order]
    assert [label[g] for g in ordered] == [0, 0, 1, 1, 2, 2]  # clusters in ascending number
    assert ordered[0::2] == ["B", "D", "F"]  # within a cluster the genre with more movies first


def test_absent_genres_get_cluster_minus_one_and_come_last():
    names = ["Ghost", "A", "B", "C", "D", "Solo", "Empty"]
    movie_genres = [["A", "B"]] * 10 + [["C", "D"]] * 10 + [["Solo"]]
    label, order = _clusters(movie_genres, names, n_clusters=3)
    assert label["Ghost"] == -1 and label["Empty"] == -1
    assert label["Solo"] >= 0  # a genre of a single movie is present
    assert label["A"] == label["B"] != label["C"] == label["D"]
    assert [names[i] for i in order][-2:] == ["Ghost", "Empty"]
    assert [label[names[i]] for i in order][:5] == sorted(label[g] for g in ("A", "B", "C", "D", "Solo"))


def test_absent_genres_come_last_whatever_the_cluster_count():
    names = [f"g{i:02d}" for i in range(64)] + ["absent"]
    label, order = _clusters([[name] for name in names[:64]], names, n_clusters=200)
    assert label["absent"] == -1
    assert len({label[n] for n in names[:64]}) == 63  # at most one cluster fewer than present genres
    assert order[-1] == names.index("absent")


@pytest.mark.parametrize(
    ("movie_genres", "n_clusters", "expected"),
    [
        (BLOCK_MOVIES, 10, 5),  # never more clusters than present genres - 1
        (BLOCK_MOVIES, 2, 2),
        (BLOCK_MOVIES, 1, 1),
        ([["A", "B"]] * 5 + [["C"]] * 5, 2, 2),  # three present genres
        ([["A"]] * 5 + [["B"]] * 5, 5, 1),  # two present genres: one cluster
        ([["A"]], 3, 1),
    ],
)
def test_number_of_clusters(movie_genres, n_clusters, expected):
    label, _ = _clusters(movie_genres, BLOCKS, n_clusters)
    present = sorted({label[g] for g in BLOCKS if label[g] != -1})
    assert present == list(range(expected))


def test_no_genre_present():
    label, order = _clusters([[], ["Unlisted"]], BLOCKS, 3)
    assert set(label.values()) == {-1} and order == list(range(6))


def test_coclusters_are_reproducible_and_seeded():
    matrix = cooccurrence.cooccurrence_matrix(BLOCK_MOVIES, BLOCKS)
    default = cooccurrence.spectral_coclusters(matrix, 3)
    for seed in (0, 0, 0, 0):
        again = cooccurrence.spectral_coclusters(matrix, 3, seed)
        pd.testing.assert_frame_equal(again[0], default[0])
        assert again[1] == default[1]
    seeded = [list(cooccurrence.spectral_coclusters(matrix, 3, 5)[0]["cluster"]) for _ in range(4)]
    assert all(run == seeded[0] for run in seeded)


# --- heatmaps -------------------------------------------------------------------------------------


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(png)).size


def _cells(figure: Figure) -> dict[tuple[int, int], tuple[str, str]]:
    """(row, column) -> (annotation, its colour as hex)."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): (t.get_text(), to_hex(t.get_color())) for t in figure.axes[0].texts}


def _boundaries(figure: Figure) -> tuple[list[float], list[float], set[str]]:
    """Positions of the horizontal and vertical cluster boundary lines, and their colours."""
    lines = figure.axes[0].lines
    horizontal = sorted(float(line.get_ydata()[0]) for line in lines if line.get_ydata()[0] == line.get_ydata()[1])
    vertical = sorted(float(line.get_xdata()[0]) for line in lines if line.get_xdata()[0] == line.get_xdata()[1])
    return horizontal, vertical, {to_hex(line.get_color()) for line in lines}


def test_heatmap_draws_log_counts_labels_and_annotations(drawn):
    names = ["W", "X", "Y", "Z"]
    matrix = pd.DataFrame([[100, 30, 5, 0], [30, 40, 0, 0], [5, 0, 6, 0], [0, 0, 0, 0]], index=names, columns=names)
    with matplotlib.rc_context({"image.cmap": "gray"}):  # the user's default colour map does not apply
        png = cooccurrence.heatmap_png(matrix, "Counts")
    assert _png_size(png) == (450, 405)
    (figure,) = drawn
    ax = figure.axes[0]
    assert ax.get_title() == "Counts"
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), np.log1p(matrix.to_numpy(dtype=float)))
    assert image.get_cmap().name == "viridis"
    assert image.colorbar is not None and image.colorbar.ax.get_ylabel() == "log(1 + movies)"
    cells = _cells(figure)
    assert {cell: text for cell, (text, _) in cells.items()} == {(i, j): str(matrix.iat[i, j]) for i in range(4) for j in range(4)}
    black, white = "#000000", "#ffffff"
    # dark text on the bright cells (above 60% of the log peak), light text elsewhere
    assert cells[(0, 0)][1] == black and cells[(0, 1)][1] == black and cells[(1, 1)][1] == black
    assert cells[(0, 2)][1] == white and cells[(2, 2)][1] == white and cells[(3, 3)][1] == white
    assert _boundaries(figure)[:2] == ([], [])


def test_heatmap_grows_with_the_genre_count_and_annotates_up_to_25(drawn):
    for n, annotated in ((25, True), (26, False)):
        names = [f"g{i}" for i in range(n)]
        png = cooccurrence.heatmap_png(cooccurrence.cooccurrence_matrix([[name] for name in names], names), "t")
        assert len(drawn[-1].axes[0].texts) == (n * n if annotated else 0)
    assert _png_size(png) == (1162, 1046)  # 0.42 inch per genre + 2, at 90 dpi


@pytest.mark.filterwarnings("ignore:Attempting to set identical low and high:UserWarning")  # an empty image
def test_heatmap_of_nothing_and_of_nullable_counts(drawn):
    assert _png_size(cooccurrence.heatmap_png(cooccurrence.cooccurrence_matrix([], []), "empty")) == (450, 405)
    assert len(drawn[-1].axes[0].texts) == 0
    nullable = cooccurrence.cooccurrence_matrix([["A", "B"], ["A"]], ["A", "B"]).astype("Int64")
    cooccurrence.heatmap_png(nullable, "nullable")
    np.testing.assert_allclose(drawn[-1].axes[0].images[0].get_array(), np.log1p([[2.0, 1.0], [1.0, 1.0]]))


def test_reordered_heatmap_marks_cluster_boundaries(drawn):
    names = ["P", "Q", "R", "S", "T"]
    matrix = pd.DataFrame(np.arange(25).reshape(5, 5), index=names, columns=names)
    clusters = [1, 2, 0, 1, 2]  # per genre, in the matrix's order
    order = [2, 0, 3, 1, 4]  # R | P S | Q T
    cooccurrence.heatmap_png(matrix, "t", order=order, clusters=clusters)
    figure = drawn[-1]
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["R", "P", "S", "Q", "T"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["R", "P", "S", "Q", "T"]
    assert _cells(figure)[(0, 1)][0] == str(matrix.loc["R", "P"])
    assert _boundaries(figure) == ([0.5, 2.5], [0.5, 2.5], {"#ff0000"})
    cooccurrence.heatmap_png(matrix, "t", order=order)  # reordered without clusters: no boundaries
    assert [t.get_text() for t in drawn[-1].axes[0].get_xticklabels()] == ["R", "P", "S", "Q", "T"]
    assert _boundaries(drawn[-1])[:2] == ([], [])
    cooccurrence.heatmap_png(matrix, "t", clusters=clusters)  # clusters without an order: no boundaries
    assert _boundaries(drawn[-1])[:2] == ([], [])


# --- the analysis the asset stores ----------------------------------------------------------------


def test_analyse_and_its_save_load_round_trip(drawn, tmp_path):
    names = BLOCKS + ["Absent"]
    analysis = cooccurrence.analyse(BLOCK_MOVIES, names, n_clusters=3, seed=0)
    pd.testing.assert_frame_equal(analysis.matrix, cooccurrence.cooccurrence_matrix(BLOCK_MOVIES, names))
    expected_clusters, order = cooccurrence.spectral_coclusters(analysis.matrix, 3, 0)
    pd.testing.assert_frame_equal(analysis.clusters, expected_clusters)
    assert analysis.n_clusters == 3 and analysis.rows == 7
    label = dict(zip(analysis.clusters["genre"], analysis.clusters["cluster"]))
    assert analysis.groups() == {
        "-1": ["Absent"],
        str(label["A"]): ["A", "B"],
        str(label["C"]): ["C", "D"],
        str(label["E"]): ["E", "F"],
    }

    plain, reordered = drawn
    assert plain.axes[0].get_title() == "Genre co-occurrence (diagonal = movies per genre)"
    assert reordered.axes[0].get_title() == "Spectral co-clustering, K=3"
    assert [t.get_text() for t in plain.axes[0].get_xticklabels()] == names
    assert [t.get_text() for t in reordered.axes[0].get_xticklabels()] == [names[i] for i in order]
    assert _boundaries(plain)[:2] == ([], [])
    assert _boundaries(reordered)[:2] == ([1.5, 3.5, 5.5], [1.5, 3.5, 5.5])
    assert _png_size(analysis.heatmap_png) == _png_size(analysis.coclustered_png) == (450, 405)
    assert analysis.heatmap_png != analysis.coclustered_png

    analysis.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.json", "clusters.parquet", "coclusters.png", "heatmap.png", "matrix.parquet"]
    assert json.loads((tmp_path / "clusters.json").read_text()) == {"n_clusters": 3, "groups": analysis.groups()}
    assert (tmp_path / "clusters.json").read_text().count("\n") > 3  # one entry a line, for people reading it
    assert pq.read_schema(tmp_path / "matrix.parquet").names == ["genre", *names]  # no pandas index column
    assert pq.read_schema(tmp_path / "clusters.parquet").names == ["genre", "cluster", "movie_count"]
    loaded = cooccurrence.CooccurrenceAnalysis.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.matrix, analysis.matrix)
    pd.testing.assert_frame_equal(loaded.clusters, analysis.clusters, check_dtype=False)
    assert loaded.heatmap_png == analysis.heatmap_png and loaded.coclustered_png == analysis.coclustered_png
    assert loaded.n_clusters == 3 and loaded.groups() == analysis.groups()


def test_analyse_uses_its_seed():
    matrix = cooccurrence.cooccurrence_matrix(BLOCK_MOVIES, BLOCKS)
    seed0, seed1 = (cooccurrence.spectral_coclusters(matrix, 3, seed)[0] for seed in (0, 1))
    assert list(seed0["cluster"]) != list(seed1["cluster"])  # the two seeds number the clusters differently
    pd.testing.assert_frame_equal(cooccurrence.analyse(BLOCK_MOVIES, BLOCKS, n_clusters=3, seed=1).clusters, seed1)
    pd.testing.assert_frame_equal(cooccurrence.analyse(BLOCK_MOVIES, BLOCKS, n_clusters=3).clusters, seed0)


def test_saved_clusters_hold_only_their_columns(tmp_path):
    analysis = cooccurrence.analyse(BLOCK_MOVIES, BLOCKS, n_clusters=3)
    analysis.clusters = analysis.clusters.sort_values("cluster", ascending=False)  # index no longer 0..n-1
    analysis.save(tmp_path)
    assert pq.read_schema(tmp_path / "clusters.parquet").names == ["genre", "cluster", "movie_count"]
    assert list(cooccurrence.CooccurrenceAnalysis.load(tmp_path).clusters.index) == list(range(6))
