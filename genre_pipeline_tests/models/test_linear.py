"""The tutorial's SVM and naive Bayes on the demo catalog, and the shared calibrated SVMs."""

import numpy as np
import pytest
from sklearn.model_selection import KFold, cross_val_predict

from genre_pipeline.models.evaluation import evaluate_model
from genre_pipeline.models.linear import (
    CalibratedSVMs,
    SVCSettings,
    fit_calibrated_svms,
    linear_svc,
    train_svc_tfidf,
)


@pytest.mark.parametrize("kind", ["svc_tfidf", "naive_bayes_counts"])
def test_each_linear_model_beats_the_most_frequent_genres_baseline(trained, demo, kind):
    entry = trained[kind]
    result = evaluate_model(entry.model, entry.X, demo.data)
    assert result["n_evaluated"] >= 40 and result["coverage"] == 1.0 and result["decision_rule"] == "labels"
    assert result["micro_f1"] > result["baseline"]["micro_f1"] + 0.02, result
    assert result["macro_f1"] > result["baseline"]["macro_f1"]
    assert result["decisions"]["thresholds"]["micro_f1"] > result["baseline"]["micro_f1"]
    scores = entry.model.predict_proba(entry.X[demo.data.rows("test")])
    assert scores.shape == (result["n_evaluated"], len(demo.labels)) and ((scores >= 0) & (scores <= 1)).all()


@pytest.mark.parametrize("kind", ["svc_tfidf", "naive_bayes_counts"])
def test_thresholds_come_from_the_validation_split(trained, demo, kind):
    model = trained[kind].model
    val = demo.data.rows("validation")
    assert model.thresholds.info["validation_movies"] == int(val.sum())
    assert model.thresholds.info["validation_positives"] == demo.Y[val].sum(axis=0).tolist()


def test_svc_predicts_its_own_label_sets_and_scores_calibrated_margins(trained, demo):
    model, X = trained["svc_tfidf"].model, trained["svc_tfidf"].X
    svms: CalibratedSVMs = model.estimator
    margins = svms.decision_function(X)
    assert np.array_equal(model.predict(X), (margins > 0).astype(np.uint8))
    proba = model.predict_proba(X)
    for g in range(len(demo.labels)):
        if g in svms.fixed:
            assert np.all(proba[:, g] == svms.fixed[g])
            continue
        steps = np.diff(proba[np.argsort(margins[:, g]), g])
        assert np.all(steps >= -1e-12) or np.all(steps <= 1e-12)  # a sigmoid of the margin: monotone in it
    assert model.info["best_C"] in SVCSettings().Cs and len(model.info["grid"]) == len(SVCSettings().Cs)


def test_out_of_fold_probabilities_are_the_sigmoid_of_margins_from_svms_that_did_not_see_the_movie():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6))
    Y = np.column_stack([(X[:, 0] > 0), (X[:, 1] + 0.3 * rng.normal(size=90) > 0.5), np.zeros(90), np.r_[1, 1, np.zeros(88)]])
    svms, oof = fit_calibrated_svms(X, Y, C=0.5, folds=3, seed=0, out_of_fold=True)
    assert svms.fixed == {2: 0.0, 3: pytest.approx(2 / 90)}  # one class / too few positives to cross-fit: frequency
    assert isinstance(svms.models[3], type(linear_svc(1.0, 0)))  # still an SVM for the label sets
    margins = cross_val_predict(linear_svc(0.5, 0), X, Y[:, 0].astype(int), cv=KFold(3, shuffle=True, random_state=0),
                                method="decision_function")
    calibrator = svms.models[0].calibrated_classifiers_[0].calibrators[0]
    assert np.allclose(oof[:, 0], calibrator.predict(margins))
    in_sample = svms.predict_proba(X)[:, 0]
    assert not np.allclose(oof[:, 0], in_sample)  # out-of-fold is not the refit model's score
    assert np.all(oof[:, 2] == 0.0) and np.allclose(oof[:, 3], 2 / 90)


def test_features_of_other_movies_are_refused(demo, features):
    shifted = type(features.tfidf)(features.tfidf.vectorizer, features.tfidf.matrix, features.tfidf.ids + 1, {})
    with pytest.raises(ValueError, match="the TF-IDF features and the labels cover different movies"):
        train_svc_tfidf(shifted, demo.data)


