"""Training recipes shared by the Dagster assets and the quality benchmark.

Each recipe takes features aligned to the label table and returns a trained model; the
same :func:`evaluate_model` scores every model on the same test movies, next to the
most-frequent-genres baseline. Keeping this in one plain module means the benchmark
measures exactly what the pipeline materializes.

Tutorial steps: sections 7-9 (train the SVM, naive Bayes and the two neural networks on
one 80/20 split; print per-movie precision and recall). Improvements: a stable, recorded
70/10/20 split shared by every model, training only on training movies (vectorizers and
word2vec included), early stopping on validation, and every figure reported with its
split sizes, coverage (movies the model could score) and the trivial baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genre_pipeline.models import classifiers, labels as labels_mod, metrics

__all__ = [
    "MODEL_NAMES",
    "LabelledData",
    "TrainingSettings",
    "align_rows",
    "bag_of_words",
    "evaluate_model",
    "fit_mlp",
    "fit_naive_bayes",
    "fit_svc",
    "mean_word2vec",
    "model_scores_frame",
    "snapshot_movie_table",
    "tfidf",
]

# Asset / saved-model names, in display order.
MODEL_NAMES = ("svc_tfidf", "naive_bayes_counts", "mlp_poster", "mlp_word2vec")


@dataclass
class LabelledData:
    """The label table as arrays: ids, split per movie, ``Y`` in ``labels`` order."""

    ids: np.ndarray
    split: np.ndarray
    Y: np.ndarray
    labels: list[str]

    @classmethod
    def from_table(cls, table: pd.DataFrame, labels: Sequence[str]) -> "LabelledData":
        return cls(
            ids=table["id"].to_numpy(dtype=np.int64),
            split=table["split"].to_numpy(dtype=object),
            Y=labels_mod.binarize(list(table["genres"]), labels),
            labels=list(labels),
        )

    @property
    def labelled(self) -> np.ndarray:
        return self.Y.sum(axis=1) > 0

    def rows(self, split: str, available: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask: movies of ``split`` that have at least one genre (and are ``available``)."""
        mask = (self.split == split) & self.labelled
        return mask if available is None else mask & np.asarray(available, dtype=bool)

    def split_sizes(self) -> dict[str, int]:
        return {name: int(self.rows(name).sum()) for name in labels_mod.SPLITS}


