"""TmdbClient / TmdbCatalogSource against a real TMDB replay server on 127.0.0.1.

Waits (rate limit, backoff, Retry-After) run on a virtual clock, so the tests assert the
exact schedule without sleeping; only the timeout test lets a real timeout expire.
"""

from __future__ import annotations

import logging

import pytest
import tmdbsimple

from genre_pipeline.ingestion.replay import TmdbReplayServer
from genre_pipeline.ingestion.tmdb import (
    AUTH_REJECTED_MESSAGE,
    TmdbAuthError,
    TmdbCatalogSource,
    TmdbClient,
    TmdbRequestError,
    TmdbSettings,
    redact,
)
from genre_pipeline_tests.support.tmdb_fixtures import TMDB_GENRES, FakeClock, make_movies

KEY = "k3y-SECRET-0123456789abcdef"
TOKEN = "eyTOKEN.secret-bearer-9876543210"


@pytest.fixture(scope="module")
def movies():
    return make_movies(60, seed=3, years=(2015, 2016))


@pytest.fixture
def fake(movies):
    with TmdbReplayServer(movies, TMDB_GENRES, api_key=KEY, token=TOKEN) as server:
        yield server


def settings_for(fake: TmdbReplayServer, **overrides) -> TmdbSettings:
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


def source_for(fake: TmdbReplayServer, clock: FakeClock | None = None, **overrides) -> TmdbCatalogSource:
    """A source whose every wait (token bucket, backoff, Retry-After) runs on ``clock``."""
    clock = clock or FakeClock()
    return TmdbCatalogSource(settings_for(fake, **overrides), sleep=clock.sleep, clock=clock)


def year_ids(movies, year: str) -> list[int]:
    return sorted(m["id"] for m in movies if (m["release_date"] or "").startswith(year))


