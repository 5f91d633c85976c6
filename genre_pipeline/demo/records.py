"""The records of the synthetic demo catalog: invented TMDB ``/movie/{id}`` objects and quirks.

Synthetic test and demo data, not a source of real movies. Genres follow the co-occurrence
table of ``data/genres.json`` (a primary genre by base rate, then companions of its
cluster); the record layout and quirk rates come from ``data/catalog.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from genre_pipeline.demo.datafile import DemoDataError
from genre_pipeline.demo.text import overview, title
from genre_pipeline.demo.vocabulary import CatalogSpec, DemoVocabulary, GenreTable, QuirkRate

__all__ = ["QUIRK_ID_FIELDS", "DemoRecords", "build_records", "draw_genres"]

#: The quirks, as the names of ``DemoCatalogSummary``'s id fields.
QUIRK_ID_FIELDS = ("duplicate_ids", "undated_ids", "empty_overview_ids", "null_poster_ids",
                   "unwritten_poster_ids", "legacy_genre_ids")


@dataclass(frozen=True)
class DemoRecords:
    """A demo catalog's content before it is written.

    ``records`` holds one record per movie (index ``i`` is the i-th movie); ``lines`` is
    the file order with the later duplicate lines inserted; ``genre_names[i]`` are movie
    ``i``'s current genres (without the legacy genre). ``quirk_ids`` maps each of
    :data:`QUIRK_ID_FIELDS` to the sorted ids of the movies carrying that quirk.
    """

    records: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    genre_names: list[list[str]]
    quirk_ids: Mapping[str, tuple[int, ...]]


def draw_genres(rng: random.Random, table: GenreTable) -> list[str]:
    """A primary genre by base rate, then companions from its cluster, up to ``max_genres``."""
    names = [name for name, _ in table.primary_weights]
    primary = rng.choices(names, [weight for _, weight in table.primary_weights])[0]
    chosen = [primary]
    companions = list(table.companions[primary])
    for name, prob in rng.sample(companions, len(companions)):
        if len(chosen) >= table.max_genres:
            break
        if rng.random() < prob:
            chosen.append(name)
    return chosen


def _quirk_count(quirk: QuirkRate, n: int, min_movies: int) -> int:
    """``rate * n`` rounded, but at least ``minimum`` once the catalog has enough movies."""
    count = int(round(quirk.rate * n))
    return max(count, quirk.minimum) if n >= min_movies else count


def _shift_year(date: str, year: int) -> str:
    d = dt.date.fromisoformat(date)
    if d.month == 2 and d.day == 29:
        d = d.replace(day=28)
    return d.replace(year=year).isoformat()


def _base_records(meta_rng: random.Random, text_rng: random.Random, n_movies: int,
                  first_year: int, last_year: int,
                  vocab: DemoVocabulary) -> tuple[list[dict[str, Any]], list[list[str]]]:
    table, text, spec = vocab.genres, vocab.text, vocab.catalog
    genre_ids = table.ids_by_name()
    ids: list[int] = []
    next_id = spec.first_id
    for _ in range(n_movies):
        next_id += meta_rng.choice(spec.id_steps)  # ids with a few gaps
        ids.append(next_id)
    genre_names = [draw_genres(meta_rng, table) for _ in range(n_movies)]
    years = [meta_rng.randint(first_year, last_year) for _ in range(n_movies)]
    seen_titles: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    for i, (movie_id, year, names) in enumerate(zip(ids, years, genre_names)):
        start = dt.date(year, 1, 1)
        day = meta_rng.randrange((dt.date(year + 1, 1, 1) - start).days)
        release_date = (start + dt.timedelta(days=day)).isoformat()
        base_title = title(meta_rng, text)
        seen_titles[base_title] = seen_titles.get(base_title, 0) + 1
        suffix = "" if seen_titles[base_title] == 1 else f" {seen_titles[base_title]}"
        full_title = f"{text.titles.prefix}{base_title}{suffix}"
        popularity = round(meta_rng.lognormvariate(1.5, 1.0), 3)
        vote_count = int(meta_rng.expovariate(1 / 250))
        vote_average = (
            round(min(9.8, max(1.0, meta_rng.gauss(6.2, 1.1))), 1) if vote_count else 0.0
        )
        budget = meta_rng.randint(1, 199) * 500_000 if meta_rng.random() < 0.45 else 0
        revenue = (
            int(budget * meta_rng.lognormvariate(0.6, 0.9))
            if budget and meta_rng.random() < 0.8 else 0
        )
        runtime = min(220, max(40, round(meta_rng.gauss(table.runtime_means[names[0]], 15))))
        collection = None
        if meta_rng.random() < 0.05:
            collection = {"id": 500000 + i, "name": f"{full_title} Collection",
                          "poster_path": None, "backdrop_path": None}
        values = {
            "adult": False,
            "backdrop_path": f"/synb{i:06d}.jpg" if meta_rng.random() < 0.85 else None,
            "belongs_to_collection": collection,
            "budget": budget,
            "genres": [{"id": genre_ids[n], "name": n} for n in names],
            "homepage": spec.homepage.format(id=movie_id),
            "id": movie_id,
            "imdb_id": spec.imdb_id.format(number=movie_id % 1_000_000),
            "original_language": meta_rng.choice(text.languages),
            "original_title": full_title,
            "overview": overview(text_rng, names, text, table),
            "popularity": popularity,
            "poster_path": f"/syn{i:06d}.jpg",
            "production_companies": [dict(spec.production_company)],
            "release_date": release_date,
            "revenue": revenue,
            "runtime": runtime,
            "status": spec.status,
            "tagline": meta_rng.choice(text.taglines),
            "title": full_title,
            "video": False,
            "vote_average": vote_average,
            "vote_count": vote_count,
        }
        records.append(_in_layout(values, spec))
    return records, genre_names


def _in_layout(values: dict[str, Any], spec: CatalogSpec) -> dict[str, Any]:
    """``values`` in the field order of ``tmdb_movie_fields``, which must name each once."""
    if sorted(values) != sorted(spec.tmdb_movie_fields):
        raise DemoDataError(
            f"{spec.source}: tmdb_movie_fields: expected each of {sorted(values)} once, "
            f"got {list(spec.tmdb_movie_fields)}"
        )
    return {field: values[field] for field in spec.tmdb_movie_fields}


def _pick_quirk_movies(quirk_rng: random.Random, records: list[dict[str, Any]],
                       first_year: int, last_year: int,
                       vocab: DemoVocabulary) -> dict[str, list[int]]:
    """Disjoint, sorted movie indices per quirk (keyed by :data:`QUIRK_ID_FIELDS`)."""
    n = len(records)
    rates, floor = vocab.catalog.quirks, vocab.catalog.quirk_min_movies
    order = quirk_rng.sample(range(n), n)
    n_missing = _quirk_count(rates["missing_poster"], n, floor)
    n_null = n_missing // 2
    picked: dict[str, list[int]] = {}

    def take(field: str, count: int, ok=lambda i: True) -> None:
        chosen = [i for i in order if ok(i)][:count]
        for i in chosen:
            order.remove(i)
        picked[field] = sorted(chosen)

    take("duplicate_ids",
         _quirk_count(rates["duplicates"], n, floor) if first_year < last_year else 0)
    take("undated_ids", _quirk_count(rates["undated"], n, floor))
    take("empty_overview_ids", _quirk_count(rates["empty_overview"], n, floor))
    take("null_poster_ids", n_null)
    take("unwritten_poster_ids", n_missing - n_null)
    take("legacy_genre_ids", _quirk_count(rates["legacy_genre"], n, floor),
         lambda i: len(records[i]["genres"]) < vocab.genres.max_genres)
    return picked


def _with_duplicates(quirk_rng: random.Random, records: list[dict[str, Any]],
                     duplicated: list[int], first_year: int,
                     last_year: int) -> tuple[list[dict[str, Any]], list[int]]:
    """The file's lines: ``records`` plus, after each duplicated movie, a later line with
    another release year (more votes, more popularity); and the ids actually duplicated."""
    lines: list[dict[str, Any]] = list(records)
    duplicate_ids: list[int] = []
    for i in duplicated:
        original = records[i]
        year = int(original["release_date"][:4])
        shift = quirk_rng.randint(1, 3)
        new_year = year + shift if year + shift <= last_year else max(first_year, year - shift)
        if new_year == year:  # only possible when the range is a single year
            continue
        later = json.loads(json.dumps(original))
        later["release_date"] = _shift_year(original["release_date"], new_year)
        later["vote_count"] = original["vote_count"] + quirk_rng.randint(3, 120)
        later["popularity"] = round(original["popularity"] * quirk_rng.uniform(1.05, 1.6), 3)
        if later["vote_average"] == 0.0:
            later["vote_average"] = round(quirk_rng.uniform(4.5, 8.0), 1)
        # The correction lands somewhere after the original line.
        original_pos = next(k for k, line in enumerate(lines) if line is original)
        lines.insert(quirk_rng.randint(original_pos + 1, len(lines)), later)
        duplicate_ids.append(original["id"])
    return lines, sorted(duplicate_ids)


def build_records(n_movies: int, seed: int, first_year: int, last_year: int,
                  vocab: DemoVocabulary) -> DemoRecords:
    """The records and quirks of a demo catalog; a pure function of the arguments.

    Quirks go to disjoint sets of movies: duplicates (a later line with another release
    year), undated records, empty overviews, ``poster_path: null``, posters left unwritten,
    and the legacy genre (only on movies with room for one more genre).
    """
    # Independent seeded streams (no global state), so e.g. a vocabulary change does not
    # reshuffle the quirks.
    meta_rng = random.Random(f"demo_catalog:{seed}:meta")
    text_rng = random.Random(f"demo_catalog:{seed}:text")
    quirk_rng = random.Random(f"demo_catalog:{seed}:quirks")
    records, genre_names = _base_records(meta_rng, text_rng, n_movies, first_year, last_year,
                                         vocab)
    picked = _pick_quirk_movies(quirk_rng, records, first_year, last_year, vocab)
    legacy = vocab.genres.legacy
    for i in picked["undated_ids"]:
        records[i]["release_date"] = ""
    for i in picked["empty_overview_ids"]:
        records[i]["overview"] = ""
    for i in picked["null_poster_ids"]:
        records[i]["poster_path"] = None
    for i in picked["legacy_genre_ids"]:
        records[i]["genres"].append({"id": legacy.id, "name": legacy.name})
    lines, duplicate_ids = _with_duplicates(quirk_rng, records, picked["duplicate_ids"],
                                            first_year, last_year)
    quirk_ids = {field: tuple(records[i]["id"] for i in picked[field]) for field in QUIRK_ID_FIELDS}
    quirk_ids["duplicate_ids"] = tuple(duplicate_ids)
    return DemoRecords(records=records, lines=lines, genre_names=genre_names,
                       quirk_ids=MappingProxyType(quirk_ids))
