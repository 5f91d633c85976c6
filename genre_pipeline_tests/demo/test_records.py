"""Tests for the synthetic demo records: genre co-occurrence, overviews, titles, quirks."""

from __future__ import annotations

import random
import re
from collections import Counter

from genre_pipeline.demo.records import QUIRK_ID_FIELDS, build_records, draw_genres
from genre_pipeline.demo.text import overview, title
from genre_pipeline.demo.vocabulary import load_vocabulary

VOCAB = load_vocabulary()


def test_draw_genres_follows_the_table():
    rng = random.Random(0)
    draws = [draw_genres(rng, VOCAB.genres) for _ in range(3000)]
    assert all(1 <= len(d) <= VOCAB.genres.max_genres and len(set(d)) == len(d) for d in draws)
    for genres in draws:
        assert all(c in dict(VOCAB.genres.companions[genres[0]]) for c in genres[1:])
    primary = Counter(d[0] for d in draws)
    assert [g for g, _ in primary.most_common(2)] == ["Drama", "Comedy"]
    weights = dict(VOCAB.genres.primary_weights)
    total = sum(weights.values())
    assert abs(primary["Drama"] / 3000 - weights["Drama"] / total) < 0.03


def test_overviews_use_the_genre_vocabulary_and_stay_in_bounds():
    text, table = VOCAB.text, VOCAB.genres
    rng = random.Random(3)
    words = {g: set(" ".join(sum(map(list, text.genre_words[g]), [])).split()) for g in table.names}
    crime_hits = comedy_hits = 0
    for _ in range(200):
        body = overview(rng, ["Crime"], text, table)
        tokens = re.findall(r"[a-z-]+", body.lower())
        assert text.min_words <= len(body.split()) <= text.max_words
        assert body.endswith(".") and body[0].isupper()
        assert " a a" not in body and not re.search(r"\ba [aeiou]", body)  # "an" before vowels
        crime_hits += sum(t in words["Crime"] for t in tokens)
        comedy_hits += sum(t in words["Comedy"] for t in tokens)
    assert crime_hits > 3 * comedy_hits


def test_titles_fill_a_template():
    rng = random.Random(5)
    parts = VOCAB.text.titles
    for _ in range(100):
        name = title(rng, VOCAB.text)
        assert "{" not in name and "}" not in name
        assert any(word in name for word in parts.nouns + parts.places)  # "Return to {P}"


def test_quirks_are_disjoint_and_sized_by_the_rates():
    content = build_records(600, 4, 1960, 2025, VOCAB)
    assert set(content.quirk_ids) == set(QUIRK_ID_FIELDS)
    ids = [i for field in QUIRK_ID_FIELDS for i in content.quirk_ids[field]]
    assert len(ids) == len(set(ids))  # no movie carries two quirks
    assert len(content.quirk_ids["empty_overview_ids"]) == 18  # 3% of 600
    assert len(content.quirk_ids["undated_ids"]) == 2
    missing = content.quirk_ids["null_poster_ids"] + content.quirk_ids["unwritten_poster_ids"]
    assert len(missing) == 30  # 5% of 600
    assert len(content.lines) == 600 + len(content.quirk_ids["duplicate_ids"])
    by_id = {r["id"]: r for r in content.records}
    assert all(by_id[i]["overview"] == "" for i in content.quirk_ids["empty_overview_ids"])
    assert all(by_id[i]["poster_path"] is None for i in content.quirk_ids["null_poster_ids"])


def test_small_catalogs_skip_minimum_quirks():
    content = build_records(10, 0, 2000, 2001, VOCAB)
    assert content.quirk_ids["undated_ids"] == ()  # the minimum needs 20+ movies
    assert len(content.records) == 10
