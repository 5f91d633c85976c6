"""The poster index (genre_pipeline.catalog.posters): one row per movie, usable posters, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from genre_pipeline.catalog.posters import INDEX_COLUMNS, PosterIndex, build_index
from genre_pipeline.ingestion.records import PosterFetch


def _index(store: Path) -> PosterIndex:
    fetched = {
        "/present.jpg": PosterFetch("/present.jpg", store / "present.jpg", "present"),
        "/fetched.jpg": PosterFetch("/fetched.jpg", store / "fetched.jpg", "fetched"),
        "/failed.jpg": PosterFetch("/failed.jpg", None, "failed", "not an image"),
        "/gone.jpg": PosterFetch("/gone.jpg", None, "missing", "not in source"),
    }
    ids = [1, 2, 3, 4, 5, 6]
    paths = ["/present.jpg", "/fetched.jpg", "/failed.jpg", "/gone.jpg", None, float("nan")]  # NaN: pandas' missing value
    return build_index(ids, paths, fetched, str(store))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, any missing value as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_build_index_one_row_per_movie(tmp_path):
    index = _index(tmp_path / "store")
    assert list(index.frame.columns) == INDEX_COLUMNS
    assert index.rows == 6
    assert index.root == tmp_path / "store" and isinstance(index.root, Path)
    assert _records(index.frame) == [
        {"id": 1, "poster_path": "/present.jpg", "poster_file": "present.jpg", "status": "present", "reason": ""},
        {"id": 2, "poster_path": "/fetched.jpg", "poster_file": "fetched.jpg", "status": "fetched", "reason": ""},
        {"id": 3, "poster_path": "/failed.jpg", "poster_file": None, "status": "failed", "reason": "not an image"},
        {"id": 4, "poster_path": "/gone.jpg", "poster_file": None, "status": "missing", "reason": "not in source"},
        {"id": 5, "poster_path": None, "poster_file": None, "status": "missing", "reason": "no poster_path"},
        {"id": 6, "poster_path": None, "poster_file": None, "status": "missing", "reason": "no poster_path"},
    ]


def test_usable_posters_are_present_or_fetched_with_a_file(tmp_path):
    index = _index(tmp_path)
    assert list(index.usable()["id"]) == [1, 2]
    odd = PosterIndex(frame=pd.DataFrame([{"id": 9, "poster_path": "/x.jpg", "poster_file": None, "status": "present", "reason": ""},
                                          {"id": 8, "poster_path": "/y.jpg", "poster_file": "y.jpg", "status": "failed", "reason": "bad"}],
                                         columns=INDEX_COLUMNS), root=tmp_path)
    assert odd.usable().empty  # a status without a file, or a file with a bad status, is not usable


def test_counts_and_paths(tmp_path):
    index = _index(tmp_path)
    assert index.counts() == {"present": 1, "fetched": 1, "missing": 3, "failed": 1}
    assert index.path("present.jpg") == tmp_path / "present.jpg"


def test_save_load_round_trip(tmp_path):
    store = tmp_path / "poster store"
    index = _index(store)
    folder = tmp_path / "generation"
    folder.mkdir()
    index.save(folder)
    assert json.loads((folder / "store.json").read_text()) == {"root": str(store)}
    loaded = PosterIndex.load(folder)
    assert loaded.root == store and isinstance(loaded.root, Path)
    pd.testing.assert_frame_equal(loaded.frame, index.frame, check_dtype=False)
    assert list(loaded.usable()["id"]) == [1, 2]
    assert loaded.path(loaded.usable()["poster_file"].iloc[0]) == store / "present.jpg"


def test_index_of_no_movies(tmp_path):
    index = build_index([], [], {}, tmp_path)
    assert index.rows == 0 and list(index.frame.columns) == INDEX_COLUMNS
    assert index.usable().empty
    assert index.counts() == {"present": 0, "fetched": 0, "missing": 0, "failed": 0}


def test_saved_index_holds_only_the_index_columns(tmp_path):
    index = _index(tmp_path / "store")
    part = PosterIndex(frame=index.frame[index.frame["status"] == "missing"], root=index.root)  # rows 3, 4, 5 of the frame
    part.save(tmp_path)
    assert pq.read_schema(tmp_path / "index.parquet").names == INDEX_COLUMNS
    loaded = PosterIndex.load(tmp_path)
    assert list(loaded.frame.index) == [0, 1, 2] and list(loaded.frame["id"]) == [4, 5, 6]


def test_partitions_combine_into_one_index_and_a_moved_movie_keeps_its_later_row(tmp_path):
    store = tmp_path / "store"
    fetched = {"/a.jpg": PosterFetch("/a.jpg", store / "a.jpg", "fetched"), "/b.jpg": PosterFetch("/b.jpg", store / "b.jpg", "present")}
    parts = {
        "2001": build_index([7, 8], ["/a.jpg", None], fetched, store),
        "1999": build_index([5], ["/b.jpg"], fetched, store),
        "2002": build_index([7], ["/b.jpg"], fetched, store),  # movie 7 moved from 2001 to 2002
        "undated": build_index([], [], fetched, store),
    }
    combined = PosterIndex.combine(parts)
    assert list(combined.frame["id"]) == [5, 8, 7] and combined.root == store
    assert combined.frame.set_index("id").loc[7, "poster_file"] == "b.jpg"
    assert list(combined.usable()["id"]) == [5, 7]
    empty = PosterIndex.combine({})
    assert empty.rows == 0 and list(empty.frame.columns) == INDEX_COLUMNS


def test_partitions_of_two_poster_stores_do_not_combine(tmp_path):
    parts = {"2001": build_index([1], [None], {}, tmp_path / "one"), "2002": build_index([2], [None], {}, tmp_path / "two")}
    with pytest.raises(ValueError, match="different poster stores"):
        PosterIndex.combine(parts)
