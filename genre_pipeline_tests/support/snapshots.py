"""Hand-made snapshot directories for tests (never ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

GENRES = [
    {"id": 28, "name": "Action"},
    {"id": 12, "name": "Adventure"},
    {"id": 35, "name": "Comedy"},
    {"id": 18, "name": "Drama"},
    {"id": 10749, "name": "Romance"},
    {"id": 27, "name": "Horror"},
]


def movie(movie_id: int, title: str, date: str, genre_ids: list[int], overview: str = "An overview.", **extra) -> dict:
    """A minimal TMDB /movie/{id} details object."""
    names = {g["id"]: g["name"] for g in GENRES} | {10769: "Foreign"}
    record = {
        "id": movie_id,
        "title": title,
        "original_title": title,
        "overview": overview,
        "release_date": date,
        "genres": [{"id": g, "name": names.get(g, "?")} for g in genre_ids],
        "imdb_id": None,
        "poster_path": None,
        "popularity": 1.5,
        "vote_average": 6.0,
        "vote_count": 10,
        "original_language": "en",
    }
    record.update(extra)
    return record


def write_snapshot(folder: Path, lines: list, genres: list[dict] | None = None) -> Path:
    """Write movies.jsonl (dicts are JSON-encoded, strings written verbatim) + genres.json."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines)
    (folder / "movies.jsonl").write_text(text, encoding="utf-8")
    (folder / "genres.json").write_text(json.dumps({"genres": genres if genres is not None else GENRES}), encoding="utf-8")
    return folder
