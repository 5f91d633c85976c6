"""The large text-only synthetic catalog: a valid snapshot, deterministic, genres with signal, a growing vocabulary."""

from __future__ import annotations

import gzip
import json

import pytest

from genre_pipeline.demo.bulk import write_bulk_catalog
from genre_pipeline.demo.generator import GENRES
from genre_pipeline.ingestion.records import ValidRecord, validate_record


def _records(path):
    with gzip.open(path / "movies.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_a_bulk_catalog_is_a_valid_deterministic_snapshot(tmp_path):
    summary = write_bulk_catalog(tmp_path / "a", n_movies=2_000, seed=3)
    records = _records(summary.path)
    assert len(records) == 2_000 and len({r["id"] for r in records}) == 2_000
    assert (summary.path / "SYNTHETIC.md").is_file() and json.loads((summary.path / "genres.json").read_text())["genres"]
    known = {g.id: g.name for g in GENRES}
    for record in records[:200]:
        assert isinstance(validate_record(record, "movies.jsonl.gz", 1), ValidRecord), record
        assert record["poster_path"] is None and record["title"].startswith("Synthetic: ")
        assert 1 <= len(record["genres"]) <= 4 and all(known[g["id"]] == g["name"] for g in record["genres"])
        assert 15 <= len(record["overview"].split()) <= 120  # 15-60 drawn entries, some of two words
    again = write_bulk_catalog(tmp_path / "b", n_movies=2_000, seed=3)
    assert (again.path / "movies.jsonl.gz").read_bytes() == (summary.path / "movies.jsonl.gz").read_bytes()
    other = write_bulk_catalog(tmp_path / "c", n_movies=2_000, seed=4)
    assert (other.path / "movies.jsonl.gz").read_bytes() != (summary.path / "movies.jsonl.gz").read_bytes()


def test_overviews_carry_their_genres_and_the_vocabulary_grows_with_the_catalog(tmp_path):
    records = _records(write_bulk_catalog(tmp_path / "big", n_movies=4_000, seed=0).path)
    words_of = lambda rows: {w.strip(".").lower() for r in rows for w in r["overview"].split()}  # noqa: E731
    assert len(words_of(records)) > 1.5 * len(words_of(records[:500]))  # a Zipf lexicon: new words keep coming
    horror = [r for r in records if any(g["name"] == "Horror" for g in r["genres"])]
    comedy = [r for r in records if all(g["name"] == "Comedy" for g in r["genres"])]
    horror_words = {w for r in horror for w in r["overview"].lower().split()}
    comedy_words = {w for r in comedy for w in r["overview"].lower().split()}
    assert len(horror_words - comedy_words) > 100  # genre words: a text model has something to learn


def test_bad_arguments_and_real_snapshots_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_movies must be at least 1, got 0"):
        write_bulk_catalog(tmp_path, n_movies=0)
    real = tmp_path / "real"
    real.mkdir()
    (real / "movies.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    with pytest.raises(FileExistsError, match="not a synthetic demo catalog; refusing to overwrite it"):
        write_bulk_catalog(real, n_movies=10)
