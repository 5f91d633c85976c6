"""The one interface every catalog source implements (snapshot directory, live TMDB, demo),
and the one validator every record passes before it is stored.

A *record* is a TMDB ``/movie/{id}`` details object (a dict with TMDB's own field names).
Sources are asked for one release-year partition at a time; the key is a year such as
``"1999"`` or ``UNDATED`` for records without a release date.

Every record, from every source (snapshot lines, live ``/movie/{id}`` answers, change
re-fetches, the demo), goes through :func:`validate_record` against the declared schema
:class:`MovieRecord`. It becomes either a :class:`ValidRecord` filed under its partition or
a :class:`QuarantinedLine` whose reason reads ``field: why`` (``source:line-or-id: field:
why`` with its location), never nothing:

- ``id`` and genre ids are integers from 1 to 2**63-1 (int64); ``vote_count`` an integer
  from 0, ``runtime``, ``budget`` and ``revenue`` integers, all within int64, or null;
  ``popularity`` and ``vote_average`` finite numbers or null; the other text fields
  strings or null; ``title`` a non-blank string; ``genres`` a list of ``{id, name}``
  objects or null. Other fields are kept as they are.
- ``release_date``: a calendar date ``YYYY-MM-DD`` from FIRST_YEAR to LAST_YEAR files the
  record under its year; an empty string or null files it under ``undated``; anything
  else (``0000-00-00``, ``2015-13-45``, ``19999-01-01``, ``2999-01-01``, a number) is
  quarantined: a date that cannot be read is a damaged record, not a missing date, and
  guessing a year for it would file it where it does not belong.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

UNDATED = "undated"
FIRST_YEAR = 1874  # the oldest films on TMDB
LAST_YEAR = 2030  # announced releases
INT64_MAX = 2**63 - 1
RAW_PREVIEW_CHARS = 300  # of a quarantined item's text


class SourceError(RuntimeError):
    """A source cannot be used at all (missing directory, rejected key, ...). Message says why."""


@dataclass(frozen=True)
class QuarantinedLine:
    """An input item that could not be used: where it was, why (``field: why``), its raw text (truncated).

    ``file`` is the input file, or the request for a record that came from no file
    (``tmdb /movie/603``); ``line`` is 1-based, 0 when there is no line.
    """

    file: str
    line: int
    reason: str
    raw: str = ""

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def message(self) -> str:
        """``source:line-or-id: field: why``."""
        return f"{self.location()}: {self.reason}"


QUARANTINE_COLUMNS = ["file", "line", "reason", "raw"]


def quarantine_frame(lines: list[QuarantinedLine]) -> pd.DataFrame:
    """Quarantined input lines as a table (``file``, ``line``, ``reason``, ``raw``)."""
    return pd.DataFrame(
        {
            "file": pd.Series([q.file for q in lines], dtype="object"),
            "line": pd.Series([q.line for q in lines], dtype="int64"),
            "reason": pd.Series([q.reason for q in lines], dtype="object"),
            "raw": pd.Series([q.raw for q in lines], dtype="object"),
        }
    )


@dataclass
class RawRecords:
    """Raw records of a range of release-year partitions, and the input lines quarantined on the way."""

    frames: dict[str, pd.DataFrame]  # partition key -> raw rows of that release year
    quarantine: pd.DataFrame | None = None  # QUARANTINE_COLUMNS

    def combined(self) -> pd.DataFrame:
        """Every partition's rows in one frame."""
        frames = [f for f in self.frames.values() if len(f)]
        if not frames:
            return next(iter(self.frames.values())).iloc[0:0] if self.frames else pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    @property
    def quarantined(self) -> pd.DataFrame:
        return self.quarantine if self.quarantine is not None else quarantine_frame([])


@dataclass(frozen=True)
class LineTally:
    """How the lines of one input file ended: each line is a record, quarantined or blank."""

    file: str
    lines: int
    records: int
    quarantined: int
    blank: int

    def summary(self) -> str:
        return f"{self.file}: {self.lines} lines = {self.records} records + {self.quarantined} quarantined + {self.blank} blank"


@dataclass
class YearFetch:
    """What a source returned for one release-year partition."""

    partition_key: str
    records: list[dict[str, Any]]
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    missing_ids: list[int] = field(default_factory=list)  # e.g. TMDB 404s
    stats: dict[str, Any] = field(default_factory=dict)  # request counts etc, no secrets


@dataclass(frozen=True)
class PosterFetch:
    """Outcome for one poster: status is 'present' (already valid on disk), 'fetched',
    'missing' (no poster_path or not in source) or 'failed' (with reason)."""

    poster_path: str | None
    file: Path | None
    status: str
    reason: str = ""


