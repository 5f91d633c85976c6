"""Poster fetching reports ``progress(done, total)`` over the distinct files it handles."""

from __future__ import annotations

from genre_pipeline.ingestion.posters import PosterDownloader
from genre_pipeline.ingestion.replay import TmdbReplayServer
from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource
from genre_pipeline_tests.support.snapshots import write_snapshot
from genre_pipeline_tests.support.tmdb_fixtures import TMDB_GENRES, FakeClock, make_movies, make_posters, tiny_jpeg


def test_downloads_report_each_distinct_file_once(tmp_path):
    movies = make_movies(12, seed=7, poster_share=1.0)
    posters = make_posters(movies)
    paths = [m["poster_path"] for m in movies]
    paths += [paths[0], None]  # a shared poster and a movie without one: not downloads
    calls: list[tuple[int, int]] = []
    clock = FakeClock()
    with TmdbReplayServer(movies, TMDB_GENRES, posters) as server, \
            PosterDownloader(server.image_base_url, concurrency=4, rate_limit=1000, sleep=clock.sleep, clock=clock) as downloader:
        results = downloader.fetch(paths, tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert {r.file.name for r in results if r.status == "fetched"} == set(posters) and len(posters) == 12
    assert calls == [(done, 12) for done in range(13)]  # from 0, one call per file, in order


def test_snapshot_posters_report_from_zero_to_the_total(tmp_path):
    folder = write_snapshot(tmp_path / "snapshot", [])
    (folder / "posters").mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / "posters" / name).write_bytes(tiny_jpeg(len(name)))
    calls: list[tuple[int, int]] = []
    results = SnapshotCatalogSource(folder).fetch_posters(["/a.jpg", "/b.jpg", "/gone.jpg"], tmp_path / "store",
                                                          progress=lambda done, total: calls.append((done, total)))
    assert [r.status for r in results] == ["fetched", "fetched", "missing"]
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
