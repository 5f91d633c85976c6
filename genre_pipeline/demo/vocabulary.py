"""The demo catalog's vocabulary, read from the JSON files in ``genre_pipeline/demo/data``.

Synthetic test and demo data, not a source of real movies. The files hold everything the
generator draws from: TMDB's genre ids and names with invented base rates and co-occurrence
(``genres.json``), overview and title vocabulary (``text.json``), poster palettes and shape
motifs (``posters.json``), the record layout and quirk rates (``catalog.json``) and the text
of ``SYNTHETIC.md`` (``synthetic_md.template``).

Order inside the files is part of the output: lists are drawn from by position, so
reordering a list changes what a seed produces. A file that is missing, not JSON, or has a
field of the wrong shape raises :class:`DemoDataError` naming the file and the field.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from genre_pipeline.demo.datafile import DataFile, DemoDataError, NumberRange, is_int

__all__ = [
    "CatalogSpec",
    "DemoDataError",
    "DemoVocabulary",
    "GenrePalette",
    "GenreTable",
    "MotifSpec",
    "PosterStyle",
    "QUIRKS",
    "QuirkRate",
    "RGB",
    "TextVocabulary",
    "TitleParts",
    "TmdbGenre",
    "Words",
    "load_vocabulary",
]

RGB = tuple[int, int, int]

#: The quirks of ``catalog.json``, in the order movies are picked for them.
QUIRKS = ("duplicates", "undated", "empty_overview", "missing_poster", "legacy_genre")
SENTENCE_SLOTS = frozenset({"N", "N2", "N3", "V", "V2", "A", "A2", "name", "name2", "place"})
TITLE_SLOTS = frozenset({"A", "N", "N2", "P", "name"})
#: Motif keys that are not pattern parameters.
_MOTIF_KEYS = ("pattern", "stamp", "draws")


class TmdbGenre(NamedTuple):
    """One TMDB movie genre: its real TMDB id and name."""

    id: int
    name: str


class TitleParts(NamedTuple):
    """A title is ``prefix`` + a filled template (+ " 2", " 3", ... when already taken)."""

    prefix: str
    templates: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    places: tuple[str, ...]


class Words(NamedTuple):
    """Words by part of speech; a template slot picks ``words[0|1|2]``."""

    nouns: tuple[str, ...]
    verbs: tuple[str, ...]
    adjectives: tuple[str, ...]


@dataclass(frozen=True)
class GenreTable:
    """TMDB's genres, how often each leads a movie and which genres join it."""

    genres: tuple[TmdbGenre, ...]
    legacy: TmdbGenre
    #: (genre, weight) in drawing order.
    primary_weights: tuple[tuple[str, float], ...]
    #: genre -> ((companion, probability), ...) in drawing order.
    companions: Mapping[str, tuple[tuple[str, float], ...]]
    max_genres: int
    #: genre -> "poster", "text" or "both": the modality that carries its signal.
    signals: Mapping[str, str]
    text_strength: Mapping[str, float]
    poster_strength: Mapping[str, float]
    runtime_means: Mapping[str, int]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.genres)

    def ids_by_name(self) -> dict[str, int]:
        return {g.name: g.id for g in self.genres}

    def with_signal(self, signal: str) -> frozenset[str]:
        return frozenset(name for name, s in self.signals.items() if s == signal)


@dataclass(frozen=True)
class TextVocabulary:
    """Overview sentence templates and words, title parts, taglines and languages."""

    sentences: tuple[str, ...]
    genre_words: Mapping[str, Words]
    neutral_words: Words
    names: tuple[str, ...]
    places: tuple[str, ...]
    titles: TitleParts
    taglines: tuple[str, ...]
    #: One entry per unit of weight, so a uniform pick follows the weights.
    languages: tuple[str, ...]
    min_words: int
    max_words: int
    #: Chance that a word slot draws from the movie's genres / from another genre.
    genre_word_share: float
    off_genre_share: float


@dataclass(frozen=True)
class GenrePalette:
    motif: tuple[RGB, ...]
    top: RGB
    bottom: RGB


@dataclass(frozen=True)
class MotifSpec:
    """A genre's poster motif: a pattern name and its parameters, bounds already in pixels.

    ``params`` maps a name to a number or a ``(low, high)`` range. The ``scatter`` pattern
    also names a ``stamp`` and the integer ``draws`` ``(name, low, high)`` made, in order,
    for every stamp it places.
    """

    pattern: str
    params: Mapping[str, Any]
    stamp: str | None = None
    draws: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class PosterStyle:
    """Poster size, genre palettes and motifs, and the amounts of jitter and noise."""

    source: str = field(compare=False)  # the file, for error messages
    size: tuple[int, int]
    jpeg_quality: int
    background_jitter: int
    motif_jitter: int
    distractors: tuple[int, int]
    off_genre_chance: float
    contrast: NumberRange
    brightness: NumberRange
    noise_sigma: NumberRange
    palettes: Mapping[str, GenrePalette]
    motifs: Mapping[str, MotifSpec]


class QuirkRate(NamedTuple):
    rate: float
    minimum: int