def test_fetch_year_gets_every_movie_once_over_keep_alive(fake, movies):
    result = source_for(fake).fetch_year("2015")
    ids = [r["id"] for r in result.records]
    assert sorted(ids) == year_ids(movies, "2015") and len(ids) == len(set(ids)) == 30
    pages = -(-30 // fake.page_size)
    assert fake.count("/3/discover/movie") == pages and fake.count("/3/movie/*") == 30
    assert result.stats["requests"] == result.stats["status_200"] == pages + 30 == len(fake.requests)
    assert result.stats["discover_slices"] == 1 and result.stats["truncated_slices"] == []
    # keep-alive: tmdbsimple's "Connection: close" is gone and connections are reused
    assert {r.connection_header for r in fake.requests} == {"keep-alive"}
    assert fake.connections <= 6
    # details are full records, in discover (popularity) order
    popularity = [r["popularity"] for r in result.records]
    assert popularity == sorted(popularity, reverse=True)
    assert all("runtime" in r for r in result.records)


def test_undated_partition_makes_no_request(fake):
    result = source_for(fake).fetch_year("undated")
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
    with TmdbReplayServer(movies, genres, api_key=KEY, page_size=4, max_pages=2) as fake:
        result = source_for(fake, discover_page_cap=2).fetch_year("2015")
        ids = [r["id"] for r in result.records]
        assert sorted(ids) == sorted(m["id"] for m in movies if m["id"] != 400)
        assert len(ids) == len(set(ids))
        assert result.stats["truncated_slices"] == []
        # 11 other months + 10 genre slices of March + March's "no genre" slice
        assert result.stats["discover_slices"] == 22
        assert fake.count("/3/genre/movie/list") == 1
        # no page beyond the cap was ever asked for
        assert all(int(r.query.get("page", "1")) <= 2 for r in fake.requests if r.path == "/3/discover/movie")


def test_429_waits_its_retry_after_through_the_token_bucket(fake, movies):
    first, second = year_ids(movies, "2015")[:2]
    fake.add_fault(f"/3/movie/{first}", "429", count=2, retry_after=3)
    clock = FakeClock()
    source = source_for(fake, clock, rate_limit=10, burst=1, concurrency=1)
    fetched = source.fetch_details([first, second])
    assert [r["id"] for r in fetched.records] == [first, second]
    # each 429 pauses the bucket 3 s, then the retry takes the next token (0.1 s at 10/s);
    # the second movie waits one token interval after the last retry
    assert clock.sleeps == pytest.approx([3.1, 3.1, 0.1])
    assert fetched.stats == {"requests": 4, "retries": 2, "status_200": 2, "status_429": 2, "throttled": 2}
    assert fake.count("/3/movie/*") == 4


def test_a_429_pauses_every_thread_for_at_most_the_retry_after_cap(fake, movies):
    movie_id = movies[0]["id"]
    fake.add_fault(f"/3/movie/{movie_id}", "429", count=1, retry_after=600)
    clock = FakeClock(frozen=True)  # time stands still: every wait is a pure reservation
    source = source_for(fake, clock, rate_limit=10, burst=10, concurrency=1, max_retry_after=5)
    assert source.fetch_details([movie_id]).records[0]["id"] == movie_id
    assert clock.sleeps == pytest.approx([5.1])  # Retry-After capped at 5 s
    # any other thread asking for a token now waits out the same pause
    assert source.client.bucket.reserve() == pytest.approx(5.2)


def test_backoff_grows_exponentially_with_bounded_jitter(fake, movies):
    movie_id = movies[0]["id"]
    fake.add_fault(f"/3/movie/{movie_id}", "500", count=3)
    clock = FakeClock()
    source = source_for(fake, clock, rate_limit=10_000, burst=10_000, backoff_base=1.0, backoff_max=3.0)
    fetched = source.fetch_details([movie_id])
    assert [r["id"] for r in fetched.records] == [movie_id]
    # urllib3's backoff: retry 1 at once, retry 2 after 2 s + up to 1 s of jitter, retry 3
    # after 4 s + jitter, capped at backoff_max
    assert len(clock.sleeps) == 2
    assert 2.0 <= clock.sleeps[0] <= 3.0 and clock.sleeps[1] == 3.0
    assert fetched.stats["status_500"] == 3 and fetched.stats["retries"] == 3


def test_server_errors_malformed_bodies_and_dropped_connections_are_retried(fake, movies):
    fake.add_fault("/3/discover/movie", "500", count=2)
    fake.add_fault("/3/discover/movie", "malformed", count=1)
    fake.add_fault("/3/movie/*", "500", count=4)
    fake.add_fault("/3/movie/*", "malformed", count=3)
    fake.add_fault("/3/movie/*", "drop", count=2)
    result = source_for(fake, concurrency=1).fetch_year("2015")
    ids = [r["id"] for r in result.records]
    assert sorted(ids) == year_ids(movies, "2015") and len(ids) == len(set(ids))
    assert result.stats["status_500"] == 6
    assert result.stats["malformed"] == 4
    assert result.stats["connection"] == 2
    assert result.stats["retries"] == 6 + 4 + 2
    pages = -(-30 // fake.page_size)
    assert result.stats["requests"] == fake.count("/3/*") == pages + len(ids) + 12


def test_timeouts_are_retried_then_reported(fake, movies):
    """A real server that answers too late: the client's own timeout is the point here."""
    ids = year_ids(movies, "2016")[:3]
    fake.add_fault("/3/movie/*", "slow", count=2, delay=1.0)
    fetched = source_for(fake, timeout=0.25, concurrency=1).fetch_details(ids)
    assert [r["id"] for r in fetched.records] == ids
    assert fetched.stats["timeout"] == 2 and fetched.stats["retries"] == 2

    fake.clear_faults()
    fake.add_fault("/3/movie/*", "slow", count=None, delay=1.0)
    with pytest.raises(TmdbRequestError, match=r"gave up after 2 attempts \(last: timeout \(ReadTimeoutError\)\)"):
        source_for(fake, timeout=0.25, max_retries=1).fetch_details(ids[:1])


def test_persistent_failure_gives_up_with_a_clean_error(fake):
    fake.add_fault("/3/discover/movie", "500", count=None)
    with pytest.raises(TmdbRequestError, match="gave up after 4 attempts") as caught:
        source_for(fake, max_retries=3).fetch_year("2015")
    assert "500" in str(caught.value)
    assert fake.count("/3/discover/movie") == 4
    assert KEY not in str(caught.value) and caught.value.__context__ is None and caught.value.__cause__ is None


def test_401_is_one_clear_error_without_retries(fake):
    with pytest.raises(TmdbAuthError, match=AUTH_REJECTED_MESSAGE):
        source_for(fake, api_key="wrong-key-000000").genre_list()
    assert len(fake.requests) == 1

    fake.reset_log()
    fake.add_fault("/3/movie/*", "401", count=None)
    with pytest.raises(TmdbAuthError, match=AUTH_REJECTED_MESSAGE):
        source_for(fake, concurrency=1).fetch_year("2015")
    assert fake.count("/3/movie/*") == 1  # the first 401 stopped everything


def test_404_is_recorded_as_missing(fake, movies):
    gone = year_ids(movies, "2015")[:2]
    fake.hide_details(gone)
    result = source_for(fake).fetch_year("2015")
    assert sorted(result.missing_ids) == gone
    assert sorted(r["id"] for r in result.records) == year_ids(movies, "2015")[2:]
    assert result.stats["status_404"] == 2 and result.stats.get("retries", 0) == 0


def test_every_request_and_retry_takes_a_token_on_the_rate_schedule(fake, movies):
    ids = [m["id"] for m in movies][:30]
    for movie_id in ids[:3]:
        fake.add_fault(f"/3/movie/{movie_id}", "503", count=1)
    fake.latency = 0.02  # lets requests overlap: the limit must hold with 8 in flight
    clock = FakeClock(frozen=True)
    source = source_for(fake, clock, rate_limit=25, burst=1, concurrency=8)
    fetched = source.fetch_details(ids)
    assert sorted(r["id"] for r in fetched.records) == sorted(ids)
    sent = fake.count("/3/movie/*")
    assert sent == 33 and source.client.bucket.acquired == sent  # 30 + 3 retries
    # Time stands still, so each token's wait is its slot in the schedule: the k-th
    # request may go k/25 s after the first, whichever thread sends it.
    assert sorted(clock.sleeps) == pytest.approx([k / 25 for k in range(1, sent)])
    assert fake.peak_in_flight > 1  # really concurrent


def test_bearer_token_keeps_the_key_out_of_urls(fake, movies):
    source = source_for(fake, api_key=None, read_access_token=TOKEN)
    assert [g["id"] for g in source.genre_list()] == [g["id"] for g in TMDB_GENRES]
    assert source.fetch_details([movies[0]["id"]]).records[0]["id"] == movies[0]["id"]
    assert {r.auth for r in fake.requests} == {"bearer"} and not any(r.key_in_url for r in fake.requests)


def test_secrets_never_reach_logs_errors_or_descriptions(fake, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line and retry, query string included
    fake.add_fault("/3/movie/*", "500", count=None)
    source = source_for(fake, read_access_token=None, max_retries=1)
    with pytest.raises(TmdbRequestError) as caught:
        source.fetch_year("2015")
    logged = caplog.text
    assert "api_key=***" in logged and "Incremented Retry" in logged  # emitted, and redacted
    texts = (logged, str(caught.value), repr(caught.value), repr(source.settings), str(source.describe()))
    for text in (*texts, str(source.client.stats.as_dict())):
        assert KEY not in text
    assert all(r.key_in_url for r in fake.requests)  # v3 key mode: the key was in every URL
    assert redact(f"GET /3/movie/1?api_key={KEY}&page=2 Bearer {TOKEN}", [KEY, TOKEN]).count("***") == 2
    assert tmdbsimple.API_KEY != KEY and tmdbsimple.REQUESTS_SESSION is None  # globals untouched


def test_changed_ids_reads_every_page_and_checks_the_window(fake):
    changed = list(range(5000, 5250))
    fake.mark_changed(changed, "2024-05-01")
    fake.mark_changed([9], "2024-05-03")
    source = source_for(fake)
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
    result = source_for(fake).rescrape_changes("2024-06-02", catalog_ids=catalog)
    assert result.changed_total == 5 and result.in_catalog == ours
    assert [r["id"] for r in result.records] == ours[:2] and result.missing_ids == [ours[2]]
    assert sorted(r.path for r in fake.requests) == sorted(["/3/movie/changes"] + [f"/3/movie/{i}" for i in ours])
    assert result.stats["requests"] == 4


def test_malformed_details_are_quarantined_one_by_one(fake, movies):
    ids = year_ids(movies, "2015")
    damage = {ids[0]: {"genres": [{"id": None, "name": "?"}]}, ids[1]: {"title": 5}, ids[2]: {"vote_count": 2**63},
              ids[3]: {"release_date": "2015-13-45"}}
    for movie_id, fields in damage.items():
        fake.update_movie(movie_id, **fields)
    result = source_for(fake).fetch_year("2015")
    assert sorted(r["id"] for r in result.records) == ids[4:]
    assert sorted(q.message() for q in result.quarantined) == [  # in discover's (popularity) order
        f"tmdb /movie/{ids[0]}: genres[0].id: must be a valid integer, got null",
        f"tmdb /movie/{ids[1]}: title: must be a valid string, got 5",
        f"tmdb /movie/{ids[2]}: vote_count: must be less than or equal to 9223372036854775807, got {2**63}",
        f"tmdb /movie/{ids[3]}: release_date: '2015-13-45' is not a calendar date",
    ]
    assert {q.line for q in result.quarantined} == {0}
    assert result.stats["quarantined"] == 4 and result.stats["records"] == len(ids) - 4


def test_changed_records_pass_the_same_validator_and_a_bad_id_is_not_retried(fake, movies):
    catalog = {m["id"] for m in movies}
    ours = sorted(catalog)[:3]
    fake.update_movie(ours[0], id=str(ours[0]))  # the record's own fault: not a mixed-up answer
    fake.update_movie(ours[1], genres="Drama")
    fake.mark_changed(ours, "2024-06-02")
    result = source_for(fake).rescrape_changes("2024-06-02", catalog_ids=catalog)
    assert [r["id"] for r in result.records] == [ours[2]]
    assert [q.message() for q in result.quarantined] == [
        f"tmdb /movie/{ours[0]}: id: must be a valid integer, got '{ours[0]}'",
        f"tmdb /movie/{ours[1]}: genres: must be a valid list, got 'Drama'",
    ]
    assert fake.count(f"/3/movie/{ours[0]}") == 1


def test_an_answer_for_another_id_is_retried_then_fails(fake, movies):
    wanted = sorted(m["id"] for m in movies)[0]
    fake.update_movie(wanted, id=wanted + 1)
    with pytest.raises(TmdbRequestError, match=f"/movie/{wanted}: gave up after 5 attempts"):
        source_for(fake).fetch_details([wanted])
    assert fake.count(f"/3/movie/{wanted}") == 5
