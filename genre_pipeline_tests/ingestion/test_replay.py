"""The TMDB replay server: a snapshot served with TMDB's paths, shapes, limits and faults."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from genre_pipeline.ingestion.replay import TmdbReplayServer
from genre_pipeline.ingestion.tmdb import TmdbCatalogSource, TmdbSettings
from genre_pipeline_tests.support.snapshots import GENRES, movie
from genre_pipeline_tests.support.tmdb_fixtures import FakeClock, tiny_jpeg


def test_a_snapshot_replays_through_the_live_client(snapshot_factory, tmp_path):
    folder = snapshot_factory(
        [
            movie(1, "First", "2015-03-01", [28], poster_path="/first.jpg"),
            "not json",
            movie(2, "Second", "2015-07-01", [35]),
            movie(3, "Other year", "2016-01-01", [18]),
            movie(1, "First, later line", "2015-03-01", [28], poster_path="/first.jpg"),
        ]
    )
    (folder / "posters").mkdir()
    (folder / "posters" / "first.jpg").write_bytes(tiny_jpeg(1))
    with TmdbReplayServer.from_snapshot(folder) as server:
        assert [m["id"] for m in server.movies()] == [1, 2, 3]  # the quarantined line is not served
        clock = FakeClock()
        settings = TmdbSettings(api_key="any-key", api_base_url=server.api_base_url, image_base_url=server.image_base_url)
        source = TmdbCatalogSource(settings, sleep=clock.sleep, clock=clock)
        try:
            result = source.fetch_year("2015")
            assert sorted((r["id"], r["title"]) for r in result.records) == [(1, "First, later line"), (2, "Second")]
            assert source.genre_list() == GENRES
            (poster,) = source.fetch_posters(["/first.jpg"], tmp_path / "posters")
        finally:
            source.close()
    assert poster.status == "fetched" and poster.file.read_bytes() == tiny_jpeg(1)


def test_malformed_records_are_served_as_they_are_and_the_client_quarantines_them(snapshot_factory):
    folder = snapshot_factory(
        [
            movie(1, "Good", "2015-03-01", [28]),
            movie(2, "Null genre id", "2015-04-01", [28]) | {"genres": [{"id": None}]},
            movie(3, "Numeric date", "2015-01-01", [28]) | {"release_date": 20150101},
            movie(4, "Text popularity", "2015-05-01", [28]) | {"popularity": "high", "genres": "Action"},
            '{"id": "5", "title": "string id", "release_date": "2015-01-01"}',
            "not json",
            movie(2**64, "Huge id", "2015-06-01", [28]),
            movie(6, "Bad day", "2015-13-45", [28]),
        ]
    )
    with TmdbReplayServer.from_snapshot(folder) as strict:
        assert [m["id"] for m in strict.movies()] == [1]
    with TmdbReplayServer.from_snapshot(folder, serve_invalid=True) as server:
        assert [m["id"] for m in server.movies()] == [1, 2, 3, 4, 6, 2**64]
        base, key = server.api_base_url, {"api_key": "x", "primary_release_year": 2015}
        listed = httpx.get(f"{base}/discover/movie", params=key).json()["results"]
        assert [(r["id"], r["genre_ids"]) for r in listed] == [(1, [28]), (2, [None]), (6, [28]), (2**64, [28]), (4, [])]
        action = httpx.get(f"{base}/discover/movie", params={**key, "with_genres": "28"}).json()["results"]
        assert [r["id"] for r in action] == [1, 6, 2**64]
        assert httpx.get(f"{base}/movie/{2**64}", params=key).json()["title"] == "Huge id"
        clock = FakeClock()
        source = TmdbCatalogSource(TmdbSettings(api_key="x", api_base_url=base, image_base_url=server.image_base_url),
                                   sleep=clock.sleep, clock=clock)
        try:
            result = source.fetch_year("2015")
        finally:
            source.close()
    assert [r["id"] for r in result.records] == [1]
    assert [q.message().split(":")[:2] for q in result.quarantined] == [
        ["tmdb /movie/2", " genres[0].id"], ["tmdb /movie/6", " release_date"], [f"tmdb /movie/{2**64}", " id"],
        ["tmdb /movie/4", " genres"],  # then "; popularity: ..."
    ]
    with pytest.raises(ValueError, match="a replayed record needs an integer 'id'"):
        TmdbReplayServer([{"id": "7"}], GENRES)


def test_tmdb_limits_and_credentials():
    with TmdbReplayServer([movie(1, "A", "2015-03-01", [28])], GENRES, api_key="the-key", token="the-token") as server:
        base = server.api_base_url
        assert httpx.get(f"{base}/discover/movie", params={"page": 501, "api_key": "the-key"}).status_code == 400
        assert httpx.get(f"{base}/discover/movie", params={"page": 500, "api_key": "the-key"}).status_code == 200
        rejected = httpx.get(f"{base}/genre/movie/list", params={"api_key": "another-key"})
        assert rejected.status_code == 401 and rejected.json()["status_code"] == 7
        assert httpx.get(f"{base}/genre/movie/list", headers={"Authorization": "Bearer the-token"}).status_code == 200
        window = {"start_date": "2024-01-01", "end_date": "2024-01-20", "api_key": "the-key"}
        assert httpx.get(f"{base}/movie/changes", params=window).status_code == 422
        assert httpx.get(f"{base}/movie/2", params={"api_key": "the-key"}).json()["status_code"] == 34
        assert [r.auth for r in server.requests] == ["api_key"] * 3 + ["bearer"] + ["api_key"] * 2
        assert not any("api_key" in r.query for r in server.requests)
        with pytest.raises(ValueError, match="unknown fault kind 'teapot'"):
            server.add_fault("/3/*", "teapot")
    with TmdbReplayServer([], GENRES) as open_mirror:  # no key configured: any key, but some key
        assert httpx.get(f"{open_mirror.api_base_url}/genre/movie/list", params={"api_key": "x"}).status_code == 200
        assert httpx.get(f"{open_mirror.api_base_url}/genre/movie/list").status_code == 401


def test_command_line_serves_a_snapshot_until_stopped(snapshot_factory):
    folder = snapshot_factory([movie(7, "Seven", "2015-03-01", [28])])
    command = [sys.executable, "-m", "genre_pipeline.ingestion.replay", str(folder), "--api-key", "cli-secret-key"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = [proc.stdout.readline() for _ in range(3)]
        urls = dict(line.strip().split("=", 1) for line in printed[1:])
        answer = httpx.get(f"{urls['TMDB_API_BASE_URL']}/movie/7", params={"api_key": "cli-secret-key"}, timeout=10)
        assert answer.json()["title"] == "Seven"
        assert printed[0].startswith("replaying 1 movies from") and urls["TMDB_IMAGE_BASE_URL"].endswith("/t/p")
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
    assert "cli-secret-key" not in "".join(printed) + rest
