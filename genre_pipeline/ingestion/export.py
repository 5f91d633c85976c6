"""Export a catalog as a snapshot directory (replayable offline), never deleting what it did not write.

Tutorial step "scraping TMDB": the tutorial pickled what it scraped, which only the same
code could read back and nobody could diff or replay. Here any live scrape can be written
out in the documented snapshot format (the one ``SnapshotCatalogSource`` and the replay
server read)::

    <dir>/movies.jsonl.gz   the latest TMDB details record of every movie in the catalog
    <dir>/genres.json       TMDB's genre list (legacy ids excluded, as TMDB serves it)
    <dir>/posters/          valid poster files, named by the basename of poster_path
    <dir>/export.json       the export marker: counts and time of the export

Safety: the target is refused when it is, contains or lies inside the home; a non-empty
target is refused unless it holds a previous export (its ``export.json`` marker), and
``overwrite`` replaces only such a previous export. The directory is built next to the
target and renamed into place, so a reader never sees half an export. Records are TMDB's
JSON as fetched: no key or token is in them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genre_pipeline.ingestion.posters import image_file_problem
from genre_pipeline.ingestion.records import SourceError, poster_basename

MARKER = "export.json"
MARKER_FORMAT = "genre_pipeline snapshot (TMDB /movie/{id} records, one per line)"


class ExportRefused(SourceError):
    """The target directory cannot be written without risking files the export did not create."""


@dataclass
class ExportSummary:
    directory: Path
    movies: int
    posters: int
    posters_missing: int


def is_previous_export(folder: Path) -> bool:
    """Whether ``folder`` holds an export written by this function (its marker file)."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("format") == MARKER_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_target(target: Path, home_root: Path, overwrite: bool) -> None:
    """Raise :class:`ExportRefused` unless writing ``target`` can only replace a previous export."""
    home_root = home_root.resolve()
    if target == home_root or target.is_relative_to(home_root) or home_root.is_relative_to(target):
        raise ExportRefused(f"refusing to export to {target}: it is, contains or lies inside the home {home_root}")
    if target.exists() and not target.is_dir():
        raise ExportRefused(f"refusing to export to {target}: it is a file")
    if target.is_dir() and any(target.iterdir()):
        if not is_previous_export(target):
            raise ExportRefused(f"refusing to export to {target}: it is not empty and holds no previous export ({MARKER})")
        if not overwrite:
            raise ExportRefused(f"{target} holds a previous export (use --force to replace it)")


def export_snapshot(
    target: str | os.PathLike,
    records_json: Iterable[str],
    genres: list[dict],
    posters: dict[str, Path] | None,
    *,
    home_root: Path,
    overwrite: bool = False,
) -> ExportSummary:
    """Write a snapshot of ``records_json`` (one TMDB record each, by id) and ``genres`` to ``target``.

    ``posters``: poster file by basename (``None``: records and genres only).
    """
    target = Path(target).expanduser().resolve()
    check_target(target, home_root, overwrite)
    lines = list(records_json)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-", dir=target.parent))
    try:
        body = "".join(text + "\n" for text in lines).encode("utf-8")
        (staging / "movies.jsonl.gz").write_bytes(gzip.compress(body, mtime=0))
        (staging / "genres.json").write_text(json.dumps({"genres": genres}, indent=1) + "\n", encoding="utf-8")
        copied = missing = 0
        if posters is not None:
            (staging / "posters").mkdir()
            for text in lines:
                name = poster_basename(json.loads(text).get("poster_path"))
                if name is None:
                    continue
                origin = posters.get(name)
                if origin is not None and origin.is_file() and not image_file_problem(origin):
                    shutil.copyfile(origin, staging / "posters" / name)
                    copied += 1
                else:
                    missing += 1
        marker = {
            "format": MARKER_FORMAT,
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "movies": len(lines),
            "posters": copied,
            "posters_missing": missing,
        }
        (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(target, len(lines), copied, missing)


def catalog_genres(vocabulary: pd.DataFrame) -> list[dict]:
    """TMDB's genre list as it serves it: known, non-legacy genres of the vocabulary."""
    return [
        {"id": int(i), "name": str(n)}
        for i, n, legacy, known in zip(vocabulary["id"], vocabulary["name"], vocabulary["legacy"], vocabulary["known"])
        if known and not legacy
    ]


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / "previous")
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
