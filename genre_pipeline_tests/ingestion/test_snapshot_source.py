"""Snapshot reading: each line decoded on its own, bad input reported with file:line, good lines kept."""

import gzip
import json
import re

import pytest

from genre_pipeline.ingestion.records import UNDATED, LineTally, SourceError, poster_basename
from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource, read_genre_list, read_movie_file
from genre_pipeline_tests.support.snapshots import GENRES, movie, write_snapshot


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
    assert [(q.line, q.reason) for q in bad] == [
        (2, "record: malformed JSON: Expecting property name enclosed in double quotes at column 29"),
        (3, "id: missing"),
        (5, "record: expected a JSON object, got array"),
        (7, "id: must be a valid integer, got '7'"),
    ]
    assert all(q.file.endswith("movies.jsonl") for q in bad)
    assert bad[0].location().endswith("movies.jsonl:2")
    assert bad[2].raw == "[1, 2, 3]"
    assert [r["id"] for r in source.fetch_year("1999").records] == [1]
    assert [r["id"] for r in source.fetch_year("2000").records] == [6]
    assert source.years() == ["1999", "2000"]
    assert source.line_tally == LineTally(str(folder / "movies.jsonl"), 7, 2, 4, 1)


def test_each_line_is_decoded_on_its_own(tmp_path):
    folder = write_snapshot(tmp_path / "snapshot", [])
    lines = [
        b"\xef\xbb\xbf" + json.dumps(movie(1, "BOM first", "1999-01-01", [28])).encode(),
        json.dumps(movie(2, "CRLF", "1999-01-01", [28])).encode() + b"\r",
        b'{"id": 3, "title": "caf\xe9", "release_date": "1999-01-01"}',  # Latin-1, not UTF-8
        b"\xff\xfe{}",
        json.dumps(movie(5, "Caf\u00e9 \u2028 \U0001f3ac", "1999-01-01", [28]), ensure_ascii=False).encode(),
        json.dumps(movie(6, "After", "1999-01-01", [28])).encode(),
        b"\r",
    ]
    (folder / "movies.jsonl").write_bytes(b"\n".join(lines))  # no newline after the last line
    source = SnapshotCatalogSource(folder)
    assert [(q.line, q.reason) for q in source.quarantined] == [
        (3, "record: not UTF-8 text (invalid continuation byte at byte 24)"),
        (4, "record: not UTF-8 text (invalid start byte at byte 1)"),
    ]
    assert source.quarantined[0].raw == '{"id": 3, "title": "caf\ufffd", "release_date": "1999-01-01"}'
    records = source.fetch_year("1999")
    assert [r["id"] for r in records.records] == [1, 2, 5, 6]
    assert records.stats["source_seq"] == [1, 2, 5, 6]
    assert records.records[2]["title"] == "Caf\u00e9 \u2028 \U0001f3ac"
    assert source.line_tally.summary().endswith("movies.jsonl: 7 lines = 4 records + 2 quarantined + 1 blank")


def gzipped_snapshot(tmp_path, data: bytes):
    folder = write_snapshot(tmp_path / "snapshot", [])
    (folder / "movies.jsonl").unlink()
    (folder / "movies.jsonl.gz").write_bytes(data)
    return folder


def test_a_truncated_gzip_keeps_every_complete_line_and_quarantines_the_tail(tmp_path):
    records = [movie(i, f"Movie {i}", "2001-01-01", [28], overview=f"overview {i} " * 40) for i in range(1, 401)]
    whole = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records), mtime=0)
    folder = gzipped_snapshot(tmp_path, whole[: len(whole) * 2 // 3])
    result = read_movie_file(folder / "movies.jsonl.gz")
    kept = [valid.record for valid in result.records]
    assert 0 < len(kept) < len(records) and kept == records[: len(kept)]
    (tail,) = result.quarantined
    assert (tail.file, tail.line) == (str(folder / "movies.jsonl.gz"), len(kept) + 1)
    assert tail.reason == f"record: gzip stream ends early (truncated file); the {len(kept)} lines before it were read"
    assert result.tally().lines == len(kept) + 1


def test_a_gzip_with_a_bad_checksum_keeps_its_lines_and_says_so(tmp_path):
    data = bytearray(gzip.compress(b"".join(json.dumps(movie(i, "M", "2001-01-01", [28])).encode() + b"\n"
                                            for i in (1, 2, 3))))
    data[-8] ^= 0xFF  # the CRC32 in the trailer
    result = read_movie_file(gzipped_snapshot(tmp_path, bytes(data)) / "movies.jsonl.gz")
    assert [v.record["id"] for v in result.records] == [1, 2, 3]
    (tail,) = result.quarantined
    assert tail.line == 4 and tail.reason.startswith("record: corrupt gzip stream (CRC check failed")
    assert tail.reason.endswith("; the 3 lines before it were read")


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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gzip.compress(b'{"id": 1}\n')[:6], r"gzip stream ends early \(truncated file\) before its first complete line"),
        (gzip.compress(b'{"id": 1, "title": "' + b"x" * 5000 + b'"}\n')[:-20],
         r"gzip stream ends early \(truncated file\) before its first complete line"),
        (b"plain text, not gzip\n", r"corrupt gzip stream \(Not a gzipped file \(b'pl'\)\) before its first complete line"),
    ],
    ids=["truncated header", "first line cut", "not gzip"],
)
def test_a_gzip_that_breaks_before_its_first_line_fails_naming_the_file(tmp_path, data, message):
    folder = gzipped_snapshot(tmp_path, data)
    with pytest.raises(SourceError, match=f"^cannot read snapshot file {re.escape(str(folder))}/movies.jsonl.gz: {message}$"):
        SnapshotCatalogSource(folder).fetch_year("2000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"genres": [\n  {"id": 28, "name": "Action"},\n]}', r"genres.json:3: malformed JSON: Expecting value at column 1"),
        (b'{"genres": [\n  {"id": 28, "name": "Acci\xf3n"}]}', r"genres.json:2: not UTF-8 text \(invalid continuation byte\)"),
        (b'{"genres": {"id": 28}}', r"genres.json: expected an object with a 'genres' list"),
        (b"[]", r"genres.json: expected an object with a 'genres' list"),
        (b'{"genres": [{"id": 28, "name": "Action"}, {"id": 18446744073709551616, "name": "Huge"}]}',
         r"genres.json: genres\[1\] must be an object with an integer 'id' \(1 to 2\*\*63-1\) and a string 'name', "
         r"got \{\"id\": 18446744073709551616"),
        (b'{"genres": [{"id": null, "name": "Action"}]}', r"genres.json: genres\[0\] must be an object"),
        (b'{"genres": [{"id": 28}]}', r"genres.json: genres\[0\] must be an object .* and a string 'name'"),
        (b'{"genres": [' + b"[" * 100_000 + b"]}", r"genres.json: malformed JSON: maximum recursion depth"),
    ],
    ids=["bad JSON", "not UTF-8", "genres not a list", "not an object", "id beyond int64", "id null", "no name", "deep"],
)
def test_a_broken_genres_json_fails_naming_the_file_and_line(tmp_path, text, message):
    folder = write_snapshot(tmp_path / "snapshot", [])
    (folder / "genres.json").write_bytes(text)
    with pytest.raises(SourceError, match=f"^{re.escape(str(folder))}/{message}"):
        read_genre_list(folder)


def test_a_genres_json_with_a_bom_is_read(tmp_path):
    folder = write_snapshot(tmp_path / "snapshot", [])
    (folder / "genres.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"genres": GENRES}).encode())
    assert read_genre_list(folder) == GENRES


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
