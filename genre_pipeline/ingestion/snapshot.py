"""Snapshot source: a directory in TMDB's own shapes, read offline.

Tutorial step: "scraping TMDB". The tutorial pickled whatever its loop fetched; here a
snapshot is a documented, replayable directory::

    <snapshot>/
      movies.jsonl | movies.jsonl.gz   one TMDB /movie/{id} details object per line
      genres.json                      the /genre/movie/list response
      posters/                         optional; files named by basename(poster_path)

The movie file is read as bytes and split on newlines; each line is decoded on its own,
so one bad line costs only itself. Every line ends as exactly one of: a record (passed
``records.validate_record`` and filed under its release year or ``undated``), a
:class:`QuarantinedLine` naming ``file:line``, the field and the reason (not UTF-8, not
JSON, not an object, a field that does not fit the schema), or a blank line (skipped and
counted). A UTF-8 byte-order mark and a CR before the newline are ignored. A gzip file
that breaks off (truncated or corrupt) keeps every complete line before the break and
quarantines the rest as one entry that says so; a file that cannot be read at all fails
with an error naming it.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import ValidationError

from genre_pipeline.storage.atomic import atomic_write
from genre_pipeline.ingestion.records import (
    RAW_PREVIEW_CHARS,
    Genre,
    LineTally,
    PosterFetch,
    QuarantinedLine,
    SourceError,
    ValidRecord,
    YearFetch,
    poster_basename,
    validate_record,
)

MOVIE_FILES = ("movies.jsonl", "movies.jsonl.gz")
BOM = b"\xef\xbb\xbf"


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


class LineReader:
    """The lines of a movie file as bytes, numbered from 1, without the line ending.

    A gzip stream that breaks after at least one line ends the iteration and leaves
    ``broken`` saying why (the lines before it were all yielded); one that breaks before
    its first line, or a file that cannot be read, raises a SourceError naming the file.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.broken = ""
        self.lines = 0  # complete lines yielded

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        gzipped = self.path.suffix == ".gz"
        failure = ""
        try:
            with (gzip.open(self.path, "rb") if gzipped else open(self.path, "rb")) as handle:
                for data in handle:
                    self.lines += 1
                    yield self.lines, data.rstrip(b"\n").rstrip(b"\r")
        except EOFError:  # gzip: the stream ends before its end-of-stream marker
            failure = "gzip stream ends early (truncated file)"
        except (gzip.BadGzipFile, zlib.error) as exc:
            failure = f"corrupt gzip stream ({exc})"
        except OSError as exc:
            raise SourceError(f"cannot read snapshot file {self.path} after line {self.lines}: {exc.strerror or exc}") from None
        if failure and not self.lines:
            raise SourceError(f"cannot read snapshot file {self.path}: {failure} before its first complete line")
        self.broken = failure


def parse_line(data: bytes) -> tuple[Any, str]:
    """(the JSON value of one line, '') or (None, 'record: why'); a BOM before the text is ignored."""
    try:
        text = data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"record: not UTF-8 text ({exc.reason} at byte {exc.start + 1})"
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        return None, f"record: malformed JSON: {exc.msg} at column {exc.colno}"
    except ValueError as exc:  # e.g. an integer beyond the interpreter's digit limit
        return None, f"record: malformed JSON: {exc}"
    except RecursionError:
        return None, "record: malformed JSON: nested too deeply"


def preview(data: bytes) -> str:
    """A line's text for the quarantine table (undecodable bytes replaced), truncated."""
    return data.decode("utf-8", "replace")[:RAW_PREVIEW_CHARS]


@dataclass
class MovieFile:
    """A movie file read line by line: every line is a record, a quarantined line or blank."""

    path: Path
    records: list[ValidRecord] = field(default_factory=list)  # in file order
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    blank: int = 0
    lines: int = 0  # as counted by the reader; a broken gzip tail counts as one line

    def tally(self) -> LineTally:
        return LineTally(str(self.path), self.lines, len(self.records), len(self.quarantined), self.blank)


def read_movie_file(path: Path) -> MovieFile:
    """Decode, parse and validate every line of ``path`` (``movies.jsonl`` or ``movies.jsonl.gz``)."""
    result = MovieFile(Path(path))
    label = str(path)
    reader = LineReader(path)
    for line_no, data in reader:
        if not data.removeprefix(BOM).strip():
            result.blank += 1
            continue
        value, problem = parse_line(data)
        outcome = (
            QuarantinedLine(label, line_no, problem, preview(data))
            if problem
            else validate_record(value, label, line_no, preview(data))
        )
        (result.quarantined if isinstance(outcome, QuarantinedLine) else result.records).append(outcome)
    result.lines = reader.lines
    if reader.broken:
        result.lines += 1
        result.quarantined.append(QuarantinedLine(
            label, reader.lines + 1, f"record: {reader.broken}; the {reader.lines} lines before it were read"))
    return result


