"""Network training reports ``progress(epoch, max_epochs)``; an early stop closes at the epochs it ran."""

from __future__ import annotations

import numpy as np

from genre_pipeline.models.mlp import MLPSettings, train_mlp


def data(seed: int, rows: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 6)).astype(np.float32)
    Y = (X[:, :2] > 0).astype(np.float32)
    return X, Y


def test_every_epoch_is_reported_and_an_early_stop_ends_the_count():
    X, Y = data(0, 80)
    settings = MLPSettings(hidden=(8,), max_epochs=12, patience=2, seed=0)
    calls: list[tuple[int, int]] = []
    network = train_mlp(X, Y, X[:0], Y[:0], settings, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(epoch, 12) for epoch in range(1, 13)]  # no validation rows: no early stop
    assert network.info["epochs_run"] == 12
    Xv, Yv = data(1, 40)
    Yv = 1 - Yv  # validation labels that training can only get worse at: it stops early
    stopped: list[tuple[int, int]] = []
    network = train_mlp(X, Y, Xv, Yv, settings, progress=lambda done, total: stopped.append((done, total)))
    ran = network.info["epochs_run"]
    assert ran < 12 and stopped == [(epoch, 12) for epoch in range(1, ran + 1)] + [(ran, ran)]
