"""The genre vocabulary (genre_pipeline.catalog.genres): TMDB's list, legacy id 10769, unknown ids."""

from __future__ import annotations

import numbers

import pandas as pd

from genre_pipeline.catalog import genres
from genre_pipeline_tests.support.snapshots import GENRES

VOCABULARY_COLUMNS = ["id", "name", "legacy", "known", "movie_count"]


def test_vocabulary_maps_legacy_and_flags_unknown_ids():
    vocab = genres.build_vocabulary(GENRES, [[28, 10769], [10769], [99999, 28]])
    by_id = vocab.set_index("id")
    assert by_id.loc[10769, "name"] == "Foreign" and bool(by_id.loc[10769, "legacy"]) and bool(by_id.loc[10769, "known"])
    assert by_id.loc[99999, "name"] == "Unknown (99999)" and not bool(by_id.loc[99999, "known"])
    assert by_id.loc[28, "movie_count"] == 2 and by_id.loc[10769, "movie_count"] == 2
    assert list(vocab["id"][: len(GENRES)]) == [g["id"] for g in GENRES]


def test_vocabulary_rows_listed_then_legacy_and_unknown_by_id():
    genre_list = [{"id": 35, "name": "Comedy"}, {"id": 28, "name": "Action"}]
    vocab = genres.build_vocabulary(genre_list, [[99999, 35, 35], [10769, 35], [500], [28, 10769, 500]])
    assert list(vocab.columns) == VOCABULARY_COLUMNS
    assert vocab.to_dict("records") == [
        {"id": 35, "name": "Comedy", "legacy": False, "known": True, "movie_count": 2},  # listed twice in one movie: once
        {"id": 28, "name": "Action", "legacy": False, "known": True, "movie_count": 1},
        {"id": 500, "name": "Unknown (500)", "legacy": False, "known": False, "movie_count": 2},
        {"id": 10769, "name": "Foreign", "legacy": True, "known": True, "movie_count": 2},
        {"id": 99999, "name": "Unknown (99999)", "legacy": False, "known": False, "movie_count": 1},
    ]
    assert {c: str(t) for c, t in vocab.dtypes.items() if c != "name"} == {"id": "int64", "legacy": "bool", "known": "bool",
                                                                           "movie_count": "int64"}
    assert pd.api.types.is_string_dtype(vocab["name"])


def test_listed_genre_without_movies_counts_zero_and_legacy_id_needs_a_movie():
    vocab = genres.build_vocabulary([{"id": 27, "name": "Horror"}, {"id": 18, "name": "Drama"}], [[18], ["18"]])
    assert vocab.to_dict("records") == [
        {"id": 27, "name": "Horror", "legacy": False, "known": True, "movie_count": 0},
        {"id": 18, "name": "Drama", "legacy": False, "known": True, "movie_count": 2},  # ids as text count as ids
    ]


def test_legacy_id_listed_by_tmdb_keeps_tmdb_name():
    vocab = genres.build_vocabulary([{"id": 10769, "name": "Foreign (listed)"}], [[10769]])
    assert vocab.to_dict("records") == [{"id": 10769, "name": "Foreign (listed)", "legacy": False, "known": True, "movie_count": 1}]


def test_empty_vocabulary_has_the_schema():
    vocab = genres.build_vocabulary([], [])
    assert vocab.empty
    assert list(vocab.columns) == VOCABULARY_COLUMNS


def test_id_to_name_keys_are_integers():
    vocab = genres.build_vocabulary(GENRES, [[10769], [4242]])
    mapping = genres.id_to_name(vocab)
    assert mapping[28] == "Action" and mapping[10769] == "Foreign" and mapping[4242] == "Unknown (4242)"
    assert all(isinstance(k, numbers.Integral) for k in mapping)
    stored = vocab.astype({"id": "float64"})  # e.g. a vocabulary read back with a float id column
    assert all(isinstance(k, numbers.Integral) for k in genres.id_to_name(stored))
    assert genres.id_to_name(pd.DataFrame({"id": [], "name": []})) == {}
