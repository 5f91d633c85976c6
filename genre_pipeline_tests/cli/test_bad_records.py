"""Bad records cost only themselves, and a user's broken file is named: real `genre-pipeline run` processes.

One snapshot mixes good lines with every kind of bad line. A snapshot run keeps every good
record in ``movies``, puts every bad line in the quarantine table with its true line and a
reason naming the field, and its summary's counts add up to the file's lines. The same
file served by the TMDB replay server (malformed records included) is quarantined by a
live run, and the next run succeeds. A file that cannot be read fails the run with its
name (and line) on the terminal and in the Dagster run's error, without a traceback.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from genre_pipeline.ingestion.replay import TmdbReplayServer
from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline_tests.support.snapshots import GENRES, movie, write_snapshot

CATALOG = "key:raw_movie_records or key:genre_vocabulary or key:movies"
ROOT = Path(__file__).resolve().parents[2]
INT64_MAX = 2**63 - 1
BOM = b"\xef\xbb\xbf"


def rec(movie_id, title="A movie", date="2001-05-05", genre_ids=(28,), **changes) -> dict:
    """A record with ``changes`` applied; a change to ``...`` removes the field."""
    record = movie(movie_id, title, date, list(genre_ids))
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


@dataclass(frozen=True)
class Case:
    what: str
    line: bytes
    field: str = ""  # the field a quarantine reason names; "" for a good line, "blank" for a blank one
    says: str = ""  # a piece of the reason
    live: bool = False  # served by the replay, listed by discover and fetched: a live run quarantines it


def good(what: str, record: dict | bytes) -> Case:
    return Case(what, record if isinstance(record, bytes) else json.dumps(record).encode())


def bad(what: str, record: dict | bytes, field: str, says: str, live: bool = False) -> Case:
    return Case(what, record if isinstance(record, bytes) else json.dumps(record).encode(), field, says, live)


CASES = [
    good("a BOM before the first line", BOM + json.dumps(rec(101, "With a BOM", "1999-02-03")).encode()),
    good("CRLF line ending", json.dumps(rec(102, "Windows line", "2000-01-01")).encode() + b"\r"),
    Case("empty line", b"", "blank"),
    good("empty release_date: undated", rec(103, "No date", "")),
    good("null release_date: undated", rec(104, "Null date", None)),
    good("id 2**63-1", rec(INT64_MAX, "Largest id", "2001-01-01")),
    good("first partition year", rec(105, "Oldest", "1874-12-09")),
    good("last partition year", rec(106, "Announced", "2030-12-31")),
    good("genres null", rec(107, "No genres", genres=None)),
    good("integer popularity, unknown nested fields",
         rec(108, "Extras", popularity=3, belongs_to_collection={"id": 5, "parts": [1, 2]}, homepage=None)),
    good("legacy genre id", rec(109, "Foreign film", genre_ids=(10769,))),
    good("duplicate id, first line", rec(110, "Dup first", "2002-02-02")),
    Case("spaces only", b"   \t", "blank"),
    bad("not JSON", b"not json", "record", "malformed JSON"),
    bad("JSON cut short", b'{"id": 201, "title": "cut', "record", "malformed JSON"),
    bad("JSON array", b"[1, 2, 3]", "record", "got array"),
    bad("JSON string", b'"a movie"', "record", "got string"),
    bad("JSON null", b"null", "record", "got null"),
    bad("invalid UTF-8", b'{"id": 202, "title": "Caf\xe9", "release_date": "2001-01-01"}', "record", "not UTF-8"),
    bad("NUL byte", b'{"id": 203\x00}', "record", "malformed JSON"),
    bad("integer beyond the digit limit", b'{"id": ' + b"9" * 5000 + b"}", "record", "malformed JSON"),
    bad("nested too deeply", b"[" * 100_000, "record", "nested too deeply"),
    bad("id as string", rec(204, id="204"), "id", "valid integer"),
    bad("no id", rec(205, id=...), "id", "missing"),
    bad("id 0", rec(0), "id", "greater than 0", live=True),
    bad("negative id", rec(-206), "id", "greater than 0"),  # live: /movie/-206 is a 404, recorded as missing
    bad("id 2**63", rec(2**63), "id", "9223372036854775807", live=True),
    bad("id 2**64", rec(2**64), "id", "9223372036854775807", live=True),
    bad("id a float", rec(207.0), "id", "valid integer"),
    bad("id true", rec(True), "id", "valid integer"),
    bad("genre id 2**64", rec(208, genre_ids=(2**64,)), "genres[0].id", "9223372036854775807", live=True),
    bad("genre id null", rec(209, genres=[{"id": None, "name": "?"}]), "genres[0].id", "got null",
        live=True),
    bad("genres not a list", rec(210, genres="Action"), "genres", "valid list", live=True),
    bad("genre not an object", rec(211, genres=[28]), "genres[0]", "JSON object", live=True),
    bad("title not a string", rec(212, title=5), "title", "valid string", live=True),
    bad("title missing", rec(213, title=...), "title", "missing", live=True),
    bad("title blank", rec(214, "   "), "title", "blank", live=True),
    bad("date 0000-00-00", rec(215, date="0000-00-00"), "release_date", "not a calendar date"),
    bad("date 2999-01-01", rec(216, date="2999-01-01"), "release_date", "outside the release years"),
    bad("date 1800-05-05", rec(217, date="1800-05-05"), "release_date", "outside the release years"),
    bad("date 19999-01-01", rec(218, date="19999-01-01"), "release_date", "not a YYYY-MM-DD date", live=True),
    bad("date 2015-13-45", rec(219, date="2015-13-45"), "release_date", "not a calendar date", live=True),
    bad("numeric release_date", rec(220, date=20150101), "release_date", "must be a string or null"),
    bad("date with slashes", rec(221, date="2015/03/01"), "release_date", "not a YYYY-MM-DD date", live=True),
    bad("year before the range", rec(222, date="1873-12-31"), "release_date", "outside the release years"),
    bad("year after the range", rec(223, date="2031-01-01"), "release_date", "outside the release years"),
    bad("vote_count 2**63", rec(224, vote_count=2**63), "vote_count", "9223372036854775807", live=True),
    bad("negative vote_count", rec(225, vote_count=-1), "vote_count", "greater than or equal to 0", live=True),
    bad("popularity a string", rec(226, popularity="high"), "popularity", "valid number", live=True),
    bad("popularity NaN", rec(227, popularity=float("nan")), "popularity", "finite number", live=True),
    bad("vote_average 1e400", json.dumps(rec(228)).replace('"vote_average": 6.0', '"vote_average": 1e400').encode(),
        "vote_average", "finite number", live=True),
    bad("overview a number", rec(229, overview=42), "overview", "valid string", live=True),
    bad("poster_path a number", rec(230, poster_path=7), "poster_path", "valid string", live=True),
    bad("runtime beyond int64", rec(231, runtime=2**70), "runtime", "9223372036854775807", live=True),
    good("duplicate id, later line wins", rec(110, "Dup later", "2003-03-03")),
]
GOOD = {json.loads(c.line.removeprefix(BOM))["id"]: json.loads(c.line.removeprefix(BOM)) for c in CASES if not c.field}
UNDATED_IDS = {i for i, r in GOOD.items() if not r["release_date"]}


def mixed_snapshot(folder: Path) -> Path:
    write_snapshot(folder, [])
    (folder / "movies.jsonl").write_bytes(b"".join(c.line + b"\n" for c in CASES))
    return folder


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genre_pipeline.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_PIPELINE_", "TMDB_"))}
    return env | extra


def current(home: Home):
    return GenerationStore(home).current()


def step_failure(home: Home) -> str:
    """The messages of the latest run's step failure as Dagster recorded it (the error, then its causes)."""
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    run = instance.get_runs(limit=1)[0]
    (entry,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    error, messages = entry.dagster_event.event_specific_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


@pytest.mark.slow
def test_a_snapshot_of_every_bad_line_keeps_every_good_record_and_quarantines_the_rest(tmp_path):
    home = Home(tmp_path / "home")
    snapshot = mixed_snapshot(tmp_path / "snapshot")
    done = run_cli("run", "--snapshot", str(snapshot), "--home", str(home.root), "--select", CATALOG, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr

    table = current(home).read("movies")
    assert sorted(table["id"]) == sorted(GOOD)
    titles = dict(zip(table["id"], table["title"]))
    assert titles == {i: r["title"] for i, r in GOOD.items()}  # the later line of id 110
    assert set(table.loc[table["release_year"].isna(), "id"]) == UNDATED_IDS
    assert table.loc[table["id"] == 110, "partition"].item() == "2003"

    quarantine = current(home).read("raw_movie_records.quarantine")
    lines = {n: c for n, c in enumerate(CASES, start=1) if c.field not in ("", "blank")}
    assert sorted(quarantine["line"]) == sorted(lines)
    assert all(f.endswith("movies.jsonl") for f in quarantine["file"])
    for line, reason in zip(quarantine["line"], quarantine["reason"]):
        case = lines[line]
        assert reason.startswith(f"{case.field}: ") and case.says in reason, (case.what, reason)

    total = len(CASES)
    summary = re.search(r"(\d+) records over 158 release-year partitions \((\d+) undated\); (\d+) quarantined; "
                        r".*movies\.jsonl: (\d+) lines = (\d+) records \+ (\d+) quarantined \+ (\d+) blank", done.stdout)
    assert summary, done.stdout
    stored, undated, quarantined, read, records, bad_lines, blank = map(int, summary.groups())
    assert read == total == records + bad_lines + blank
    assert (stored, records, undated) == (len(GOOD) + 1, len(GOOD) + 1, len(UNDATED_IDS))  # + the duplicate line
    assert quarantined == bad_lines == len(lines) and blank == 2
    utf8_line = next(n for n, c in lines.items() if c.what == "invalid UTF-8")
    assert f"quarantined {snapshot / 'movies.jsonl'}:{utf8_line}: record: not UTF-8 text" in done.stdout

    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    event = instance.get_latest_materialization_event(dg.AssetKey("raw_movie_records"))
    metadata = event.asset_materialization.metadata
    assert metadata["quarantined_lines"].value == len(lines) and metadata["undated_records"].value == len(UNDATED_IDS)
    assert metadata["input_lines"].value == total and metadata["blank_lines"].value == 2


@pytest.mark.slow
def test_a_live_run_quarantines_malformed_tmdb_records_and_the_next_run_succeeds(tmp_path):
    home = Home(tmp_path / "home")
    snapshot = mixed_snapshot(tmp_path / "snapshot")
    with TmdbReplayServer.from_snapshot(snapshot, serve_invalid=True) as server:
        env = clean_env(TMDB_API_KEY="x", TMDB_API_BASE_URL=server.api_base_url,
                        TMDB_IMAGE_BASE_URL=server.image_base_url, TMDB_RATE_LIMIT="2000")
        runs = [run_cli("run", "--source", "tmdb", "--home", str(home.root), "--select", CATALOG, env=env)
                for _ in range(2)]
        details_requested = server.count("/3/movie/*")
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr

    live = {c for c in CASES if c.live}
    dated = {i for i in GOOD if i not in UNDATED_IDS}  # discover lists no undated movie
    assert sorted(current(home).read("movies")["id"]) == sorted(dated)
    quarantine = current(home).read("raw_movie_records.quarantine")
    expected = {f"tmdb /movie/{json.loads(c.line)['id']}": c for c in live}
    assert sorted(quarantine["file"]) == sorted(expected)
    assert set(quarantine["line"]) == {0}
    for where, reason in zip(quarantine["file"], quarantine["reason"]):
        case = expected[where]
        assert reason.startswith(f"{case.field}: ") and case.says in reason, (case.what, reason)
    assert f"quarantined tmdb /movie/{2**64}: id: " in runs[0].stdout
    assert details_requested == 2 * (len(dated) + len(live) + 1)  # + the 404 of the negative id


@pytest.mark.slow
def test_a_truncated_gzip_keeps_every_complete_line_and_says_where_it_broke(tmp_path):
    home = Home(tmp_path / "home")
    folder = write_snapshot(tmp_path / "snapshot", [])
    (folder / "movies.jsonl").unlink()
    records = [rec(300 + i, f"Movie {i}", f"{1990 + i % 20}-01-01", overview="words " * 200) for i in range(300)]
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    (folder / "movies.jsonl.gz").write_bytes(data[: len(data) // 2])
    done = run_cli("run", "--snapshot", str(folder), "--home", str(home.root), "--select", CATALOG, env=clean_env())
    assert done.returncode == 0, done.stderr
    kept = sorted(current(home).read("movies")["id"])
    assert 0 < len(kept) < len(records) and kept == [r["id"] for r in records[: len(kept)]]
    (tail,) = current(home).read("raw_movie_records.quarantine").itertuples()
    assert tail.line == len(kept) + 1 and tail.file == str(folder / "movies.jsonl.gz")
    assert f"the {len(kept)} lines before it were read" in tail.reason
    assert f"movies.jsonl.gz:{len(kept) + 1}: record: gzip stream ends early (truncated file)" in done.stdout


def broken_genres(folder: Path) -> str:
    (folder / "genres.json").write_text('{"genres": [\n  {"id": 28, "name": "Action"},\n]}\n', encoding="utf-8")
    return f"{folder / 'genres.json'}:3: malformed JSON"


def oversized_genre_id(folder: Path) -> str:
    (folder / "genres.json").write_text(json.dumps({"genres": [*GENRES, {"id": 2**64, "name": "Huge"}]}))
    return f"{folder / 'genres.json'}: genres[{len(GENRES)}] must be an object with an integer 'id'"


def truncated_gzip_header(folder: Path) -> str:
    (folder / "movies.jsonl").unlink()
    (folder / "movies.jsonl.gz").write_bytes(gzip.compress(b'{"id": 1}\n')[:6])
    return f"cannot read snapshot file {folder / 'movies.jsonl.gz'}: gzip stream ends early (truncated file)"


@pytest.mark.slow
@pytest.mark.parametrize("damage", [broken_genres, oversized_genre_id, truncated_gzip_header])
def test_a_broken_file_fails_the_run_naming_the_file(tmp_path, damage):
    home = Home(tmp_path / "home")
    folder = write_snapshot(tmp_path / "snapshot", [rec(1, "Fine", "2001-01-01")])
    message = damage(folder)
    done = run_cli("run", "--snapshot", str(folder), "--home", str(home.root), "--select", CATALOG, env=clean_env())
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert message in step_failure(home)
