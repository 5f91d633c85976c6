"""IMDb title.basics parsing (file and streamed URL), genre mapping and the comparison."""

from __future__ import annotations

import gzip
import logging
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from genre_pipeline.ingestion.records import SourceError
from genre_pipeline.ingestion.imdb import (
    compare_genres,
    describe_source,
    map_imdb_genres,
    read_title_basics,
    unmapped_genre_counts,
)

HEADER = "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres"
ROWS = [
    "tt0133093\tmovie\tThe Matrix\tThe Matrix\t0\t1999\t\\N\t136\tAction,Sci-Fi",
    "tt0000001\tshort\tCarmencita\tCarmencita\t0\t1894\t\\N\t1\tDocumentary,Short",
    "tt0111161\tmovie\tThe Shawshank Redemption\tThe Shawshank Redemption\t0\t1994\t\\N\t142\tDrama",
    "tt0944947\ttvSeries\tGame of Thrones\tGame of Thrones\t0\t2011\t2019\t57\tAction,Adventure,Drama",
    "tt0056172\tmovie\tLawrence of Arabia\tLawrence of Arabia\t0\t1962\t\\N\t218\tAdventure,Biography,Drama",
    "tt0047478\tmovie\tSeven Samurai\tShichinin no samurai\t0\t1954\t\\N\t207\tAction,Drama",
    "this line is broken",
    "tt0088247\tmovie\tThe Terminator\tThe Terminator\t0\t1984\t\\N\t107\tAction,Sci-Fi",
    "tt9806262\tmovie\tRogue\tRogue\t0\t\\N\t\\N\t\\N\t\\N",
    "tt0021749\tmovie\tCity Lights\tCity Lights\t0\t1931\t\\N\t87\tComedy,Drama,Romance",
]
BODY = ("\n".join([HEADER, *ROWS]) + "\n").encode("utf-8")


def check_frame(frame: pd.DataFrame, stats) -> None:
    assert list(frame["imdb_id"]) == ["tt0133093", "tt0111161", "tt0056172", "tt0047478", "tt0088247", "tt9806262", "tt0021749"]
    matrix = frame.set_index("imdb_id").loc["tt0133093"]
    assert list(matrix["imdb_genres"]) == ["Action", "Sci-Fi"] and matrix["start_year"] == 1999 and matrix["runtime_minutes"] == 136
    rogue = frame.set_index("imdb_id").loc["tt9806262"]
    assert list(rogue["imdb_genres"]) == [] and pd.isna(rogue["start_year"])
    assert stats.rows == 9 and stats.kept == 7 and stats.quarantined_count == 1
    assert stats.quarantined[0].line == 8 and "tab-separated" in stats.quarantined[0].reason
    assert stats.title_types == {"movie": 7, "short": 1, "tvSeries": 1}


@pytest.mark.parametrize("gz", [True, False])
def test_read_local_file(tmp_path, gz):
    path = tmp_path / ("title.basics.tsv.gz" if gz else "title.basics.tsv")
    path.write_bytes(gzip.compress(BODY) if gz else BODY)
    check_frame(*read_title_basics(path))


class _Handler(BaseHTTPRequestHandler):
    payload = b""
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        self.hits.append(self.path)
        if self.path != "/datasets/title.basics.tsv.gz":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")  # streamed, no Content-Length
        self.end_headers()
        for start in range(0, len(self.payload), 37):
            piece = self.payload[start : start + 37]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        return


