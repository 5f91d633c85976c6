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
  basename of ``poster_path`` (``ingestion.records.poster_basename``), never a title;
- retries follow the same urllib3 ``Retry`` policy as the TMDB API
  (``ratelimit.retry_policy``): 429 (honouring ``Retry-After``, which pauses every
  download), 408, 5xx, timeouts and connection errors, with exponential backoff and
  jitter; a 404 means the CDN does not have it: ``missing``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.response import HTTPResponse

from genre_pipeline.ingestion.ratelimit import (
    RequestStats,
    TokenBucket,
    UnusableBody,
    count,
    count_response,
    counting_into,
    describe_failure,
    retry_policy,
)
from genre_pipeline.ingestion.records import PosterFetch, poster_basename
from genre_pipeline.storage.atomic import atomic_write_bytes

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
        clock: Callable[[], float] = time.monotonic,
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
        self.bucket = TokenBucket(
            rate_limit, burst if burst is not None else max(1.0, rate_limit / 4), clock=clock, sleep=sleep
        )
        self.retry = retry_policy(
            self.max_retries,
            self.bucket,
            backoff_factor=backoff_base,
            backoff_max=backoff_max,
            retry_after_max=max_retry_after,
            sleep=sleep,
        )
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            follow_redirects=True,
            headers={"User-Agent": user_agent, "Accept": "image/*"},
            transport=transport,
        )
        self.stats = RequestStats()

    # -- public ------------------------------------------------------------------------
    def fetch(self, poster_paths: Iterable[str | None], dest_dir: str | Path,
              progress: Callable[[int, int], None] | None = None) -> list[PosterFetch]:
        """One :class:`PosterFetch` per input path, in input order.

        The same file name is handled once even if several records share it.
        ``progress(done, total)`` counts the distinct files as they are handled.
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
            with counting_into(self.stats):
                return name, self._fetch_one(poster_path, name, dest)

        items = list(todo.items())
        done: list[tuple[str, PosterFetch]] = []

        def collect(fetched: Iterable[tuple[str, PosterFetch]]) -> None:
            for finished in fetched:
                done.append(finished)
                if progress is not None:
                    progress(len(done), len(items))

        if progress is not None:
            progress(0, len(items))
        if len(items) <= 1 or self.concurrency == 1:
            collect(map(work, items))
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="posters") as pool:
                collect(pool.map(work, items))
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
                count("present")
                return PosterFetch(poster_path, target, "present")
            # An invalid file on disk is never kept: drop it and download again.
            target.unlink(missing_ok=True)
            count("invalid_on_disk")
        url = f"{self.image_base_url}/{self.size}/{name}"
        retry = self.retry
        self.bucket.acquire()
        while True:
            response, body, error = self._get(url)
            if response is not None:
                status = response.status
                if status == 200:
                    problem = image_bytes_problem(body)
                    if not problem:
                        count_response(status)
                        atomic_write_bytes(target, body)
                        count("fetched")
                        return PosterFetch(poster_path, target, "fetched")
                    error = UnusableBody(problem)
                elif status in (404, 410):
                    count_response(status)
                    return PosterFetch(poster_path, None, "missing", f"not on the image server (HTTP {status})")
                elif not retry.is_retry("GET", status, bool(response.headers.get("Retry-After"))):
                    count_response(status)
                    count("failed")
                    return PosterFetch(poster_path, None, "failed", f"HTTP {status}")
            elif not isinstance(error, Urllib3Error):  # a URL httpx refuses: no retry helps
                count("failed")
                return PosterFetch(poster_path, None, "failed", str(error))
            try:
                retry = retry.increment("GET", url, response=None if error else response, error=error)
            except MaxRetryError as exc:
                count("failed")
                return PosterFetch(
                    poster_path, None, "failed", f"gave up after {self.max_retries + 1} attempts: {describe_failure(exc.reason)}"
                )
            retry.sleep(response)

    def _get(self, url: str) -> tuple[HTTPResponse | None, bytes, Exception | None]:
        """(status line and headers as urllib3 sees them, body, failure); never raises for I/O.

        httpx failures become their urllib3 counterparts, so the retry policy classifies
        them exactly as it does the TMDB session's.
        """
        try:
            with self._client.stream("GET", url) as answer:
                response = HTTPResponse(body=b"", headers=dict(answer.headers), status=answer.status_code, preload_content=False)
                if answer.status_code != 200:
                    return response, b"", None
                chunks: list[bytes] = []
                total = 0
                for chunk in answer.iter_bytes():
                    total += len(chunk)
                    if total > MAX_POSTER_BYTES:
                        return response, b"", UnusableBody(f"body larger than {MAX_POSTER_BYTES} bytes")
                    chunks.append(chunk)
                return response, b"".join(chunks), None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return None, b"", ValueError(f"bad image URL ({type(exc).__name__})")
        except httpx.TimeoutException as exc:
            return None, b"", ReadTimeoutError(None, url, type(exc).__name__)
        except httpx.HTTPError as exc:
            return None, b"", ProtocolError(type(exc).__name__)
