"""Tiny, deterministic TMDB-shaped catalogs for tests and benchmarks (no ../shared).

A catalog is what a snapshot directory holds: ``movies.jsonl(.gz)`` (TMDB ``/movie/{id}``
details objects), ``genres.json`` (the ``/genre/movie/list`` response) and ``posters/``
(small real JPEGs named by the basename of ``poster_path``). Titles deliberately include
path-hostile characters, so any code that derived a file name from a title would show.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

from PIL import Image

TMDB_GENRES: list[dict[str, Any]] = [
    {"id": 28, "name": "Action"},
    {"id": 12, "name": "Adventure"},
    {"id": 16, "name": "Animation"},
    {"id": 35, "name": "Comedy"},
    {"id": 80, "name": "Crime"},
    {"id": 99, "name": "Documentary"},
    {"id": 18, "name": "Drama"},
    {"id": 10751, "name": "Family"},
    {"id": 14, "name": "Fantasy"},
    {"id": 36, "name": "History"},
    {"id": 27, "name": "Horror"},
    {"id": 10402, "name": "Music"},
    {"id": 9648, "name": "Mystery"},
    {"id": 10749, "name": "Romance"},
    {"id": 878, "name": "Science Fiction"},
    {"id": 10770, "name": "TV Movie"},
    {"id": 53, "name": "Thriller"},
    {"id": 10752, "name": "War"},
    {"id": 37, "name": "Western"},
]

_AWKWARD_TITLES = ["AC/DC: Live", "../../etc/passwd", "Amélie", "Spinal Tap: 11", "Who? What?", ".hidden"]


def tiny_jpeg(seed: int, size: tuple[int, int] = (12, 18)) -> bytes:
    """A small, valid JPEG whose pixels depend on ``seed``."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for x in range(0, size[0], 3):
        image.putpixel((x, x % size[1]), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def make_movies(
    n_movies: int,
    *,
    seed: int = 0,
    years: tuple[int, ...] = (2015, 2016),
    first_id: int = 1000,
    poster_share: float = 0.9,
    imdb_share: float = 0.8,
    undated: int = 0,
) -> list[dict[str, Any]]:
    """``n_movies`` details records spread over ``years`` (+ ``undated`` ones without a date)."""
    rng = random.Random(seed)
    genre_ids = [g["id"] for g in TMDB_GENRES]
    names = {g["id"]: g["name"] for g in TMDB_GENRES}
    movies = []
    for index in range(n_movies + undated):
        movie_id = first_id + index
        if index < n_movies:
            year = years[index % len(years)]
            date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            date = ""
        chosen = rng.sample(genre_ids, rng.randint(0 if index % 17 == 5 else 1, 3))
        title = _AWKWARD_TITLES[index % len(_AWKWARD_TITLES)] + f" #{index}" if index % 7 == 0 else f"Movie {index}"
        has_poster = rng.random() < poster_share
        movies.append(
            {
                "adult": False,
                "id": movie_id,
                "imdb_id": f"tt{9000000 + movie_id:07d}" if rng.random() < imdb_share else None,
                "title": title,
                "original_title": title,
                "overview": f"A story number {index} about {', '.join(names[g].lower() for g in chosen) or 'nothing'}.",
                "genres": [{"id": g, "name": names[g]} for g in chosen],
                "release_date": date,
                "poster_path": f"/p{movie_id}{rng.getrandbits(24):06x}.jpg" if has_poster else None,
                "popularity": round(rng.uniform(0.5, 300.0), 3),
                "vote_average": round(rng.uniform(1, 9), 1),
                "vote_count": rng.randint(0, 5000),
                "original_language": rng.choice(["en", "fr", "ja", "hi"]),
                "runtime": rng.randint(70, 180),
                "status": "Released",
            }
        )
    return movies


def make_posters(movies: list[dict[str, Any]]) -> dict[str, bytes]:
    """Poster bytes by file name for every movie that has a ``poster_path``."""
    out = {}
    for movie in movies:
        path = movie.get("poster_path")
        if path:
            out[path.rsplit("/", 1)[-1]] = tiny_jpeg(int(movie["id"]))
    return out


def write_snapshot(
    dest: str | Path,
    movies: list[dict[str, Any]],
    *,
    genres: list[dict[str, Any]] | None = None,
    posters: dict[str, bytes] | None = None,
    gz: bool = True,
) -> Path:
    """Write a snapshot directory (movies.jsonl[.gz], genres.json, posters/)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(m, sort_keys=True) + "\n" for m in movies).encode("utf-8")
    if gz:
        (dest / "movies.jsonl.gz").write_bytes(gzip.compress(body, mtime=0))
    else:
        (dest / "movies.jsonl").write_bytes(body)
    (dest / "genres.json").write_text(json.dumps({"genres": genres or TMDB_GENRES}, indent=1), encoding="utf-8")
    if posters:
        (dest / "posters").mkdir(exist_ok=True)
        for name, data in posters.items():
            (dest / "posters" / name).write_bytes(data)
    return dest


def build_snapshot(dest: str | Path, n_movies: int, *, seed: int = 0, **kwargs: Any) -> Path:
    """A complete snapshot of ``n_movies`` movies with posters, in one call."""
    movies = make_movies(n_movies, seed=seed, **kwargs)
    return write_snapshot(dest, movies, posters=make_posters(movies))
