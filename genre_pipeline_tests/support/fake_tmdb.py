"""A fake TMDB: a real threaded HTTP server on 127.0.0.1 serving a snapshot.

It answers TMDB's real paths, so the production client is exercised end to end (session,
keep-alive, timeouts, retries, rate limiter, tmdbsimple URL building)::

    GET /3/genre/movie/list
    GET /3/discover/movie      primary_release_year, primary_release_date.gte/.lte,
                               with_genres (',' = all, '|' = any), without_genres (any),
                               sort_by=popularity.desc, page (1..max_pages, else 400)
    GET /3/movie/changes       start_date, end_date (<= 14 days, else 422), page (100 a page)
    GET /3/movie/{id}          the details record, or TMDB's 404 body
    GET /t/p/{size}/{file}     the image CDN (no auth)

API paths require ``?api_key=<key>`` or ``Authorization: Bearer <token>`` (401 otherwise).
Faults are injected per path pattern for the first N matching hits: ``429`` (with
``Retry-After``), ``500``, ``slow`` (sleep before answering), ``malformed`` (broken JSON
with status 200), ``truncate`` (first half of an image, correct Content-Length), ``html``
(an HTML page instead of an image), ``401``, ``drop`` (close without answering). Every
request is logged (time, path, query without the key, auth kind) so tests can count
requests per path and check the timing the server saw. The server never prints anything.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gzip
import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("429", "500", "slow", "malformed", "truncate", "html", "401", "drop")


@dataclass
class Fault:
    pattern: str
    kind: str
    count: int | None = 1  # first N matching hits; None = every hit
    retry_after: float = 1.0
    delay: float = 0.0
    hits: int = 0


@dataclass(frozen=True)
class RequestRecord:
    at: float  # time.monotonic() when the request line was read
    path: str
    query: dict[str, str]  # without api_key
    auth: str  # "api_key" | "bearer" | "none"
    key_in_url: bool
    connection_header: str
    status: int
    connection_id: int


@dataclass
class _State:
    movies: dict[int, dict[str, Any]]
    genres: list[dict[str, Any]]
    posters: dict[str, bytes]
    changes: dict[str, set[int]] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)  # listed by discover, 404 on details


class FakeTmdb:
    """Start with ``with FakeTmdb(...) as fake:``; point clients at ``fake.api_base_url``."""

    def __init__(
        self,
        movies: list[dict[str, Any]],
        genres: list[dict[str, Any]],
        posters: dict[str, bytes] | None = None,
        *,
        api_key: str | None = "test-api-key-0123456789",
        token: str | None = None,
        latency: float = 0.0,
        image_latency: float = 0.0,
        page_size: int = 20,
        max_pages: int = 500,
        changes_page_size: int = 100,
    ) -> None:
        self.api_key = api_key
        self.token = token
        self.latency = latency
        self.image_latency = image_latency  # extra delay for image CDN responses
        self.page_size = page_size
        self.max_pages = max_pages
        self.changes_page_size = changes_page_size
        self._state = _State({int(m["id"]): dict(m) for m in movies}, list(genres), dict(posters or {}))
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._log: list[RequestRecord] = []
        self._connections = 0
        self._in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_snapshot(cls, snapshot_dir: str | Path, **kwargs: Any) -> "FakeTmdb":
        root = Path(snapshot_dir)
        if (root / "movies.jsonl.gz").is_file():
            text = gzip.decompress((root / "movies.jsonl.gz").read_bytes()).decode("utf-8")
        else:
            text = (root / "movies.jsonl").read_text(encoding="utf-8")
        movies = [json.loads(line) for line in text.splitlines() if line.strip()]
        genres = json.loads((root / "genres.json").read_text(encoding="utf-8"))["genres"]
        posters = {}
        if (root / "posters").is_dir():
            posters = {p.name: p.read_bytes() for p in (root / "posters").iterdir() if p.is_file()}
        return cls(movies, genres, posters, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "FakeTmdb":
        fake = self

        class Handler(_Handler):
            owner = fake

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 128
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeTmdb":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.root_url}/3"

    @property
    def image_base_url(self) -> str:
        return f"{self.root_url}/t/p"

    # -- control -----------------------------------------------------------------------
    def add_fault(self, pattern: str, kind: str, count: int | None = 1, **kwargs: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(pattern, kind, count, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def mark_changed(self, ids: list[int], date: str | dt.date) -> None:
        key = date.isoformat() if isinstance(date, dt.date) else str(date)
        with self._lock:
            self._state.changes.setdefault(key, set()).update(int(i) for i in ids)

    def update_movie(self, movie_id: int, **fields: Any) -> None:
        with self._lock:
            self._state.movies[int(movie_id)].update(fields)

    def add_movie(self, record: dict[str, Any], poster: bytes | None = None) -> None:
        with self._lock:
            self._state.movies[int(record["id"])] = dict(record)
            if poster is not None and record.get("poster_path"):
                self._state.posters[record["poster_path"].rsplit("/", 1)[-1]] = poster

    def set_poster(self, name: str, data: bytes) -> None:
        with self._lock:
            self._state.posters[name] = data

    def hide_details(self, ids: list[int]) -> None:
        """Discover still lists these ids but ``/movie/{id}`` answers 404 (deleted mid-scrape)."""
        with self._lock:
            self._state.hidden.update(int(i) for i in ids)

    def remove_movie(self, movie_id: int) -> None:
        with self._lock:
            self._state.movies.pop(int(movie_id), None)

    def movie_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._state.movies)

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

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no request is being answered (e.g. after killing a client mid-request)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    return
            time.sleep(0.01)
        raise TimeoutError("fake TMDB still answering requests")

    def _enter(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._connections = 0

    # -- internals used by the handler -------------------------------------------------
    def _new_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

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

    def _snapshot(self) -> _State:
        with self._lock:
            return self._state


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, closed socket) is part of the test, not an error."""
        return


