"""Synthetic demo catalog: an offline, clearly labelled stand-in for the tutorial's TMDB scrape.

Synthetic test and demo data, not a source of real movies. Spandan Madan's tutorial starts
by scraping TMDB: movie details (title, overview, genres, release date) and their posters.
:func:`write_demo_catalog` supports that first step without a network or an API key: it
writes a directory in the project's *snapshot format* (the format
``genre_pipeline.ingestion.snapshot`` reads), filled with invented movies:

``movies.jsonl.gz``
    One TMDB ``/movie/{id}`` details object per line, with exactly TMDB's field names.
    Gzip is written with ``mtime=0`` so the bytes depend only on the arguments.
``genres.json``
    ``{"genres": [{"id": .., "name": ..}, ...]}`` like TMDB's ``/genre/movie/list``
    (the 19 current genres; not the legacy "Foreign" genre).
``posters/``
    Small JPEG posters named by the basename of each record's ``poster_path``.
``SYNTHETIC.md``
    States that the catalog is synthetic, which seed produced it, and what quirks it holds.

Nothing here is a real movie. Titles start with ``"Synthetic: "``, homepages live under
``https://synthetic.invalid/``, the production company is "Synthetic Pictures", and
IMDb ids are in an unused ``tt9......`` range. The vocabulary (genres, co-occurrence, words,
palettes, motifs, quirk rates) is data in ``genre_pipeline/demo/data`` (see
:mod:`genre_pipeline.demo.vocabulary`); :mod:`~genre_pipeline.demo.records` builds the
records, :mod:`~genre_pipeline.demo.text` the overviews and titles and
:mod:`~genre_pipeline.demo.posters` the posters.

The content is built so the tutorial's models have something to learn, but not trivially:

* 1-4 genres per movie with realistic co-occurrence (a primary genre drawn with realistic
  frequencies, Drama and Comedy most common, then cluster-dependent companions).
* Overviews mix genre vocabulary with a larger neutral vocabulary in sentence templates,
  with shared words across genres and occasional off-genre words.
* Posters carry genre palettes and shape motifs, mixed with distractor shapes and noise.
* The two modalities are complementary: :data:`POSTER_SIGNAL_GENRES` are easy to see on
  posters and hard to read in overviews; :data:`TEXT_SIGNAL_GENRES` the other way round.
  A fusion of text and poster features therefore has room to beat either alone.

It also reproduces quirks the real scrape has, so downstream code is exercised on them:
about 1% of movies appear twice (a later line with a different release year, which should
win), about 3% have an empty overview, about 5% lack a poster (half ``poster_path: null``,
half a ``poster_path`` whose file is absent), about 2% carry the legacy genre
``{"id": 10769, "name": "Foreign"}`` that ``genres.json`` lacks, and a couple are undated
(``release_date: ""``).

Output is a pure function of ``(n_movies, seed, first_year, last_year)``: randomness comes
only from generators seeded from ``seed``; no global state, no clock. No Dagster here.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genre_pipeline.demo.posters import PosterPainter
from genre_pipeline.demo.records import DemoRecords, build_records
from genre_pipeline.demo.vocabulary import CatalogSpec, TmdbGenre, load_vocabulary
from genre_pipeline.ingestion.records import poster_basename
from genre_pipeline.storage.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = [
    "DemoCatalogSummary",
    "GENRES",
    "LEGACY_FOREIGN_ID",
    "LEGACY_FOREIGN_NAME",
    "POSTER_SIGNAL_GENRES",
    "POSTER_SIZE",
    "TEXT_SIGNAL_GENRES",
    "TMDB_MOVIE_FIELDS",
    "TmdbGenre",
    "checked_target",
    "genre_list",
    "write_demo_catalog",
]

_VOCABULARY = load_vocabulary()

#: The 19 current TMDB movie genres, in the order of TMDB's ``/genre/movie/list``.
GENRES: tuple[TmdbGenre, ...] = _VOCABULARY.genres.genres
#: TMDB's retired "Foreign" genre: still found on old records, absent from the genre list.
LEGACY_FOREIGN_ID: int = _VOCABULARY.genres.legacy.id
LEGACY_FOREIGN_NAME: str = _VOCABULARY.genres.legacy.name
#: Field names of a TMDB ``/movie/{id}`` details object, in the order records are written.
TMDB_MOVIE_FIELDS: tuple[str, ...] = _VOCABULARY.catalog.tmdb_movie_fields
#: Poster size in pixels, (width, height): TMDB's 2:3 poster aspect, kept tiny.
POSTER_SIZE: tuple[int, int] = _VOCABULARY.posters.size
#: Genres whose signal is mostly visual (strong poster look, few telling overview words).
POSTER_SIGNAL_GENRES: frozenset[str] = _VOCABULARY.genres.with_signal("poster")
#: Genres whose signal is mostly textual (telling overview words, weak poster look).
TEXT_SIGNAL_GENRES: frozenset[str] = _VOCABULARY.genres.with_signal("text")


def genre_list() -> list[dict[str, Any]]:
    """The ``genres`` list of TMDB's ``/genre/movie/list`` for the demo (a fresh copy)."""
    return [{"id": g.id, "name": g.name} for g in GENRES]


