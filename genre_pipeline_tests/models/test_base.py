"""The shared model interface: own rule vs stored thresholds, hand-computed."""

import numpy as np
import pytest

from genre_pipeline.models.base import GenreModel, TooFewTrainingMovies, training_rows
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.mlp import MLPModel
from genre_pipeline.models.text_plus import TextPlusModel
from genre_pipeline.models.thresholds import Thresholds

LABELS = ["A", "B", "C", "D"]
SCORES = np.array([[0.9, 0.6, 0.2, 0.1], [0.3, 0.45, 0.4, 0.35]])
THRESHOLDS = Thresholds(labels=LABELS, values=np.array([0.95, 0.5, 0.3, 0.3]))


class Echo(GenreModel):
    """Scores are the input itself: the decision rules can be checked by hand."""

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)


class EchoTop3(Echo, MLPModel):
    pass


class EchoThresholdRule(Echo, TextPlusModel):
    pass


def test_decide_without_thresholds_is_the_models_own_rule():
    assert Echo(labels=LABELS).decide(SCORES).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]  # labels: score >= 0.5
    assert EchoTop3(labels=LABELS).decide(SCORES).tolist() == [[1, 1, 1, 0], [0, 1, 1, 1]]  # the tutorial's top 3
    assert EchoThresholdRule(labels=LABELS).decide(SCORES).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]  # none stored: 0.5


def test_decide_with_thresholds_uses_them_whatever_the_own_rule():
    expected = [[0, 1, 0, 0], [0, 0, 1, 1]]  # A needs 0.95, B 0.5, C and D 0.3
    for cls in (Echo, EchoTop3, EchoThresholdRule):
        assert cls(labels=LABELS, thresholds=THRESHOLDS).decide(SCORES).tolist() == expected


def test_predict_is_the_own_rule_even_with_thresholds_except_for_threshold_rule_models():
    assert Echo(labels=LABELS, thresholds=THRESHOLDS).predict(SCORES).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]
    assert EchoTop3(labels=LABELS, thresholds=THRESHOLDS).predict(SCORES).tolist() == [[1, 1, 1, 0], [0, 1, 1, 1]]
    assert EchoThresholdRule(labels=LABELS, thresholds=THRESHOLDS).predict(SCORES).tolist() == [[0, 1, 0, 0], [0, 0, 1, 1]]


def test_decisions_report_thresholds_only_when_stored():
    assert set(Echo(labels=LABELS).decisions(SCORES)) == {"top3"}
    both = Echo(labels=LABELS, thresholds=THRESHOLDS).decisions(SCORES)
    assert both["thresholds"].tolist() == [[0, 1, 0, 0], [0, 0, 1, 1]] and both["top3"].tolist() == [[1, 1, 1, 0], [0, 1, 1, 1]]


def test_fit_validation_thresholds_keeps_them_with_the_model():
    model = Echo(labels=["A"])
    scores = np.array([[0.9], [0.8], [0.3], [0.1]])
    fitted = model.fit_validation_thresholds(scores, np.array([[1], [1], [0], [0]]), seed=0)
    assert model.thresholds is fitted and 0.3 < fitted.values[0] < 0.8
    assert model.decide(scores).ravel().tolist() == [1, 1, 0, 0]
    assert model.name == "base" and Echo(labels=["A"], name="custom").name == "custom"


def test_too_few_training_movies_is_a_named_error():
    data = LabelledData(ids=np.arange(4), split=np.array(["train", "validation", "test", "train"], dtype=object),
                        Y=np.array([[1], [1], [1], [1]]), labels=["A"])
    train, val = training_rows(data, np.array([True, True, True, True]), "a poster")
    assert train.tolist() == [True, False, False, True] and val.tolist() == [False, True, False, False]
    with pytest.raises(TooFewTrainingMovies, match="only 1 training movies have a poster: need at least 2"):
        training_rows(data, np.array([True, True, True, False]), "a poster")
