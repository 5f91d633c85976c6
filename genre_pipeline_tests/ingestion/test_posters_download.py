"""Poster downloader against the TMDB replay server's image CDN on 127.0.0.1 (waits on a virtual clock)."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from PIL import Image

from genre_pipeline.ingestion.posters import PosterDownloader, image_bytes_problem
from genre_pipeline.ingestion.replay import TmdbReplayServer
from genre_pipeline_tests.support.tmdb_fixtures import TMDB_GENRES, FakeClock, make_movies, make_posters, tiny_jpeg


@pytest.fixture(scope="module")
def catalog():
    movies = make_movies(24, seed=5, poster_share=0.8)
    return movies, make_posters(movies)


@pytest.fixture
def fake(catalog):
    movies, posters = catalog
    with TmdbReplayServer(movies, TMDB_GENRES, posters) as server:
        yield server


def downloader(fake, clock: FakeClock | None = None, **kwargs) -> PosterDownloader:
    clock = clock or FakeClock()
    values = dict(concurrency=4, rate_limit=1000, backoff_base=0.01, backoff_max=0.02, max_retries=2, timeout=2.0)
    values.update(kwargs)
    return PosterDownloader(fake.image_base_url, sleep=clock.sleep, clock=clock, **values)


def poster_paths(catalog):
    return [m["poster_path"] for m in catalog[0]]


def only_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_download_then_resume_fetches_nothing_twice(fake, catalog, tmp_path):
    movies, posters = catalog
    paths = poster_paths(catalog)
    with downloader(fake) as dl:
        first = dl.fetch(paths, tmp_path)
    assert [r.poster_path for r in first] == paths  # one result per input, in order
    counts = Counter(r.status for r in first)
    assert counts == {"fetched": len(posters), "missing": paths.count(None)}
    for result in first:
        if result.status == "fetched":
            # stored byte for byte under the basename of poster_path, never a title
            assert result.file.name == result.poster_path.rsplit("/", 1)[-1]
            assert result.file.read_bytes() == posters[result.file.name]
    assert only_files(tmp_path) == sorted(posters)  # no temp files left behind
    assert {r.path.split("/")[3] for r in fake.requests} == {"w500"}

    fake.reset_log()
    with downloader(fake) as dl:
        second = dl.fetch(paths, tmp_path)
    assert Counter(r.status for r in second) == {"present": len(posters), "missing": paths.count(None)}
    assert fake.requests == []


def test_killed_midway_restart_downloads_only_the_rest(fake, catalog, tmp_path):
    paths = [p for p in poster_paths(catalog) if p]
    half = len(paths) // 2
    with downloader(fake) as dl:
        dl.fetch(paths[:half], tmp_path)  # the "killed" run got this far
    # a crash mid-write leaves at most a hidden temp file, never a partial poster
    (tmp_path / f".{paths[half].rsplit('/', 1)[-1]}.abc.tmp").write_bytes(b"\xff\xd8partial")
    fake.reset_log()
    with downloader(fake) as dl:
        results = dl.fetch(paths, tmp_path)
    assert Counter(r.status for r in results) == {"present": half, "fetched": len(paths) - half}
    assert sorted(r.path.rsplit("/", 1)[-1] for r in fake.requests) == sorted(p.rsplit("/", 1)[-1] for p in paths[half:])


def test_truncated_and_non_image_bodies_are_retried_then_failed_never_kept(fake, catalog, tmp_path):
    paths = [p for p in poster_paths(catalog) if p][:3]
    names = [p.rsplit("/", 1)[-1] for p in paths]
    fake.add_fault(f"/t/p/w500/{names[0]}", "truncate", count=1)  # transient: retried, then fine
    fake.add_fault(f"/t/p/w500/{names[1]}", "truncate", count=None)  # always truncated
    fake.add_fault(f"/t/p/w500/{names[2]}", "html", count=None)  # an error page, status 200
    with downloader(fake) as dl:
        results = dl.fetch(paths, tmp_path)
    assert [r.status for r in results] == ["fetched", "failed", "failed"]
    assert "truncated" in results[1].reason or "not a valid image" in results[1].reason
    assert "not a valid image" in results[2].reason
    assert fake.count(f"/t/p/w500/{names[0]}") == 2 and fake.count(f"/t/p/w500/{names[1]}") == 3
    assert only_files(tmp_path) == [names[0]]


def test_invalid_file_on_disk_is_replaced(fake, catalog, tmp_path):
    path = next(p for p in poster_paths(catalog) if p)
    name = path.rsplit("/", 1)[-1]
    good = fake.poster(name)
    (tmp_path / name).write_bytes(good[: len(good) // 2])  # e.g. from an old, non-atomic tool
    with downloader(fake) as dl:
        (result,) = dl.fetch([path], tmp_path)
    assert result.status == "fetched" and (tmp_path / name).read_bytes() == good


def test_404_missing_path_and_unsafe_names(fake, tmp_path):
    with downloader(fake) as dl:
        results = dl.fetch(["/nope.jpg", None, "", "/..", "/a/.hidden.jpg"], tmp_path)
    assert [r.status for r in results] == ["missing"] * 5
    assert "404" in results[0].reason and results[1].reason == "no poster_path"
    assert fake.count("*") == 1 and only_files(tmp_path) == []


def test_throttled_cdn_retry_after_is_honoured(fake, catalog, tmp_path):
    path = next(p for p in poster_paths(catalog) if p)
    fake.add_fault("/t/p/*", "429", count=2, retry_after=2)
    fake.add_fault("/t/p/*", "500", count=1)
    clock = FakeClock()
    with downloader(fake, clock, max_retries=3) as dl:
        (result,) = dl.fetch([path], tmp_path)
        stats = dl.stats.as_dict()
    assert result.status == "fetched"
    # each 429 pauses the bucket 2 s and the retry takes the next token (1 ms at 1000/s);
    # after three failures in a row urllib3's backoff (0.04 s + jitter) is capped at 0.02 s
    assert clock.sleeps == pytest.approx([2.001, 2.001, 0.02])
    assert stats == {"fetched": 1, "requests": 4, "retries": 3, "status_200": 1, "status_429": 2, "status_500": 1, "throttled": 2}
    assert fake.count("/t/p/*") == 4


def test_persistent_failure_and_refused_status_are_reported(fake, catalog, tmp_path):
    first, second = [p for p in poster_paths(catalog) if p][:2]
    fake.add_fault(f"/t/p/w500{first}", "503", count=None)
    fake.add_fault(f"/t/p/w500{second}", "401", count=None)  # not a status worth retrying
    with downloader(fake, concurrency=1) as dl:
        results = dl.fetch([first, second], tmp_path)
    assert [r.status for r in results] == ["failed", "failed"]
    assert results[0].reason == "gave up after 3 attempts: too many 503 error responses"
    assert results[1].reason == "HTTP 401"
    assert fake.count(f"/t/p/w500{first}") == 3 and fake.count(f"/t/p/w500{second}") == 1
    assert only_files(tmp_path) == []


def test_image_validation():
    jpeg = tiny_jpeg(1, size=(40, 60))
    assert image_bytes_problem(jpeg) == ""
    assert image_bytes_problem(jpeg[:-2]) != ""  # no end-of-image marker
    assert image_bytes_problem(jpeg[: len(jpeg) // 2]) != ""
    assert image_bytes_problem(b"<html>oops</html>") != "" and image_bytes_problem(b"") == "empty body"
    png = io.BytesIO()
    Image.new("RGB", (30, 30), (1, 2, 3)).save(png, format="PNG")
    assert image_bytes_problem(png.getvalue()) == ""
    assert image_bytes_problem(png.getvalue()[:-20]) != ""
