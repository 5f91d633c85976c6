"""Synthetic demo catalog: an offline, clearly labelled stand-in for the tutorial's TMDB scrape.

Spandan Madan's tutorial starts by scraping TMDB: movie details (title, overview, genres,
release date) and their posters. This module supports that first step without a network
or an API key: :func:`write_demo_catalog` writes a directory in the project's *snapshot
format* (the same format ``sources/snapshot.py`` reads), filled with invented movies:

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
IMDb ids are in an unused ``tt9......`` range.

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
only from ``numpy.random.default_rng`` generators seeded from ``seed``; no global state,
no clock. This module never imports Dagster.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from genre_pipeline.storage.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from genre_pipeline.ingestion.records import poster_basename

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
    "genre_list",
    "write_demo_catalog",
]


class TmdbGenre(NamedTuple):
    """One TMDB movie genre: its real TMDB id and name."""

    id: int
    name: str


#: The 19 current TMDB movie genres, in the order of TMDB's ``/genre/movie/list``.
GENRES: tuple[TmdbGenre, ...] = (
    TmdbGenre(28, "Action"),
    TmdbGenre(12, "Adventure"),
    TmdbGenre(16, "Animation"),
    TmdbGenre(35, "Comedy"),
    TmdbGenre(80, "Crime"),
    TmdbGenre(99, "Documentary"),
    TmdbGenre(18, "Drama"),
    TmdbGenre(10751, "Family"),
    TmdbGenre(14, "Fantasy"),
    TmdbGenre(36, "History"),
    TmdbGenre(27, "Horror"),
    TmdbGenre(10402, "Music"),
    TmdbGenre(9648, "Mystery"),
    TmdbGenre(10749, "Romance"),
    TmdbGenre(878, "Science Fiction"),
    TmdbGenre(10770, "TV Movie"),
    TmdbGenre(53, "Thriller"),
    TmdbGenre(10752, "War"),
    TmdbGenre(37, "Western"),
)

#: TMDB's retired "Foreign" genre: still found on old records, absent from the genre list.
LEGACY_FOREIGN_ID = 10769
LEGACY_FOREIGN_NAME = "Foreign"

#: Field names of a TMDB ``/movie/{id}`` details object, in the order records are written.
TMDB_MOVIE_FIELDS: tuple[str, ...] = (
    "adult",
    "backdrop_path",
    "belongs_to_collection",
    "budget",
    "genres",
    "homepage",
    "id",
    "imdb_id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "production_companies",
    "release_date",
    "revenue",
    "runtime",
    "status",
    "tagline",
    "title",
    "video",
    "vote_average",
    "vote_count",
)

#: Poster size in pixels, (width, height): TMDB's 2:3 poster aspect, kept tiny.
POSTER_SIZE: tuple[int, int] = (96, 144)
POSTER_JPEG_QUALITY = 85

#: Genres whose signal is mostly visual (strong poster look, few telling overview words).
POSTER_SIGNAL_GENRES: frozenset[str] = frozenset(
    {"Animation", "Horror", "Western", "Documentary", "Science Fiction"}
)
#: Genres whose signal is mostly textual (telling overview words, weak poster look).
TEXT_SIGNAL_GENRES: frozenset[str] = frozenset(
    {"Comedy", "Crime", "Drama", "Romance", "Thriller", "Mystery", "Family", "History",
     "Action", "Adventure", "TV Movie"}
)
# The rest (Fantasy, Music, War) carry a medium signal in both.

_NAME_TO_ID = {g.name: g.id for g in GENRES}


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


# --------------------------------------------------------------------------------------
# Genre structure: primary-genre frequencies and cluster-dependent companions.
# --------------------------------------------------------------------------------------

_PRIMARY_WEIGHTS: dict[str, float] = {
    "Drama": 0.20, "Comedy": 0.16, "Action": 0.08, "Horror": 0.07, "Thriller": 0.06,
    "Documentary": 0.06, "Romance": 0.05, "Crime": 0.05, "Animation": 0.04,
    "Science Fiction": 0.04, "Adventure": 0.03, "Family": 0.025, "Fantasy": 0.025,
    "Music": 0.025, "Western": 0.03, "TV Movie": 0.02, "Mystery": 0.02, "History": 0.02,
    "War": 0.02,
}

# P(companion | primary). Companions are tried in a random order; at most 3 are added.
_COMPANIONS: dict[str, dict[str, float]] = {
    "Action": {"Adventure": 0.45, "Thriller": 0.35, "Science Fiction": 0.2, "Crime": 0.2,
               "Fantasy": 0.08, "Comedy": 0.1, "War": 0.05},
    "Adventure": {"Action": 0.5, "Fantasy": 0.35, "Family": 0.25, "Science Fiction": 0.2,
                  "Animation": 0.1},
    "Animation": {"Family": 0.65, "Comedy": 0.45, "Adventure": 0.35, "Fantasy": 0.25},
    "Comedy": {"Romance": 0.3, "Drama": 0.2, "Family": 0.15, "Crime": 0.05,
               "Music": 0.05, "Animation": 0.04},
    "Crime": {"Drama": 0.5, "Thriller": 0.5, "Action": 0.25, "Mystery": 0.2},
    "Documentary": {"Music": 0.08, "History": 0.08},
    "Drama": {"Romance": 0.25, "Comedy": 0.12, "Crime": 0.1, "Thriller": 0.1,
              "History": 0.1, "War": 0.05, "Music": 0.05, "Family": 0.05},
    "Family": {"Comedy": 0.5, "Animation": 0.35, "Adventure": 0.3, "Fantasy": 0.2},
    "Fantasy": {"Adventure": 0.5, "Action": 0.35, "Family": 0.2, "Animation": 0.15,
                "Science Fiction": 0.1},
    "History": {"Drama": 0.7, "War": 0.4},
    "Horror": {"Thriller": 0.5, "Mystery": 0.3, "Science Fiction": 0.08, "Fantasy": 0.05},
    "Music": {"Drama": 0.45, "Comedy": 0.3, "Romance": 0.2, "Documentary": 0.1},
    "Mystery": {"Thriller": 0.6, "Crime": 0.35, "Horror": 0.25, "Drama": 0.2},
    "Romance": {"Drama": 0.55, "Comedy": 0.4},
    "Science Fiction": {"Action": 0.45, "Adventure": 0.35, "Thriller": 0.25, "Horror": 0.1,
                        "Fantasy": 0.1},
    "TV Movie": {"Drama": 0.35, "Comedy": 0.25, "Family": 0.2, "Romance": 0.2,
                 "Thriller": 0.1},
    "Thriller": {"Crime": 0.4, "Action": 0.3, "Mystery": 0.3, "Horror": 0.2, "Drama": 0.2},
    "War": {"Drama": 0.6, "History": 0.45, "Action": 0.4},
    "Western": {"Action": 0.4, "Drama": 0.3, "Adventure": 0.25},
}

# How strongly each genre shows in each modality (0..1).
_TEXT_STRENGTH: dict[str, float] = {
    g.name: (0.12 if g.name in POSTER_SIGNAL_GENRES
             else 1.0 if g.name in TEXT_SIGNAL_GENRES else 0.75)
    for g in GENRES
}
_POSTER_STRENGTH: dict[str, float] = {
    g.name: (0.9 if g.name in POSTER_SIGNAL_GENRES
             else 0.15 if g.name in TEXT_SIGNAL_GENRES else 0.65)
    for g in GENRES
}

# --------------------------------------------------------------------------------------
# Text: genre vocabularies (nouns, verbs, adjectives), neutral vocabulary, templates.
# Some words are deliberately shared between related genres and with the neutral pool.
# --------------------------------------------------------------------------------------

_GENRE_WORDS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "Action": (
        ["mercenary", "bodyguard", "hostage", "explosion", "car chase", "bomb", "commando",
         "gunfight", "special forces unit", "fortress", "convoy", "rooftop", "arsenal",
         "warlord"],
        ["fight", "escape", "rescue", "destroy", "chase", "ambush", "defuse", "outrun"],
        ["explosive", "relentless", "armed", "deadly", "high-speed", "ruthless", "fearless",
         "brutal"],
    ),
    "Adventure": (
        ["treasure", "map", "expedition", "jungle", "island", "voyage", "explorer",
         "lost city", "ancient temple", "river", "compass", "shipwreck", "quest",
         "mountain pass"],
        ["explore", "discover", "sail", "journey across", "search for", "climb", "navigate",
         "cross"],
        ["uncharted", "legendary", "distant", "perilous", "exotic", "hidden", "daring",
         "vast"],
    ),
    "Animation": (
        ["talking rabbit", "robot", "toy", "little fox", "dragon", "kingdom", "puppy",
         "cartoon", "penguin", "magic pencil", "forest friend", "snowman", "bunny",
         "balloon"],
        ["sing with", "hop over", "giggle at", "transform", "draw", "bounce past",
         "imagine", "befriend"],
        ["colorful", "animated", "tiny", "fluffy", "whimsical", "cheerful", "magical",
         "cute"],
    ),
    "Comedy": (
        ["wedding", "road trip", "prank", "roommate", "bachelor party", "slacker",
         "best friend", "mix-up", "mishap", "neighbor", "office party", "in-law",
         "job interview", "talent show"],
        ["laugh at", "prank", "bumble through", "fake", "crash", "dodge", "bet on",
         "impress"],
        ["hilarious", "awkward", "clumsy", "wacky", "goofy", "outrageous", "chaotic",
         "silly"],
    ),
    "Crime": (
        ["detective", "gangster", "heist", "mob boss", "bank robbery", "drug cartel",
         "informant", "police precinct", "murder", "mafia", "getaway driver", "corrupt cop",
         "crime syndicate", "prison"],
        ["rob", "launder", "investigate", "smuggle", "frame", "betray", "arrest",
         "double-cross"],
        ["corrupt", "criminal", "underworld", "notorious", "gritty", "illegal", "violent",
         "crooked"],
    ),
    "Documentary": (
        ["interview", "footage", "archive", "filmmaker", "investigation", "real story",
         "witness", "scientist", "environment", "society", "history", "industry",
         "camera crew", "activist"],
        ["examine", "document", "reveal", "interview", "explore", "investigate", "chronicle",
         "record"],
        ["real", "true", "candid", "archival", "intimate", "revealing", "factual",
         "firsthand"],
    ),
    "Drama": (
        ["family", "marriage", "grief", "illness", "father", "mother", "daughter", "son",
         "memory", "divorce", "loss", "small town", "struggle", "past"],
        ["cope with", "reconcile with", "heal", "forgive", "confront", "struggle with",
         "mourn", "accept"],
        ["emotional", "painful", "broken", "quiet", "fragile", "lonely", "moving",
         "bittersweet"],
    ),
    "Family": (
        ["kid", "parent", "holiday", "summer camp", "pet dog", "grandma", "christmas",
         "sibling", "backyard", "school", "birthday", "family vacation", "farm", "pony"],
        ["share", "learn from", "play with", "celebrate", "protect", "adopt", "grow with",
         "cheer for"],
        ["heartwarming", "playful", "kind", "wholesome", "young", "friendly", "gentle",
         "fun"],
    ),
    "Fantasy": (
        ["wizard", "sorcerer", "spell", "dragon", "enchanted forest", "elf", "prophecy",
         "sword", "realm", "witch", "kingdom", "curse", "amulet", "fairy"],
        ["enchant", "cast", "summon", "conjure", "banish", "break", "bewitch", "awaken"],
        ["magical", "mythical", "enchanted", "ancient", "mystical", "immortal", "cursed",
         "otherworldly"],
    ),
    "History": (
        ["empire", "king", "queen", "revolution", "century", "dynasty", "emperor",
         "parliament", "colony", "treaty", "royal court", "throne", "rebellion", "monarch"],
        ["rule", "reign over", "conquer", "negotiate", "abdicate", "crown", "overthrow",
         "found"],
        ["historic", "royal", "imperial", "medieval", "victorian", "ancient", "political",
         "true"],
    ),
    "Horror": (
        ["demon", "ghost", "haunted house", "killer", "possession", "corpse", "curse",
         "nightmare", "creature", "blood", "cabin", "ritual", "zombie", "evil spirit"],
        ["haunt", "terrorize", "scream at", "possess", "slaughter", "stalk", "devour",
         "summon"],
        ["terrifying", "bloody", "evil", "sinister", "possessed", "gruesome", "undead",
         "creepy"],
    ),
    "Music": (
        ["band", "singer", "concert", "album", "song", "guitar", "rock star", "choir",
         "tour", "musician", "record deal", "stage", "jazz club", "piano"],
        ["sing", "perform", "compose", "record", "tour with", "rehearse", "audition for",
         "play"],
        ["musical", "rhythmic", "legendary", "soulful", "aspiring", "melodic", "famous",
         "loud"],
    ),
    "Mystery": (
        ["clue", "disappearance", "secret", "riddle", "suspect", "alibi", "detective",
         "manor", "puzzle", "missing heiress", "locked room", "diary", "inheritance",
         "stranger"],
        ["uncover", "solve", "suspect", "unravel", "deduce", "decode", "trace", "conceal"],
        ["mysterious", "puzzling", "strange", "secretive", "unexplained", "cryptic",
         "baffling", "hidden"],
    ),
    "Romance": (
        ["love", "lover", "romance", "heart", "kiss", "first date", "soulmate",
         "boyfriend", "girlfriend", "wedding", "passion", "affair", "engagement",
         "sweetheart"],
        ["fall in love with", "kiss", "marry", "flirt with", "seduce", "woo", "date",
         "propose to"],
        ["romantic", "passionate", "tender", "charming", "lovesick", "beautiful",
         "forbidden", "young"],
    ),
    "Science Fiction": (
        ["spaceship", "alien", "planet", "android", "galaxy", "time machine",
         "space station", "astronaut", "laboratory", "experiment", "clone", "starship",
         "asteroid", "artificial intelligence"],
        ["colonize", "invade", "teleport", "clone", "orbit", "launch", "mutate", "hack"],
        ["futuristic", "alien", "robotic", "interstellar", "cybernetic", "genetic",
         "dystopian", "quantum"],
    ),
    "TV Movie": (
        ["network special", "television event", "sequel", "reunion", "holiday special",
         "pilot", "small screen", "miniseries", "host", "broadcast", "anthology", "remake",
         "telefilm", "episode"],
        ["air", "broadcast", "reunite with", "host", "revisit", "adapt", "premiere",
         "rerun"],
        ["televised", "made-for-tv", "cozy", "seasonal", "light", "special", "familiar",
         "weekly"],
    ),
    "Thriller": (
        ["conspiracy", "assassin", "stalker", "killer", "hostage", "target", "agent",
         "ransom", "witness", "deadline", "blackmail", "psychopath", "kidnapping",
         "safe house"],
        ["hunt", "kidnap", "blackmail", "track", "threaten", "expose", "pursue", "trap"],
        ["tense", "dangerous", "paranoid", "deadly", "suspenseful", "ruthless", "desperate",
         "psychological"],
    ),
    "War": (
        ["soldier", "battle", "army", "platoon", "general", "trench", "invasion",
         "front line", "bomber", "resistance", "sergeant", "regiment", "battlefield",
         "prisoner of war"],
        ["invade", "defend", "surrender to", "liberate", "enlist in", "bomb", "march on",
         "retreat from"],
        ["wartime", "military", "occupied", "wounded", "heroic", "bloody", "embattled",
         "allied"],
    ),
    "Western": (
        ["sheriff", "outlaw", "cowboy", "ranch", "saloon", "frontier", "gunslinger",
         "cattle drive", "stagecoach", "bounty hunter", "desert", "posse", "horse",
         "railroad"],
        ["ride with", "draw on", "rustle", "wrangle", "duel", "lasso", "drive", "settle"],
        ["dusty", "lawless", "wild", "frontier", "lone", "rugged", "western", "outlaw"],
    ),
}

_NEUTRAL_NOUNS = [
    "man", "woman", "friend", "stranger", "town", "city", "job", "secret", "life", "world",
    "home", "journey", "letter", "house", "phone call", "car", "night", "morning", "summer",
    "winter", "company", "boss", "teacher", "student", "doctor", "lawyer", "journalist",
    "artist", "writer", "photographer", "neighbor", "plan", "promise", "mistake",
    "decision", "chance", "truth", "choice", "dream", "problem", "fortune", "business",
    "hotel", "apartment", "village", "school", "hospital", "restaurant", "train", "boat",
    "road", "bridge", "weekend", "past", "future", "career", "reputation", "old friend",
    "brother", "sister", "uncle", "cousin", "colleague", "photograph", "package", "key",
    "deal", "debt", "storm", "accident", "opportunity", "notebook", "message", "island",
]
_NEUTRAL_VERBS = [
    "find", "change", "save", "leave", "return to", "meet", "keep", "lose", "face",
    "follow", "help", "hide", "build", "learn from", "win", "risk", "prove", "protect",
    "understand", "stop", "reach", "join", "convince", "choose", "remember", "survive",
    "escape", "begin", "finish", "trust", "question", "sell", "steal", "replace", "fix",
]
_NEUTRAL_ADJS = [
    "new", "old", "strange", "small", "young", "unlikely", "ordinary", "unexpected",
    "final", "secret", "dark", "last", "big", "different", "simple", "familiar", "lost",
    "unknown", "difficult", "long", "private", "local", "famous", "perfect", "dangerous",
    "fragile", "quiet", "stubborn", "restless", "curious", "reluctant", "ambitious",
]
_NAMES = [
    "Anna", "Ben", "Clara", "David", "Elena", "Frank", "Grace", "Henry", "Iris", "Jack",
    "Kate", "Leo", "Maya", "Nick", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tessa",
    "Victor", "Wendy", "Yusuf", "Zoe", "Marcus", "Nadia", "Omar", "Priya", "Hugo", "Lena",
]
_PLACES = [
    "Millbrook", "Port Ellery", "Ashford", "the city", "a small coastal town", "Cedar Falls",
    "Redwater", "the capital", "a remote village", "Northgate", "Lake Marrow", "Kestrel Bay",
]

# Slots: {N}/{N2}/{N3} noun, {A}/{A2} adjective, {V}/{V2} verb, {name}/{name2}, {place}.
_SENTENCES = [
    "{name}, a {A} {N}, must {V} the {N2} before it is too late.",
    "After the {N} in {place}, {name} sets out to {V} a {A} {N2}.",
    "A {A} {N} forces {name} to {V} the {N2}.",
    "{name} and {name2} {V} the {N} in {place}.",
    "Years later, the {N} returns and nobody can {V} it.",
    "Nothing is {A} in {place}, where every {N} hides a {A2} {N2}.",
    "Together they {V} the {N}, but the {A} {N2} changes everything.",
    "{name} discovers that the {N} is more {A} than the {N2}.",
    "In {place}, a {A} {N} and a {A2} {N2} try to {V} together.",
    "To {V} the {N}, {name} has to {V2} the {A} {N2}.",
    "The story follows {name}, whose {N} becomes a {A} {N2}.",
    "It is a {A} tale of {N}, {N2} and {N3}.",
    "When a {N} arrives, {name} decides to {V} the {A} {N2}.",
    "Soon {name} must choose between the {N} and the {A} {N2}.",
    "But the {A} {N} has other plans.",
    "{name} never expected to {V} a {N}.",
]

_TITLE_ADJS = [
    "Silent", "Last", "Broken", "Golden", "Hidden", "Crimson", "Distant", "Forgotten",
    "Endless", "Quiet", "Burning", "Hollow", "Winter", "Midnight", "Paper", "Glass", "Iron",
    "Velvet", "Electric", "Lonely", "Wild", "Secret", "Northern", "Long", "Bright", "Seventh",
]
_TITLE_NOUNS = [
    "Harbor", "Road", "Promise", "Garden", "Signal", "River", "Crown", "Horizon", "Letter",
    "Season", "Shadow", "Orchard", "Frontier", "Echo", "Lantern", "Summer", "Kingdom",
    "Station", "Island", "Mirror", "Bridge", "Storm", "Circle", "Window", "Tide", "Hour",
]
_TITLE_PLACES = [
    "Millbrook", "Port Ellery", "Ashford", "Cedar Falls", "Redwater", "Northgate",
    "Lake Marrow", "Kestrel Bay", "the Valley", "the North", "Paradise", "Nowhere",
]
_TITLE_TEMPLATES = [
    "The {A} {N}", "{N} of {P}", "{name}'s {N}", "{A} {N}", "The {N} and the {N2}",
    "Return to {P}", "Beyond the {N}", "A {A} {N} in {P}", "{A} {N}s", "The {N} Below",
    "{name} and the {A} {N}", "Under the {A} {N}",
]
_TAGLINES = [
    "", "", "", "Some doors stay open.", "Everything changes tonight.",
    "One choice. No way back.", "Nothing is what it seems.", "Based on nothing true.",
    "Every story has a second side.", "The journey is the destination.",
    "Not all heroes are loud.", "This time it is personal.",
]
_LANGUAGES = ["en"] * 16 + ["fr", "es", "de", "it", "ja", "ko", "hi", "sv"]

_ARTICLE_RE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def _pick(rng: random.Random, items: list[str]) -> str:
    return items[rng.randrange(len(items))]


def _overview(rng: random.Random, genres: list[str]) -> str:
    """An overview of 15-60 words: templates filled from genre and neutral vocabulary.

    Each noun/verb/adjective slot draws from one of the movie's genres (weighted by that
    genre's text strength) with probability ~0.42, from a random other genre with
    probability 0.05, otherwise from the neutral vocabulary.
    """
    weights = [_TEXT_STRENGTH[g] for g in genres]
    all_names = [g.name for g in GENRES]

    def word(pos: int) -> str:
        u = rng.random()
        if u < 0.42:
            g = rng.choices(genres, weights)[0]
            if rng.random() < _TEXT_STRENGTH[g]:
                return _pick(rng, _GENRE_WORDS[g][pos])
        elif u < 0.47:
            return _pick(rng, _GENRE_WORDS[_pick(rng, all_names)][pos])
        return _pick(rng, (_NEUTRAL_NOUNS, _NEUTRAL_VERBS, _NEUTRAL_ADJS)[pos])

    target = rng.randint(15, 60)
    words: list[str] = []
    while len(words) < target:
        template = _pick(rng, _SENTENCES)
        name, name2 = rng.sample(_NAMES, 2)
        sentence = template.format(
            N=word(0), N2=word(0), N3=word(0), V=word(1), V2=word(1), A=word(2), A2=word(2),
            name=name, name2=name2, place=_pick(rng, _PLACES),
        )
        sentence = sentence[0].upper() + sentence[1:]
        words.extend(_ARTICLE_RE.sub(r"\1n ", sentence).split())
    if len(words) > 60:
        words = words[:60]
        words[-1] = words[-1].rstrip(",.") + "."
    return " ".join(words)


def _title(rng: random.Random) -> str:
    template = _pick(rng, _TITLE_TEMPLATES)
    n1, n2 = rng.sample(_TITLE_NOUNS, 2)
    return template.format(
        A=_pick(rng, _TITLE_ADJS), N=n1, N2=n2,
        P=_pick(rng, _TITLE_PLACES), name=_pick(rng, _NAMES),
    )


def _draw_genres(rng: random.Random) -> list[str]:
    """Primary genre by realistic frequency, then up to 3 companions from its cluster."""
    primary = rng.choices(list(_PRIMARY_WEIGHTS), list(_PRIMARY_WEIGHTS.values()))[0]
    chosen = [primary]
    companions = list(_COMPANIONS[primary].items())
    for name, prob in rng.sample(companions, len(companions)):
        if len(chosen) >= 4:
            break
        if rng.random() < prob:
            chosen.append(name)
    return chosen


# --------------------------------------------------------------------------------------
# Posters: each genre has a palette, a background gradient and a shape motif.
# --------------------------------------------------------------------------------------

RGB = tuple[int, int, int]

_PALETTES: dict[str, tuple[list[RGB], RGB, RGB]] = {
    # genre: (motif colours, background top, background bottom)
    "Action": ([(230, 90, 20), (200, 30, 30), (250, 170, 40)], (70, 30, 20), (160, 60, 20)),
    "Adventure": ([(60, 140, 60), (160, 120, 60), (90, 170, 120)], (150, 200, 230),
                  (220, 210, 170)),
    "Animation": ([(255, 90, 170), (255, 220, 40), (40, 210, 240), (120, 230, 80)],
                  (120, 200, 255), (200, 240, 255)),
    "Comedy": ([(255, 215, 0), (255, 150, 50), (90, 200, 255)], (255, 250, 210),
               (255, 235, 150)),
    "Crime": ([(20, 20, 30), (50, 60, 90), (120, 120, 130)], (30, 35, 50), (70, 75, 90)),
    "Documentary": ([(110, 110, 110), (170, 160, 140), (60, 60, 60)], (228, 225, 218),
                    (200, 198, 190)),
    "Drama": ([(70, 90, 130), (120, 130, 150), (40, 50, 80)], (140, 150, 170),
              (90, 100, 120)),
    "Family": ([(150, 220, 150), (250, 200, 160), (170, 210, 250)], (240, 250, 230),
               (210, 240, 210)),
    "Fantasy": ([(140, 60, 200), (200, 150, 255), (90, 40, 140)], (40, 20, 70),
                (110, 70, 160)),
    "History": ([(120, 80, 40), (180, 140, 90), (80, 50, 20)], (220, 200, 160),
                (180, 150, 110)),
    "Horror": ([(190, 0, 0), (120, 0, 10), (230, 230, 230)], (5, 5, 5), (35, 8, 8)),
    "Music": ([(230, 40, 200), (255, 120, 230), (80, 40, 200)], (30, 10, 40), (90, 20, 90)),
    "Mystery": ([(30, 120, 120), (150, 200, 190), (20, 60, 70)], (15, 40, 45), (50, 80, 85)),
    "Romance": ([(240, 80, 120), (255, 170, 190), (200, 30, 60)], (255, 220, 230),
                (250, 190, 200)),
    "Science Fiction": ([(0, 230, 255), (60, 120, 255), (180, 255, 255)], (0, 5, 25),
                        (10, 20, 60)),
    "TV Movie": ([(200, 200, 220), (150, 170, 200), (240, 240, 250)], (170, 180, 200),
                 (130, 140, 170)),
    "Thriller": ([(240, 200, 0), (20, 20, 20), (200, 200, 200)], (50, 50, 40), (20, 20, 20)),
    "War": ([(100, 110, 60), (140, 130, 90), (60, 60, 40)], (160, 155, 120), (110, 105, 80)),
    "Western": ([(200, 120, 40), (120, 70, 30), (250, 200, 80)], (250, 190, 110),
                (200, 110, 50)),
}


def _jitter(rng: random.Random, color: RGB, amount: int = 25) -> RGB:
    r, g, b = (min(255, max(0, c + rng.randint(-amount, amount))) for c in color)
    return (r, g, b)


def _random_colour(rng: random.Random) -> RGB:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _ri(rng: random.Random, lo: int, hi: int) -> int:
    """Random int in [lo, hi]."""
    return rng.randint(lo, hi)


Colour = Callable[[], RGB]  # returns the next fill colour (palette draw or random)


def _m_diagonal(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    x = _ri(rng, -h, 0)
    step, width = _ri(rng, 16, 28), _ri(rng, 3, 7)
    for _ in range(_ri(rng, 3, 7)):
        d.line([(x, h), (x + h, 0)], fill=col(), width=width)
        x += step


def _m_triangles(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 1, 3)):
        base, cx, half = h - _ri(rng, 0, 20), _ri(rng, 0, w), _ri(rng, 20, 45)
        d.polygon([(cx - half, base), (cx + half, base), (cx, base - _ri(rng, 40, 90))],
                  fill=col())


def _m_circles(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 1, 3)):
        r, cx, cy = _ri(rng, 12, 28), _ri(rng, 0, w), _ri(rng, 0, h)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col())


def _m_dots(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 10, 22)):
        r, cx, cy = _ri(rng, 2, 5), _ri(rng, 0, w), _ri(rng, 0, h)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col())


def _m_vbars(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    n = _ri(rng, 4, 8)
    width = _ri(rng, 2, 4)
    for k in range(n):
        x = int((k + 0.5) * w / n) + _ri(rng, -2, 2)
        d.line([(x, 0), (x, h)], fill=col(), width=width)


def _m_grid(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    step = _ri(rng, 10, 16)
    c = col()
    for x in range(_ri(rng, 0, step), w, step):
        d.line([(x, 0), (x, h)], fill=c, width=1)
    for y in range(_ri(rng, 0, step), h, step):
        d.line([(0, y), (w, y)], fill=c, width=1)


def _m_hbands(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 2, 4)):
        y, t = _ri(rng, 0, h), _ri(rng, 10, 25)
        d.rectangle([0, y, w, y + t], fill=col())


def _m_ellipses(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 3, 6)):
        cx, cy, rx, ry = _ri(rng, 0, w), _ri(rng, 0, h), _ri(rng, 8, 18), _ri(rng, 5, 12)
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=col())


def _m_diamonds(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 4, 9)):
        cx, cy, s = _ri(rng, 0, w), _ri(rng, 0, h), _ri(rng, 4, 9)
        d.polygon([(cx, cy - s), (cx + s, cy), (cx, cy + s), (cx - s, cy)], fill=col())


def _m_frame(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    inset, width = _ri(rng, 3, 10), _ri(rng, 3, 7)
    d.rectangle([inset, inset, w - inset, h - inset], outline=col(), width=width)
    if rng.random() < 0.5:
        i2 = inset + width + _ri(rng, 2, 5)
        d.rectangle([i2, i2, w - i2, h - i2], outline=col(), width=max(1, width // 2))


def _m_drips(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 5, 12)):
        x, length, width = _ri(rng, 0, w), _ri(rng, 20, 100), _ri(rng, 2, 5)
        c = col()
        d.line([(x, 0), (x, length)], fill=c, width=width)
        d.ellipse([x - width, length - width, x + width, length + width], fill=c)


def _m_rings(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    cx, cy = _ri(rng, 10, w - 10), _ri(rng, 20, h - 20)
    step = _ri(rng, 5, 8)
    for k in range(1, _ri(rng, 3, 6) + 1):
        r = k * step
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=col(), width=2)


def _m_spiral(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    cx, cy = _ri(rng, 20, w - 20), _ri(rng, 30, h - 30)
    a, turns = rng.uniform(1.2, 2.2), rng.uniform(2.5, 4.0)
    theta = np.linspace(0.0, 2 * np.pi * turns, 80) + rng.uniform(0, 2 * np.pi)
    radius = a * (theta - theta[0]) + 1.0
    pts = [(float(cx + r * np.cos(t)), float(cy + r * np.sin(t))) for r, t in zip(radius, theta)]
    d.line(pts, fill=col(), width=2)


def _m_hearts(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 1, 3)):
        cx, cy, s = _ri(rng, 10, w - 10), _ri(rng, 10, h - 20), _ri(rng, 6, 12)
        c = col()
        d.ellipse([cx - 2 * s, cy - s, cx, cy + s], fill=c)
        d.ellipse([cx, cy - s, cx + 2 * s, cy + s], fill=c)
        d.polygon([(cx - 2 * s, cy + 1), (cx + 2 * s, cy + 1), (cx, cy + 2 * s + s // 2)],
                  fill=c)


def _m_rays(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    cx, cy = _ri(rng, 10, w - 10), _ri(rng, 20, h - 20)
    c = col()
    for t in np.linspace(0, 2 * np.pi, _ri(rng, 10, 18), endpoint=False) + rng.uniform(0, 1):
        d.line([(cx, cy), (cx + 200 * np.cos(t), cy + 200 * np.sin(t))], fill=c, width=1)
    r = _ri(rng, 8, 16)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=col(), width=2)


def _m_screen(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    bw, bh = _ri(rng, 50, 70), _ri(rng, 35, 50)
    x0, y0 = (w - bw) // 2 + _ri(rng, -8, 8), (h - bh) // 2 + _ri(rng, -25, 25)
    d.rounded_rectangle([x0, y0, x0 + bw, y0 + bh], radius=6, fill=col(), outline=col(),
                        width=3)


def _m_zigzag(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 1, 3)):
        y, amp, n = _ri(rng, 10, h - 10), _ri(rng, 6, 14), _ri(rng, 5, 8)
        pts = [(k * w / (n - 1), y + (amp if k % 2 else -amp)) for k in range(n)]
        d.line(pts, fill=col(), width=3)


def _m_crosses(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    for _ in range(_ri(rng, 3, 7)):
        cx, cy, s, t = _ri(rng, 0, w), _ri(rng, 0, h), _ri(rng, 5, 10), _ri(rng, 1, 3)
        c = col()
        d.rectangle([cx - s, cy - t, cx + s, cy + t], fill=c)
        d.rectangle([cx - t, cy - s, cx + t, cy + s], fill=c)


def _m_horizon(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour) -> None:
    w, h = POSTER_SIZE
    ground = int(h * rng.uniform(0.58, 0.8))
    r = _ri(rng, 10, 18)
    cx = _ri(rng, r, w - r)
    d.ellipse([cx - r, ground - r - _ri(rng, 0, 25), cx + r, ground + r], fill=col())
    d.rectangle([0, ground, w, h], fill=col())


_MOTIFS = {
    "Action": _m_diagonal, "Adventure": _m_triangles, "Animation": _m_circles,
    "Comedy": _m_dots, "Crime": _m_vbars, "Documentary": _m_grid, "Drama": _m_hbands,
    "Family": _m_ellipses, "Fantasy": _m_diamonds, "History": _m_frame, "Horror": _m_drips,
    "Music": _m_rings, "Mystery": _m_spiral, "Romance": _m_hearts,
    "Science Fiction": _m_rays, "TV Movie": _m_screen, "Thriller": _m_zigzag,
    "War": _m_crosses, "Western": _m_horizon,
}
_GENRE_NAMES = [g.name for g in GENRES]


def _poster_jpeg(rng: random.Random, noise_rng: np.random.Generator, genres: list[str]) -> bytes:
    """A 96x144 JPEG whose palette and shapes follow ``genres``, with distractors and noise.

    The background gradient is the look of one of the genres with probability equal to its
    poster strength (otherwise random colours); each genre's motif is drawn in its palette
    with probability equal to its poster strength; one to three distractor motifs of
    random genres in random colours, and sometimes one off-genre motif in its own palette,
    blur the signal; pixel noise and a brightness/contrast jitter finish it.
    """
    w, h = POSTER_SIZE
    bg_genre = rng.choices(genres, [_POSTER_STRENGTH[g] for g in genres])[0]
    if rng.random() < _POSTER_STRENGTH[bg_genre]:
        _, top, bottom = _PALETTES[bg_genre]
        top, bottom = _jitter(rng, top, 30), _jitter(rng, bottom, 30)
    else:
        top, bottom = _random_colour(rng), _random_colour(rng)
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    canvas = np.broadcast_to(np.array(top) * (1 - t) + np.array(bottom) * t, (h, w, 3))
    img = Image.fromarray(np.ascontiguousarray(canvas).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)

    layers: list[tuple[str, Colour]] = []
    for g in genres:
        if rng.random() < _POSTER_STRENGTH[g]:
            palette = _PALETTES[g][0]
            layers.append((g, lambda p=palette: _jitter(rng, _pick(rng, p))))
    for _ in range(_ri(rng, 1, 3)):
        layers.append((_pick(rng, _GENRE_NAMES), lambda: _random_colour(rng)))
    if rng.random() < 0.15:
        other = _pick(rng, _GENRE_NAMES)
        palette = _PALETTES[other][0]
        layers.append((other, lambda p=palette: _jitter(rng, _pick(rng, p))))
    for motif, colour in rng.sample(layers, len(layers)):
        _MOTIFS[motif](draw, rng, colour)

    arr = np.asarray(img, dtype=np.float32)
    arr = arr * rng.uniform(0.85, 1.15) + rng.uniform(-20, 20)
    arr += noise_rng.standard_normal(arr.shape, dtype=np.float32) * rng.uniform(6.0, 16.0)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=POSTER_JPEG_QUALITY)
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# Records and quirks.
# --------------------------------------------------------------------------------------


def _quirk_count(rate: float, n: int, minimum: int) -> int:
    """``rate * n`` rounded, but at least ``minimum`` once the catalog has 20+ movies."""
    count = int(round(rate * n))
    return max(count, minimum) if n >= 20 else count


def _shift_year(date: str, year: int) -> str:
    d = _dt.date.fromisoformat(date)
    if d.month == 2 and d.day == 29:
        d = d.replace(day=28)
    return d.replace(year=year).isoformat()


def _synthetic_md(seed: int, n_movies: int, first_year: int, last_year: int,
                  counts: dict[str, int]) -> str:
    lines = [
        "# Synthetic demo catalog",
        "",
        "This catalog is **synthetic**. It was generated by `genre_pipeline` "
        "(`genre_pipeline.demo.generator.write_demo_catalog`) with "
        f"seed {seed}, {n_movies} movies, release years {first_year}-{last_year}.",
        "",
        "None of these are real movies. Titles start with `Synthetic:`, homepages use "
        "`https://synthetic.invalid/`, the production company is `Synthetic Pictures`, and "
        "IMDb ids are invented. Overviews and posters are generated from genre-dependent "
        "vocabularies, palettes and shapes so the tutorial's models have something to learn; "
        "they say nothing about real films.",
        "",
        "It is the offline stand-in for the tutorial's TMDB scrape, in the project's snapshot "
        "format: `movies.jsonl.gz` (TMDB `/movie/{id}` objects), `genres.json` (TMDB "
        "`/genre/movie/list`) and `posters/` (named by `poster_path` basename).",
        "",
        "Deliberate quirks, as in real TMDB data:",
        "",
        f"- {counts['duplicates']} movies listed twice; the later line has a different "
        "release year and should win",
        f"- {counts['empty_overview']} empty overviews",
        f"- {counts['null_poster']} records with `poster_path: null`",
        f"- {counts['unwritten_poster']} records whose poster file is absent from `posters/`",
        f"- {counts['legacy_genre']} records with the legacy genre "
        f"`{{\"id\": {LEGACY_FOREIGN_ID}, \"name\": \"{LEGACY_FOREIGN_NAME}\"}}` "
        "(not in `genres.json`)",
        f"- {counts['undated']} undated records (`release_date: \"\"`)",
        "",
        "Regenerate with the same arguments to get byte-identical files.",
        "",
    ]
    return "\n".join(lines)


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

    # Independent seeded streams (no global state), so e.g. a vocabulary change does not
    # reshuffle the posters. random.Random for scalar draws (fast), numpy for pixel noise.
    meta_rng = random.Random(f"demo_catalog:{seed}:meta")
    text_rng = random.Random(f"demo_catalog:{seed}:text")
    poster_rng = random.Random(f"demo_catalog:{seed}:poster")
    noise_rng = np.random.default_rng([seed, 2])
    quirk_rng = random.Random(f"demo_catalog:{seed}:quirks")

    # ---- base movies -----------------------------------------------------------------
    ids: list[int] = []
    next_id = 100000
    for _ in range(n_movies):
        next_id += meta_rng.choice((1, 1, 1, 1, 2, 3))  # ids with a few gaps
        ids.append(next_id)
    genre_names = [_draw_genres(meta_rng) for _ in range(n_movies)]
    years = [meta_rng.randint(first_year, last_year) for _ in range(n_movies)]
    seen_titles: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    for i in range(n_movies):
        movie_id = ids[i]
        year = years[i]
        start = _dt.date(year, 1, 1)
        day = meta_rng.randrange((_dt.date(year + 1, 1, 1) - start).days)
        release_date = (start + _dt.timedelta(days=day)).isoformat()
        base_title = _title(meta_rng)
        seen_titles[base_title] = seen_titles.get(base_title, 0) + 1
        suffix = "" if seen_titles[base_title] == 1 else f" {seen_titles[base_title]}"
        title = f"Synthetic: {base_title}{suffix}"
        names = genre_names[i]
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
        runtime_mean = {"Documentary": 85, "Animation": 88, "TV Movie": 90}.get(names[0], 105)
        runtime = min(220, max(40, round(meta_rng.gauss(runtime_mean, 15))))
        collection = None
        if meta_rng.random() < 0.05:
            collection = {
                "id": 500000 + i,
                "name": f"{title} Collection",
                "poster_path": None,
                "backdrop_path": None,
            }
        record = {
            "adult": False,
            "backdrop_path": f"/synb{i:06d}.jpg" if meta_rng.random() < 0.85 else None,
            "belongs_to_collection": collection,
            "budget": budget,
            "genres": [{"id": _NAME_TO_ID[n], "name": n} for n in names],
            "homepage": f"https://synthetic.invalid/movie/{movie_id}",
            "id": movie_id,
            "imdb_id": f"tt9{movie_id % 1_000_000:06d}",
            "original_language": _pick(meta_rng, _LANGUAGES),
            "original_title": title,
            "overview": _overview(text_rng, names),
            "popularity": popularity,
            "poster_path": f"/syn{i:06d}.jpg",
            "production_companies": [
                {"id": 900001, "logo_path": None, "name": "Synthetic Pictures",
                 "origin_country": "US"}
            ],
            "release_date": release_date,
            "revenue": revenue,
            "runtime": runtime,
            "status": "Released",
            "tagline": _pick(meta_rng, _TAGLINES),
            "title": title,
            "video": False,
            "vote_average": vote_average,
            "vote_count": vote_count,
        }
        records.append(record)

    # ---- quirks: disjoint sets of movies -----------------------------------------------
    order = quirk_rng.sample(range(n_movies), n_movies)
    n_dup = _quirk_count(0.01, n_movies, 1) if first_year < last_year else 0
    n_empty = _quirk_count(0.03, n_movies, 1)
    n_missing = _quirk_count(0.05, n_movies, 2)
    n_null = n_missing // 2
    n_unwritten = n_missing - n_null
    n_undated = 2 if n_movies >= 20 else 0
    n_legacy = _quirk_count(0.02, n_movies, 1)

    def take(count: int, ok=lambda i: True) -> list[int]:
        chosen = [i for i in order if ok(i)][:count]
        for i in chosen:
            order.remove(i)
        return sorted(chosen)

    dup_idx = take(n_dup)
    undated_idx = take(n_undated)
    empty_idx = take(n_empty)
    null_idx = take(n_null)
    unwritten_idx = take(n_unwritten)
    legacy_idx = take(n_legacy, lambda i: len(records[i]["genres"]) < 4)

    for i in undated_idx:
        records[i]["release_date"] = ""
    for i in empty_idx:
        records[i]["overview"] = ""
    for i in null_idx:
        records[i]["poster_path"] = None
    for i in legacy_idx:
        records[i]["genres"].append({"id": LEGACY_FOREIGN_ID, "name": LEGACY_FOREIGN_NAME})

    lines: list[dict[str, Any]] = list(records)
    duplicate_ids: list[int] = []
    for i in dup_idx:
        original = records[i]
        year = int(original["release_date"][:4])
        shift = _ri(quirk_rng, 1, 3)
        new_year = year + shift if year + shift <= last_year else max(first_year, year - shift)
        if new_year == year:  # only possible when the range is a single year
            continue
        later = json.loads(json.dumps(original))
        later["release_date"] = _shift_year(original["release_date"], new_year)
        later["vote_count"] = original["vote_count"] + _ri(quirk_rng, 3, 120)
        later["popularity"] = round(original["popularity"] * quirk_rng.uniform(1.05, 1.6), 3)
        if later["vote_average"] == 0.0:
            later["vote_average"] = round(quirk_rng.uniform(4.5, 8.0), 1)
        # The correction lands somewhere after the original line.
        original_pos = next(k for k, line in enumerate(lines) if line is original)
        lines.insert(_ri(quirk_rng, original_pos + 1, len(lines)), later)
        duplicate_ids.append(ids[i])
    duplicate_ids.sort()

    # ---- write (SYNTHETIC.md first: it marks the directory as a demo catalog) -----------
    counts = {
        "duplicates": len(duplicate_ids),
        "empty_overview": len(empty_idx),
        "null_poster": len(null_idx),
        "unwritten_poster": len(unwritten_idx),
        "legacy_genre": len(legacy_idx),
        "undated": len(undated_idx),
    }
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest / "SYNTHETIC.md",
                      _synthetic_md(seed, n_movies, first_year, last_year, counts))
    unwritten = set(unwritten_idx)
    posters: dict[str, bytes] = {}
    for i, record in enumerate(records):
        # Draw every poster (even those left unwritten) so the rng stream stays aligned.
        jpeg = _poster_jpeg(poster_rng, noise_rng, genre_names[i])
        name = poster_basename(record["poster_path"])
        if name is not None and i not in unwritten:
            posters[name] = jpeg
    _replace_posters_dir(dest, posters)

    payload = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    atomic_write_bytes(dest / "movies.jsonl.gz",
                       gzip.compress(payload.encode("utf-8"), compresslevel=6, mtime=0))
    atomic_write_json(dest / "genres.json", {"genres": genre_list()})

    present_years = sorted(
        {int(line["release_date"][:4]) for line in lines if line["release_date"]}
    )
    return DemoCatalogSummary(
        path=dest,
        n_records=len(lines),
        n_movies=n_movies,
        n_posters=len(posters),
        years=present_years,
        seed=seed,
        first_year=first_year,
        last_year=last_year,
        duplicate_ids=tuple(duplicate_ids),
        empty_overview_ids=tuple(ids[i] for i in empty_idx),
        null_poster_ids=tuple(ids[i] for i in null_idx),
        unwritten_poster_ids=tuple(ids[i] for i in unwritten_idx),
        legacy_genre_ids=tuple(ids[i] for i in legacy_idx),
        undated_ids=tuple(ids[i] for i in undated_idx),
    )