def read_genre_list(snapshot_dir: Path) -> list[dict[str, Any]]:
    """The ``genres`` list from ``genres.json`` (TMDB's /genre/movie/list response)."""
    path = Path(snapshot_dir) / "genres.json"
    if not path.is_file():
        raise SourceError(f"snapshot directory {snapshot_dir} has no genres.json")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg} at column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # an integer beyond the digit limit, deep nesting
        raise SourceError(f"{path}: malformed JSON: {exc}") from None
    genres = payload.get("genres") if isinstance(payload, dict) else None
    if not isinstance(genres, list):
        raise SourceError(f"{path}: expected an object with a 'genres' list")
    for index, genre in enumerate(genres):
        try:
            named = isinstance(Genre.model_validate(genre).name, str)
        except ValidationError:
            named = False
        if not named:
            raise SourceError(
                f"{path}: genres[{index}] must be an object with an integer 'id' (1 to 2**63-1) and a string 'name', "
                f"got {json.dumps(genre)[:80]}"
            )
    return genres


def image_problem(path: Path) -> str:
    """'' when ``path`` is a complete, decodable image; otherwise what is wrong with it."""
    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: truncated files raise here
    except Exception as exc:  # Pillow raises many types for bad bytes  # noqa: BLE001
        return f"not a valid image ({type(exc).__name__}: {exc})"
    return ""


class SnapshotCatalogSource:
    """CatalogSource over a snapshot directory. Parses the movie file once per instance."""

    def __init__(self, snapshot_dir: str | Path, name: str = "snapshot"):
        self.snapshot_dir = Path(snapshot_dir).expanduser().resolve()
        self.name = name
        self._by_year: dict[str, list[ValidRecord]] | None = None
        self._file: MovieFile | None = None

    # -- loading -----------------------------------------------------------------------
    def _load(self) -> MovieFile:
        if self._file is None:
            movie_file = read_movie_file(find_movies_file(self.snapshot_dir))
            by_year: dict[str, list[ValidRecord]] = defaultdict(list)
            for valid in movie_file.records:
                by_year[valid.partition].append(valid)
            self._by_year = dict(by_year)
            self._file = movie_file
        return self._file

    @property
    def quarantined(self) -> list[QuarantinedLine]:
        """Every quarantined line of the movie file (they belong to the file, not to a year)."""
        return list(self._load().quarantined)

    @property
    def line_tally(self) -> LineTally:
        """How the movie file's lines ended (records + quarantined + blank = lines)."""
        return self._load().tally()

    def years(self) -> list[str]:
        """Partition keys that hold at least one record."""
        self._load()
        assert self._by_year is not None
        return sorted(self._by_year)

    # -- CatalogSource -----------------------------------------------------------------
    def genre_list(self) -> list[dict[str, Any]]:
        return read_genre_list(self.snapshot_dir)

    def fetch_year(self, partition_key: str) -> YearFetch:
        movie_file = self._load()
        assert self._by_year is not None
        filed = self._by_year.get(partition_key, [])
        return YearFetch(
            partition_key=partition_key,
            records=[valid.record for valid in filed],
            # Quarantined lines belong to the file, not to a year: they are reported once
            # per run by the caller via `quarantined`, so they are not repeated here.
            quarantined=[],
            stats={"source_seq": [valid.line for valid in filed], "file": str(movie_file.path)},
        )

    def fetch_posters(self, poster_paths: list[str], dest_dir: Path,
                      progress: Callable[[int, int], None] | None = None) -> list[PosterFetch]:
        """Copy posters from the snapshot's ``posters/`` into ``dest_dir`` (skip present ones; ``progress(done, total)``)."""
        source_dir = self.snapshot_dir / "posters"
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for done, poster_path in enumerate(poster_paths):
            if progress is not None:
                progress(done, len(poster_paths))
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
        if progress is not None:
            progress(len(poster_paths), len(poster_paths))
        return results

    def describe(self) -> dict[str, Any]:
        return {"source": self.name, "snapshot_dir": str(self.snapshot_dir)}