@dataclass(frozen=True)
class CatalogSpec:
    """The record layout and the constants and quirk rates of every demo catalog."""

    source: str = field(compare=False)  # the file, for error messages
    tmdb_movie_fields: tuple[str, ...]
    first_id: int
    id_steps: tuple[int, ...]
    homepage: str
    imdb_id: str
    production_company: Mapping[str, Any]
    status: str
    quirk_min_movies: int
    quirks: Mapping[str, QuirkRate]
    #: ``SYNTHETIC.md`` as a :class:`string.Template` source (``${seed}``, ``${..._count}``).
    synthetic_md: str


@dataclass(frozen=True)
class DemoVocabulary:
    genres: GenreTable
    text: TextVocabulary
    posters: PosterStyle
    catalog: CatalogSpec


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType(mapping)


def _load_genres(f: DataFile) -> GenreTable:
    strengths = f.get("signal_strength", kind=dict)
    default_runtime = f.integer("default_runtime_mean", minimum=1)
    genres: list[TmdbGenre] = []
    signals: dict[str, str] = {}
    runtime_means: dict[str, int] = {}
    for k in range(len(f.get("genres", kind=list))):
        genre = TmdbGenre(f.integer("genres", k, "id", minimum=1), f.string("genres", k, "name"))
        signal = f.string("genres", k, "signal")
        if signal not in strengths:
            raise f.error(("genres", k, "signal"), f"{signal!r} is none of {sorted(strengths)}")
        entry = f.get("genres", k, kind=dict)
        runtime = (f.integer("genres", k, "runtime_mean", minimum=1) if "runtime_mean" in entry
                   else default_runtime)
        genres.append(genre)
        signals[genre.name] = signal
        runtime_means[genre.name] = runtime
    names = tuple(g.name for g in genres)
    if not genres or len(set(names)) != len(names) or len({g.id for g in genres}) != len(genres):
        raise f.error(("genres",), "expected a non-empty list of genres with unique ids and names")
    legacy = TmdbGenre(f.integer("legacy_genre", "id", minimum=1),
                       f.string("legacy_genre", "name"))
    if legacy.id in {g.id for g in genres}:
        raise f.error(("legacy_genre", "id"), f"{legacy.id} is also a current genre")

    primary = f.pairs("primary_weights")
    f.require_genres(("primary_weights",), [n for n, _ in primary], names)
    if len(primary) != len(names) or not all(w > 0 for _, w in primary):
        raise f.error(("primary_weights",), "expected one positive weight per genre")
    f.require_genres(("companions",), f.get("companions", kind=dict), names)
    companions = {name: f.pairs("companions", name) for name in names}
    for name, pairs in companions.items():
        wrong = [c for c, p in pairs if c not in names or c == name or not 0 <= p <= 1]
        if wrong:
            raise f.error(("companions", name),
                          f"expected other genres with probabilities in [0, 1], wrong: {wrong}")
    return GenreTable(
        genres=tuple(genres),
        legacy=legacy,
        primary_weights=primary,
        companions=_frozen(companions),
        max_genres=f.integer("max_genres", minimum=1),
        signals=_frozen(signals),
        text_strength=_frozen({n: f.number("signal_strength", signals[n], "text") for n in names}),
        poster_strength=_frozen(
            {n: f.number("signal_strength", signals[n], "poster") for n in names}
        ),
        runtime_means=_frozen(runtime_means),
    )


def _words(f: DataFile, *keys: str) -> Words:
    return Words(f.strings(*keys, "nouns"), f.strings(*keys, "verbs"),
                 f.strings(*keys, "adjectives"))


def _templates(f: DataFile, keys: tuple[str, ...], slots: frozenset[str]) -> tuple[str, ...]:
    """Format strings whose slots are all among ``slots``."""
    templates = f.strings(*keys)
    for template in templates:
        try:
            used = {slot for _, slot, _, _ in string.Formatter().parse(template) if slot}
        except ValueError as exc:
            raise f.error(keys, f"{template!r}: {exc}") from exc
        if used - slots:
            raise f.error(keys, f"{template!r}: unknown slots {sorted(used - slots)}")
    return templates


def _load_text(f: DataFile, genre_names: tuple[str, ...]) -> TextVocabulary:
    genre_words = f.get("genre_words", kind=dict)
    f.require_genres(("genre_words",), genre_words, genre_names)
    languages = f.pairs("languages")
    if not languages or not all(is_int(n) and n > 0 for _, n in languages):
        raise f.error(("languages",), "expected [language, positive integer weight] pairs")
    min_words = f.integer("overview", "min_words", minimum=1)
    max_words = f.integer("overview", "max_words", minimum=min_words)
    names = f.strings("names")
    if len(names) < 2:
        raise f.error(("names",), "expected at least two names")
    return TextVocabulary(
        min_words=min_words,
        max_words=max_words,
        genre_word_share=f.number("overview", "genre_word_share"),
        off_genre_share=f.number("overview", "off_genre_share"),
        genre_words=_frozen({name: _words(f, "genre_words", name) for name in genre_names}),
        neutral_words=_words(f, "neutral_words"),
        names=names,
        places=f.strings("places"),
        sentences=_templates(f, ("sentences",), SENTENCE_SLOTS),
        titles=TitleParts(
            prefix=f.string("titles", "prefix"),
            templates=_templates(f, ("titles", "templates"), TITLE_SLOTS),
            adjectives=f.strings("titles", "adjectives"),
            nouns=f.strings("titles", "nouns"),
            places=f.strings("titles", "places"),
        ),
        taglines=f.strings("taglines"),
        languages=tuple(lang for lang, weight in languages for _ in range(weight)),
    )


