"""Dense-vector learners and logit stacks (genre_pipeline.models.stacking)."""

import numpy as np
import pytest

from genre_pipeline.models.stacking import fit_logit_stack, ranking_quality, train_dense_learner


def _vectors(n: int, seed: int):
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(n, 12))
    E[:, 5] = 0.25  # a constant dimension
    E[:, 6] = 0.25 + 1e-9 * rng.normal(size=n)  # constant up to rounding noise
    Y = np.column_stack([E[:, 0] + 0.5 * rng.normal(size=n) > 0, E[:, 1] - E[:, 2] > 0.5]).astype(np.uint8)
    return E, Y


def test_dense_learner_learns_ignores_constant_dimensions_and_cross_fits():
    E, Y = _vectors(200, 0)
    Ev, Yv = _vectors(100, 1)
    learner = train_dense_learner(E, Y, ["A", "B"], Ev, Yv, Cs=(0.01, 1.0), components=10, folds=5, seed=0)
    assert learner.info["components"] == 10 and learner.dim == 12 and learner.C in (0.01, 1.0)
    noisy = Ev.copy()
    noisy[:, 6] += 1e-7  # rounding noise in a constant dimension is not a signal
    assert np.allclose(learner.predict_proba(noisy), learner.predict_proba(Ev), atol=1e-6)
    assert ranking_quality(Yv, learner.predict_proba(Ev)) > 0.85
    assert learner.oof_proba.shape == Y.shape and not np.allclose(learner.oof_proba, learner.predict_proba(E))
    with pytest.raises(ValueError, match=r"vectors must be \(n, 12\), got \(3, 5\)"):
        learner.predict_proba(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="need at least 5 training vectors with labels, got 4"):
        train_dense_learner(E[:4], Y[:4], ["A", "B"])


def test_logit_stack_keeps_the_first_source_for_a_genre_with_one_class():
    rng = np.random.default_rng(0)
    Y = np.column_stack([rng.integers(0, 2, 60), np.zeros(60)]).astype(np.uint8)
    first = np.clip(np.where(Y == 1, 0.7, 0.3) + 0.1 * rng.normal(size=Y.shape), 0.01, 0.99)
    second = np.full(Y.shape, 0.5)
    stack = fit_logit_stack([first, second], Y)
    assert stack.weights[1].tolist() == [1.0, 0.0, 0.0]
    assert np.allclose(stack.predict_proba(first, second)[:, 1], first[:, 1])
    with pytest.raises(ValueError, match="this combiner takes 2 probability sources, got 1"):
        stack.predict_proba(first)
