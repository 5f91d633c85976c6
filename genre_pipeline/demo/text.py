"""Overviews and titles for the synthetic demo catalog (invented text, not real movies).

Overviews fill sentence templates with words drawn from the movie's genres (weighted by
how strongly each genre shows in text), sometimes from another genre, otherwise from a
neutral vocabulary; titles fill title templates. All words come from ``data/text.json``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from genre_pipeline.demo.vocabulary import GenreTable, TextVocabulary

__all__ = ["overview", "title"]

# "a apple" -> "an apple" once the slots are filled.
_ARTICLE_RE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def overview(rng: random.Random, genres: Sequence[str], text: TextVocabulary,
             table: GenreTable) -> str:
    """An overview of ``text.min_words``-``text.max_words`` words for a movie of ``genres``.

    Each noun/verb/adjective slot draws from one of the movie's genres (weighted by that
    genre's text strength, and kept with that probability) with probability
    ``text.genre_word_share``, from a random other genre with probability
    ``text.off_genre_share``, otherwise from the neutral vocabulary.
    """
    strength = table.text_strength
    weights = [strength[g] for g in genres]
    all_names = table.names
    genre_cut = text.genre_word_share
    off_genre_cut = text.genre_word_share + text.off_genre_share

    def word(part: int) -> str:
        u = rng.random()
        if u < genre_cut:
            g = rng.choices(genres, weights)[0]
            if rng.random() < strength[g]:
                return rng.choice(text.genre_words[g][part])
        elif u < off_genre_cut:
            return rng.choice(text.genre_words[rng.choice(all_names)][part])
        return rng.choice(text.neutral_words[part])

    target = rng.randint(text.min_words, text.max_words)
    words: list[str] = []
    while len(words) < target:
        template = rng.choice(text.sentences)
        name, name2 = rng.sample(text.names, 2)
        sentence = template.format(
            N=word(0), N2=word(0), N3=word(0), V=word(1), V2=word(1), A=word(2), A2=word(2),
            name=name, name2=name2, place=rng.choice(text.places),
        )
        sentence = sentence[0].upper() + sentence[1:]
        words.extend(_ARTICLE_RE.sub(r"\1n ", sentence).split())
    if len(words) > text.max_words:
        words = words[: text.max_words]
        words[-1] = words[-1].rstrip(",.") + "."
    return " ".join(words)


def title(rng: random.Random, text: TextVocabulary) -> str:
    """A filled title template (without ``text.titles.prefix``)."""
    parts = text.titles
    template = rng.choice(parts.templates)
    n1, n2 = rng.sample(parts.nouns, 2)
    return template.format(
        A=rng.choice(parts.adjectives), N=n1, N2=n2,
        P=rng.choice(parts.places), name=rng.choice(text.names),
    )
