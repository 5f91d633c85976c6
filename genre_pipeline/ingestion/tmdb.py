"""Live TMDB source: tmdbsimple over one polite, fast, fault-tolerant requests session.

Tutorial step "scraping TMDB": the tutorial looped over ``tmdbsimple`` calls one at a
time with a fixed ``time.sleep`` between them, wrapped them in bare ``except:`` clauses
that silently dropped movies, and pickled whatever came back. Here:

- tmdbsimple still describes the endpoints (``Genres``, ``Discover``, ``Movies``,
  ``Changes``), but every endpoint object is pointed at *our* ``requests.Session``
  (keep-alive: tmdbsimple's ``Connection: close`` header is removed), *our* base URL
  (``TMDB_API_BASE_URL``, so a mirror, a replay (``ingestion.replay``) or a test server can
  stand in), *our* timeout and *our* credentials. tmdbsimple's module globals
  (``API_KEY``, ``REQUESTS_SESSION``, ``REQUESTS_TIMEOUT``) are never read or written, so
  two clients never interfere.
- every request takes a token from one thread-safe :class:`TokenBucket` (default 40/s)
  and runs on a bounded thread pool, so throughput approaches the limit even when each
  response takes long;
- the session's ``HTTPAdapter`` retries with urllib3's ``Retry`` (``ratelimit.retry_policy``):
  429 (``Retry-After`` honoured, and it pauses every thread), 408, 5xx, timeouts and
  connection errors, with exponential backoff and jitter. A 200 whose body is malformed
  JSON is retried by :meth:`TmdbClient.call` with the same policy. 401 raises
  :class:`TmdbAuthError` ("TMDB rejected the API key") at once; 404 is "missing";
- the API key / bearer token never appears in an exception, a log line (a filter redacts
  urllib3's request lines, which carry ``?api_key=``), ``describe()`` or stats. With a v4
  read access token the key is sent as ``Authorization: Bearer`` and is not in URLs at all.
- discover is paged to the end; a year with more than TMDB's 500-page cap is sliced by
  month, then by genre (plus a "no genre" slice); ids are de-duplicated across slices.
- every ``/movie/{id}`` answer, for a release year or a change re-fetch, passes
  ``records.validate_record``: a record that does not fit the schema is quarantined as
  ``tmdb /movie/{id}: field: why`` and costs only itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import tmdbsimple
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError

from genre_pipeline.ingestion.posters import DEFAULT_IMAGE_BASE_URL, DEFAULT_POSTER_SIZE, PosterDownloader
from genre_pipeline.ingestion.ratelimit import (
    RequestStats,
    TokenBucket,
    UnusableBody,
    count_response,
    counting_into,
    describe_failure,
    retry_policy,
)
from genre_pipeline.ingestion.records import (
    UNDATED,
    PosterFetch,
    QuarantinedLine,
    SourceError,
    ValidRecord,
    YearFetch,
    validate_record,
)

DEFAULT_API_BASE_URL = "https://api.themoviedb.org/3"
ENV_API_KEY = "TMDB_API_KEY"
ENV_READ_ACCESS_TOKEN = "TMDB_READ_ACCESS_TOKEN"
ENV_API_BASE_URL = "TMDB_API_BASE_URL"
ENV_IMAGE_BASE_URL = "TMDB_IMAGE_BASE_URL"
DISCOVER_PAGE_CAP = 500  # TMDB refuses page > 500 on /discover
CHANGES_MAX_WINDOW_DAYS = 14  # TMDB: /movie/changes covers at most 14 days per query
AUTH_REJECTED_MESSAGE = "TMDB rejected the API key"

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# errors
class TmdbError(SourceError):
    """A TMDB request failed for good. Messages never contain a secret."""


class TmdbAuthError(TmdbError):
    """TMDB answered 401, or no credentials were configured. Never retried."""


class TmdbRequestError(TmdbError):
    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class TmdbNotFound(TmdbError):
    """TMDB answered 404 for this path (callers record it as missing)."""


# ---------------------------------------------------------------------------------------
# secrets
_API_KEY_PARAM = re.compile(r"(?i)(api_key=)[^&\s'\"<>]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "***"


def redact(text: object, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret, ``api_key=...`` value and bearer token masked."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, REDACTED)
    out = _API_KEY_PARAM.sub(lambda m: m.group(1) + REDACTED, out)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, out)


class _RedactingFilter(logging.Filter):
    """Rewrites log records that would reveal a registered secret (or any api_key=)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            self._secrets = tuple(sorted(set(self._secrets) | {s for s in secrets if s}))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix  # noqa: BLE001
            return True
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        return True


