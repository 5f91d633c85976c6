"""What the asset pages show: inline tables with schemas, column schemas, headline tables."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from genre_pipeline.defs.catalog.assets import frequent_pairs
from genre_pipeline.defs.metadata import (
    COLUMN_SCHEMA,
    column_schema,
    column_schema_metadata,
    column_type,
    filled_partitions,
    metadata_table,
)
from genre_pipeline.defs.models.assets import COLUMN_NOTES, comparison_tables
from genre_pipeline.models.evaluation import ModelComparison


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": np.array([3, 1], dtype=np.int64),
        "title": pd.Series(["Heat", None], dtype="string"),
        "score": [0.123456, float("nan")],
        "genres": [["Action", "Crime"], []],
        "known": [True, False],
        "fetched_at": pd.to_datetime(["2024-01-02", "2024-03-04"], utc=True),
        "raw": pd.Series(["{}", "{}"], dtype=object),
    })


def test_column_types_as_a_person_reads_them():
    table = frame()
    assert {name: column_type(table[name]) for name in table.columns} == {
        "id": "int", "title": "string", "score": "float", "genres": "list", "known": "bool",
        "fetched_at": "datetime", "raw": "string",
    }
    assert column_type(pd.Series([{"a": 1}], dtype=object)) == "json"
    assert column_type(pd.Series([None, 4], dtype=object)) == "int"


def test_column_schema_names_every_column_in_order_with_descriptions():
    schema = column_schema(frame(), {"id": "TMDB movie id"})
    assert [(c.name, c.type, c.description) for c in schema.columns][:3] == [
        ("id", "int", "TMDB movie id"), ("title", "string", None), ("score", "float", None)]
    assert len(schema.columns) == 7
    assert column_schema_metadata(frame()) == {COLUMN_SCHEMA: column_schema(frame())}
    with pytest.raises(ValueError, match=r"descriptions name columns the table does not have: \['year'\]"):
        column_schema(frame(), {"year": "release year"})


def test_metadata_table_rounds_floats_joins_lists_and_keeps_missing_empty():
    value = metadata_table(frame(), digits=2)
    assert isinstance(value, dg.TableMetadataValue)
    assert [c.name for c in value.schema.columns] == list(frame().columns)
    first, second = (record.data for record in value.records)
    assert first == {"id": 3, "title": "Heat", "score": 0.12, "genres": "Action, Crime", "known": True,
                     "fetched_at": "2024-01-02T00:00:00+00:00", "raw": "{}"}
    assert second["title"] is None and second["score"] is None and second["genres"] == "" and second["known"] is False
    assert metadata_table(frame().iloc[0:0]).records == []


def test_frequent_pairs_reads_the_upper_triangle_of_the_cooccurrence_matrix():
    names = ["Action", "Comedy", "Drama"]
    matrix = pd.DataFrame([[10, 2, 6], [2, 8, 6], [6, 6, 20]], index=names, columns=names)
    pairs = frequent_pairs(matrix, top=2)
    assert pairs.to_dict("records") == [
        {"genres": "Action + Drama", "movies": 6, "share_of_rarer": 0.6},
        {"genres": "Comedy + Drama", "movies": 6, "share_of_rarer": 0.75},
    ]
    assert list(frequent_pairs(pd.DataFrame([[3]], index=["War"], columns=["War"])).columns) == ["genres", "movies", "share_of_rarer"]


def test_filled_partitions_summarises_a_run_over_mostly_empty_years():
    assert filled_partitions({"1905": 0, "1999": 4, "2001": 2, "undated": 1}) == "3 of 4 (1999-2001, 1 undated)"
    assert filled_partitions({"1905": 0, "undated": 0}) == "0 of 2 (no dated record)"


def record(micro: float, macro: float, per_genre: dict[str, float], rule: str = "thresholds") -> dict:
    return {
        "status": "trained", "input": "text", "decision_rule": rule, "micro_f1": micro, "macro_f1": macro,
        "samples_f1": micro - 0.01, "precision": 0.5, "recall": 0.5, "coverage": 1.0, "n_evaluated": 40,
        "decisions": {"thresholds": {"micro_f1": micro + 0.01, "macro_f1": macro + 0.01}, "top3": {"micro_f1": 0.3, "macro_f1": 0.2}},
        "baseline": {"micro_f1": 0.25},
        "per_genre": [{"genre": g, "f1": f} for g, f in per_genre.items()],
    }


def test_comparison_tables_are_narrow_and_name_each_genres_best_model():
    comparison = ModelComparison(records={
        "svc_tfidf": record(0.6, 0.4, {"Action": 0.7, "Drama": 0.0}, rule="labels"),
        "mlp_poster": {"status": "skipped", "reason": "no posters in this catalog"},
        "fusion": record(0.62, 0.41, {"Action": 0.5, "Drama": 0.0}),
    })
    tables = comparison_tables(comparison)
    assert set(tables) == {"comparison", "decision_rules", "per_genre_best"}
    assert all(len(table.columns) <= 5 for table in tables.values())
    assert tables["comparison"].to_dict("records") == [
        {"model": "svc_tfidf", "micro F1": 0.6, "macro F1": 0.4, "samples F1": 0.59, "coverage": 1.0},
        {"model": "fusion", "micro F1": 0.62, "macro F1": 0.41, "samples F1": 0.61, "coverage": 1.0},
    ]
    assert tables["decision_rules"].iloc[1].to_dict() == {
        "model": "fusion", "own rule": "thresholds", "thresholds": "0.630/0.420", "top-3": "0.300/0.200"}
    described = metadata_table(tables["decision_rules"], descriptions=COLUMN_NOTES["decision_rules"])
    assert described.schema.columns[2].description.startswith("micro / macro F1 with per-genre thresholds")
    assert tables["per_genre_best"].to_dict("records") == [
        {"genre": "Action", "best F1": 0.7, "best model": "svc_tfidf"},
        {"genre": "Drama", "best F1": 0.0, "best model": "none"},
    ]
    assert comparison_tables(ModelComparison(records={"mlp_poster": {"status": "skipped", "reason": "x"}})) == {}
