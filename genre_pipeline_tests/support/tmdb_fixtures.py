"""Tiny, deterministic TMDB-shaped catalogs and a virtual clock for the TMDB tests.

A catalog is a list of TMDB ``/movie/{id}`` details objects plus poster bytes by file name
(small real JPEGs named by the basename of ``poster_path``), ready for
``genre_pipeline.ingestion.replay.TmdbReplayServer``. Titles deliberately include
path-hostile characters, so any code that derived a file name from a title would show.
"""

from __future__ import annotations

import io
import random
import threading
from typing import Any

from PIL import Image

from genre_pipeline.demo.generator import genre_list

TMDB_GENRES: list[dict[str, Any]] = genre_list()

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


class FakeClock:
    """Virtual time for ``clock=`` / ``sleep=``: sleeping records the wait and, unless frozen, advances."""

    def __init__(self, *, frozen: bool = False) -> None:
        self.now = 100.0
        self.frozen = frozen
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if not self.frozen:
                self.now += seconds