def snapshot_movie_table(snapshot_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The movie table and genre vocabulary of a snapshot directory, built by the catalog
    assets' own code (dedup, vocabulary), without Dagster. For benchmarks and tests."""
    from pathlib import Path

    from genre_pipeline.catalog import dedup, genres
    from genre_pipeline.ingestion.snapshot import find_movies_file, parse_movie_lines, read_genre_list

    folder = Path(snapshot_dir)
    records, _bad = parse_movie_lines(find_movies_file(folder))
    for record in records:
        record.pop("_line", None)
    raw = dedup.raw_frame(records, "snapshot", pd.Timestamp.now(tz="UTC"))
    vocabulary = genres.build_vocabulary(read_genre_list(folder), dedup.all_genre_ids(raw["record_json"]))
    return dedup.build_movie_table(raw, genres.id_to_name(vocabulary)), vocabulary


def align_rows(source_ids: Sequence[int], matrix: np.ndarray, target_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Reorder ``matrix`` (rows for ``source_ids``) to ``target_ids``: ``(full matrix, available mask)``.

    Rows for target ids absent from the source are zero and marked unavailable.
    """
    matrix = np.asarray(matrix)
    position = {int(i): r for r, i in enumerate(source_ids)}
    full = np.zeros((len(target_ids), matrix.shape[1] if matrix.ndim == 2 else 0), dtype=matrix.dtype)
    available = np.zeros(len(target_ids), dtype=bool)
    for r, movie_id in enumerate(target_ids):
        source_row = position.get(int(movie_id))
        if source_row is not None:
            full[r] = matrix[source_row]
            available[r] = True
    return full, available


def evaluate_model(
    model: classifiers.GenreModel,
    X_all,
    data: LabelledData,
    available: np.ndarray | None = None,
    split: str = "test",
) -> dict:
    """Score ``model`` on ``split``: tutorial precision/recall, F1s, per-genre table, baseline.

    ``X_all`` has one row per movie of ``data`` (rows where ``available`` is false are
    ignored: no poster, no word2vec word). ``coverage`` is the share of the split's
    labelled movies the model could score.
    """
    rows = data.rows(split, available)
    everyone = data.rows(split)
    train_rows = data.rows("train", available)
    y_true = data.Y[rows]
    if rows.any():
        pred = model.predict(X_all[rows])
    else:
        pred = np.zeros_like(y_true)
    result = metrics.evaluate(y_true, pred, data.labels)
    per_genre = result.pop("per_genre")
    baseline = metrics.best_baseline(data.Y[train_rows] if train_rows.any() else data.Y[data.rows("train")], y_true)
    return {
        "model": model.name,
        "input": model.input_kind,
        "decision_rule": model.decision_rule,
        **{k: float(v) for k, v in result.items() if k != "n_movies"},
        "n_evaluated": int(rows.sum()),
        "n_split": int(everyone.sum()),
        "coverage": float(rows.sum() / everyone.sum()) if everyone.sum() else 0.0,
        "split_sizes": data.split_sizes(),
        "baseline": baseline,
        "beats_baseline": bool(result["micro_f1"] > baseline["micro_f1"]) if rows.any() else False,
        "per_genre": per_genre,
    }


def model_scores_frame(model: classifiers.GenreModel, X_all, data: LabelledData, available: np.ndarray | None = None) -> pd.DataFrame:
    """Scores and predicted genres for every movie the model can score (all splits).

    Columns: ``id``, ``split``, ``scores`` (list of float32 in ``model.labels`` order),
    ``predicted`` (list of genre names under the model's decision rule).
    """
    mask = np.ones(len(data.ids), dtype=bool) if available is None else np.asarray(available, dtype=bool)
    if not mask.any():
        return pd.DataFrame({"id": pd.Series([], dtype="int64"), "split": [], "scores": [], "predicted": []})
    X = X_all[mask]
    scores = np.asarray(model.predict_proba(X), dtype=np.float32)
    pred = np.asarray(model.predict(X))
    names = np.array(model.labels, dtype=object)
    return pd.DataFrame(
        {
            "id": data.ids[mask],
            "split": data.split[mask],
            "scores": [row.tolist() for row in scores],
            "predicted": [list(names[np.flatnonzero(row)]) for row in pred],
        }
    )


# --------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of the four models (small enough for the demo on 2 CPUs)."""

    seed: int = 0
    svc_Cs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    svc_cv: int = 3
    nb_alpha: float = 1.0
    mlp_hidden: tuple[int, ...] = (256,)
    mlp_dropout: float = 0.3
    mlp_max_epochs: int = 60
    mlp_patience: int = 6
    mlp_batch_size: int = 64
    mlp_lr: float = 1e-3


def bag_of_words(overviews: Sequence[str], data: LabelledData):
    """Tutorial bag-of-words counts (``CountVectorizer(max_df=0.95, min_df=0.005)``), fit on training movies."""
    from genre_pipeline.features import text

    return text.fit_transform_split(text.count_vectorizer(), overviews, data.ids, data.split == "train")


def tfidf(titles: Sequence[str], overviews: Sequence[str], data: LabelledData):
    """Tuned TF-IDF over title + overview, fit on training movies."""
    from genre_pipeline.features import text

    texts = [text.movie_text(t, o) for t, o in zip(titles, overviews)]
    features = text.fit_transform_split(text.tfidf_vectorizer(), texts, data.ids, data.split == "train")
    features.info["text"] = "title+overview"
    return features


def fit_svc(features, data: LabelledData, settings: TrainingSettings = TrainingSettings()) -> classifiers.SklearnGenreModel:
    rows = data.rows("train")
    model = classifiers.train_linear_svc(
        features.matrix[rows], data.Y[rows], data.labels, Cs=settings.svc_Cs, cv=settings.svc_cv, seed=settings.seed,
        vectorizer=features.vectorizer, name="svc_tfidf", input_kind="tfidf",
    )
    model.info["text"] = features.info.get("text", "overview")
    return model


def fit_naive_bayes(features, data: LabelledData, settings: TrainingSettings = TrainingSettings()) -> classifiers.SklearnGenreModel:
    rows = data.rows("train")
    model = classifiers.train_naive_bayes(
        features.matrix[rows], data.Y[rows], data.labels, alpha=settings.nb_alpha, vectorizer=features.vectorizer,
        name="naive_bayes_counts", input_kind="counts",
    )
    model.info["text"] = "overview"
    return model


def fit_mlp(
    X_all: np.ndarray,
    available: np.ndarray,
    data: LabelledData,
    name: str,
    input_kind: str,
    settings: TrainingSettings = TrainingSettings(),
    extras: dict | None = None,
) -> classifiers.MLPGenreModel:
    """MLP on per-movie vectors (rows where ``available``), early-stopped on validation."""
    train, val = data.rows("train", available), data.rows("validation", available)
    if train.sum() < 2:
        raise ValueError(f"{name}: only {int(train.sum())} training movies have {input_kind} features")
    return classifiers.train_mlp(
        X_all[train], data.Y[train], X_all[val], data.Y[val], data.labels, name=name, input_kind=input_kind,
        hidden=settings.mlp_hidden, dropout=settings.mlp_dropout, lr=settings.mlp_lr, batch_size=settings.mlp_batch_size,
        max_epochs=settings.mlp_max_epochs, patience=settings.mlp_patience, seed=settings.seed, extras=extras,
    )


def mean_word2vec(overviews: Sequence[str], data: LabelledData, w2v_settings=None):
    """Word vectors (pretrained or trained on training overviews) and every movie's mean vector.

    Returns ``(keyed vectors, full matrix, available mask)``; unavailable = no known word.
    """
    from genre_pipeline.features import text, word2vec

    tokens = [text.tokenize(o) for o in overviews]
    train_tokens = [t for t, s in zip(tokens, data.split) if s == "train"]
    kv = word2vec.word_vectors(train_tokens, w2v_settings)
    embedded = word2vec.mean_embeddings(tokens, kv)
    full = np.zeros((len(tokens), kv.vector_size), dtype=np.float32)
    full[embedded.kept] = embedded.matrix
    return kv, full, embedded.kept