_LOG_FILTER = _RedactingFilter()
# Logger filters only see records created on that exact logger, so name each one that
# may print a request URL or header.
_REDACTED_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "requests",
    "httpx",
    "httpcore",
    "tmdbsimple",
    "genre_pipeline",
)


def install_log_redaction(*secrets: str | None) -> None:
    """Make sure the HTTP libraries' loggers never print these secrets (idempotent)."""
    _LOG_FILTER.add(*secrets)
    for name in _REDACTED_LOGGERS:
        target = logging.getLogger(name)
        if _LOG_FILTER not in target.filters:
            target.addFilter(_LOG_FILTER)


def _public_url(url: str) -> str:
    """A URL safe to show: no user-info, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# ---------------------------------------------------------------------------------------
# settings
@dataclass(frozen=True)
class TmdbSettings:
    """Everything a TMDB client needs. ``repr`` never shows the key or the token."""

    api_key: str | None = field(default=None, repr=False)
    read_access_token: str | None = field(default=None, repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    image_base_url: str = DEFAULT_IMAGE_BASE_URL
    rate_limit: float = 40.0  # requests per second, all threads together
    burst: float | None = None  # bucket capacity; default rate_limit / 4
    concurrency: int = 16  # requests in flight at once
    timeout: float = 10.0  # seconds, connect and read, every call
    max_retries: int = 5  # retries of one request, all causes together (ratelimit.retry_policy)
    backoff_base: float = 0.5  # urllib3 backoff_factor: retry n waits base * 2**(n-1) + jitter (the first none)
    backoff_max: float = 30.0  # seconds, longest backoff
    max_retry_after: float = 120.0  # seconds, longest Retry-After honoured
    poster_size: str = DEFAULT_POSTER_SIZE
    poster_concurrency: int = 8
    poster_rate_limit: float = 25.0
    poster_timeout: float = 30.0
    poster_max_retries: int = 3
    discover_page_cap: int = DISCOVER_PAGE_CAP

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "TmdbSettings":
        """Credentials and base URLs from the environment; anything else from ``overrides``.

        Explicit overrides whose value is ``None`` are ignored (so callers can pass
        optional config straight through).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "api_key": env.get(ENV_API_KEY) or None,
            "read_access_token": env.get(ENV_READ_ACCESS_TOKEN) or None,
            "api_base_url": env.get(ENV_API_BASE_URL) or DEFAULT_API_BASE_URL,
            "image_base_url": env.get(ENV_IMAGE_BASE_URL) or DEFAULT_IMAGE_BASE_URL,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.read_access_token) if s)

    @property
    def auth_mode(self) -> str:
        if self.read_access_token:
            return "bearer token (TMDB_READ_ACCESS_TOKEN)"
        if self.api_key:
            return "api key (TMDB_API_KEY)"
        return "none"

    def validate(self) -> None:
        if not self.secrets:
            raise TmdbAuthError(
                f"no TMDB credentials: set {ENV_API_KEY} (v3 API key) or {ENV_READ_ACCESS_TOKEN} (v4 read access token)"
            )
        for label, url in (("TMDB_API_BASE_URL", self.api_base_url), ("TMDB_IMAGE_BASE_URL", self.image_base_url)):
            if not str(url).startswith(("http://", "https://")):
                raise TmdbError(f"{label} must be an http(s) URL, got {_public_url(str(url))!r}")
        if self.rate_limit <= 0 or self.poster_rate_limit <= 0:
            raise TmdbError("rate limits must be > 0 requests per second")
        if self.concurrency < 1 or self.poster_concurrency < 1:
            raise TmdbError("concurrency must be >= 1")
        if self.timeout <= 0:
            raise TmdbError("timeout must be > 0 seconds")

    def describe(self) -> dict[str, Any]:
        return {
            "api_base_url": _public_url(self.api_base_url),
            "image_base_url": _public_url(self.image_base_url),
            "auth": self.auth_mode,
            "rate_limit_per_s": self.rate_limit,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout,
            "max_retries": self.max_retries,
            "poster_size": self.poster_size,
            "poster_rate_limit_per_s": self.poster_rate_limit,
            "poster_concurrency": self.poster_concurrency,
        }


