"""Evaluation figures, comparison and report against a hand-computed example."""

import json

import numpy as np
import pytest

from genre_pipeline.models import evaluation
from genre_pipeline.models.base import GenreModel
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.thresholds import Thresholds

LABELS = ["A", "B", "C"]


class Echo(GenreModel):
    kind = "echo"
    input_kind = "scores"

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)


@pytest.fixture
def example():
    split = np.array(["train"] * 4 + ["test"] * 4, dtype=object)
    Y = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1],  # training genre counts: A 3, B 1, C 1
                  [1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]])  # the last test movie has no genre: never evaluated
    X = np.array([[0.0] * 3] * 4 + [[0.9, 0.2, 0.6], [0.4, 0.7, 0.1], [0.8, 0.3, 0.55], [0.9, 0.9, 0.9]])
    data = LabelledData(ids=np.arange(10, 18), split=split, Y=Y, labels=LABELS)
    model = Echo(labels=LABELS, thresholds=Thresholds(labels=LABELS, values=np.array([0.85, 0.5, 0.58])))
    return model, X, data


def test_figures_under_the_own_rule_thresholds_and_top3(example):
    model, X, data = example
    result = evaluation.evaluate_model(model, X, data)
    # own rule (score >= 0.5): [1,0,1] [0,1,0] [1,0,1] against [1,0,0] [0,1,0] [1,0,1]
    # per movie P / R: 1/2 / 1, 1 / 1, 1 / 1
    assert result["precision"] == pytest.approx(2.5 / 3) and result["recall"] == pytest.approx(1.0)
    assert result["micro_f1"] == pytest.approx(8 / 9)  # TP 4, FP 1, FN 0
    assert result["macro_f1"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert result["samples_f1"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert (result["n_evaluated"], result["n_split"], result["coverage"]) == (3, 3, 1.0)
    # thresholds (0.85, 0.5, 0.58): [1,0,1] [0,1,0] [0,0,0] -> TP 2, FP 1, FN 2
    assert result["decisions"]["thresholds"] == {"micro_f1": round(4 / 7, 4), "macro_f1": round(5 / 9, 4),
                                                 "samples_f1": round(5 / 9, 4)}
    # top-3 of three genres: everything -> TP 4, FP 5
    assert result["decisions"]["top3"] == {"micro_f1": round(8 / 13, 4), "macro_f1": 0.6, "samples_f1": 0.6}
    # baseline: k=1 (A) 4/7, k=2 (A, B) 6/10, k=3 8/13 -> k=3 is the best
    assert result["baseline"]["k"] == 3 and result["baseline"]["micro_f1"] == pytest.approx(8 / 13)
    assert result["beats_baseline"] is True
    per_genre = result["per_genre"].set_index("genre")
    assert per_genre["f1"].round(4).tolist() == [1.0, 1.0, round(2 / 3, 4)]
    assert per_genre["support"].tolist() == [2, 1, 1] and per_genre["predicted"].tolist() == [2, 1, 2]


def test_coverage_counts_the_movies_the_model_could_score(example):
    model, X, data = example
    available = np.ones(len(X), dtype=bool)
    available[5] = False  # the second test movie has no input (no poster, no known word)
    result = evaluation.evaluate_model(model, X, data, available)
    assert (result["n_evaluated"], result["n_split"]) == (2, 3) and result["coverage"] == pytest.approx(2 / 3)
    assert result["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1))  # [1,0,1] [1,0,1] vs [1,0,0] [1,0,1]


def test_records_comparison_chart_and_report(example):
    model, X, data = example
    record = evaluation.evaluation_record(evaluation.evaluate_model(model, X, data), source="hand example")
    json.dumps(record)  # JSON-ready
    records = {"echo": record, "mlp_poster": evaluation.skipped_record("mlp_poster", "no posters in this catalog")}
    frame = evaluation.comparison_frame(records)
    assert frame["status"].tolist() == ["trained", "skipped: no posters in this catalog"]
    assert frame.loc[0, "thresholds_micro_f1"] == round(4 / 7, 4) and frame.loc[0, "top3_macro_f1"] == 0.6
    genre_table = evaluation.per_genre_f1(records)
    assert genre_table["genre"].tolist() == LABELS and genre_table["echo"].round(4).tolist() == [1.0, 1.0, round(2 / 3, 4)]
    assert evaluation.comparison_chart(frame)[:8] == b"\x89PNG\r\n\x1a\n"
    assert evaluation.summary_table(record).iloc[1, 0] == "most frequent 3 genres"
    report = evaluation.build_report(records)
    assert report["models"]["echo"]["micro_f1"] == pytest.approx(8 / 9)
    assert report["models"]["mlp_poster"] == {"status": "skipped", "source": None, "reason": "no posters in this catalog",
                                              "evaluated_at": None}
    text = evaluation.format_table(report)
    assert "echo                    0.889    0.889    0.889  0.833  1.000     3  0.571/0.556 0.615/0.600" in text
    assert "skipped: no posters in this catalog" in text and "baseline (top 3)" in text
    assert "split: train 4, validation 0, test 3 labelled movies" in text and "source: hand example" in text


def test_scores_frame_lists_every_movie_with_its_own_rule_genres(example):
    model, X, data = example
    frame = evaluation.model_scores_frame(model, X, data)
    assert frame["id"].tolist() == list(range(10, 18)) and frame["split"].tolist()[4] == "test"
    assert frame["predicted"].tolist()[4:] == [["A", "C"], ["B"], ["A", "C"], ["A", "B", "C"]]
    assert frame["scores"].iloc[4] == pytest.approx([0.9, 0.2, 0.6])
    none = evaluation.model_scores_frame(model, X, data, np.zeros(len(X), dtype=bool))
    assert len(none) == 0 and list(none.columns) == ["id", "split", "scores", "predicted"]
