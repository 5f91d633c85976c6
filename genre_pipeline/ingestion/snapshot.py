"""Snapshot source: a directory in TMDB's own shapes, read offline.

Tutorial step: "scraping TMDB". The tutorial pickled whatever its loop fetched; here a
snapshot is a documented, replayable directory::

    <snapshot>/
      movies.jsonl | movies.jsonl.gz   one TMDB /movie/{id} details object per line
      genres.json                      the /genre/movie/list response
      posters/                         optional; files named by basename(poster_path)

Bad lines (malformed JSON, not an object, no integer ``id``) never stop the read and are
never dropped silently: each becomes a :class:`QuarantinedLine` naming ``file:line`` and
the reason, and the good lines are kept.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

from genre_pipeline.storage.atomic import atomic_write
from genre_pipeline.ingestion.records import (
    PosterFetch,
    QuarantinedLine,
    SourceError,
    YearFetch,
    poster_basename,
    release_year_key,
)

MOVIE_FILES = ("movies.jsonl", "movies.jsonl.gz")
RAW_PREVIEW_CHARS = 300


def find_movies_file(snapshot_dir: Path) -> Path:
    """The snapshot's movie file, or a SourceError that says what is wrong."""
    snapshot_dir = Path(snapshot_dir)
    if not snapshot_dir.exists():
        raise SourceError(f"snapshot directory {snapshot_dir} does not exist")
    if not snapshot_dir.is_dir():
        raise SourceError(f"snapshot path {snapshot_dir} is not a directory")
    for name in MOVIE_FILES:
        candidate = snapshot_dir / name
        if candidate.exists() and not candidate.is_dir():  # a file, or a pipe a producer streams into
            return candidate
    raise SourceError(
        f"snapshot directory {snapshot_dir} has neither movies.jsonl nor movies.jsonl.gz"
    )


def parse_movie_lines(path: Path) -> tuple[list[dict[str, Any]], list[QuarantinedLine]]:
    """Read one record per line. Returns (records in file order, quarantined lines).

    Each good record gets ``_line`` (1-based line number) added in a copy-free way: the
    caller strips it before storing. Blank lines are ignored.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    records: list[dict[str, Any]] = []
    bad: list[QuarantinedLine] = []
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as handle:
            line_no = 0
            while True:
                try:
                    line = handle.readline()
                except UnicodeDecodeError as exc:
                    raise SourceError(f"{path}:{line_no + 1}: not UTF-8 text ({exc.reason})") from exc
                if not line:
                    break
                line_no += 1
                text = line.strip()
                if not text:
                    continue
                record, reason = _parse_record(text)
                if record is None:
                    bad.append(QuarantinedLine(str(path), line_no, reason, text[:RAW_PREVIEW_CHARS]))
                    continue
                record["_line"] = line_no
                records.append(record)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"cannot read snapshot file {path}: {exc}") from exc
    return records, bad


def _parse_record(text: str) -> tuple[dict[str, Any] | None, str]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    movie_id = record.get("id")
    if movie_id is None:
        return None, "record has no 'id'"
    if isinstance(movie_id, bool) or not isinstance(movie_id, int) or movie_id <= 0:
        return None, f"'id' must be a positive integer, got {movie_id!r}"
    genres = record.get("genres")
    if genres is not None and not (
        isinstance(genres, list) and all(isinstance(g, dict) and isinstance(g.get("id"), int) for g in genres)
    ):
        return None, "'genres' must be a list of {id, name} objects"
    return record, ""


def image_problem(path: Path) -> str:
    """'' when ``path`` is a complete, decodable image; otherwise what is wrong with it."""
    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: truncated files raise here
    except Exception as exc:  # Pillow raises many types for bad bytes  # noqa: BLE001
        return f"not a valid image ({type(exc).__name__}: {exc})"
    return ""


def read_genre_list(snapshot_dir: Path) -> list[dict[str, Any]]:
    """The ``genres`` list from ``genres.json`` (TMDB's /genre/movie/list response)."""
    path = Path(snapshot_dir) / "genres.json"
    if not path.is_file():
        raise SourceError(f"snapshot directory {snapshot_dir} has no genres.json")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg}") from exc
    genres = payload.get("genres") if isinstance(payload, dict) else None
    if not isinstance(genres, list):
        raise SourceError(f"{path}: expected an object with a 'genres' list")
    for index, genre in enumerate(genres):
        if not (isinstance(genre, dict) and isinstance(genre.get("id"), int) and isinstance(genre.get("name"), str)):
            raise SourceError(f"{path}: genres[{index}] must be an object with integer 'id' and string 'name'")
    return genres


