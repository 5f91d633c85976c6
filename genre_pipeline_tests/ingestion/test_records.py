"""The one record validator: a record is filed under its partition or quarantined as `where: field: why`."""

from __future__ import annotations

import pytest

from genre_pipeline.ingestion.records import (
    FIRST_YEAR,
    INT64_MAX,
    LAST_YEAR,
    UNDATED,
    QuarantinedLine,
    ValidRecord,
    release_year_key,
    validate_record,
)
from genre_pipeline_tests.support.snapshots import movie


def changed(**changes) -> dict:
    record = movie(7, "Seven", "2015-03-01", [28])
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


@pytest.mark.parametrize(
    ("date", "partition"),
    [("2015-03-01", "2015"), (f"{FIRST_YEAR}-01-01", str(FIRST_YEAR)), (f"{LAST_YEAR}-12-31", str(LAST_YEAR)),
     ("2016-02-29", "2016"), ("", UNDATED), (None, UNDATED), (..., UNDATED)],
)
def test_a_good_record_is_filed_under_its_release_year_or_undated(date, partition):
    outcome = validate_record(changed(release_date=date), "movies.jsonl", 4)
    assert isinstance(outcome, ValidRecord)
    assert (outcome.partition, outcome.line) == (partition, 4)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"release_date": "0000-00-00"}, "release_date: '0000-00-00' is not a calendar date"),
        ({"release_date": "2015-13-45"}, "release_date: '2015-13-45' is not a calendar date"),
        ({"release_date": "2015-02-29"}, "release_date: '2015-02-29' is not a calendar date"),
        ({"release_date": "19999-01-01"}, "release_date: '19999-01-01' is not a YYYY-MM-DD date"),
        ({"release_date": "2015-3-1"}, "release_date: '2015-3-1' is not a YYYY-MM-DD date"),
        ({"release_date": "２０１５-03-01"}, "release_date: '２０１５-03-01' is not a YYYY-MM-DD date"),
        ({"release_date": "2999-01-01"}, f"release_date: year 2999 is outside the release years {FIRST_YEAR}-{LAST_YEAR}"),
        ({"release_date": "1800-05-05"}, f"release_date: year 1800 is outside the release years {FIRST_YEAR}-{LAST_YEAR}"),
        ({"release_date": 20150101}, "release_date: must be a string or null, got 20150101"),
        ({"id": 2**63}, f"id: must be less than or equal to {INT64_MAX}, got {2**63}"),
        ({"id": 0}, "id: must be greater than 0, got 0"),
        ({"id": -3}, "id: must be greater than 0, got -3"),
        ({"id": "7"}, "id: must be a valid integer, got '7'"),
        ({"id": True}, "id: must be a valid integer, got true"),
        ({"id": 7.0}, "id: must be a valid integer, got 7.0"),
        ({"id": ...}, "id: missing"),
        ({"genres": [{"id": None, "name": "?"}]}, "genres[0].id: must be a valid integer, got null"),
        ({"genres": [{"id": 2**64}]}, f"genres[0].id: must be less than or equal to {INT64_MAX}, got {2**64}"),
        ({"genres": [{"id": 28, "name": 5}]}, "genres[0].name: must be a valid string, got 5"),
        ({"genres": [28]}, "genres[0]: must be a JSON object, got 28"),
        ({"genres": {"id": 28}}, 'genres: must be a valid list, got {"id": 28}'),
        ({"title": 5}, "title: must be a valid string, got 5"),
        ({"title": " \t"}, "title: must not be blank"),
        ({"title": ...}, "title: missing"),
        ({"vote_count": 2**63}, f"vote_count: must be less than or equal to {INT64_MAX}, got {2**63}"),
        ({"vote_count": -1}, "vote_count: must be greater than or equal to 0, got -1"),
        ({"runtime": 2**64}, f"runtime: must be less than or equal to {INT64_MAX}, got {2**64}"),
        ({"popularity": float("nan")}, "popularity: must be a finite number, got NaN"),
        ({"vote_average": "7.5"}, "vote_average: must be a valid number, got '7.5'"),
        ({"overview": ["words"]}, 'overview: must be a valid string, got ["words"]'),
        ({"id": "x", "title": None}, "id: must be a valid integer, got 'x'; title: must be a valid string, got null"),
    ],
)
def test_a_bad_field_quarantines_the_record_naming_the_field(changes, reason):
    outcome = validate_record(changed(**changes), "movies.jsonl", 12)
    assert isinstance(outcome, QuarantinedLine)
    assert outcome.message() == f"movies.jsonl:12: {reason}"
    assert outcome.raw.startswith("{")


@pytest.mark.parametrize(("value", "kind"), [([1, 2], "array"), ("movie", "string"), (None, "null"), (3, "number")])
def test_a_record_that_is_not_an_object_is_quarantined(value, kind):
    outcome = validate_record(value, "tmdb /movie/3")
    assert outcome.message() == f"tmdb /movie/3: record: expected a JSON object, got {kind}"


def test_a_record_without_a_line_is_located_by_its_source_and_long_text_is_cut():
    outcome = validate_record(changed(id=0, overview="x" * 1000), "tmdb /movie/0")
    assert outcome.location() == "tmdb /movie/0" and outcome.line == 0
    assert len(outcome.raw) == 300


def test_the_largest_int64_id_and_unknown_fields_are_kept():
    record = changed(id=INT64_MAX, popularity=3, belongs_to_collection={"id": 2**70}, homepage=None)
    outcome = validate_record(record, "movies.jsonl", 1)
    assert isinstance(outcome, ValidRecord) and outcome.record is record


@pytest.mark.parametrize("date", ["19999-01-01", "2999-01-01", "0000-00-00", 1999, "1999"])
def test_a_stored_record_with_a_bad_date_is_never_filed_under_a_year(date):
    assert release_year_key({"release_date": date}) == UNDATED
