"""Poster download from TMDB's image CDN: concurrent, rate limited, resumable, validated.

Tutorial step "downloading movie posters": the tutorial fetched every poster one after
another with ``urllib``, named each file after the movie *title*, kept whatever bytes came
back (HTML error pages and half-transferred JPEGs included) and started from scratch on
every run. Here:

- requests go through one ``httpx.Client`` (keep-alive, bounded connection pool) from a
  bounded thread pool, each taking a token from this downloader's own token bucket;
- a poster already on disk that decodes completely is not fetched again (resumable);
- every body is validated with Pillow (fully decoded, JPEG must end with its EOI marker)
  before it is written; truncated or non-image bodies are retried, then reported as
  ``failed``, never kept;
- bytes are stored exactly as served, written atomically (temp file + rename) under the
  basename of ``poster_path`` (``sources.base.poster_basename``), never a title;
- 429 (honouring ``Retry-After``), 5xx, timeouts and connection errors are retried with
  exponential backoff and jitter; a 404 means the CDN does not have it: ``missing``.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from genre_pipeline.storage.atomic import atomic_write_bytes
from genre_pipeline.ingestion.records import PosterFetch, poster_basename
from genre_pipeline.ingestion.ratelimit import TokenBucket

DEFAULT_IMAGE_BASE_URL = "https://image.tmdb.org/t/p"
DEFAULT_POSTER_SIZE = "w500"
MAX_POSTER_BYTES = 20 * 1024 * 1024
_JPEG_EOI = b"\xff\xd9"


def image_bytes_problem(data: bytes) -> str:
    """'' when ``data`` is one complete, decodable image; otherwise what is wrong.

    Pillow's ``verify()`` checks structure (and PNG CRCs) and ``load()`` decodes every
    pixel, raising on a truncated stream. Libjpeg can pad a JPEG that stops just before
    its end marker without complaint, so a JPEG must also end with EOI (``FF D9``).
    """
    if not data:
        return "empty body"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format
            image.load()
            width, height = image.size
    except Exception as exc:  # Pillow raises many exception types for bad bytes  # noqa: BLE001
        return f"not a valid image ({type(exc).__name__}: {str(exc)[:200]})"
    if width <= 0 or height <= 0:
        return "image has no pixels"
    if image_format == "JPEG" and not data.rstrip(b"\x00\r\n\t ").endswith(_JPEG_EOI):
        return "truncated JPEG (no end-of-image marker)"
    return ""


def image_file_problem(path: Path) -> str:
    """'' when the file at ``path`` is a complete image (see :func:`image_bytes_problem`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    return image_bytes_problem(data)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": in [d/2, d] where d = min(cap, base * 2**(attempt-1))."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + rng.uniform(0, delay / 2)


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter = field(default_factory=Counter)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {k: int(v) for k, v in sorted(self.counts.items())}


class PosterDownloader:
    """Downloads ``{image_base_url}/{size}{poster_path}`` into a directory.

    One instance owns one ``httpx.Client``; ``fetch`` may be called many times (it is
    thread-safe, but each call already runs ``concurrency`` downloads in parallel).
    """

    def __init__(
        self,
        image_base_url: str = DEFAULT_IMAGE_BASE_URL,
        size: str = DEFAULT_POSTER_SIZE,
        *,
        concurrency: int = 8,
        rate_limit: float = 25.0,
        burst: float | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "genre-pipeline poster downloader",
    ) -> None:
        if not str(image_base_url).startswith(("http://", "https://")):
            raise ValueError("image_base_url must be an http(s) URL")
        if not size or "/" in size or ".." in size:
            raise ValueError(f"poster size must be a TMDB size name such as 'w500', got {size!r}")
        self.image_base_url = str(image_base_url).rstrip("/")
        self.size = size
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.bucket = TokenBucket(rate_limit, burst if burst is not None else max(1.0, rate_limit / 4), sleep=sleep)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            follow_redirects=True,
            headers={"User-Agent": user_agent, "Accept": "image/*"},
            transport=transport,
        )
        self.stats = _Stats()

    # -- public ------------------------------------------------------------------------
    def url_for(self, poster_path: str) -> str:
        name = poster_basename(poster_path)
        if name is None:
            raise ValueError("poster_path is not a plain file name")
        return f"{self.image_base_url}/{self.size}/{name}"

    def fetch(self, poster_paths: Iterable[str | None], dest_dir: str | Path) -> list[PosterFetch]:
        """One :class:`PosterFetch` per input path, in input order.

        The same file name is handled once even if several records share it.
        """
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        paths = list(poster_paths)
        outcome: dict[str, PosterFetch] = {}
        todo: dict[str, str] = {}  # file name -> first poster_path that named it
        results: list[PosterFetch | None] = [None] * len(paths)
        for index, poster_path in enumerate(paths):
            if not poster_path:
                results[index] = PosterFetch(poster_path, None, "missing", "no poster_path")
                continue
            name = poster_basename(poster_path)
            if name is None:
                results[index] = PosterFetch(poster_path, None, "missing", "poster_path is not a plain file name")
                continue
            todo.setdefault(name, poster_path)

        def work(item: tuple[str, str]) -> tuple[str, PosterFetch]:
            name, poster_path = item
            return name, self._fetch_one(poster_path, name, dest)

        items = list(todo.items())
        if len(items) <= 1 or self.concurrency == 1:
            done = [work(item) for item in items]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="posters") as pool:
                done = list(pool.map(work, items))
        outcome.update(done)
        for index, poster_path in enumerate(paths):
            if results[index] is None:
                name = poster_basename(poster_path)
                found = outcome[name]
                results[index] = PosterFetch(poster_path, found.file, found.status, found.reason)
        return [r for r in results if r is not None]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "PosterDownloader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one poster --------------------------------------------------------------------
    def _fetch_one(self, poster_path: str, name: str, dest_dir: Path) -> PosterFetch:
        target = dest_dir / name
        if target.is_file():
            if not image_file_problem(target):
                self.stats.add("present")
                return PosterFetch(poster_path, target, "present")
            # An invalid file on disk is never kept: drop it and download again.
            target.unlink(missing_ok=True)
            self.stats.add("invalid_on_disk")
        url = f"{self.image_base_url}/{self.size}/{name}"
        attempts = self.max_retries + 1
        last_reason = ""
        for attempt in range(1, attempts + 1):
            self.bucket.acquire()
            self.stats.add("requests")
            status, data, retry_after, error = self._get(url)
            delay: float | None = None
            if error:
                last_reason = error
                self.stats.add("transport_errors")
            elif status == 200:
                problem = image_bytes_problem(data)
                if not problem:
                    atomic_write_bytes(target, data)
                    self.stats.add("fetched")
                    return PosterFetch(poster_path, target, "fetched")
                last_reason = problem
                self.stats.add("invalid_bodies")
            elif status == 404 or status == 410:
                self.stats.add("not_found")
                return PosterFetch(poster_path, None, "missing", f"not on the image server (HTTP {status})")
            elif status == 429:
                last_reason = "HTTP 429"
                self.stats.add("throttled")
                if retry_after is not None:
                    delay = min(retry_after, self.max_retry_after)
                    self.bucket.pause(delay)
            elif status >= 500 or status == 408:
                last_reason = f"HTTP {status}"
                self.stats.add("server_errors")
            else:
                self.stats.add("client_errors")
                return PosterFetch(poster_path, None, "failed", f"HTTP {status}")
            if attempt < attempts:
                if delay is None:
                    with self._rng_lock:
                        delay = backoff_delay(attempt, self.backoff_base, self.backoff_max, self._rng)
                self.stats.add("retries")
                self._sleep(delay)
        self.stats.add("failed")
        return PosterFetch(poster_path, None, "failed", f"gave up after {attempts} attempts: {last_reason}")

    def _get(self, url: str) -> tuple[int, bytes, float | None, str]:
        """(status, body, retry_after, transport error text); never raises for I/O."""
        try:
            with self._client.stream("GET", url) as response:
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status != 200:
                    return status, b"", retry_after, ""
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > MAX_POSTER_BYTES:
                        return status, b"", None, f"body larger than {MAX_POSTER_BYTES} bytes"
                    chunks.append(chunk)
                return status, b"".join(chunks), retry_after, ""
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return 0, b"", None, f"bad image URL ({type(exc).__name__})"
        except httpx.TimeoutException as exc:
            return 0, b"", None, f"timeout ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            return 0, b"", None, f"transport error ({type(exc).__name__})"