def test_large_catalogs_fit_the_same_svms_by_sgd_with_platt_sigmoids_on_out_of_fold_margins(demo, features):
    from genre_pipeline.models.linear import LinearMargins, fit_sgd_svms, grid_rows

    data = demo.data
    train = data.rows("train")
    X, Y = features.tfidf.matrix[train], data.Y[train]
    margins_model, oof = fit_sgd_svms(X, Y, C=0.1, folds=3, seed=0, out_of_fold=True)
    assert isinstance(margins_model, LinearMargins) and oof.shape == Y.shape
    exact, exact_oof = fit_calibrated_svms(X, Y, 0.1, folds=3, seed=0, out_of_fold=True)
    test = data.rows("test")
    Xt, Yt = features.tfidf.matrix[test], data.Y[test]
    from genre_pipeline.models.stacking import ranking_quality

    assert ranking_quality(Yt, margins_model.predict_proba(Xt)) > ranking_quality(Yt, exact.predict_proba(Xt)) - 0.05
    assert ranking_quality(Y, oof) > 0.3  # out-of-fold probabilities carry the signal
    proba, margins = margins_model.predict_proba(Xt), margins_model.decision_function(Xt)
    assert ((proba >= 0) & (proba <= 1)).all() and margins_model.predict(Xt).tolist() == (margins > 0).astype(int).tolist()
    for g in range(Y.shape[1]):  # a Platt sigmoid is increasing: a larger margin never scores lower
        if g not in margins_model.fixed:
            order = np.argsort(margins[:, g])
            assert np.all(np.diff(proba[order, g]) >= -1e-12)
    again, _ = fit_sgd_svms(X, Y, C=0.1, folds=3, seed=0, n_jobs=1)
    assert np.array_equal(again.coef, margins_model.coef)  # seeded: threads or not, the same weights
    assert grid_rows(50, 0, limit=100).tolist() == list(range(50))
    sample = grid_rows(1000, 0, limit=100)
    assert len(sample) == 100 and len(set(sample.tolist())) == 100 and sample.tolist() == grid_rows(1000, 0, limit=100).tolist()


def test_svc_tfidf_on_hashed_features_fits_by_sgd_and_ranks_like_liblinear(tmp_path):
    """A 6,000-movie text-only synthetic catalog (the large path is meant for >= 20,000 movies)."""
    from genre_pipeline.demo.bulk import write_bulk_catalog
    from genre_pipeline.features.text import tfidf_features
    from genre_pipeline.models.labels import GenreLabels, assign_splits, labelled_data
    from genre_pipeline.models.linear import LinearMargins
    from genre_pipeline.models.stacking import ranking_quality
    import gzip
    import json

    import pandas as pd

    folder = write_bulk_catalog(tmp_path / "bulk", n_movies=6_000, seed=0).path
    with gzip.open(folder / "movies.jsonl.gz", "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    movies = pd.DataFrame({"id": [r["id"] for r in records], "title": [r["title"] for r in records],
                           "overview": [r["overview"] for r in records],
                           "genres": [[g["name"] for g in r["genres"]] for r in records]})
    names = [g["name"] for g in json.loads((folder / "genres.json").read_text())["genres"]]
    labelled = GenreLabels.build(movies, names)
    split = labelled.table[["id"]].assign(split=assign_splits(labelled.table["id"]))
    data = labelled_data(labelled, split)
    table = labelled.table
    hashed = tfidf_features(list(table["title"]), list(table["overview"]), table["id"], data.split == "train", recipe="hashed")
    model = train_svc_tfidf(hashed, data, SVCSettings(Cs=(0.03, 0.1)))
    assert model.info["solver"] == "sgd" and isinstance(model.estimator, LinearMargins)
    assert model.info["grid_movies"] == int(data.rows("train").sum())  # fewer than GRID_MOVIES: every training movie
    train, test = data.rows("train"), data.rows("test")
    exact, _ = fit_calibrated_svms(hashed.matrix[train], data.Y[train], model.info["best_C"], folds=3, seed=0)
    X_test, Y_test = hashed.matrix[test], data.Y[test]
    sgd_quality = ranking_quality(Y_test, model.predict_proba(X_test))
    assert sgd_quality > ranking_quality(Y_test, exact.predict_proba(X_test)) - 0.02
    result = evaluate_model(model, hashed.matrix, data)
    assert result["micro_f1"] > result["baseline"]["micro_f1"] + 0.05, result