# ---------------------------------------------------------------------------------------
# the client
class TmdbClient:
    """TMDB v3 over tmdbsimple, one keep-alive session, a token bucket and urllib3 retries."""

    USER_AGENT = f"genre-pipeline (tmdbsimple {tmdbsimple.__version__})"

    def __init__(
        self,
        settings: TmdbSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        bucket: TokenBucket | None = None,
    ) -> None:
        settings.validate()
        self.settings = settings
        install_log_redaction(*settings.secrets)
        burst = settings.burst if settings.burst is not None else max(1.0, settings.rate_limit / 4)
        self.bucket = bucket or TokenBucket(settings.rate_limit, burst, clock=clock, sleep=sleep)
        self.retry = retry_policy(
            settings.max_retries, self.bucket, backoff_factor=settings.backoff_base, backoff_max=settings.backoff_max,
            retry_after_max=settings.max_retry_after, sleep=sleep,
        )
        self._base_uri = settings.api_base_url.rstrip("/")
        self._timeout = (settings.timeout, settings.timeout)
        self.session = requests.Session()
        # One pool sized for the thread pool; pool_block makes extra threads wait for a
        # connection instead of opening throw-away ones.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.concurrency, max_retries=self.retry, pool_block=True)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = self.USER_AGENT
        self._headers = {"Accept": "application/json", "Connection": "keep-alive"}
        if settings.read_access_token:
            self._headers["Authorization"] = f"Bearer {settings.read_access_token}"
        self.stats = RequestStats()  # lifetime totals of this client

    # -- tmdbsimple plumbing ------------------------------------------------------------
    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Replaces tmdbsimple's ``_get_params`` (which reads the global ``API_KEY``)."""
        out: dict[str, Any] = {}
        for key, value in (params or {}).items():
            if value is None:
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else value
        if not self.settings.read_access_token:
            out["api_key"] = self.settings.api_key
        return out

    def endpoint(self, cls: type[T], *args: Any) -> T:
        """A tmdbsimple endpoint object wired to this client instead of module globals."""
        obj = cls(*args)
        obj.base_uri = self._base_uri  # tmdbsimple hard-codes https://api.themoviedb.org/3
        obj.headers = dict(self._headers)  # drops tmdbsimple's "Connection: close"
        obj.session = self.session
        obj.timeout = self._timeout
        obj._get_params = self._params  # never reads tmdbsimple.API_KEY
        return obj

    # -- one logical call ---------------------------------------------------------------
    def _attempt(self, label: str, fn: Callable[[], Any], validate: Callable[[Any], str] | None) -> dict[str, Any] | Exception:
        """One tmdbsimple call: the data, a retryable failure (a urllib3 error) or a TmdbError.

        The session already retried statuses and transport errors; what reaches this
        point is final, except a body that broke after the status line or is not the
        JSON object expected.
        """
        try:
            data = fn()
        except requests.HTTPError as exc:  # a status the policy never retries: 401, 404, other 4xx
            status = exc.response.status_code if exc.response is not None else 0
            count_response(status)
            return _status_error(label, status)
        except requests.exceptions.JSONDecodeError:
            return UnusableBody("malformed JSON body")
        except requests.RequestException as exc:
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, MaxRetryError):  # the policy counted every attempt it made
                attempts = self.settings.max_retries + 1
                return TmdbRequestError(f"{label}: gave up after {attempts} attempts (last: {describe_failure(cause.reason)})")
            if isinstance(cause, Urllib3Error):  # the body broke off after the headers
                return cause
            return TmdbError(f"{label}: request failed ({type(exc).__name__})")
        if not isinstance(data, dict):
            return UnusableBody("response is not a JSON object")
        problem = validate(data) if validate else ""
        if problem:
            return UnusableBody(problem)
        count_response(200)
        return data

    def call(
        self,
        label: str,
        fn: Callable[[], Any],
        *,
        stats: RequestStats | None = None,
        validate: Callable[[Any], str] | None = None,
    ) -> dict[str, Any]:
        """Run ``fn`` (one tmdbsimple call) under the rate limit and the retry policy.

        ``label`` names the endpoint in errors (a path, never a URL with its query).
        Raises TmdbAuthError (401), TmdbNotFound (404) or TmdbRequestError. Exceptions are
        raised outside ``except`` blocks so no library exception (whose text may hold
        the URL with ``api_key``) is chained onto them.
        """
        # Kept by hand: urllib3's Retry judges statuses and transport, never bodies; this loop retries a broken body.
        retry = self.retry  # the session's policy, with its own budget of max_retries here
        with counting_into(self.stats, stats):
            self.bucket.acquire()
            while True:
                outcome = self._attempt(label, fn, validate)
                if isinstance(outcome, dict):
                    return outcome
                if isinstance(outcome, TmdbError):
                    raise outcome
                failure: TmdbRequestError | None = None
                try:
                    retry = retry.increment("GET", label, error=outcome)
                except MaxRetryError:
                    attempts = self.settings.max_retries + 1
                    failure = TmdbRequestError(f"{label}: gave up after {attempts} attempts (last: {describe_failure(outcome)})")
                if failure is not None:
                    raise failure
                retry.sleep()

    # -- endpoints ----------------------------------------------------------------------
    def genres(self, *, stats: RequestStats | None = None) -> list[dict[str, Any]]:
        def check(data: dict) -> str:
            return "" if isinstance(data.get("genres"), list) else "no 'genres' list in response"

        data = self.call("/genre/movie/list", lambda: self.endpoint(tmdbsimple.Genres).movie_list(), stats=stats, validate=check)
        return [g for g in data["genres"] if isinstance(g, dict) and isinstance(g.get("id"), int)]

    def discover_page(self, params: Mapping[str, Any], page: int, *, stats: RequestStats | None = None) -> dict[str, Any]:
        query = dict(params)
        query["page"] = page

        def check(data: dict) -> str:
            if not isinstance(data.get("results"), list):
                return "no 'results' list in discover response"
            if not isinstance(data.get("total_pages", 0), int):
                return "'total_pages' is not an integer"
            return ""

        return self.call(
            "/discover/movie", lambda: self.endpoint(tmdbsimple.Discover).movie(**query), stats=stats, validate=check
        )

    def movie(self, movie_id: int, *, stats: RequestStats | None = None) -> dict[str, Any] | None:
        """``/movie/{id}`` details, or None when TMDB says 404."""

        def check(data: dict) -> str:
            # Another integer id is a mixed-up answer (retried); any other id is the record's
            # own fault, judged by the record validator.
            answered = data.get("id")
            mixed_up = isinstance(answered, int) and not isinstance(answered, bool) and answered != movie_id
            return "details response is for another id" if mixed_up else ""

        try:
            return self.call(
                f"/movie/{int(movie_id)}", lambda: self.endpoint(tmdbsimple.Movies, int(movie_id)).info(), stats=stats, validate=check
            )
        except TmdbNotFound:
            return None

    def changes_page(self, start_date: str, end_date: str, page: int, *, stats: RequestStats | None = None) -> dict[str, Any]:
        def check(data: dict) -> str:
            return "" if isinstance(data.get("results"), list) else "no 'results' list in changes response"

        return self.call(
            "/movie/changes",
            lambda: self.endpoint(tmdbsimple.Changes).movie(start_date=start_date, end_date=end_date, page=page),
            stats=stats,
            validate=check,
        )

    def close(self) -> None:
        self.session.close()


