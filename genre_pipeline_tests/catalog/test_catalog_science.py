"""Plain-code catalog science: dedup, vocabulary with legacy/unknown ids, co-occurrence."""

import json

import numpy as np
import pandas as pd

from genre_pipeline.catalog import cooccurrence, dedup, genres
from genre_pipeline_tests.support.snapshots import GENRES, movie


def _raw(records, partition, when, seqs=None):
    return dedup.raw_frame(records, partition, pd.Timestamp(when, tz="UTC"), seqs)


def test_latest_record_wins_across_partitions():
    older = _raw([movie(1, "Old Title", "1999-05-01", [28]), movie(2, "Other", "1999-01-01", [35])], "1999", "2026-01-01")
    newer = _raw([movie(1, "New Title", "2000-02-02", [28, 12])], "2000", "2026-02-01")
    table = dedup.build_movie_table(pd.concat([newer, older]), genres.id_to_name(genres.build_vocabulary(GENRES, [])))
    assert list(table["id"]) == [1, 2]
    row = table.set_index("id").loc[1]
    assert row["title"] == "New Title"
    assert row["partition"] == "2000"
    assert row["release_year"] == 2000
    assert list(row["genres"]) == ["Action", "Adventure"]


def test_same_fetch_time_later_line_wins():
    raw = _raw([movie(7, "First", "2001-01-01", [18]), movie(7, "Second", "2001-01-01", [18])], "2001", "2026-01-01", [3, 9])
    table = dedup.build_movie_table(raw, {18: "Drama"})
    assert len(table) == 1 and table.loc[0, "title"] == "Second"


def test_vocabulary_maps_legacy_and_flags_unknown_ids():
    vocab = genres.build_vocabulary(GENRES, [[28, 10769], [10769], [99999, 28]])
    by_id = vocab.set_index("id")
    assert by_id.loc[10769, "name"] == "Foreign" and bool(by_id.loc[10769, "legacy"]) and bool(by_id.loc[10769, "known"])
    assert by_id.loc[99999, "name"] == "Unknown (99999)" and not bool(by_id.loc[99999, "known"])
    assert by_id.loc[28, "movie_count"] == 2 and by_id.loc[10769, "movie_count"] == 2
    assert list(vocab["id"][: len(GENRES)]) == [g["id"] for g in GENRES]


def test_movie_row_handles_missing_fields():
    row = dedup.movie_row({"id": 5, "genres": [{"id": 10769, "name": "x"}]}, {10769: "Foreign"})
    assert row["overview"] == "" and row["release_year"] is None and row["genres"] == ["Foreign"]
    assert row["title"] == "" and row["poster_path"] is None


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
    assert (matrix.to_numpy() == matrix.to_numpy().T).all()


def test_coclustering_separates_disjoint_blocks():
    names = ["A", "B", "C", "D", "E", "F"]
    movie_genres = [["A", "B"]] * 20 + [["C", "D"]] * 20 + [["E", "F"]] * 20 + [["A"], ["C"], ["E"]]
    matrix = cooccurrence.cooccurrence_matrix(movie_genres, names)
    clusters, order = cooccurrence.spectral_coclusters(matrix, n_clusters=3, seed=0)
    label = dict(zip(clusters["genre"], clusters["cluster"]))
    assert label["A"] == label["B"] and label["C"] == label["D"] and label["E"] == label["F"]
    assert len({label["A"], label["C"], label["E"]}) == 3
    assert sorted(order) == list(range(6))
    png = cooccurrence.heatmap_png(matrix, "t", order=order, clusters=list(clusters["cluster"]))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_raw_frame_round_trips_records():
    record = movie(3, "Ünïcode", "2010-01-01", [35], overview="naïve")
    frame = _raw([record], "2010", "2026-01-01")
    assert json.loads(frame.loc[0, "record_json"]) == record
    assert str(frame["fetched_at"].dtype).startswith("datetime64")