@dataclass(frozen=True)
class DemoCatalogSummary:
    """What :func:`write_demo_catalog` wrote.

    ``n_records`` counts lines in ``movies.jsonl.gz`` (duplicates included); ``n_movies``
    counts unique ids; ``n_posters`` counts files written to ``posters/``; ``years`` lists
    the release years present in any line. The ``*_ids`` tuples name the movies that carry
    each quirk, so tests downstream can check how the pipeline handled them.
    """

    path: Path
    n_records: int
    n_movies: int
    n_posters: int
    years: list[int]
    seed: int
    first_year: int
    last_year: int
    duplicate_ids: tuple[int, ...] = ()
    empty_overview_ids: tuple[int, ...] = ()
    null_poster_ids: tuple[int, ...] = ()
    unwritten_poster_ids: tuple[int, ...] = ()
    legacy_genre_ids: tuple[int, ...] = ()
    undated_ids: tuple[int, ...] = ()

    @property
    def movies_file(self) -> Path:
        return self.path / "movies.jsonl.gz"

    @property
    def genres_file(self) -> Path:
        return self.path / "genres.json"

    @property
    def posters_dir(self) -> Path:
        return self.path / "posters"


def _synthetic_md(spec: CatalogSpec, seed: int, n_movies: int, first_year: int,
                  last_year: int, content: DemoRecords) -> str:
    """``SYNTHETIC.md``: the template with the arguments and a ``*_count`` per quirk."""
    counts = {f"{field.removesuffix('_ids')}_count": len(ids)
              for field, ids in content.quirk_ids.items()}
    return string.Template(spec.synthetic_md).substitute(
        counts, seed=seed, n_movies=n_movies, first_year=first_year, last_year=last_year,
        legacy_id=LEGACY_FOREIGN_ID, legacy_name=LEGACY_FOREIGN_NAME,
    )


