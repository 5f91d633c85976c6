"""Snapshot reading: bad input is reported with file:line, good lines are kept."""

import gzip
import json

import pytest

from genre_pipeline.ingestion.records import UNDATED, SourceError, poster_basename
from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource
from genre_pipeline_tests.support.snapshots import movie


def test_malformed_lines_are_quarantined_with_file_and_line(snapshot_factory):
    folder = snapshot_factory(
        [
            movie(1, "Good One", "1999-01-01", [28]),
            '{"id": 2, "title": "broken",',  # line 2: malformed JSON
            json.dumps({"title": "no id", "release_date": "1999-02-02"}),  # line 3: no id
            "",  # blank line: ignored
            "[1, 2, 3]",  # line 5: not an object
            movie(6, "Good Two", "2000-01-01", [35]),
            json.dumps({"id": "7", "title": "string id"}),  # line 7: bad id type
        ]
    )
    source = SnapshotCatalogSource(folder)
    bad = source.quarantined
    assert [(q.line, q.reason.split(":")[0]) for q in bad] == [
        (2, "malformed JSON"),
        (3, "record has no 'id'"),
        (5, "expected a JSON object, got list"),
        (7, "'id' must be a positive integer, got '7'"),
    ]
    assert all(q.file.endswith("movies.jsonl") for q in bad)
    assert bad[0].location().endswith("movies.jsonl:2")
    assert [r["id"] for r in source.fetch_year("1999").records] == [1]
    assert [r["id"] for r in source.fetch_year("2000").records] == [6]
    assert source.years() == ["1999", "2000"]


def test_gzip_snapshot_and_undated_records(tmp_path):
    folder = tmp_path / "snap"
    folder.mkdir()
    with gzip.open(folder / "movies.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(movie(1, "A", "", [18])) + "\n")
        handle.write(json.dumps(movie(2, "B", "2020-03-03", [18])) + "\n")
    (folder / "genres.json").write_text(json.dumps({"genres": [{"id": 18, "name": "Drama"}]}))
    source = SnapshotCatalogSource(folder)
    assert [r["id"] for r in source.fetch_year(UNDATED).records] == [1]
    assert source.fetch_year("2020").stats["source_seq"] == [2]
    assert source.genre_list() == [{"id": 18, "name": "Drama"}]


def test_missing_or_unreadable_snapshot_gives_clear_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        SnapshotCatalogSource(tmp_path / "nope").fetch_year("2000")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="neither movies.jsonl nor movies.jsonl.gz"):
        SnapshotCatalogSource(tmp_path / "empty").fetch_year("2000")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "movies.jsonl.gz").write_bytes(b"this is not gzip")
    with pytest.raises(SourceError, match="cannot read snapshot file .*movies.jsonl.gz"):
        SnapshotCatalogSource(broken).fetch_year("2000")
    (broken / "genres.json").write_text('{"genres": [')
    with pytest.raises(SourceError, match=r"genres.json:1: malformed JSON"):
        SnapshotCatalogSource(broken).genre_list()


def test_poster_basename_never_escapes_the_folder():
    assert poster_basename("/abc123.jpg") == "abc123.jpg"
    assert poster_basename("/w500/abc.jpg") == "abc.jpg"
    assert poster_basename(None) is None
    assert poster_basename("/..") is None
    assert poster_basename("/.hidden.jpg") is None
    assert poster_basename("/a b.jpg") is None
    assert poster_basename("/") is None


def test_posters_are_copied_validated_and_not_recopied(tmp_path, snapshot_factory):
    from PIL import Image

    folder = snapshot_factory([movie(1, "A", "2000-01-01", [18], poster_path="/p1.jpg")])
    (folder / "posters").mkdir()
    Image.new("RGB", (8, 12), (200, 10, 10)).save(folder / "posters" / "p1.jpg")
    good = (folder / "posters" / "p1.jpg").read_bytes()
    (folder / "posters" / "p2.jpg").write_bytes(good[: len(good) // 2])  # truncated
    dest = tmp_path / "home_posters"
    source = SnapshotCatalogSource(folder)
    first = {r.poster_path: r for r in source.fetch_posters(["/p1.jpg", "/p2.jpg", "/p3.jpg"], dest)}
    assert first["/p1.jpg"].status == "fetched" and (dest / "p1.jpg").read_bytes() == good
    assert first["/p2.jpg"].status == "failed" and not (dest / "p2.jpg").exists()
    assert first["/p3.jpg"].status == "missing"
    second = source.fetch_posters(["/p1.jpg"], dest)
    assert second[0].status == "present"
