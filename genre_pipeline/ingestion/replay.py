"""Replay a catalog as a local TMDB: a TMDB-shaped HTTP server on 127.0.0.1.

A snapshot directory (or a list of TMDB ``/movie/{id}`` records) served with TMDB's own
paths and shapes, so the live client runs against it unchanged: point
``TMDB_API_BASE_URL`` / ``TMDB_IMAGE_BASE_URL`` at the URLs it prints::

    python -m genre_pipeline.ingestion.replay ../shared/data/tmdb5000 --port 8765

Benchmarks and tests use the same server, with latency and faults injected::

    GET /3/genre/movie/list
    GET /3/discover/movie      primary_release_year, primary_release_date.gte/.lte,
                               with_genres (',' = all, '|' = any), without_genres (any),
                               sort_by=popularity.desc, page (1..max_pages, else 400)
    GET /3/movie/changes       start_date, end_date (<= 14 days, else 422), page (100 a page)
    GET /3/movie/{id}          the details record, or TMDB's 404 body
    GET /t/p/{size}/{file}     the image CDN (no credentials)

API paths need credentials: ``?api_key=`` or ``Authorization: Bearer``; when the server
was given a key or a token only that one is accepted (401 otherwise, TMDB's body). Faults
apply to the first N requests whose path matches a pattern: ``429`` (with
``Retry-After``), ``500`` / ``502`` / ``503`` / ``504``, ``401`` (a rejected key),
``slow`` (answers after ``delay`` seconds: client timeouts), ``malformed`` (broken JSON
with status 200), ``truncate`` (the first half of an image), ``html`` (an HTML page
instead of an image), ``drop`` (closes the connection without answering). Every request
is logged (time, path, query without the key, kind of credentials) so callers can count
requests per path. The server never prints a request: URLs carry keys.

Records are served as they are, malformed ones included (a title that is a number, a
genre whose id is null, an id beyond int64, a date that is not a date): only an integer
``id`` is needed, to answer ``/movie/{id}``. ``from_snapshot(..., serve_invalid=True)``
(``--serve-invalid``) serves every JSON object line of a snapshot that has one, so the
live client meets the same damaged records the snapshot reader quarantines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from genre_pipeline.ingestion.records import poster_basename
from genre_pipeline.ingestion.snapshot import LineReader, find_movies_file, parse_line, read_genre_list, read_movie_file

STATUS_FAULTS = {"401": 401, "429": 429, "500": 500, "502": 502, "503": 503, "504": 504}
FAULT_KINDS = (*STATUS_FAULTS, "slow", "malformed", "truncate", "html", "drop")
NOT_FOUND = {"success": False, "status_code": 34, "status_message": "The resource you requested could not be found."}
REJECTED_KEY = {"success": False, "status_code": 7, "status_message": "Invalid API key: You must be granted a valid key."}
STATUS_BODIES = {
    401: REJECTED_KEY,
    429: {"success": False, "status_code": 25, "status_message": "Your request count is over the allowed limit."},
}
SERVER_ERROR = {"success": False, "status_code": 11, "status_message": "Internal error: Something went wrong."}


@dataclass
class Fault:
    """Answer the first ``count`` requests matching ``pattern`` (fnmatch) with ``kind``."""

    pattern: str
    kind: str
    count: int | None = 1  # None = every matching request
    retry_after: float = 1.0  # seconds, sent with 429
    delay: float = 0.0  # seconds, for "slow"
    hits: int = 0


@dataclass(frozen=True)
class RequestRecord:
    at: float  # time.monotonic() when the request line was read
    path: str
    query: dict[str, str]  # without api_key
    auth: str  # "api_key" | "bearer" | "none"
    key_in_url: bool
    connection_header: str
    status: int  # 0: nothing sent; -1: dropped on purpose
    connection_id: int


@dataclass
class _Catalog:
    movies: dict[int, dict[str, Any]]
    genres: list[dict[str, Any]]
    posters: dict[str, bytes]  # by file name; looked up before posters_dir
    posters_dir: Path | None = None  # read on request, so a large snapshot is not held in memory
    changes: dict[str, set[int]] = field(default_factory=dict)  # ISO date -> changed ids
    hidden: set[int] = field(default_factory=set)  # listed by discover, 404 on details


class TmdbReplayServer:
    """Start with ``with TmdbReplayServer(...) as server:``; clients use ``server.api_base_url``."""

    def __init__(
        self,
        movies: Iterable[dict[str, Any]],
        genres: list[dict[str, Any]],
        posters: dict[str, bytes] | None = None,
        *,
        posters_dir: str | Path | None = None,
        api_key: str | None = None,
        token: str | None = None,
        latency: float = 0.0,
        image_latency: float = 0.0,
        page_size: int = 20, max_pages: int = 500, changes_page_size: int = 100,
        port: int = 0,
    ) -> None:
        """``posters`` are served from memory, other images from ``posters_dir`` when asked for."""
        self.api_key = api_key
        self.token = token
        self.latency = latency  # seconds before every answer
        self.image_latency = image_latency  # extra seconds for image answers
        self.page_size = page_size
        self.max_pages = max_pages  # TMDB: discover refuses page > 500
        self.changes_page_size = changes_page_size
        self._address = ("127.0.0.1", port)
        folder = Path(posters_dir) if posters_dir is not None else None
        self._catalog = _Catalog({_served_id(m): dict(m) for m in movies}, list(genres), dict(posters or {}), folder)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._log: list[RequestRecord] = []
        self._connections = 0
        self._in_flight = 0
        self._peak_in_flight = 0
        self._server: ThreadingHTTPServer | None = None

    @classmethod
    def from_snapshot(cls, snapshot_dir: str | Path, *, serve_invalid: bool = False, **kwargs: Any) -> "TmdbReplayServer":
        """Serve a snapshot directory (``movies.jsonl[.gz]``, ``genres.json``, ``posters/``).

        Lines the snapshot reader quarantines are not served, unless ``serve_invalid``:
        then every JSON object line with an integer ``id`` is, whatever else is wrong with
        it. A record listed twice is served as its later line.
        """
        root = Path(snapshot_dir)
        path = find_movies_file(root)
        if serve_invalid:
            values = (parse_line(data)[0] for _, data in LineReader(path))
            movies = [v for v in values if isinstance(v, dict) and _has_int_id(v)]
        else:
            movies = [valid.record for valid in read_movie_file(path).records]
        return cls(movies, read_genre_list(root), posters_dir=root / "posters", **kwargs)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "TmdbReplayServer":
        handler = type("Handler", (_Handler,), {"owner": self})
        server = _QuietServer(self._address, handler)
        server.daemon_threads = True
        server.request_queue_size = 128
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "TmdbReplayServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the replay server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.root_url}/3"

    @property
    def image_base_url(self) -> str:
        return f"{self.root_url}/t/p"

    # -- the catalog -------------------------------------------------------------------
    def movies(self) -> list[dict[str, Any]]:
        """The details records served, by id."""
        with self._lock:
            return [dict(self._catalog.movies[i]) for i in sorted(self._catalog.movies)]

    def poster(self, name: str) -> bytes | None:
        """The image served as ``name``, or None."""
        with self._lock:
            data, folder = self._catalog.posters.get(name), self._catalog.posters_dir
        if data is None and folder is not None and poster_basename(name) == name and (folder / name).is_file():
            data = (folder / name).read_bytes()
        return data

    def set_poster(self, name: str, data: bytes) -> None:
        with self._lock:
            self._catalog.posters[name] = data

    def update_movie(self, movie_id: int, **fields: Any) -> None:
        with self._lock:
            self._catalog.movies[int(movie_id)].update(fields)

    def hide_details(self, ids: Iterable[int]) -> None:
        """Discover still lists these ids but ``/movie/{id}`` answers 404 (deleted mid-scrape)."""
        with self._lock:
            self._catalog.hidden.update(int(i) for i in ids)

    def mark_changed(self, ids: Iterable[int], date: str | dt.date) -> None:
        """List ``ids`` in ``/movie/changes`` for ``date``."""
        key = date.isoformat() if isinstance(date, dt.date) else str(date)
        with self._lock:
            self._catalog.changes.setdefault(key, set()).update(int(i) for i in ids)

    # -- faults ------------------------------------------------------------------------
    def add_fault(self, pattern: str, kind: str, count: int | None = 1, **kwargs: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        fault = Fault(pattern, kind, count, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- the request log ---------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def count(self, pattern: str = "*") -> int:
        """Requests whose path matches ``pattern`` (fnmatch, e.g. ``/3/movie/*``)."""
        with self._lock:
            return sum(1 for r in self._log if fnmatch.fnmatchcase(r.path, pattern))

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def peak_in_flight(self) -> int:
        """The most requests the server was answering at once."""
        with self._lock:
            return self._peak_in_flight

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._connections = 0
            self._peak_in_flight = 0

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no request is being answered (e.g. after killing a client mid-request)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    return
            time.sleep(0.01)
        raise TimeoutError(f"the replay server still answers requests after {timeout} s")

    # -- used by the handler -----------------------------------------------------------
    def _new_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _in_flight_delta(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fnmatch.fnmatchcase(path, fault.pattern) and (fault.count is None or fault.hits < fault.count):
                    fault.hits += 1
                    return fault
        return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _credentials_ok(self, api_key: str | None, bearer: str | None) -> bool:
        if self.api_key is None and self.token is None:
            return bool(api_key or bearer)
        return (self.api_key is not None and api_key == self.api_key) or (self.token is not None and bearer == self.token)

    def _discover(self, query: dict[str, str]) -> list[dict[str, Any]]:
        year = query.get("primary_release_year")
        gte = query.get("primary_release_date.gte")
        lte = query.get("primary_release_date.lte")
        with_ids, with_any = _genre_filter(query.get("with_genres"))
        without_ids, _ = _genre_filter(query.get("without_genres"))
        selected = []
        with self._lock:
            movies = list(self._catalog.movies.values())
        for movie in movies:
            date = _release_date(movie)
            if len(date) < 10 or (year and date[:4] != year) or (gte and date < gte) or (lte and date > lte):
                continue
            genres = {g for g in _genre_ids(movie) if isinstance(g, int)}
            if with_ids and not (genres & with_ids if with_any else with_ids <= genres):
                continue
            if without_ids and genres & without_ids:
                continue
            selected.append(movie)
        if query.get("sort_by", "popularity.desc") == "popularity.desc":
            selected.sort(key=lambda m: (-_popularity(m), m["id"]))
        else:
            selected.sort(key=lambda m: m["id"])
        return selected

    def _changed(self, start: dt.date, end: dt.date) -> list[int]:
        ids: set[int] = set()
        with self._lock:
            for day, changed in self._catalog.changes.items():
                if start.isoformat() <= day <= end.isoformat():
                    ids |= changed
        return sorted(ids)

    def _details(self, movie_id: int) -> dict[str, Any] | None:
        with self._lock:
            return None if movie_id in self._catalog.hidden else self._catalog.movies.get(movie_id)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, closed socket) is expected, not an error."""
        return


def _has_int_id(movie: dict[str, Any]) -> bool:
    return isinstance(movie.get("id"), int) and not isinstance(movie.get("id"), bool)


def _served_id(movie: Any) -> int:
    """The id a record is served under: its ``id``, which must be an integer (any size)."""
    if not (isinstance(movie, dict) and _has_int_id(movie)):
        raise ValueError(f"a replayed record needs an integer 'id', got {str(movie)[:80]}")
    return movie["id"]


def _release_date(movie: dict[str, Any]) -> str:
    value = movie.get("release_date")
    return value if isinstance(value, str) else ""


def _genre_ids(movie: dict[str, Any]) -> list[Any]:
    """The ids in a record's ``genres``, as they are (a malformed record's may be null)."""
    genres = movie.get("genres")
    return [g.get("id") for g in genres if isinstance(g, dict)] if isinstance(genres, list) else []


def _popularity(movie: dict[str, Any]) -> float:
    value = movie.get("popularity")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else 0.0


def _summary(movie: dict[str, Any]) -> dict[str, Any]:
    """The shape of one item in a discover page (TMDB's "movie list result")."""
    return {
        "id": movie["id"],
        "title": movie.get("title"),
        "original_title": movie.get("original_title"),
        "release_date": _release_date(movie),
        "genre_ids": _genre_ids(movie),
        "popularity": movie.get("popularity", 0.0),
        "poster_path": movie.get("poster_path"),
        "overview": movie.get("overview", ""),
        "vote_average": movie.get("vote_average", 0.0),
        "vote_count": movie.get("vote_count", 0),
        "adult": bool(movie.get("adult", False)),
        "original_language": movie.get("original_language"),
    }


def _genre_filter(value: str | None) -> tuple[set[int], bool]:
    """(ids, any_of) from a TMDB genre filter: ',' means all of them, '|' any of them."""
    if not value:
        return set(), False
    parts = value.replace("|", ",").split(",")
    return {int(p) for p in parts if p.strip().isdigit()}, "|" in value


def _page(items: list[Any], page: int, size: int) -> tuple[list[Any], int]:
    """The items of 1-based ``page`` and the number of pages."""
    return items[(page - 1) * size : page * size], math.ceil(len(items) / size)


class _Handler(BaseHTTPRequestHandler):
    owner: TmdbReplayServer
    protocol_version = "HTTP/1.1"  # keep-alive unless the client asks to close

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every response on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_id = self.owner._new_connection()

    def log_message(self, format: str, *args: Any) -> None:  # never print (URLs carry keys)
        return

    # -- plumbing ----------------------------------------------------------------------
    def _log(self, status: int) -> None:
        """Record the request *before* answering, so a client never sees an unlogged reply."""
        if self._logged:
            return
        self._logged = True
        self.owner._record(
            RequestRecord(
                at=self._arrived,
                path=self._path,
                query=self._query,
                auth=self._auth,
                key_in_url=self._key_in_url,
                connection_header=self.headers.get("Connection", ""),
                status=status,
                connection_id=self.connection_id,
            )
        )

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None) -> None:
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), headers=headers)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._arrived = time.monotonic()
        owner = self.owner
        parts = urlsplit(self.path)
        self._path = parts.path
        self._query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        api_key = self._query.pop("api_key", None)
        auth_header = self.headers.get("Authorization", "")
        bearer = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else None
        self._auth = "bearer" if bearer else ("api_key" if api_key else "none")
        self._key_in_url = api_key is not None
        self._logged = False
        owner._in_flight_delta(+1)
        try:
            if owner.latency:
                time.sleep(owner.latency)
            fault = owner._take_fault(self._path)
            if fault is not None and self._apply_fault(fault):
                return
            if self._path.startswith("/t/p/"):
                if owner.image_latency:
                    time.sleep(owner.image_latency)
                self._image()
            elif not self._path.startswith("/3/"):
                self._json(404, NOT_FOUND)
            elif not owner._credentials_ok(api_key, bearer):
                self._json(401, REJECTED_KEY)
            else:
                self._api(self._path[2:])
        finally:
            self._log(0)  # only if nothing was sent (an error in the server itself)
            owner._in_flight_delta(-1)

    def _apply_fault(self, fault: Fault) -> bool:
        """Answer with the fault; False when the fault only delays the normal answer."""
        kind = fault.kind
        if kind == "slow":
            time.sleep(fault.delay)
            return False
        if kind in STATUS_FAULTS:
            status = STATUS_FAULTS[kind]
            headers = {"Retry-After": f"{fault.retry_after:g}"} if status == 429 else None
            self._json(status, STATUS_BODIES.get(status, SERVER_ERROR), headers=headers)
        elif kind == "malformed":
            self._send(200, b'{"page": 1, "results": [{"id": 1, "tit')
        elif kind == "html":
            self._send(200, b"<html><body>upstream error</body></html>", content_type="text/html")
        elif kind == "truncate":
            data = self.owner.poster(self._path.rsplit("/", 1)[-1])
            if data is None:
                return False
            self._send(200, data[: max(1, len(data) // 2)], content_type="image/jpeg")
        elif kind == "drop":
            self._log(-1)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return True

    # -- endpoints ---------------------------------------------------------------------
    def _image(self) -> None:
        pieces = self._path.split("/")  # ['', 't', 'p', size, file]
        data = self.owner.poster(pieces[4]) if len(pieces) == 5 else None
        if data is None:
            self._send(404, b"not found", content_type="text/plain")
        else:
            self._send(200, data, content_type="image/jpeg")

    def _api(self, path: str) -> None:
        if path == "/genre/movie/list":
            with self.owner._lock:
                genres = list(self.owner._catalog.genres)
            self._json(200, {"genres": genres})
        elif path == "/discover/movie":
            self._discover_page()
        elif path == "/movie/changes":
            self._changes_page()
        elif path.startswith("/movie/") and path[len("/movie/") :].isdigit():
            movie = self.owner._details(int(path[len("/movie/") :]))
            if movie is None:
                self._json(404, NOT_FOUND)
            else:
                self._json(200, movie)
        else:
            self._json(404, NOT_FOUND)

    def _discover_page(self) -> None:
        owner = self.owner
        page_text = self._query.get("page", "1")  # TMDB's default page is 1
        page = int(page_text) if page_text.isdigit() else 0
        if page < 1 or page > owner.max_pages:
            self._json(400, {"success": False, "errors": [f"page must be less than or equal to {owner.max_pages}"]})
            return
        selected = owner._discover(self._query)
        chunk, total_pages = _page(selected, page, owner.page_size)
        payload = {"page": page, "results": [_summary(m) for m in chunk], "total_results": len(selected), "total_pages": total_pages}
        self._json(200, payload)

    def _changes_page(self) -> None:
        today = dt.date.today()
        try:
            start = dt.date.fromisoformat(self._query.get("start_date") or (today - dt.timedelta(days=1)).isoformat())
            end = dt.date.fromisoformat(self._query.get("end_date") or today.isoformat())
            page = int(self._query.get("page", "1"))
        except ValueError:
            self._json(422, {"success": False, "errors": ["invalid date or page"]})
            return
        if end < start or (end - start).days > 14:
            self._json(422, {"success": False, "errors": ["Invalid date range: Should be a range no longer than 14 days."]})
            return
        ids = self.owner._changed(start, end)
        chunk, total_pages = _page(ids, page, self.owner.changes_page_size)
        payload = {"page": page, "results": [{"id": i, "adult": False} for i in chunk], "total_results": len(ids), "total_pages": max(1, total_pages)}
        self._json(200, payload)


def main(argv: list[str] | None = None) -> int:
    """``python -m genre_pipeline.ingestion.replay SNAPSHOT``: serve it until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m genre_pipeline.ingestion.replay", description=main.__doc__)
    parser.add_argument("snapshot", help="snapshot directory (movies.jsonl[.gz], genres.json, posters/)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--serve-invalid", action="store_true",
                        help="also serve lines the snapshot reader quarantines (any JSON object with an integer id)")
    args = parser.parse_args(argv)
    server = TmdbReplayServer.from_snapshot(args.snapshot, serve_invalid=args.serve_invalid, api_key=args.api_key,
                                            latency=args.latency, port=args.port)
    # Stop cleanly on Ctrl-C or a plain kill, even when started with them ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with server:
        print(f"replaying {len(server.movies())} movies from {args.snapshot}", flush=True)
        print(f"TMDB_API_BASE_URL={server.api_base_url}", flush=True)
        print(f"TMDB_IMAGE_BASE_URL={server.image_base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