def _replace_posters_dir(dest: Path, posters: dict[str, bytes]) -> None:
    """Make ``dest/posters`` hold exactly ``posters`` (file name -> JPEG bytes).

    Writing hundreds of files through ``atomic_write_bytes`` costs one fsync each (seconds
    on a busy disk), so the posters are written into a hidden staging directory next to
    ``posters/`` and the whole directory is swapped in by renames: a reader sees either
    the old set or the new set of complete files (the folder is briefly absent between
    the two renames). Stale posters from an earlier catalog disappear with the old folder.
    Leftover staging folders from an interrupted run are removed first.
    """
    for leftover in dest.glob(".posters.*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".posters.staging-", dir=dest))
    try:
        for name, data in posters.items():
            (staging / name).write_bytes(data)
        final = dest / "posters"
        if final.is_dir():
            old = Path(tempfile.mkdtemp(prefix=".posters.old-", dir=dest))
            os.replace(final, old)  # ``old`` is an empty directory, so the rename may replace it
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def checked_target(dest: Path, n_movies: int, seed: int, first_year: int, last_year: int) -> Path:
    """``dest`` as a Path, once the arguments of a synthetic catalog are valid (``ValueError``) and ``dest``
    holds no real snapshot (``FileExistsError``: a ``movies.jsonl.gz`` without ``SYNTHETIC.md``)."""
    if n_movies < 1:
        raise ValueError(f"n_movies must be at least 1, got {n_movies}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if first_year > last_year:
        raise ValueError(f"first_year {first_year} is after last_year {last_year}")
    dest = Path(dest)
    if (dest / "movies.jsonl.gz").exists() and not (dest / "SYNTHETIC.md").exists():
        raise FileExistsError(
            f"{dest} holds a movies.jsonl.gz that is not a synthetic demo catalog; "
            "refusing to overwrite it"
        )
    return dest


def write_demo_catalog(
    dest: Path,
    n_movies: int = 600,
    seed: int = 0,
    first_year: int = 1960,
    last_year: int = 2025,
) -> DemoCatalogSummary:
    """Write a synthetic, labelled demo catalog in snapshot format to ``dest``.

    This is the offline stand-in for the tutorial's TMDB scrape (see the module docstring).
    ``dest`` and its parents are created; a demo catalog already there is overwritten
    (stale poster files are removed). Catalog files are written with
    ``genre_pipeline.storage.atomic``; the posters folder is staged and swapped in as a whole
    (see :func:`_replace_posters_dir`). Two concurrent writers to one ``dest`` are not
    supported. A directory holding a ``movies.jsonl.gz`` without
    ``SYNTHETIC.md`` - a real snapshot - is refused with ``FileExistsError``.

    The output depends only on the arguments. Raises ``ValueError`` for ``n_movies < 1``,
    a negative seed, or ``first_year > last_year``.
    """
    dest = checked_target(dest, n_movies, seed, first_year, last_year)

    vocab = _VOCABULARY
    content = build_records(n_movies, seed, first_year, last_year, vocab)
    painter = PosterPainter(vocab.posters, vocab.genres)
    # Poster streams of their own: random.Random for scalar draws, numpy for pixel noise.
    poster_rng = random.Random(f"demo_catalog:{seed}:poster")
    noise_rng = np.random.default_rng([seed, 2])

    # SYNTHETIC.md first: it marks the directory as a demo catalog.
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest / "SYNTHETIC.md",
                      _synthetic_md(vocab.catalog, seed, n_movies, first_year, last_year, content))
    unwritten = set(content.quirk_ids["unwritten_poster_ids"])
    posters: dict[str, bytes] = {}
    for record, genres in zip(content.records, content.genre_names):
        # Draw every poster (even those left unwritten) so the rng stream stays aligned.
        jpeg = painter.jpeg(poster_rng, noise_rng, genres)
        name = poster_basename(record["poster_path"])
        if name is not None and record["id"] not in unwritten:
            posters[name] = jpeg
    _replace_posters_dir(dest, posters)

    payload = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in content.lines)
    atomic_write_bytes(dest / "movies.jsonl.gz",
                       gzip.compress(payload.encode("utf-8"), compresslevel=6, mtime=0))
    atomic_write_json(dest / "genres.json", {"genres": genre_list()})

    present_years = sorted(
        {int(line["release_date"][:4]) for line in content.lines if line["release_date"]}
    )
    return DemoCatalogSummary(
        path=dest,
        n_records=len(content.lines),
        n_movies=n_movies,
        n_posters=len(posters),
        years=present_years,
        seed=seed,
        first_year=first_year,
        last_year=last_year,
        **content.quirk_ids,
    )
