"""A large text-only synthetic catalog, written fast: scale tests of the text path (up to millions of movies).

Synthetic test data, not a source of real movies. :func:`genre_pipeline.demo.generator.write_demo_catalog`
draws each record, overview and poster one at a time (~7,000 movies/s without posters, a
few hundred words of vocabulary); a scale test needs a million movies and a vocabulary that
grows with the catalog the way real overviews do. :func:`write_bulk_catalog` draws
everything as numpy arrays, in chunks:

* genres from the demo's co-occurrence table (``data/genres.json``: a primary genre by base
  rate, then each companion of its cluster with its probability, at most ``max_genres``);
* overviews of ``min_words``-``max_words`` words: a share from the movie's genres (the demo's
  genre words, and an invented lexicon of 400 words per genre), a small off-genre share,
  the rest from the demo's neutral words and a Zipf-distributed invented lexicon of
  ``lexicon_words`` pseudo-words (so the vocabulary, word bigrams and character n-grams keep
  growing with the catalog, as TMDB's do);
* ids ``first_id``, ``first_id + 1``, ...; release dates uniform over the years; no poster
  (``poster_path: null``); the other TMDB fields constant;
* ``movies.jsonl.gz`` (gzip level 1, ``mtime=0``: the bytes depend only on the arguments),
  ``genres.json`` and ``SYNTHETIC.md`` like the demo catalog.

Output is a pure function of the arguments (seeded generators only). No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genre_pipeline.demo.generator import checked_target, genre_list
from genre_pipeline.demo.vocabulary import DemoVocabulary, load_vocabulary
from genre_pipeline.storage.atomic import atomic_write, atomic_write_json, atomic_write_text

__all__ = ["BulkCatalogSummary", "write_bulk_catalog"]

CHUNK = 50_000  # movies drawn and written at a time
GENRE_LEXICON = 400  # invented words per genre
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["an", "el", "or", "ix", "um", "ys"]


@dataclass(frozen=True)
class BulkCatalogSummary:
    path: Path
    n_movies: int
    seed: int
    words: int  # words written in all overviews

    @property
    def movies_file(self) -> Path:
        return self.path / "movies.jsonl.gz"


def _lexicon(rng: np.random.Generator, n: int, taken: set[str]) -> np.ndarray:
    """``n`` distinct invented words of 2-4 syllables, none in ``taken``."""
    words: list[str] = []
    seen = set(taken)
    syllables = np.array(SYLLABLES)
    while len(words) < n:
        counts = rng.integers(2, 5, size=2 * (n - len(words)))
        parts = rng.choice(syllables, size=(len(counts), 4))
        for k, row in zip(counts, parts):
            word = "".join(row[:k])
            if word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == n:
                    break
    return np.array(words, dtype=object)


class _Vocabulary:
    """Every word an overview can use, as one array, and the index ranges each source draws from."""

    def __init__(self, vocab: DemoVocabulary, rng: np.random.Generator, lexicon_words: int):
        text, names = vocab.text, vocab.genres.names
        genre_words = {g: sorted({w for part in text.genre_words[g] for w in part}) for g in names}
        neutral = sorted({w for part in text.neutral_words for w in part})
        taken = {w for ws in genre_words.values() for w in ws} | set(neutral)
        invented = _lexicon(rng, GENRE_LEXICON * len(names) + lexicon_words, taken)
        words: list[str] = []
        self.genre_ranges: list[tuple[int, int]] = []
        for i, g in enumerate(names):
            first = len(words)
            words += genre_words[g] + list(invented[i * GENRE_LEXICON : (i + 1) * GENRE_LEXICON])
            self.genre_ranges.append((first, len(words)))
        self.neutral = (len(words), len(words) + len(neutral))
        words += neutral
        self.lexicon = (len(words), len(words) + lexicon_words)
        words += list(invented[GENRE_LEXICON * len(names) :])
        self.words = np.array(words, dtype=object)


def _draw_genres(rng: np.random.Generator, vocab: DemoVocabulary, n: int) -> np.ndarray:
    """``(n, n_genres)`` bool: a primary genre by base rate, then companions, at most ``max_genres``."""
    table = vocab.genres
    names = list(table.names)
    column = {g: i for i, g in enumerate(names)}
    primary_names = [g for g, _ in table.primary_weights]
    weights = np.array([w for _, w in table.primary_weights], dtype=float)
    primary = rng.choice(len(primary_names), size=n, p=weights / weights.sum())
    chosen = np.zeros((n, len(names)), dtype=bool)
    chosen[np.arange(n), [column[primary_names[p]] for p in primary]] = True
    for p, name in enumerate(primary_names):
        rows = np.flatnonzero(primary == p)
        companions = list(table.companions[name])
        for k in rng.permutation(len(companions)):
            companion, prob = companions[k]
            room = chosen[rows].sum(axis=1) < table.max_genres
            take = rows[room & (rng.random(len(rows)) < prob)]
            chosen[take, column[companion]] = True
    return chosen


def _overviews(rng: np.random.Generator, vocab: DemoVocabulary, words: _Vocabulary, genres: np.ndarray) -> tuple[list[str], int]:
    text = vocab.text
    n = len(genres)
    lengths = rng.integers(text.min_words, text.max_words + 1, size=n)
    total = int(lengths.sum())
    owner = np.repeat(np.arange(n), lengths)
    u = rng.random(total)
    # genre words: one of the movie's genres, uniformly
    counts = genres.sum(axis=1)
    pick = (rng.random(total) * counts[owner]).astype(np.int64)
    genre_columns = np.argsort(~genres, axis=1, kind="stable")  # each row: its genres first
    genre_of_word = genre_columns[owner, pick]
    off_genre = rng.integers(0, genres.shape[1], size=total)
    strength = np.array([vocab.genres.text_strength[g] for g in vocab.genres.names])
    in_genre = (u < text.genre_word_share) & (rng.random(total) < strength[genre_of_word])
    off = (u >= text.genre_word_share) & (u < text.genre_word_share + text.off_genre_share)
    source_genre = np.where(in_genre, genre_of_word, off_genre)
    first = np.array([r[0] for r in words.genre_ranges])[source_genre]
    size = np.array([r[1] - r[0] for r in words.genre_ranges])[source_genre]
    index = first + (rng.random(total) * size).astype(np.int64)
    neutral = ~(in_genre | off)
    lexicon_size = words.lexicon[1] - words.lexicon[0]
    zipf = np.minimum(rng.zipf(1.15, size=total), lexicon_size) - 1 + words.lexicon[0]
    plain = words.neutral[0] + rng.integers(0, words.neutral[1] - words.neutral[0], size=total)
    index = np.where(neutral, np.where(rng.random(total) < 0.5, plain, zipf), index)
    chosen = words.words[index]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    overviews = []
    for a, b in zip(starts, ends):
        sentence = " ".join(chosen[a:b])
        overviews.append(sentence[0].upper() + sentence[1:] + ".")
    return overviews, total


def write_bulk_catalog(dest: Path, n_movies: int, seed: int = 0, first_year: int = 1960, last_year: int = 2025,
                       lexicon_words: int = 200_000, first_id: int = 100_000) -> BulkCatalogSummary:
    """Write a text-only synthetic catalog of ``n_movies`` in snapshot format to ``dest`` (see the module docstring).

    A directory holding a ``movies.jsonl.gz`` without ``SYNTHETIC.md`` (a real snapshot) is
    refused with ``FileExistsError``. Raises ``ValueError`` for ``n_movies < 1``, a negative
    seed or ``first_year > last_year``.
    """
    dest = checked_target(dest, n_movies, seed, first_year, last_year)
    vocab = load_vocabulary()
    rng = np.random.default_rng([seed, 13])
    words = _Vocabulary(vocab, rng, lexicon_words)
    genre_json = [json.dumps({"id": g.id, "name": g.name}) for g in vocab.genres.genres]
    first_day = dt.date(first_year, 1, 1).toordinal()
    days = dt.date(last_year, 12, 31).toordinal() - first_day + 1
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest / "SYNTHETIC.md", (
        f"# Synthetic catalog (text only)\n\nWritten by genre_pipeline.demo.bulk.write_bulk_catalog: {n_movies} invented "
        f"movies, seed {seed}, release years {first_year}-{last_year}, no posters. Not real movies: for scale tests.\n"))
    total_words = 0

    def write(tmp: Path) -> None:
        nonlocal total_words
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="movies.jsonl", fileobj=raw, mode="wb", compresslevel=1, mtime=0) as packed, \
                io.TextIOWrapper(packed, encoding="utf-8") as out:
            for start in range(0, n_movies, CHUNK):
                n = min(CHUNK, n_movies - start)
                genres = _draw_genres(rng, vocab, n)
                overviews, count = _overviews(rng, vocab, words, genres)
                total_words += count
                title_words = words.words[words.lexicon[0] + rng.integers(0, 2000, size=(n, 2))]
                dates = rng.integers(0, days, size=n) + first_day
                lines = []
                for i in range(n):
                    movie_id = first_id + start + i
                    title = f"Synthetic: {title_words[i, 0].title()} {title_words[i, 1].title()} {movie_id}"
                    date = dt.date.fromordinal(int(dates[i])).isoformat()
                    lines.append(
                        f'{{"id": {movie_id}, "title": {json.dumps(title)}, "original_title": {json.dumps(title)}, '
                        f'"overview": {json.dumps(overviews[i])}, "genres": [{", ".join(genre_json[g] for g in np.flatnonzero(genres[i]))}], '
                        f'"release_date": "{date}", "poster_path": null, "adult": false, "original_language": "en", '
                        f'"popularity": 1.0, "vote_count": 10, "vote_average": 6.0, "status": "Released"}}\n')
                out.write("".join(lines))

    atomic_write(dest / "movies.jsonl.gz", write)
    atomic_write_json(dest / "genres.json", {"genres": genre_list()})
    return BulkCatalogSummary(path=dest, n_movies=n_movies, seed=seed, words=total_words)
