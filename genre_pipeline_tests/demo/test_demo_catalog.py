"""Tests for the synthetic demo catalog (the offline stand-in for the tutorial's TMDB scrape)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genre_pipeline.ingestion.records import poster_basename, release_year_key
from genre_pipeline.demo.generator import (
    GENRES,
    LEGACY_FOREIGN_ID,
    POSTER_SIGNAL_GENRES,
    POSTER_SIZE,
    TEXT_SIGNAL_GENRES,
    TMDB_MOVIE_FIELDS,
    DemoCatalogSummary,
    genre_list,
    write_demo_catalog,
)

EXPECTED_GENRES = {
    28: "Action", 12: "Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
    99: "Documentary", 18: "Drama", 10751: "Family", 14: "Fantasy", 36: "History",
    27: "Horror", 10402: "Music", 9648: "Mystery", 10749: "Romance", 878: "Science Fiction",
    10770: "TV Movie", 53: "Thriller", 10752: "War", 37: "Western",
}
GENRE_NAMES = [g.name for g in GENRES]


def read_lines(catalog: Path) -> list[dict]:
    with gzip.open(catalog / "movies.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def latest_by_id(lines: list[dict]) -> dict[int, dict]:
    latest: dict[int, dict] = {}
    for line in lines:
        latest[line["id"]] = line  # later line wins
    return latest


def tree_bytes(catalog: Path) -> dict[str, bytes]:
    files = sorted(p for p in catalog.rglob("*") if p.is_file())
    return {str(p.relative_to(catalog)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> tuple[DemoCatalogSummary, list[dict]]:
    summary = write_demo_catalog(tmp_path_factory.mktemp("demo") / "nested" / "catalog")
    return summary, read_lines(summary.path)


# ---- API and determinism ------------------------------------------------------------------


def test_genre_constants_match_tmdb():
    assert {g.id: g.name for g in GENRES} == EXPECTED_GENRES
    assert len(GENRES) == 19
    assert LEGACY_FOREIGN_ID == 10769
    assert genre_list() == [{"id": g.id, "name": g.name} for g in GENRES]


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path):
    a = write_demo_catalog(tmp_path / "a", n_movies=120, seed=5)
    b = write_demo_catalog(tmp_path / "b", n_movies=120, seed=5)
    c = write_demo_catalog(tmp_path / "c", n_movies=120, seed=6)
    files_a, files_b, files_c = tree_bytes(a.path), tree_bytes(b.path), tree_bytes(c.path)
    assert files_a == files_b
    assert any(name.startswith("posters/") for name in files_a)
    assert dataclasses.replace(a, path=b.path) == b
    assert files_a["movies.jsonl.gz"] != files_c["movies.jsonl.gz"]
    assert files_a["genres.json"] == files_c["genres.json"]
    shared = [n for n in files_a if n.startswith("posters/") and n in files_c]
    assert shared and any(files_a[n] != files_c[n] for n in shared)
    # gzip header carries no timestamp
    assert files_a["movies.jsonl.gz"][4:8] == b"\x00\x00\x00\x00"


def test_overwrite_replaces_previous_catalog(tmp_path):
    dest = tmp_path / "catalog"
    write_demo_catalog(dest, n_movies=80, seed=1)
    (dest / "posters" / "syn999999.jpg").write_bytes(b"stale")
    second = write_demo_catalog(dest, n_movies=60, seed=2)
    fresh = write_demo_catalog(tmp_path / "fresh", n_movies=60, seed=2)
    assert tree_bytes(dest) == tree_bytes(fresh.path)
    assert len(list((dest / "posters").iterdir())) == second.n_posters
    assert sorted(p.name for p in dest.iterdir()) == [
        "SYNTHETIC.md", "genres.json", "movies.jsonl.gz", "posters"
    ]


def test_refuses_to_overwrite_a_real_snapshot(tmp_path):
    (tmp_path / "movies.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    with pytest.raises(FileExistsError, match="not a synthetic demo catalog; refusing"):
        write_demo_catalog(tmp_path, n_movies=30)
    assert gzip.decompress((tmp_path / "movies.jsonl.gz").read_bytes()) == b"{}\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_movies": 0}, "n_movies must be at least 1, got 0"),
        ({"seed": -1}, "seed must be non-negative, got -1"),
        ({"first_year": 2000, "last_year": 1999}, "first_year 2000 is after last_year 1999"),
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_demo_catalog(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_tiny_catalog_and_year_range(tmp_path):
    summary = write_demo_catalog(tmp_path / "tiny", n_movies=5, seed=3,
                                 first_year=1999, last_year=2001)
    lines = read_lines(summary.path)
    assert summary.n_records == len(lines) >= 5
    assert summary.n_movies == len({line["id"] for line in lines}) == 5
    assert set(summary.years) <= {1999, 2000, 2001}

    one_year = write_demo_catalog(tmp_path / "one", n_movies=40, seed=3,
                                  first_year=2010, last_year=2010)
    assert one_year.years == [2010] and one_year.duplicate_ids == ()  # no other year to move to
    assert one_year.n_records == 40 and len(one_year.undated_ids) == 2


# ---- shape ---------------------------------------------------------------------------------


def test_summary_matches_files(catalog):
    summary, lines = catalog
    assert summary.path.is_dir() and summary.seed == 0
    assert summary.n_records == len(lines)
    assert summary.n_movies == len({line["id"] for line in lines}) == 600
    posters = list((summary.path / "posters").iterdir())
    assert summary.n_posters == len(posters)
    years = sorted({int(line["release_date"][:4]) for line in lines if line["release_date"]})
    assert summary.years == years


def test_records_have_exactly_tmdb_fields_and_sane_values(catalog):
    summary, lines = catalog
    current_ids = set(EXPECTED_GENRES)
    for line in lines:
        assert tuple(line) == TMDB_MOVIE_FIELDS
        assert isinstance(line["id"], int) and line["id"] > 0
        assert line["title"].startswith("Synthetic: ")
        assert line["original_title"] == line["title"]
        assert line["homepage"] == f"https://synthetic.invalid/movie/{line['id']}"
        assert [c["name"] for c in line["production_companies"]] == ["Synthetic Pictures"]
        assert line["imdb_id"].startswith("tt9") and len(line["imdb_id"]) == 9
        assert line["adult"] is False and line["video"] is False
        assert line["status"] == "Released"
        real = [g for g in line["genres"] if g["id"] in current_ids]
        assert 1 <= len(line["genres"]) <= 4 and real
        assert all(EXPECTED_GENRES[g["id"]] == g["name"] for g in real)
        assert len({g["id"] for g in line["genres"]}) == len(line["genres"])
        if line["overview"]:
            assert 15 <= len(line["overview"].split()) <= 60
        if line["release_date"]:
            year = int(line["release_date"][:4])
            assert 1960 <= year <= 2025
            assert release_year_key(line) == str(year)
        assert line["popularity"] > 0 and 0 <= line["vote_average"] <= 10
        assert line["vote_count"] >= 0 and line["runtime"] > 0
        if line["poster_path"] is not None:
            assert poster_basename(line["poster_path"]) == line["poster_path"][1:]
            assert line["poster_path"].startswith("/syn")
    ids = [line["id"] for line in latest_by_id(lines).values()]
    assert len(ids) == len(set(ids)) == 600
    assert len({line["imdb_id"] for line in lines}) == 600
    assert len({line["title"] for line in lines}) == 600  # duplicate lines share a title
    assert len({line["title"].split(": ", 1)[1].split()[0] for line in lines}) > 15  # varied
    years = Counter(int(d[:4]) for d in (line["release_date"] for line in lines) if d)
    assert len(years) > 55  # spread over 1960-2025


def test_genres_json_is_tmdb_genre_list(catalog):
    summary, _ = catalog
    payload = json.loads((summary.path / "genres.json").read_text())
    assert list(payload) == ["genres"]
    assert {g["id"]: g["name"] for g in payload["genres"]} == EXPECTED_GENRES
    assert all(set(g) == {"id", "name"} for g in payload["genres"])
    assert LEGACY_FOREIGN_ID not in {g["id"] for g in payload["genres"]}


def test_synthetic_md_labels_the_catalog(catalog):
    summary, _ = catalog
    text = (summary.path / "SYNTHETIC.md").read_text()
    assert "synthetic" in text.lower() and "seed 0, 600 movies, release years 1960-2025" in text
    assert "none of these are real movies" in text.lower()
    assert f"- {len(summary.duplicate_ids)} movies listed twice" in text
    assert f"- {len(summary.empty_overview_ids)} empty overviews" in text
    assert f"- {len(summary.null_poster_ids)} records with `poster_path: null`" in text
    assert f"- {len(summary.unwritten_poster_ids)} records whose poster file is absent" in text
    assert (f"- {len(summary.legacy_genre_ids)} records with the legacy genre "
            '`{"id": 10769, "name": "Foreign"}`') in text
    assert f"- {len(summary.undated_ids)} undated records" in text
    assert "$" not in text  # every template slot filled


# Digests of seed 0 / 600 movies. They pin the content drawn from the data files: editing a
# word list, a weight or a quirk rate changes them (update them on purpose, never by accident).
# Posters are left out: their bytes depend on the JPEG encoder of the installed Pillow.
GOLDEN_SHA256 = {
    "movies.jsonl": "c36d65bb6c0e5d873a6482f30bcadeeee3b6761bd831065212d175cb9116c1e7",
    "genres.json": "ae44cd07b82517c6d43caa36992645e47298883433fe5f9eb9ae4d6f052f1d5b",
    "SYNTHETIC.md": "604772ee11517d1587ad1bce475476cda4b57d767871438c3cb8a80d8e62a1ef",
}


def test_seed_0_content_is_pinned(catalog):
    summary, _ = catalog
    files = {
        "movies.jsonl": gzip.decompress(summary.movies_file.read_bytes()),
        "genres.json": summary.genres_file.read_bytes(),
        "SYNTHETIC.md": (summary.path / "SYNTHETIC.md").read_bytes(),
    }
    assert {name: hashlib.sha256(data).hexdigest() for name, data in files.items()} == GOLDEN_SHA256


def test_posters_are_small_jpegs_named_by_poster_path(catalog):
    summary, lines = catalog
    files = {p.name: p for p in (summary.path / "posters").iterdir()}
    referenced = {poster_basename(line["poster_path"]) for line in lines if line["poster_path"]}
    assert set(files) <= referenced
    for path in files.values():
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert image.size == POSTER_SIZE
            image.load()
    assert all(2_000 < p.stat().st_size < 20_000 for p in files.values())


# ---- quirks --------------------------------------------------------------------------------


def test_duplicate_ids_later_line_has_another_year(catalog):
    summary, lines = catalog
    counts = Counter(line["id"] for line in lines)
    duplicated = sorted(i for i, c in counts.items() if c > 1)
    assert duplicated == list(summary.duplicate_ids)
    assert 3 <= len(duplicated) <= 12
    for movie_id in duplicated:
        positions = [k for k, line in enumerate(lines) if line["id"] == movie_id]
        first, later = lines[positions[0]], lines[positions[-1]]
        assert release_year_key(first) != release_year_key(later)  # two year partitions
        assert later["vote_count"] != first["vote_count"]
        assert later["genres"] == first["genres"] and later["title"] == first["title"]


def test_empty_overviews_missing_posters_legacy_genre_undated(catalog):
    summary, lines = catalog
    movies = latest_by_id(lines)
    files = {p.name for p in (summary.path / "posters").iterdir()}

    empty = sorted(i for i, m in movies.items() if m["overview"] == "")
    assert empty == list(summary.empty_overview_ids) and 10 <= len(empty) <= 30

    null = sorted(i for i, m in movies.items() if m["poster_path"] is None)
    assert null == list(summary.null_poster_ids) and len(null) >= 8
    unwritten = sorted(
        i for i, m in movies.items()
        if m["poster_path"] and poster_basename(m["poster_path"]) not in files
    )
    assert unwritten == list(summary.unwritten_poster_ids) and len(unwritten) >= 8
    assert 0.03 <= (len(null) + len(unwritten)) / len(movies) <= 0.07
    assert summary.n_posters == len(movies) - len(null) - len(unwritten)

    legacy = sorted(
        i for i, m in movies.items() if LEGACY_FOREIGN_ID in {g["id"] for g in m["genres"]}
    )
    assert legacy == list(summary.legacy_genre_ids) and 6 <= len(legacy) <= 20
    for movie_id in legacy:
        assert {"id": LEGACY_FOREIGN_ID, "name": "Foreign"} in movies[movie_id]["genres"]
        assert any(g["id"] in EXPECTED_GENRES for g in movies[movie_id]["genres"])

    undated = sorted(i for i, m in movies.items() if m["release_date"] == "")
    assert undated == list(summary.undated_ids) and len(undated) == 2
    assert all(release_year_key(movies[i]) == "undated" for i in undated)


# ---- content realism and learnability ------------------------------------------------------


def label_matrix(movies: list[dict]) -> np.ndarray:
    index = {name: k for k, name in enumerate(GENRE_NAMES)}
    y = np.zeros((len(movies), len(GENRE_NAMES)), dtype=int)
    for row, movie in enumerate(movies):
        for g in movie["genres"]:
            if g["name"] in index:
                y[row, index[g["name"]]] = 1
    return y


def test_genre_frequencies_and_cooccurrence_are_realistic(catalog):
    _, lines = catalog
    y = label_matrix(list(latest_by_id(lines).values()))
    freq = dict(zip(GENRE_NAMES, y.mean(axis=0)))
    assert max(freq, key=freq.get) == "Drama"
    assert sorted(freq, key=freq.get)[-2] == "Comedy"
    assert all(f > 0.01 for f in freq.values())  # every genre is present
    counts = Counter(y.sum(axis=1))
    assert set(counts) <= {1, 2, 3, 4} and counts[1] > 100 and counts[4] > 5

    def p(b: str, given: str) -> float:
        has = y[:, GENRE_NAMES.index(given)] == 1
        return y[has, GENRE_NAMES.index(b)].mean()

    assert p("Adventure", "Action") > 0.25 > 0.1 > p("Adventure", "Horror")
    assert p("Family", "Animation") > 0.4 > 0.1 > p("Family", "Horror")
    assert p("Thriller", "Horror") > 0.3 > 0.1 > p("Thriller", "Romance")
    assert p("Drama", "History") > 0.5 and p("War", "History") > 0.25
    documentary = y[:, GENRE_NAMES.index("Documentary")] == 1
    assert (y[documentary].sum(axis=1) == 1).mean() > 0.6  # documentaries mostly alone


def usable_movies(summary: DemoCatalogSummary, lines: list[dict]) -> list[dict]:
    posters = summary.path / "posters"
    return [
        m for m in sorted(latest_by_id(lines).values(), key=lambda m: m["id"])
        if m["overview"] and m["poster_path"] and (posters / m["poster_path"][1:]).is_file()
    ]


def poster_features(summary: DemoCatalogSummary, movies: list[dict]) -> np.ndarray:
    """8x12 mean colours per poster, standardised."""
    rows = []
    for m in movies:
        data = (summary.path / "posters" / m["poster_path"][1:]).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            small = image.convert("RGB").resize((8, 12), Image.Resampling.BOX)
        rows.append(np.asarray(small, dtype=np.float32).ravel() / 255.0)
    x = np.stack(rows)
    return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)


def test_text_and_posters_are_learnable_and_complementary(catalog):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, roc_auc_score
    from sklearn.model_selection import KFold
    from sklearn.multiclass import OneVsRestClassifier

    summary, lines = catalog
    movies = usable_movies(summary, lines)
    y = label_matrix(movies)
    x_text = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(
        [m["overview"] for m in movies]
    )
    x_poster = poster_features(summary, movies)

    def cross_val_proba(x, c: float) -> np.ndarray:
        proba = np.zeros(y.shape)
        for train, test in KFold(3, shuffle=True, random_state=0).split(y):
            model = OneVsRestClassifier(
                LogisticRegression(C=c, class_weight="balanced", solver="liblinear")
            )
            model.fit(x[train], y[train])
            proba[test] = model.predict_proba(x[test])
        return proba

    p_text = cross_val_proba(x_text, 10.0)
    p_poster = cross_val_proba(x_poster, 0.05)

    # Text: clearly better than always predicting the most frequent genre, far from perfect.
    most_frequent = np.zeros_like(y)
    most_frequent[:, y.sum(axis=0).argmax()] = 1
    baseline = f1_score(y, most_frequent, average="micro")
    text_f1 = f1_score(y, p_text > 0.5, average="micro")
    assert text_f1 > baseline + 0.15, (text_f1, baseline)
    assert text_f1 < 0.95

    auc_text = {g: roc_auc_score(y[:, k], p_text[:, k]) for k, g in enumerate(GENRE_NAMES)}
    auc_poster = {g: roc_auc_score(y[:, k], p_poster[:, k]) for k, g in enumerate(GENRE_NAMES)}

    # Posters carry real signal for the "poster" genres (a constant guess has AUC 0.5) ...
    strong = [g for g in POSTER_SIGNAL_GENRES if auc_poster[g] > 0.7]
    assert len(strong) >= 3, auc_poster
    # ... and the modalities are complementary: each wins on its own genres.
    poster_genres, text_genres = sorted(POSTER_SIGNAL_GENRES), sorted(TEXT_SIGNAL_GENRES)
    assert np.mean([auc_poster[g] for g in poster_genres]) > np.mean(
        [auc_text[g] for g in poster_genres]
    ) + 0.05
    assert np.mean([auc_text[g] for g in text_genres]) > np.mean(
        [auc_poster[g] for g in text_genres]
    ) + 0.15
    assert max(auc_text.values()) < 0.99  # not trivially separable