def _motif(f: DataFile, genre: str, size: tuple[int, int]) -> MotifSpec:
    key = ("motifs", genre)
    raw = f.get(*key, kind=dict)
    params = {
        name: (f.number_range(*key, name, size=size) if isinstance(value, list)
               else f.bound(value, key + (name,), size))
        for name, value in raw.items() if name not in _MOTIF_KEYS
    }
    draws = tuple(
        (f.string(*key, "draws", k, 0),
         *f.number_range(*key, "draws", k, 1, size=size, integers=True))
        for k in range(len(f.get(*key, "draws", kind=list)) if "draws" in raw else 0)
    )
    return MotifSpec(
        pattern=f.string(*key, "pattern"),
        params=_frozen(params),
        stamp=f.string(*key, "stamp") if "stamp" in raw else None,
        draws=draws,
    )


def _load_posters(f: DataFile, genre_names: tuple[str, ...]) -> PosterStyle:
    width, height = f.number_range("size", integers=True)
    size = (width, height)
    if width < 1 or height < 1:
        raise f.error(("size",), f"expected [width, height] in pixels, got {list(size)}")
    f.require_genres(("palettes",), f.get("palettes", kind=dict), genre_names)
    f.require_genres(("motifs",), f.get("motifs", kind=dict), genre_names)
    palettes = {
        g: GenrePalette(
            motif=tuple(f.colour("palettes", g, "motif", k)
                        for k in range(len(f.get("palettes", g, "motif", kind=list)))),
            top=f.colour("palettes", g, "top"),
            bottom=f.colour("palettes", g, "bottom"),
        )
        for g in genre_names
    }
    if not all(p.motif for p in palettes.values()):
        raise f.error(("palettes",), "every genre needs at least one motif colour")
    return PosterStyle(
        source=f.name,
        size=size,
        jpeg_quality=f.integer("jpeg_quality", minimum=1),
        background_jitter=f.integer("background_jitter", minimum=0),
        motif_jitter=f.integer("motif_jitter", minimum=0),
        distractors=f.number_range("distractors", integers=True),
        off_genre_chance=f.number("off_genre_chance"),
        contrast=f.number_range("contrast"),
        brightness=f.number_range("brightness"),
        noise_sigma=f.number_range("noise_sigma"),
        palettes=_frozen(palettes),
        motifs=_frozen({g: _motif(f, g, size) for g in genre_names}),
    )


def _load_catalog(f: DataFile, template: Traversable) -> CatalogSpec:
    quirks = {}
    for name in QUIRKS:
        rate = f.number("quirks", name, "rate")
        if not 0 <= rate <= 1:
            raise f.error(("quirks", name, "rate"), f"expected a rate in [0, 1], got {rate}")
        quirks[name] = QuirkRate(rate, f.integer("quirks", name, "minimum", minimum=0))
    steps = tuple(f.integer("id_steps", k, minimum=1)
                  for k in range(len(f.get("id_steps", kind=list))))
    if not steps:
        raise f.error(("id_steps",), "expected a non-empty list of positive integers")
    try:
        synthetic_md = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise DemoDataError(f"{template}: cannot read demo data file: {exc}") from exc
    return CatalogSpec(
        source=f.name,
        tmdb_movie_fields=f.strings("tmdb_movie_fields"),
        first_id=f.integer("first_id", minimum=0),
        id_steps=steps,
        homepage=f.string("homepage"),
        imdb_id=f.string("imdb_id"),
        production_company=_frozen(dict(f.get("production_company", kind=dict))),
        status=f.string("status"),
        quirk_min_movies=f.integer("quirks", "min_movies", minimum=0),
        quirks=_frozen(quirks),
        synthetic_md=synthetic_md,
    )


@functools.cache
def load_vocabulary(data_dir: Path | None = None) -> DemoVocabulary:
    """Read and check the demo data files: the package's own, or those in ``data_dir``.

    Cached per directory; the result is immutable and shared.
    """
    root: Traversable = (resources.files(__package__).joinpath("data") if data_dir is None
                         else Path(data_dir))
    genres = _load_genres(DataFile(root.joinpath("genres.json")))
    return DemoVocabulary(
        genres=genres,
        text=_load_text(DataFile(root.joinpath("text.json")), genres.names),
        posters=_load_posters(DataFile(root.joinpath("posters.json")), genres.names),
        catalog=_load_catalog(DataFile(root.joinpath("catalog.json")),
                              root.joinpath("synthetic_md.template")),
    )
