"""The one interface every catalog source implements (snapshot directory, live TMDB, demo).

A *record* is a TMDB ``/movie/{id}`` details object (a dict with TMDB's own field names).
Sources are asked for one release-year partition at a time; the key is a year such as
``"1999"`` or ``UNDATED`` for records without a release date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

UNDATED = "undated"


class SourceError(RuntimeError):
    """A source cannot be used at all (missing directory, rejected key, ...). Message says why."""


@dataclass(frozen=True)
class QuarantinedLine:
    """An input item that could not be used: where it was, why, and its raw text (truncated)."""

    file: str
    line: int
    reason: str
    raw: str = ""

    def location(self) -> str:
        return f"{self.file}:{self.line}"


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

    def fetch_posters(self, poster_paths: list[str], dest_dir: Path) -> list[PosterFetch]:
        """Make ``dest_dir / basename(poster_path)`` a valid image for each poster path."""

    def describe(self) -> dict[str, Any]:
        """Human-facing description for metadata. Never contains a secret."""


def release_year_key(record: dict[str, Any]) -> str:
    """The partition key for a record: the year of ``release_date``, or UNDATED."""
    date = record.get("release_date") or ""
    if isinstance(date, str) and len(date) >= 4 and date[:4].isdigit():
        return date[:4]
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