def _summary(movie: dict[str, Any]) -> dict[str, Any]:
    """The shape of one item in a discover page (TMDB's "movie list result")."""
    return {
        "id": movie["id"],
        "title": movie.get("title"),
        "original_title": movie.get("original_title"),
        "release_date": movie.get("release_date") or "",
        "genre_ids": [g["id"] for g in movie.get("genres") or []],
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
    any_of = "|" in value
    parts = value.replace("|", ",").split(",")
    return {int(p) for p in parts if p.strip().isdigit()}, any_of


class _Handler(BaseHTTPRequestHandler):
    owner: FakeTmdb
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
        info = self._info
        self.owner._record(
            RequestRecord(
                at=info["at"],
                path=info["path"],
                query=info["query"],
                auth=info["auth"],
                key_in_url=info["key_in_url"],
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
        arrived = time.monotonic()
        owner = self.owner
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        given_key = query.pop("api_key", None)
        auth_header = self.headers.get("Authorization", "")
        bearer = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else None
        auth = "bearer" if bearer else ("api_key" if given_key else "none")
        self._logged = False
        self._info = {"at": arrived, "path": path, "query": query, "auth": auth, "key_in_url": given_key is not None}
        owner._enter(+1)
        try:
            if owner.latency:
                time.sleep(owner.latency)
            fault = owner._take_fault(path)
            if fault is not None and self._apply_fault(fault, path):
                return
            if path.startswith("/t/p/"):
                if owner.image_latency:
                    time.sleep(owner.image_latency)
                self._image(path)
                return
            if not path.startswith("/3/"):
                self._json(404, {"status_code": 34, "status_message": "The resource you requested could not be found."})
                return
            key_ok = owner.api_key is not None and given_key == owner.api_key
            token_ok = owner.token is not None and bearer == owner.token
            if not (key_ok or token_ok):
                self._unauthorized()
                return
            self._api(path[2:], query)
        finally:
            self._log(0)  # only if nothing was sent (an error in the fake itself)
            owner._enter(-1)

    def _unauthorized(self) -> None:
        self._json(401, {"success": False, "status_code": 7, "status_message": "Invalid API key: You must be granted a valid key."})

    def _apply_fault(self, fault: Fault, path: str) -> bool:
        """Answer with the fault; False when the fault only delays the normal answer."""
        kind = fault.kind
        if kind == "slow":
            time.sleep(fault.delay)
            return False
        if kind == "429":
            self._json(
                429,
                {"success": False, "status_code": 25, "status_message": "Your request count is over the allowed limit."},
                headers={"Retry-After": f"{fault.retry_after:g}"},
            )
        elif kind == "500":
            self._json(500, {"success": False, "status_code": 11, "status_message": "Internal error."})
        elif kind == "401":
            self._unauthorized()
        elif kind == "malformed":
            self._send(200, b'{"page": 1, "results": [{"id": 1, "tit')
        elif kind == "html":
            self._send(200, b"<html><body>upstream error</body></html>", content_type="text/html")
        elif kind == "truncate":
            name = path.rsplit("/", 1)[-1]
            data = self.owner._snapshot().posters.get(name)
            if data is None:
                return False
            self._send(200, data[: max(1, len(data) // 2)], content_type="image/jpeg")
        elif kind == "drop":
            self._log(-1)
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
        return True

    # -- endpoints ---------------------------------------------------------------------
    def _image(self, path: str) -> None:
        pieces = path.split("/")  # ['', 't', 'p', size, file]
        if len(pieces) != 5:
            self._send(404, b"not found", content_type="text/plain")
            return
        data = self.owner._snapshot().posters.get(pieces[4])
        if data is None:
            self._send(404, b"not found", content_type="text/plain")
            return
        self._send(200, data, content_type="image/jpeg")

    def _api(self, path: str, query: dict[str, str]) -> None:
        state = self.owner._snapshot()
        if path == "/genre/movie/list":
            self._json(200, {"genres": state.genres})
        elif path == "/discover/movie":
            self._discover(state, query)
        elif path == "/movie/changes":
            self._changes(state, query)
        elif path.startswith("/movie/") and path[len("/movie/") :].isdigit():
            movie_id = int(path[len("/movie/") :])
            movie = None if movie_id in state.hidden else state.movies.get(movie_id)
            if movie is None:
                self._json(404, {"success": False, "status_code": 34, "status_message": "The resource you requested could not be found."})
            else:
                self._json(200, movie)
        else:
            self._json(404, {"success": False, "status_code": 34, "status_message": "The resource you requested could not be found."})

    def _discover(self, state: _State, query: dict[str, str]) -> None:
        owner = self.owner
        try:
            page = int(query.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1 or page > owner.max_pages:
            self._json(400, {"success": False, "errors": [f"page must be less than or equal to {owner.max_pages}"]})
            return
        year = query.get("primary_release_year")
        gte = query.get("primary_release_date.gte")
        lte = query.get("primary_release_date.lte")
        with_ids, with_any = _genre_filter(query.get("with_genres"))
        without_ids, _ = _genre_filter(query.get("without_genres"))
        selected = []
        for movie in state.movies.values():
            date = movie.get("release_date") or ""
            if len(date) < 10:
                continue
            if year and date[:4] != year:
                continue
            if gte and date < gte:
                continue
            if lte and date > lte:
                continue
            genres = {g["id"] for g in movie.get("genres") or []}
            if with_ids and not (genres & with_ids if with_any else with_ids <= genres):
                continue
            if without_ids and genres & without_ids:
                continue
            selected.append(movie)
        if query.get("sort_by", "popularity.desc") == "popularity.desc":
            selected.sort(key=lambda m: (-float(m.get("popularity") or 0), m["id"]))
        else:
            selected.sort(key=lambda m: m["id"])
        size = owner.page_size
        chunk = selected[(page - 1) * size : page * size]
        self._json(
            200,
            {
                "page": page,
                "results": [_summary(m) for m in chunk],
                "total_results": len(selected),
                "total_pages": math.ceil(len(selected) / size),
            },
        )

    def _changes(self, state: _State, query: dict[str, str]) -> None:
        today = dt.date.today()
        try:
            start = dt.date.fromisoformat(query.get("start_date") or (today - dt.timedelta(days=1)).isoformat())
            end = dt.date.fromisoformat(query.get("end_date") or today.isoformat())
            page = int(query.get("page", "1"))
        except ValueError:
            self._json(422, {"success": False, "errors": ["invalid date or page"]})
            return
        if end < start or (end - start).days > 14:
            self._json(422, {"success": False, "errors": ["Invalid date range: Should be a range no longer than 14 days."]})
            return
        ids: set[int] = set()
        with self.owner._lock:
            for day, changed in state.changes.items():
                if start.isoformat() <= day <= end.isoformat():
                    ids |= changed
        ordered = sorted(ids)
        size = self.owner.changes_page_size
        total_pages = max(1, math.ceil(len(ordered) / size))
        chunk = ordered[(page - 1) * size : page * size]
        self._json(
            200,
            {
                "page": page,
                "results": [{"id": i, "adult": False} for i in chunk],
                "total_results": len(ordered),
                "total_pages": total_pages,
            },
        )