class SnapshotCatalogSource:
    """CatalogSource over a snapshot directory. Parses the movie file once per instance."""

    def __init__(self, snapshot_dir: str | Path, name: str = "snapshot"):
        self.snapshot_dir = Path(snapshot_dir).expanduser().resolve()
        self.name = name
        self._by_year: dict[str, list[dict[str, Any]]] | None = None
        self._quarantined: list[QuarantinedLine] = []
        self._movies_file: Path | None = None

    # -- loading -----------------------------------------------------------------------
    def _load(self) -> None:
        if self._by_year is not None:
            return
        self._movies_file = find_movies_file(self.snapshot_dir)
        records, bad = parse_movie_lines(self._movies_file)
        by_year: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            by_year[release_year_key(record)].append(record)
        self._by_year = dict(by_year)
        self._quarantined = bad

    @property
    def quarantined(self) -> list[QuarantinedLine]:
        self._load()
        return list(self._quarantined)

    def years(self) -> list[str]:
        """Partition keys that hold at least one record."""
        self._load()
        assert self._by_year is not None
        return sorted(self._by_year)

    # -- CatalogSource -----------------------------------------------------------------
    def genre_list(self) -> list[dict[str, Any]]:
        return read_genre_list(self.snapshot_dir)

    def fetch_year(self, partition_key: str) -> YearFetch:
        self._load()
        assert self._by_year is not None
        records = []
        for record in self._by_year.get(partition_key, []):
            clean = {k: v for k, v in record.items() if k != "_line"}
            clean_seq = record["_line"]
            records.append((clean_seq, clean))
        return YearFetch(
            partition_key=partition_key,
            records=[r for _, r in records],
            # Quarantined lines belong to the file, not to a year: they are reported once
            # per run by the caller via `quarantined`, so they are not repeated here.
            quarantined=[],
            stats={"source_seq": [seq for seq, _ in records], "file": str(self._movies_file)},
        )

    def fetch_posters(self, poster_paths: list[str], dest_dir: Path) -> list[PosterFetch]:
        """Copy posters from the snapshot's ``posters/`` into ``dest_dir`` (skip present ones)."""
        source_dir = self.snapshot_dir / "posters"
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for poster_path in poster_paths:
            name = poster_basename(poster_path)
            if name is None:
                results.append(PosterFetch(poster_path, None, "missing", "no usable poster_path"))
                continue
            target = dest_dir / name
            origin = source_dir / name
            if target.is_file() and origin.is_file() and target.stat().st_size == origin.stat().st_size:
                results.append(PosterFetch(poster_path, target, "present"))
                continue
            if not origin.is_file():
                if target.is_file():
                    results.append(PosterFetch(poster_path, target, "present"))
                else:
                    results.append(PosterFetch(poster_path, None, "missing", "not in snapshot posters/"))
                continue
            problem = image_problem(origin)
            if problem:
                results.append(PosterFetch(poster_path, None, "failed", f"{origin.name}: {problem}"))
                continue
            atomic_write(target, lambda tmp, origin=origin: shutil.copyfile(origin, tmp))
            results.append(PosterFetch(poster_path, target, "fetched"))
        return results

    def describe(self) -> dict[str, Any]:
        return {"source": self.name, "snapshot_dir": str(self.snapshot_dir)}
