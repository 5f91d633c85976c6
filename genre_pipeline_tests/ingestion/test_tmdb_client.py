"""TmdbClient / TmdbCatalogSource against a real fake-TMDB HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging

import pytest
import tmdbsimple

from genre_pipeline.ingestion.tmdb import (
    AUTH_REJECTED_MESSAGE,
    TmdbAuthError,
    TmdbCatalogSource,
    TmdbClient,
    TmdbRequestError,
    TmdbSettings,
    redact,
)
from genre_pipeline_tests.support.fake_tmdb import FakeTmdb
from genre_pipeline_tests.support.tmdb_fixtures import TMDB_GENRES, make_movies

KEY = "k3y-SECRET-0123456789abcdef"
TOKEN = "eyTOKEN.secret-bearer-9876543210"


class RecordingSleep:
    """Records requested sleeps; sleeps for real only a tiny bit (keeps tests fast)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="module")
def movies():
    return make_movies(60, seed=3, years=(2015, 2016))


@pytest.fixture
def fake(movies):
    with FakeTmdb(movies, TMDB_GENRES, api_key=KEY, token=TOKEN) as server:
        yield server


def settings_for(fake: FakeTmdb, **overrides) -> TmdbSettings:
    values = dict(
        api_key=KEY,
        api_base_url=fake.api_base_url,
        image_base_url=fake.image_base_url,
        rate_limit=2000,
        concurrency=6,
        timeout=2.0,
        backoff_base=0.01,
        backoff_max=0.05,
        max_retries=4,
    )
    values.update(overrides)
    return TmdbSettings(**values)


def year_ids(movies, year: str) -> list[int]:
    return sorted(m["id"] for m in movies if (m["release_date"] or "").startswith(year))