def _status_error(label: str, status: int) -> TmdbError:
    if status == 401:
        return TmdbAuthError(AUTH_REJECTED_MESSAGE)
    if status == 404:
        return TmdbNotFound(f"{label}: not found (HTTP 404)")
    return TmdbRequestError(f"{label}: HTTP {status}", status=status)


# ---------------------------------------------------------------------------------------
# the catalog source
@dataclass
class DetailsFetch:
    records: list[dict[str, Any]]  # passed the record validator
    missing_ids: list[int]
    stats: dict[str, int] = field(default_factory=dict)
    quarantined: list[QuarantinedLine] = field(default_factory=list)


@dataclass
class ChangesFetch:
    ids: list[int]
    pages: int
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class ChangedRescrape:
    changed_total: int  # ids TMDB listed as changed (its whole catalog)
    change_pages: int
    in_catalog: list[int]  # the changed ids we hold
    records: list[dict[str, Any]]  # their fresh details (passed the record validator)
    missing_ids: list[int]  # changed ids TMDB now answers 404 for
    stats: dict[str, int] = field(default_factory=dict)
    quarantined: list[QuarantinedLine] = field(default_factory=list)  # fresh details that failed it


def _as_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _month_bounds(year: int, month: int) -> tuple[str, str]:
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first.isoformat(), (nxt - dt.timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class _Slice:
    key: tuple[int, ...]  # sort key: () year, (month,), (month, genre_index)
    label: str
    params: dict[str, Any]


class TmdbCatalogSource:
    """The ``CatalogSource`` for live TMDB (see ``ingestion.records``)."""

    name = "tmdb"

    def __init__(
        self,
        settings: TmdbSettings | None = None,
        *,
        client: TmdbClient | None = None,
        poster_downloader: PosterDownloader | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or (client.settings if client else TmdbSettings.from_env())
        self.client = client or TmdbClient(self.settings, sleep=sleep, clock=clock)
        self._sleep = sleep
        self._clock = clock
        self._posters = poster_downloader
        self._genres: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------------
    def _parallel(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]`` on at most ``concurrency`` threads; first error cancels the rest."""
        items = list(items)
        workers = min(self.settings.concurrency, len(items))
        if workers <= 1:
            return [fn(item) for item in items]
        results: list[Any] = [None] * len(items)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tmdb") as pool:
            futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
            failure: BaseException | None = None
            for future in as_completed(futures):
                error = future.exception()
                if error is not None:
                    failure = error
                    break
                results[futures[future]] = future.result()
            if failure is not None:
                for future in futures:
                    future.cancel()
        if failure is not None:
            raise failure
        return results

    # -- CatalogSource ------------------------------------------------------------------
    def genre_list(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._genres is None:
                self._genres = self.client.genres()
            return [dict(g) for g in self._genres]

    def fetch_year(self, partition_key: str) -> YearFetch:
        """Discover every movie of one release year, then fetch each one's details."""
        started = time.monotonic()
        if partition_key == UNDATED:
            return YearFetch(
                partition_key, [], stats={"requests": 0, "note": "TMDB discover cannot select undated movies"}
            )
        if not (partition_key.isdigit() and len(partition_key) == 4):
            raise TmdbError(f"release-year partition key must be a year or {UNDATED!r}, got {partition_key!r}")
        stats = RequestStats()
        ids, discover_info = self.discover_year(int(partition_key), stats=stats)
        details = self.fetch_details(ids, stats=stats)
        summary: dict[str, Any] = dict(stats.as_dict())
        summary.update(discover_info)
        summary["details_requested"] = len(ids)
        summary["records"] = len(details.records)
        summary["quarantined"] = len(details.quarantined)
        summary["missing"] = len(details.missing_ids)
        summary["elapsed_s"] = round(time.monotonic() - started, 3)
        return YearFetch(partition_key, details.records, details.quarantined, details.missing_ids, summary)

    def discover_year(self, year: int, *, stats: RequestStats | None = None) -> tuple[list[int], dict[str, Any]]:
        """Every id ``/discover/movie`` lists for ``year`` (popularity order, de-duplicated)."""
        stats = stats or RequestStats()
        cap = self.settings.discover_page_cap
        pending = [
            _Slice((), str(year), {"primary_release_year": year, "sort_by": "popularity.desc"})
        ]
        pages: list[tuple[tuple[int, ...], int, list[int]]] = []
        truncated: list[str] = []
        slices_used = 0
        while pending:
            firsts = self._parallel(lambda s: self.client.discover_page(s.params, 1, stats=stats), pending)
            jobs: list[tuple[_Slice, int]] = []
            next_pending: list[_Slice] = []
            for piece, first in zip(pending, firsts):
                total_pages = int(first.get("total_pages") or 0)
                if total_pages > cap:
                    finer = self._split(piece, year)
                    if finer:
                        next_pending.extend(finer)
                        continue
                    truncated.append(piece.label)
                    total_pages = cap
                slices_used += 1
                pages.append((piece.key, 1, _result_ids(first)))
                jobs.extend((piece, page) for page in range(2, total_pages + 1))
            bodies = self._parallel(lambda job: self.client.discover_page(job[0].params, job[1], stats=stats), jobs)
            for (piece, page), body in zip(jobs, bodies):
                pages.append((piece.key, page, _result_ids(body)))
            pending = next_pending
        pages.sort(key=lambda item: (item[0], item[1]))
        seen: set[int] = set()
        ids: list[int] = []
        for _, _, page_ids in pages:
            for movie_id in page_ids:
                if movie_id not in seen:
                    seen.add(movie_id)
                    ids.append(movie_id)
        info = {
            "discover_pages": len(pages),
            "discover_slices": slices_used,
            "discover_ids": len(ids),
            "truncated_slices": truncated,
        }
        if truncated:
            logger.warning("TMDB discover still over %d pages after slicing: %s", cap, ", ".join(truncated))
        return ids, info

    def _split(self, piece: _Slice, year: int) -> list[_Slice]:
        """Year -> 12 months; month -> one slice per genre plus one for "no genre"."""
        if len(piece.key) == 0:
            out = []
            for month in range(1, 13):
                gte, lte = _month_bounds(year, month)
                params = dict(piece.params)
                params["primary_release_date.gte"] = gte
                params["primary_release_date.lte"] = lte
                out.append(_Slice((month,), f"{year}-{month:02d}", params))
            return out
        if len(piece.key) == 1:
            genre_ids = sorted(g["id"] for g in self.genre_list())
            out = []
            for index, genre_id in enumerate(genre_ids):
                params = dict(piece.params)
                params["with_genres"] = str(genre_id)
                out.append(_Slice(piece.key + (index,), f"{piece.label} genre {genre_id}", params))
            params = dict(piece.params)
            params["without_genres"] = "|".join(str(g) for g in genre_ids)  # '|' = any of them
            out.append(_Slice(piece.key + (len(genre_ids),), f"{piece.label} no genre", params))
            return out
        return []

    def fetch_details(self, ids: Iterable[int], *, stats: RequestStats | None = None) -> DetailsFetch:
        """``/movie/{id}`` for each id (de-duplicated, order kept); 404s become ``missing_ids``.

        Each answer passes the record validator; one that fails is quarantined as
        ``tmdb /movie/{id}``.
        """
        stats = stats or RequestStats()
        unique = list(dict.fromkeys(int(i) for i in ids))
        found = self._parallel(lambda movie_id: self.client.movie(movie_id, stats=stats), unique)
        checked = [validate_record(r, f"tmdb /movie/{i}") for i, r in zip(unique, found) if r is not None]
        records = [c.record for c in checked if isinstance(c, ValidRecord)]
        quarantined = [c for c in checked if isinstance(c, QuarantinedLine)]
        missing = [movie_id for movie_id, record in zip(unique, found) if record is None]
        return DetailsFetch(records, missing, stats.as_dict(), quarantined)

    def changed_ids(self, start_date: str | dt.date, end_date: str | dt.date | None = None) -> ChangesFetch:
        """Every movie id ``/movie/changes`` lists for ``start_date``..``end_date`` (all pages)."""
        start = _as_date(start_date)
        end = _as_date(end_date) if end_date is not None else start
        if end < start:
            raise ValueError(f"end_date {end} is before start_date {start}")
        if (end - start).days > CHANGES_MAX_WINDOW_DAYS:
            raise ValueError(
                f"TMDB /movie/changes allows windows of at most {CHANGES_MAX_WINDOW_DAYS} days; got {start}..{end}"
            )
        stats = RequestStats()
        first = self.client.changes_page(start.isoformat(), end.isoformat(), 1, stats=stats)
        total_pages = int(first.get("total_pages") or 1)
        rest = self._parallel(
            lambda page: self.client.changes_page(start.isoformat(), end.isoformat(), page, stats=stats),
            list(range(2, total_pages + 1)),
        )
        ids = list(dict.fromkeys(i for body in [first, *rest] for i in _result_ids(body)))
        return ChangesFetch(ids, total_pages, stats.as_dict())

    def rescrape_changes(
        self,
        start_date: str | dt.date,
        end_date: str | dt.date | None = None,
        *,
        catalog_ids: Collection[int],
    ) -> ChangedRescrape:
        """Fresh details for the movies TMDB changed in the window *and* we hold.

        Tutorial step "scraping TMDB", made incremental: instead of re-scraping everything,
        read ``/movie/changes`` (a page per 100 changed ids, TMDB-wide) and re-fetch only
        ids already in ``catalog_ids``. Requests = change pages + changed-in-catalog ids,
        independent of the catalog's size.
        """
        changes = self.changed_ids(start_date, end_date)
        wanted = catalog_ids if isinstance(catalog_ids, (set, frozenset)) else set(catalog_ids)
        in_catalog = [movie_id for movie_id in changes.ids if movie_id in wanted]
        details = self.fetch_details(in_catalog)
        stats = Counter(changes.stats)
        stats.update(details.stats)
        return ChangedRescrape(
            changed_total=len(changes.ids),
            change_pages=changes.pages,
            in_catalog=in_catalog,
            records=details.records,
            missing_ids=details.missing_ids,
            stats={k: int(v) for k, v in sorted(stats.items())},
            quarantined=details.quarantined,
        )

    def poster_downloader(self) -> PosterDownloader:
        with self._lock:
            if self._posters is None:
                s = self.settings
                self._posters = PosterDownloader(
                    s.image_base_url, s.poster_size, concurrency=s.poster_concurrency, rate_limit=s.poster_rate_limit,
                    timeout=s.poster_timeout, max_retries=s.poster_max_retries, backoff_base=s.backoff_base,
                    backoff_max=s.backoff_max, max_retry_after=s.max_retry_after, sleep=self._sleep, clock=self._clock,
                )
            return self._posters

    def fetch_posters(self, poster_paths: list[str], dest_dir: Path,
                      progress: Callable[[int, int], None] | None = None) -> list[PosterFetch]:
        return self.poster_downloader().fetch(poster_paths, dest_dir, progress)

    def describe(self) -> dict[str, Any]:
        return {"source": self.name, **self.settings.describe()}

    def close(self) -> None:
        self.client.close()
        if self._posters is not None:
            self._posters.close()


def _result_ids(body: Mapping[str, Any]) -> list[int]:
    out = []
    for item in body.get("results") or []:
        if isinstance(item, dict):
            movie_id = item.get("id")
            if isinstance(movie_id, int) and not isinstance(movie_id, bool):
                out.append(movie_id)
    return out