@pytest.fixture
def imdb_server():
    handler = type("H", (_Handler,), {"payload": gzip.compress(BODY), "hits": [], "protocol_version": "HTTP/1.1"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_read_streamed_url(imdb_server):
    base, handler = imdb_server
    check_frame(*read_title_basics(f"{base}/datasets/title.basics.tsv.gz"))
    assert handler.hits == ["/datasets/title.basics.tsv.gz"]
    with pytest.raises(SourceError, match="HTTP 404"):
        read_title_basics(f"{base}/elsewhere.tsv.gz")


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        read_title_basics(tmp_path / "absent.tsv.gz")
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("a\tb\n1\t2\n")
    with pytest.raises(SourceError, match="wrong.tsv: header lacks"):
        read_title_basics(wrong)
    empty = tmp_path / "empty.tsv.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(SourceError, match="empty.tsv.gz: empty file"):
        read_title_basics(empty)
    corrupt = tmp_path / "corrupt.tsv.gz"
    packed = bytearray(gzip.compress(BODY))
    packed[-8] ^= 0xFF  # the CRC of the data no longer matches
    corrupt.write_bytes(bytes(packed))
    with pytest.raises(SourceError, match=r"corrupt.tsv.gz:12: corrupt gzip stream \(CRC check failed"):
        read_title_basics(corrupt)


def test_truncated_gzip_keeps_every_complete_line_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    packed = gzip.compress(BODY)
    cut = packed[: len(packed) * 2 // 3]
    path = tmp_path / "title.basics.tsv.gz"
    path.write_bytes(cut)
    # what a decompressor can get out of the bytes that arrived, up to its last newline
    readable = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)
    complete = readable[: readable.rindex(b"\n") + 1].decode().splitlines()
    assert 2 < len(complete) < len(ROWS) + 1  # the cut is mid-file
    frame, stats = read_title_basics(path, title_types=["movie", "short", "tvSeries"])
    expected = [line.split("\t")[0] for line in complete[1:] if line.startswith("tt")]
    assert list(frame["imdb_id"]) == expected
    assert stats.lines == len(complete) - 1
    assert stats.truncated == (
        f"{path}: gzip stream ends early after line {len(complete)} (truncated file); every line before it was read"
    )
    assert stats.quarantined[-1].line == len(complete) + 1 and "truncated" in stats.quarantined[-1].reason
    assert stats.as_dict()["truncated"] == stats.truncated
    assert stats.truncated in caplog.text

    header_only = tmp_path / "cut-early.tsv.gz"
    header_only.write_bytes(packed[:12])
    with pytest.raises(SourceError, match="cut-early.tsv.gz: gzip stream ends before the header line"):
        read_title_basics(header_only)


def test_windows_line_endings_and_sources_shown_without_secrets(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(BODY.replace(b"\n", b"\r\n"))
    check_frame(*read_title_basics(path))
    assert describe_source("https://user:pw@example.org/title.basics.tsv.gz?token=abc#x") == (
        "https://example.org/title.basics.tsv.gz"
    )
    assert describe_source(path) == str(path)


def test_genre_mapping():
    assert map_imdb_genres(["Action", "Sci-Fi", "Musical", "Music", "Biography"]) == (
        ["Action", "Science Fiction", "Music"],
        ["Biography"],
    )
    frame = pd.DataFrame({"imdb_id": ["a", "b"], "imdb_genres": [["Short", "Sport"], ["Sport", "Drama"]]})
    assert unmapped_genre_counts(frame) == {"Sport": 2, "Short": 1}


def test_compare_genres_reports_agreement_and_disagreements(tmp_path):
    path = tmp_path / "basics.tsv.gz"
    path.write_bytes(gzip.compress(BODY))
    imdb, _ = read_title_basics(path)
    movies = pd.DataFrame(
        [
            {"id": 603, "imdb_id": "tt0133093", "title": "The Matrix", "genres": ["Action", "Science Fiction"]},
            {"id": 278, "imdb_id": "tt0111161", "title": "The Shawshank Redemption", "genres": ["Drama", "Crime"]},
            {"id": 947, "imdb_id": "tt0056172", "title": "Lawrence of Arabia", "genres": ["Adventure", "Drama", "History"]},
            {"id": 218, "imdb_id": "tt0088247", "title": "The Terminator", "genres": ["Science Fiction", "Action"]},
            {"id": 1, "imdb_id": None, "title": "No IMDb id", "genres": ["Drama"]},
            {"id": 2, "imdb_id": "tt7777777", "title": "Not in the file", "genres": ["Drama"]},
        ]
    )
    result = compare_genres(imdb, movies)
    summary = result.summary
    assert summary["compared"] == 4 and summary["movies_with_imdb_id"] == 5 and summary["not_in_imdb_file"] == 1
    assert summary["agree"] == 2 and summary["agreement_rate"] == pytest.approx(0.5)
    assert summary["overlap_rate"] == pytest.approx(1.0)
    assert summary["unmapped_imdb_genres"] == {"Biography": 1}
    rows = result.disagreements.set_index("imdb_id")
    assert sorted(rows.index) == ["tt0056172", "tt0111161"]
    assert list(rows.loc["tt0111161", "only_tmdb"]) == ["Crime"] and list(rows.loc["tt0111161", "only_imdb"]) == []
    assert list(rows.loc["tt0056172", "only_tmdb"]) == ["History"]
    per_genre = result.per_genre.set_index("genre")
    assert per_genre.loc["Science Fiction", "both"] == 2 and per_genre.loc["Crime", "tmdb_only"] == 1
