"""Catalog facts as features (genre_pipeline.features.facts)."""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.features.facts import CatalogFacts, catalog_facts, movie_facts, record_facts


def _record(**changes) -> dict:
    record = {"id": 1, "original_language": "EN", "runtime": 94, "release_date": "1995-11-22", "budget": 30_000_000,
              "revenue": 0, "production_companies": [{"id": 3, "name": "Pixar Animation Studios"}, {"name": " "}],
              "belongs_to_collection": {"id": 10194, "name": "Toy Story Collection"},
              "tagline": "The adventure takes off!"}
    record.update(changes)
    return record


def test_a_tmdb_record_becomes_named_indicator_features():
    assert record_facts(_record()) == {
        "language=en": 1.0,
        "runtime=9": 1.0,
        "decade=1990": 1.0,
        "year=1995": 0.5,
        "budget=1e7": 1.0,
        "revenue=unknown": 1.0,
        "company=Pixar Animation Studios": 1.0,
        "in_collection": 1.0,
        "tagline=adventure": 1.0,
        "tagline=takes": 1.0,
    }


def test_missing_or_wrongly_typed_facts_add_nothing_or_an_unknown_bin():
    facts = record_facts({"id": 2, "original_language": 7, "runtime": "long", "release_date": "unknown", "budget": True,
                          "revenue": float("nan"), "production_companies": "Pixar", "belongs_to_collection": "x",
                          "tagline": None})
    assert facts == {"runtime=unknown": 1.0, "budget=unknown": 1.0, "revenue=unknown": 1.0}
    assert movie_facts(runtime=600)["runtime=20"] == 1.0  # very long films share the last bin
    assert movie_facts(production_companies=np.array(["A24", "A24 "]))  == {"runtime=unknown": 1.0, "budget=unknown": 1.0,
                                                                           "revenue=unknown": 1.0, "company=A24": 1.0}


def test_names_come_from_training_movies_seen_at_least_twice(tmp_path):
    facts = [movie_facts("en", 90, 2001, production_companies=["Shared"]),
             movie_facts("en", 95, 2002, production_companies=["Shared", "Once"]),
             movie_facts("fr", 120, 1950, production_companies=["Test only"]),
             movie_facts("fr", 121, 1951, production_companies=["Test only"])]
    built = catalog_facts(facts, [10, 11, 12, 13], [True, True, False, False])
    names = set(built.vectorizer.get_feature_names_out())
    assert "company=Shared" in names and "language=en" in names and "decade=2000" in names
    assert "company=Once" not in names  # one training movie
    assert "company=Test only" not in names and "language=fr" not in names  # never in training
    assert built.info["fit_movies"] == 2 and built.info["features_by_kind"]["company"] == 1
    assert built.matrix.dtype == np.float32 and built.matrix.shape == (4, len(names))
    # a test movie shares only the unknown-money bins with training: it still has a row, with those features only
    assert built.has_facts.tolist() == [True, True, True, True]

    built.save(tmp_path / "facts")
    loaded = CatalogFacts.load(tmp_path / "facts")
    assert np.array_equal(loaded.ids, built.ids) and (loaded.matrix != built.matrix).nnz == 0
    assert loaded.transform([movie_facts("en")]).shape == (1, len(names))

    rows, present = built.aligned([13, 99, 10])
    assert present.tolist() == [True, False, True]
    assert rows.shape == (3, len(names)) and rows[1].nnz == 0
    assert (rows[2] != built.matrix[0]).nnz == 0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        catalog_facts([{}], [1, 2], [True, True])


@pytest.mark.parametrize("changes", [{}, {"runtime": "120", "budget": "5000000"}, {"production_companies": ["Pixar"]},
                                     {"release_date": None, "belongs_to_collection": None, "tagline": 3}])
def test_a_record_at_prediction_has_the_facts_its_movie_table_row_has(changes):
    import pandas as pd

    from genre_pipeline.catalog.dedup import build_movie_table, raw_frame
    from genre_pipeline.features.facts import FACT_COLUMNS

    record = _record(genres=[{"id": 16, "name": "Animation"}], **changes)
    table = build_movie_table(raw_frame([record], "1995", pd.Timestamp("2026-01-01", tz="UTC")), {16: "Animation"})
    row = table.to_dict("records")[0]
    assert movie_facts(*(row[c] for c in FACT_COLUMNS)) == record_facts(record)