def test_fetch_year_gets_every_movie_once_over_keep_alive(fake, movies):
    source = TmdbCatalogSource(settings_for(fake))
    result = source.fetch_year("2015")
    ids = [r["id"] for r in result.records]
    assert sorted(ids) == year_ids(movies, "2015") and len(ids) == len(set(ids)) == 30
    pages = -(-30 // fake.page_size)
    assert fake.count("/3/discover/movie") == pages and fake.count("/3/movie/*") == 30
    assert result.stats["requests"] == pages + 30 == len(fake.requests)
    assert result.stats["discover_slices"] == 1 and result.stats["truncated_slices"] == []
    # keep-alive: tmdbsimple's "Connection: close" is gone and connections are reused
    assert {r.connection_header for r in fake.requests} == {"keep-alive"}
    assert fake.connections <= 6
    # details are full records, in discover (popularity) order
    popularity = [r["popularity"] for r in result.records]
    assert popularity == sorted(popularity, reverse=True)
    assert all("runtime" in r for r in result.records)


def test_undated_partition_makes_no_request(fake):
    result = TmdbCatalogSource(settings_for(fake)).fetch_year("undated")
    assert result.records == [] and fake.requests == []


def test_year_over_the_page_cap_is_sliced_by_month_then_genre():
    genres = TMDB_GENRES[:10]
    movies = []
    for i in range(30):  # 30 movies in March, three per genre
        movies.append({"id": 100 + i, "title": f"M{i}", "release_date": f"2015-03-{i % 28 + 1:02d}",
                       "genres": [genres[i % 10]], "popularity": float(i)})
    for i in range(3):  # no genre at all
        movies.append({"id": 200 + i, "title": f"N{i}", "release_date": "2015-03-05", "genres": [], "popularity": 1.0})
    for i in range(5):  # other months
        movies.append({"id": 300 + i, "title": f"O{i}", "release_date": f"2015-{i + 5:02d}-01", "genres": [genres[0]], "popularity": 1.0})
    movies.append({"id": 400, "title": "other year", "release_date": "2014-03-05", "genres": [genres[0]], "popularity": 9.0})
    with FakeTmdb(movies, genres, api_key=KEY, page_size=4, max_pages=2) as fake:
        source = TmdbCatalogSource(settings_for(fake, discover_page_cap=2))
        result = source.fetch_year("2015")
        ids = [r["id"] for r in result.records]
        assert sorted(ids) == sorted(m["id"] for m in movies if m["id"] != 400)
        assert len(ids) == len(set(ids))
        assert result.stats["truncated_slices"] == []
        # 11 other months + 10 genre slices of March + March's "no genre" slice
        assert result.stats["discover_slices"] == 22
        assert fake.count("/3/genre/movie/list") == 1
        # no page beyond the cap was ever asked for
        assert all(int(r.query.get("page", "1")) <= 2 for r in fake.requests if r.path == "/3/discover/movie")


def test_429_with_retry_after_is_honoured(fake, movies):
    fake.add_fault("/3/movie/*", "429", count=3, retry_after=1.5)
    sleep = RecordingSleep()
    source = TmdbCatalogSource(settings_for(fake), sleep=sleep)
    source.client.bucket._sleep = lambda s: None  # bucket waits are not what we measure here
    result = source.fetch_year("2016")
    assert sorted(r["id"] for r in result.records) == year_ids(movies, "2016")
    assert result.stats["status_429"] == 3 and result.stats["retries"] == 3
    assert sum(1 for s in sleep.calls if s >= 1.5) == 3  # never shorter than Retry-After
    assert max(sleep.calls) <= 1.5 * 1.1 + 1e-9  # jitter is bounded


def test_500s_timeouts_and_malformed_json_are_retried_and_every_movie_is_present_once(fake, movies):
    fake.add_fault("/3/discover/movie", "500", count=2)
    fake.add_fault("/3/discover/movie", "malformed", count=1)
    fake.add_fault("/3/movie/*", "500", count=4)
    fake.add_fault("/3/movie/*", "malformed", count=3)
    fake.add_fault("/3/movie/*", "slow", count=2, delay=1.0)
    fake.add_fault("/3/movie/*", "drop", count=2)
    source = TmdbCatalogSource(settings_for(fake, timeout=0.3))
    result = source.fetch_year("2015")
    ids = [r["id"] for r in result.records]
    assert sorted(ids) == year_ids(movies, "2015") and len(ids) == len(set(ids))
    assert result.stats["status_500"] == 6
    assert result.stats["malformed"] == 4
    assert result.stats["timeout"] == 2
    assert result.stats["retries"] == 6 + 4 + 2 + 2


def test_persistent_failure_gives_up_with_a_clean_error(fake):
    fake.add_fault("/3/discover/movie", "500", count=None)
    source = TmdbCatalogSource(settings_for(fake, max_retries=3))
    with pytest.raises(TmdbRequestError) as caught:
        source.fetch_year("2015")
    assert "gave up after 4 attempts" in str(caught.value) and "HTTP 500" in str(caught.value)
    assert fake.count("/3/discover/movie") == 4
    assert KEY not in str(caught.value) and caught.value.__context__ is None and caught.value.__cause__ is None


def test_401_is_one_clear_error_without_retries(fake):
    source = TmdbCatalogSource(settings_for(fake, api_key="wrong-key-000000"))
    with pytest.raises(TmdbAuthError, match=AUTH_REJECTED_MESSAGE):
        source.genre_list()
    assert len(fake.requests) == 1

    fake.reset_log()
    fake.add_fault("/3/movie/*", "401", count=None)
    with pytest.raises(TmdbAuthError, match=AUTH_REJECTED_MESSAGE):
        TmdbCatalogSource(settings_for(fake, concurrency=1)).fetch_year("2015")
    assert fake.count("/3/movie/*") == 1  # the first 401 stopped everything


def test_404_is_recorded_as_missing(fake, movies):
    gone = year_ids(movies, "2015")[:2]
    fake.hide_details(gone)
    result = TmdbCatalogSource(settings_for(fake)).fetch_year("2015")
    assert sorted(result.missing_ids) == gone
    assert sorted(r["id"] for r in result.records) == year_ids(movies, "2015")[2:]
    assert result.stats["status_404"] == 2 and result.stats.get("retries", 0) == 0


def test_requests_respect_the_rate_limit(fake, movies):
    ids = [m["id"] for m in movies][:30]
    fake.latency = 0.1  # one connection alone could do 10/s: the limit needs concurrency
    source = TmdbCatalogSource(settings_for(fake, rate_limit=25, burst=1, concurrency=8))
    fetched = source.fetch_details(ids)
    assert len(fetched.records) == 30
    times = sorted(r.at for r in fake.requests)
    assert len(times) == 30
    # Over any window, the server never saw more than burst + rate * window requests
    # (small tolerance for scheduling jitter between the client's clock and the server's).
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            assert (j - i) <= 1 + 25 * (times[j] - times[i]) + 1.5
    assert len({r.connection_id for r in fake.requests}) >= 3  # really concurrent


def test_bearer_token_keeps_the_key_out_of_urls(fake, movies):
    source = TmdbCatalogSource(settings_for(fake, api_key=None, read_access_token=TOKEN))
    assert [g["id"] for g in source.genre_list()] == [g["id"] for g in TMDB_GENRES]
    assert source.fetch_details([movies[0]["id"]]).records[0]["id"] == movies[0]["id"]
    assert {r.auth for r in fake.requests} == {"bearer"} and not any(r.key_in_url for r in fake.requests)


def test_secrets_never_reach_logs_errors_or_descriptions(fake, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line, query string included
    fake.add_fault("/3/movie/*", "500", count=None)
    source = TmdbCatalogSource(settings_for(fake, read_access_token=None, max_retries=1))
    with pytest.raises(TmdbRequestError) as caught:
        source.fetch_year("2015")
    logged = caplog.text
    assert "api_key=***" in logged  # urllib3's request lines were emitted, and redacted
    for text in (logged, str(caught.value), repr(caught.value), repr(source.settings), str(source.describe())):
        assert KEY not in text
    assert all(r.key_in_url for r in fake.requests)  # v3 key mode: the key was in every URL
    assert redact(f"GET /3/movie/1?api_key={KEY}&page=2 Bearer {TOKEN}", [KEY, TOKEN]).count("***") == 2
    assert tmdbsimple.API_KEY != KEY and tmdbsimple.REQUESTS_SESSION is None  # globals untouched


def test_changed_ids_reads_every_page_and_checks_the_window(fake):
    changed = list(range(5000, 5250))
    fake.mark_changed(changed, "2024-05-01")
    fake.mark_changed([9], "2024-05-03")
    source = TmdbCatalogSource(settings_for(fake))
    result = source.changed_ids("2024-05-01")
    assert sorted(result.ids) == changed and result.pages == 3
    assert fake.count("/3/movie/changes") == 3
    assert sorted(source.changed_ids("2024-05-01", "2024-05-14").ids) == [9] + changed
    with pytest.raises(ValueError, match="14 days"):
        source.changed_ids("2024-05-01", "2024-05-16")
    assert fake.count("/3/movie/changes") == 3 + 3  # the refused window sent nothing


def test_missing_credentials_fail_before_any_request(fake):
    with pytest.raises(TmdbAuthError, match="TMDB_API_KEY"):
        TmdbClient(settings_for(fake, api_key=None))
    settings = TmdbSettings.from_env(
        {"TMDB_API_KEY": KEY, "TMDB_API_BASE_URL": fake.api_base_url, "TMDB_IMAGE_BASE_URL": fake.image_base_url},
        rate_limit=None,
        concurrency=3,
    )
    assert settings.api_base_url == fake.api_base_url and settings.concurrency == 3 and settings.rate_limit == 40.0
    assert fake.requests == []


def test_rescrape_touches_only_changed_movies_in_the_catalog(fake, movies):
    catalog = {m["id"] for m in movies}
    ours = sorted(catalog)[:3]
    fake.mark_changed(ours + [777001, 777002], "2024-06-02")  # two ids we never scraped
    fake.mark_changed([sorted(catalog)[5]], "2024-06-03")  # another day
    fake.hide_details([ours[2]])  # deleted on TMDB since
    result = TmdbCatalogSource(settings_for(fake)).rescrape_changes("2024-06-02", catalog_ids=catalog)
    assert result.changed_total == 5 and result.in_catalog == ours
    assert [r["id"] for r in result.records] == ours[:2] and result.missing_ids == [ours[2]]
    assert sorted(r.path for r in fake.requests) == sorted(["/3/movie/changes"] + [f"/3/movie/{i}" for i in ours])
    assert result.stats["requests"] == 4