class CatalogSource(Protocol):
    name: str  # "demo" | "snapshot" | "tmdb"

    def genre_list(self) -> list[dict[str, Any]]:
        """The ``genres`` list of TMDB's ``/genre/movie/list`` response."""

    def fetch_year(self, partition_key: str) -> YearFetch:
        """All records whose release year is ``partition_key`` (or undated ones for UNDATED)."""

    def fetch_posters(self, poster_paths: list[str], dest_dir: Path,
                      progress: Callable[[int, int], None] | None = None) -> list[PosterFetch]:
        """Make ``dest_dir / basename(poster_path)`` a valid image for each poster path (``progress(done, total)``)."""

    def describe(self) -> dict[str, Any]:
        """Human-facing description for metadata. Never contains a secret."""


# ---------------------------------------------------------------------------------------
# the record schema
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Id = Annotated[int, Field(gt=0, le=INT64_MAX)]
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]


def release_partition(value: Any) -> str:
    """The partition of a ``release_date`` value: its year, or UNDATED when empty; ValueError otherwise."""
    if value is None or value == "":
        return UNDATED
    if not isinstance(value, str):
        raise ValueError(f"must be a string or null, got {_shown(value)}")
    if not _DATE.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not a YYYY-MM-DD date")
    try:
        year = dt.date.fromisoformat(value).year
    except ValueError:
        raise ValueError(f"{_shown(value)} is not a calendar date") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} is outside the release years {FIRST_YEAR}-{LAST_YEAR}")
    return str(year)


class Genre(BaseModel):
    """One entry of a record's ``genres`` (and of TMDB's genre list)."""

    model_config = ConfigDict(strict=True, extra="allow")
    id: Id
    name: str | None = None


class MovieRecord(BaseModel):
    """The fields of TMDB's ``/movie/{id}`` details object the pipeline relies on (others pass through)."""

    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)
    id: Id
    title: str
    original_title: str | None = None
    overview: str | None = None
    release_date: Any = None
    genres: list[Genre] | None = None
    imdb_id: str | None = None
    poster_path: str | None = None
    original_language: str | None = None
    popularity: float | None = None
    vote_average: float | None = None
    vote_count: Count | None = None
    runtime: Int64 | None = None
    budget: Int64 | None = None
    revenue: Int64 | None = None

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("release_date")
    @classmethod
    def _release_date(cls, value: Any) -> Any:
        release_partition(value)
        return value


@dataclass(frozen=True)
class ValidRecord:
    """A record that passed the schema, the partition it is filed under and its line (0: none)."""

    record: dict[str, Any]
    partition: str
    line: int = 0


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "record"


def _problem(error: dict[str, Any]) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return f"{_field(error['loc'])}: missing"
    if kind == "value_error":
        return f"{_field(error['loc'])}: {message.removeprefix('Value error, ')}"
    if kind in ("model_type", "dict_type"):
        message = "must be a JSON object"
    else:
        message = message.replace("Input should be", "must be")
    return f"{_field(error['loc'])}: {message}, got {_shown(error['input'])}"


def record_problem(record: Any) -> str:
    """'' when ``record`` fits :class:`MovieRecord`, else ``field: why`` for each wrong field ('; ')."""
    if not isinstance(record, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(record), "number")
        return f"record: expected a JSON object, got {kind}"
    try:
        MovieRecord.model_validate(record)
    except ValidationError as exc:
        return "; ".join(_problem(error) for error in exc.errors(include_url=False))
    return ""


def validate_record(record: Any, file: str, line: int = 0, raw: str | None = None) -> ValidRecord | QuarantinedLine:
    """The one gate for every record from every source: filed under its partition, or quarantined.

    ``file`` and ``line`` say where it came from (``line`` 0: not from a file); ``raw`` is
    the text shown for a quarantined record (default: the record as JSON).
    """
    problem = record_problem(record)
    if problem:
        text = raw if raw is not None else json.dumps(record, ensure_ascii=False, default=str)
        return QuarantinedLine(file, line, problem, text[:RAW_PREVIEW_CHARS])
    return ValidRecord(record, release_partition(record.get("release_date")), line)


def release_year_key(record: dict[str, Any]) -> str:
    """The partition key of a stored record: the year of a valid ``release_date``, else UNDATED."""
    try:
        return release_partition(record.get("release_date"))
    except ValueError:
        return UNDATED


def poster_basename(poster_path: str | None) -> str | None:
    """The file name a poster is stored under: the basename of TMDB's poster_path.

    Rejects anything that is not a plain file name, so a path is never built from
    untrusted text (no ``..``, no separators, no hidden files).
    """
    if not poster_path or not isinstance(poster_path, str):
        return None
    name = poster_path.rsplit("/", 1)[-1]
    if not name or name.startswith(".") or "\\" in name or "\x00" in name:
        return None
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if any(ch not in allowed for ch in name):
        return None
    return name
