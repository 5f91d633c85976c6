"""Raw records -> the movie table (genre_pipeline.catalog.dedup): latest record wins, schema, fingerprint."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from genre_pipeline.catalog import dedup, genres
from genre_pipeline_tests.support.snapshots import GENRES, movie

RAW_DTYPES = {"id": "int64", "record_json": "object", "partition": "object", "fetched_at": "datetime64[us, UTC]", "source_seq": "int64"}
NAMES = genres.id_to_name(genres.build_vocabulary(GENRES, [[10769]]))


def _raw(records, partition, when, seqs=None):
    return dedup.raw_frame(records, partition, pd.Timestamp(when, tz="UTC"), seqs)


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {column: str(dtype) for column, dtype in frame.dtypes.items()}


def _full_record(**changes) -> dict:
    record = movie(11, "  Star Wars  ", "1977-05-25", [12, 28], overview="  A long time ago.  ",
                   original_title="Star Wars (original)", imdb_id="tt0076759", poster_path="/sw.jpg",
                   popularity=42.5, vote_average=8.2, vote_count=19000, original_language="en", runtime=121,
                   budget=11000000, revenue=775398007, tagline="  A long time ago in a galaxy far, far away...  ",
                   production_companies=[{"id": 1, "name": "Lucasfilm"}, {"id": 2, "name": " Fox "}, {"id": 3}],
                   belongs_to_collection={"id": 10, "name": "Star Wars Collection"})
    record.update(changes)
    return record


# --- raw_frame / changes_raw_frame ----------------------------------------------------------------


def test_raw_frame_schema_and_source_order():
    frame = _raw([movie(3, "A", "2010-01-01", [35]), movie(4, "B", "2010-02-01", [18])], "2010", "2026-01-01")
    assert list(frame.columns) == dedup.RAW_COLUMNS
    assert _dtypes(frame) == RAW_DTYPES
    assert list(frame["id"]) == [3, 4]
    assert list(frame["partition"]) == ["2010", "2010"]
    assert list(frame["source_seq"]) == [0, 1]  # the records' order in the source
    assert (frame["fetched_at"] == pd.Timestamp("2026-01-01", tz="UTC")).all()


def test_raw_frame_keeps_given_source_sequence():
    frame = _raw([movie(3, "A", "2010-01-01", [35]), movie(4, "B", "2010-02-01", [18])], "2010", "2026-01-01", [17, 5])
    assert list(frame["source_seq"]) == [17, 5]


def test_raw_frame_of_no_records_has_the_schema():
    frame = _raw([], "2010", "2026-01-01")
    assert frame.empty
    assert list(frame.columns) == dedup.RAW_COLUMNS
    assert _dtypes(frame) == RAW_DTYPES


def test_raw_frame_round_trips_records_as_canonical_json():
    record = movie(3, "Ünïcode", "2010-01-01", [35], overview="naïve")
    frame = _raw([record], "2010", "2026-01-01")
    text = frame.loc[0, "record_json"]
    assert json.loads(text) == record
    assert "Ünïcode" in text and "\\u" not in text  # stored as written, not escaped
    reordered = dict(reversed(list(record.items())))
    assert _raw([reordered], "2010", "2026-01-01").loc[0, "record_json"] == text  # key order does not matter


def test_changes_raw_frame_puts_each_record_in_its_release_year():
    when = pd.Timestamp("2026-03-04 05:06:07", tz="UTC")
    records = [movie(1, "A", "1999-05-01", [28]), movie(2, "B", "", [35]), movie(3, "C", "2024-12-31", [18])]
    frame = dedup.changes_raw_frame(records, when)
    assert list(frame.columns) == dedup.RAW_COLUMNS
    assert _dtypes(frame) == RAW_DTYPES
    assert list(frame["partition"]) == ["1999", "undated", "2024"]
    assert list(frame["id"]) == [1, 2, 3]
    assert list(frame["source_seq"]) == [0, 1, 2]
    assert (frame["fetched_at"] == when).all()
    assert [json.loads(t)["title"] for t in frame["record_json"]] == ["A", "B", "C"]


# --- latest_records -------------------------------------------------------------------------------


def test_latest_record_wins_across_partitions():
    older = _raw([movie(1, "Old Title", "1999-05-01", [28]), movie(2, "Other", "1999-01-01", [35])], "1999", "2026-01-01")
    newer = _raw([movie(1, "New Title", "2000-02-02", [28, 12])], "2000", "2026-02-01")
    table = dedup.build_movie_table(pd.concat([newer, older]), NAMES)
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


def test_fetch_time_decides_before_source_order():
    # the later fetch has the smaller source_seq: fetched_at must be compared first
    early = _raw([movie(5, "Early fetch, late line", "2001-01-01", [18])], "2001", "2026-01-01", [50])
    late = _raw([movie(5, "Late fetch, early line", "2001-01-01", [18])], "2001", "2026-06-01", [0])
    for raw in (pd.concat([early, late]), pd.concat([late, early])):
        latest = dedup.latest_records(raw)
        assert list(latest["source_seq"]) == [0]
        assert dedup.build_movie_table(raw, {18: "Drama"}).loc[0, "title"] == "Late fetch, early line"


def test_latest_records_keeps_the_raw_schema_one_row_per_id():
    raw = pd.concat([
        _raw([movie(2, "B1", "2001-01-01", [18]), movie(1, "A1", "2001-01-01", [18])], "2001", "2026-01-01"),
        _raw([movie(2, "B2", "2001-01-01", [18])], "2001", "2026-02-01"),
    ])
    latest = dedup.latest_records(raw)
    assert list(latest.columns) == dedup.RAW_COLUMNS
    assert isinstance(latest.index, pd.RangeIndex) and list(latest.index) == [0, 1]
    assert list(latest["id"]) == [1, 2]
    assert [json.loads(t)["title"] for t in latest["record_json"]] == ["A1", "B2"]


def test_latest_records_of_nothing_is_an_empty_copy():
    raw = _raw([], "2001", "2026-01-01")
    latest = dedup.latest_records(raw)
    assert latest.empty and list(latest.columns) == dedup.RAW_COLUMNS
    assert latest is not raw


# --- movie_row ------------------------------------------------------------------------------------


def test_movie_row_reads_every_field():
    row = dedup.movie_row(_full_record(genres=[{"id": 12, "name": "x"}, {"id": 10769, "name": "y"}, {"id": 4242, "name": "z"}]), NAMES)
    assert row == {
        "id": 11,
        "title": "Star Wars",
        "original_title": "Star Wars (original)",
        "overview": "A long time ago.",
        "release_date": "1977-05-25",
        "release_year": 1977,
        "genre_ids": [12, 10769, 4242],
        "genres": ["Adventure", "Foreign", "Unknown (4242)"],
        "imdb_id": "tt0076759",
        "poster_path": "/sw.jpg",
        "popularity": 42.5,
        "vote_average": 8.2,
        "vote_count": 19000,
        "original_language": "en",
        "runtime": 121.0,
        "budget": 11000000.0,
        "revenue": 775398007.0,
        "production_companies": ["Lucasfilm", "Fox"],
        "collection": "Star Wars Collection",
        "tagline": "A long time ago in a galaxy far, far away...",
    }


def test_movie_row_handles_missing_fields():
    row = dedup.movie_row({"id": 5, "genres": [{"id": 10769, "name": "x"}]}, {10769: "Foreign"})
    assert row["overview"] == "" and row["release_year"] is None and row["genres"] == ["Foreign"]
    assert row["title"] == "" and row["original_title"] == "" and row["poster_path"] is None
    assert row["release_date"] is None and row["imdb_id"] is None and row["original_language"] is None
    assert row["popularity"] is None and row["vote_average"] is None and row["vote_count"] is None
    assert row["runtime"] is None and row["budget"] is None and row["revenue"] is None
    assert row["production_companies"] == [] and row["collection"] is None and row["tagline"] == ""
    assert dedup.movie_row({"id": 6, "genres": None}, {})["genres"] == []


def test_movie_row_rejects_wrongly_typed_values_field_by_field():
    row = dedup.movie_row(_full_record(title=7, overview=["x"], release_date=19770525, imdb_id="", poster_path=0,
                                       original_language="", popularity="high", vote_average=True, vote_count=True), NAMES)
    assert row["title"] == "" and row["overview"] == ""
    assert row["release_date"] is None and row["release_year"] is None
    assert row["imdb_id"] is None and row["poster_path"] is None and row["original_language"] is None
    assert row["popularity"] is None and row["vote_average"] is None and row["vote_count"] is None
    numbers = dedup.movie_row(_full_record(popularity=3, vote_average=7, vote_count=12.0), NAMES)
    assert numbers["popularity"] == 3.0 and isinstance(numbers["popularity"], float)
    assert numbers["vote_average"] == 7.0 and isinstance(numbers["vote_average"], float)
    assert numbers["vote_count"] is None  # a count must be an integer
    assert dedup.movie_row(_full_record(release_date="not a date"), NAMES)["release_year"] is None
    facts = dedup.movie_row(_full_record(runtime="long", budget=True, production_companies={"name": "x"},
                                         belongs_to_collection="Star Wars", tagline=5), NAMES)
    assert facts["runtime"] is None and facts["budget"] is None and facts["production_companies"] == []
    assert facts["collection"] is None and facts["tagline"] == ""


# --- build_movie_table ----------------------------------------------------------------------------

MOVIE_DTYPES = {"id": "int64", "release_year": "Int64", "vote_count": "Int64", "fetched_at": "datetime64[us, UTC]"}


def test_movie_table_schema_and_types():
    raw = pd.concat([
        _raw([_full_record(id=30), movie(20, "Undated", "", [99999], vote_count=None)], "mixed", "2026-01-01"),
        _raw([movie(10, "Ten", "2005-05-05", [35])], "2005", "2026-02-01 10:00"),
    ])
    table = dedup.build_movie_table(raw, NAMES)
    assert list(table.columns) == dedup.MOVIE_COLUMNS
    assert {c: str(table[c].dtype) for c in MOVIE_DTYPES} == MOVIE_DTYPES
    assert isinstance(table.index, pd.RangeIndex)
    assert list(table["id"]) == [10, 20, 30]
    assert table["release_year"].tolist() == [2005, pd.NA, 1977]
    assert table["vote_count"].tolist() == [10, pd.NA, 19000]
    assert list(table["fetched_at"]) == [pd.Timestamp("2026-02-01 10:00", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC"),
                                         pd.Timestamp("2026-01-01", tz="UTC")]
    assert list(table["partition"]) == ["2005", "mixed", "mixed"]
    assert list(table["genres"]) == [["Comedy"], ["Unknown (99999)"], ["Adventure", "Action"]]


def test_movie_table_of_no_records_has_the_schema():
    table = dedup.build_movie_table(_raw([], "2001", "2026-01-01"), NAMES)
    assert table.empty
    assert list(table.columns) == dedup.MOVIE_COLUMNS
    assert {c: str(table[c].dtype) for c in ("id", "release_year", "vote_count")} == {"id": "int64", "release_year": "Int64", "vote_count": "Int64"}
    assert isinstance(table["fetched_at"].dtype, pd.DatetimeTZDtype) and str(table["fetched_at"].dt.tz) == "UTC"


# --- content_fingerprint --------------------------------------------------------------------------


def _table() -> pd.DataFrame:
    records = [movie(1, "One", "2001-01-01", [28], poster_path="/1.jpg"), movie(2, "Two", "2002-01-01", [35, 18]),
               movie(3, "Three", "", [10769], overview="Third.")]
    return dedup.build_movie_table(_raw(records, "x", "2026-01-01"), NAMES)


def test_fingerprint_is_stable():
    # the table's data version: a change here rebuilds everything derived from every stored table
    assert dedup.content_fingerprint(_table()) == "ccc8a582d8931aafcca89a73abc24510ebf26919292d45a0bff3740001eeb2e2"


@pytest.mark.parametrize(
    ("column", "value"),
    [("title", "One!"), ("overview", "Another overview."), ("genre_ids", [28, 12]), ("genres", ["Adventure"]),
     ("poster_path", "/other.jpg"), ("id", 4), ("original_language", "fr"), ("runtime", 25.0), ("budget", 1e6),
     ("revenue", 2e6), ("production_companies", ["Pixar"]), ("collection", "Toy Story Collection"), ("tagline", "Boo."),
     ("release_year", 1999)],
)
def test_fingerprint_moves_with_modelling_columns(column, value):
    table = _table()
    changed = table.copy()
    changed.at[0, column] = value
    assert dedup.content_fingerprint(changed) != dedup.content_fingerprint(table)


@pytest.mark.parametrize(("column", "value"), [("popularity", 99.0), ("vote_average", 1.0), ("vote_count", 5),
                                               ("fetched_at", pd.Timestamp("2030-01-01", tz="UTC")), ("partition", "y")])
def test_fingerprint_ignores_popularity_votes_and_fetch_details(column, value):
    table = _table()
    changed = table.copy()
    changed.at[0, column] = value
    assert dedup.content_fingerprint(changed) == dedup.content_fingerprint(table)


def test_fingerprint_ignores_row_order_and_index():
    table = _table()
    shuffled = table.iloc[[2, 0, 1]].reset_index(drop=True)
    assert dedup.content_fingerprint(shuffled) == dedup.content_fingerprint(table)


def test_fingerprint_survives_a_parquet_round_trip(tmp_path):
    table = _table()
    table.to_parquet(tmp_path / "movies.parquet", index=False)
    assert dedup.content_fingerprint(pd.read_parquet(tmp_path / "movies.parquet")) == dedup.content_fingerprint(table)


def test_fingerprint_of_a_partial_table_and_missing_values():
    table = _table()[["id", "title", "poster_path"]]
    assert len(dedup.content_fingerprint(table)) == 64
    assert dedup.content_fingerprint(table) != dedup.content_fingerprint(_table())
    with_na = table.astype({"poster_path": "string"})  # missing value is pd.NA here
    assert pd.isna(with_na.at[1, "poster_path"])
    assert len(dedup.content_fingerprint(with_na)) == 64


def test_all_genre_ids_of_stored_records():
    texts = [json.dumps(movie(1, "A", "2001-01-01", [28, 12])), json.dumps({"id": 2, "genres": None}), json.dumps({"id": 3})]
    assert dedup.all_genre_ids(texts) == [[28, 12], [], []]
