"""Multi-label genre targets and the deterministic train / validation / test split.

Tutorial step: "Section 5/6 — labels and the train/test split". The tutorial turns each
movie's genre ids into a binary vector with ``MultiLabelBinarizer`` and splits 80/20 with
``msk = np.random.rand(len(X)) < 0.8``: a different split on every run, so two models (or two
runs of one model) are never compared on the same test movies.

Here the split is a pure function of the movie id: ``sha256(salt:id)`` mapped to [0, 1)
decides train (70%), validation (10%) or test (20%). A movie keeps its split when the
catalog grows, every model sees the same split, and the validation part serves early
stopping and per-genre thresholds. Label order is fixed once (genre vocabulary order) and
stored next to every model. :class:`LabelledData` is the label table as arrays, the one
input every training function and the evaluation take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

__all__ = [
    "DEFAULT_FRACTIONS",
    "GenreLabels",
    "labelled_data",
    "SPLIT_SALT",
    "SPLITS",
    "LabelledData",
    "align_rows",
    "assign_splits",
    "binarize",
    "label_order",
    "label_table",
    "split_of",
    "split_unit",
]

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.7, "validation": 0.1, "test": 0.2}
SPLIT_SALT = "genre-pipeline-split-v1"


def split_unit(movie_id: int, salt: str = SPLIT_SALT) -> float:
    """A stable number in [0, 1) for a movie id (first 8 bytes of sha256, big-endian)."""
    digest = hashlib.sha256(f"{salt}:{int(movie_id)}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _check_fractions(fractions: dict[str, float]) -> list[tuple[str, float]]:
    if set(fractions) != set(SPLITS):
        raise ValueError(f"fractions must name exactly {SPLITS}, got {sorted(fractions)}")
    if any(v < 0 for v in fractions.values()) or abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}")
    return [(name, float(fractions[name])) for name in SPLITS]


def split_of(movie_id: int, fractions: dict[str, float] | None = None, salt: str = SPLIT_SALT) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for one movie id, the same on every run."""
    unit = split_unit(movie_id, salt)
    edge = 0.0
    ordered = _check_fractions(fractions or DEFAULT_FRACTIONS)
    for name, share in ordered:
        edge += share
        if unit < edge:
            return name
    return ordered[-1][0]


def assign_splits(ids: Iterable[int], fractions: dict[str, float] | None = None, salt: str = SPLIT_SALT) -> np.ndarray:
    """The split of every id, as an array of strings in input order."""
    fractions = fractions or DEFAULT_FRACTIONS
    _check_fractions(fractions)
    return np.array([split_of(i, fractions, salt) for i in ids], dtype=object)


def label_order(vocabulary_names: Sequence[str], genre_lists: Iterable[Iterable[str]], min_movies: int = 1) -> list[str]:
    """The label order: vocabulary genres (in vocabulary order) carried by >= ``min_movies`` movies.

    Genres found on movies but absent from the vocabulary are appended in name order, so no
    label is silently dropped.
    """
    counts: dict[str, int] = {}
    for genres in genre_lists:
        for name in set(genres):
            counts[name] = counts.get(name, 0) + 1
    ordered = [name for name in dict.fromkeys(vocabulary_names) if counts.get(name, 0) >= min_movies]
    extra = sorted(name for name, c in counts.items() if c >= min_movies and name not in set(vocabulary_names))
    return ordered + extra


def binarize(genre_lists: Iterable[Iterable[str]], labels: Sequence[str]) -> np.ndarray:
    """``MultiLabelBinarizer`` over a fixed label order: an (n_movies, n_labels) uint8 matrix.

    Genres outside ``labels`` are ignored (they were filtered out by :func:`label_order`).
    """
    known = set(labels)
    filtered = [[g for g in genres if g in known] for genres in genre_lists]
    binarizer = MultiLabelBinarizer(classes=list(labels))
    if not filtered:
        return np.zeros((0, len(labels)), dtype=np.uint8)
    return binarizer.fit_transform(filtered).astype(np.uint8)


def label_table(ids: Sequence[int], genre_lists: Sequence[Sequence[str]], labels: Sequence[str],
                fractions: dict[str, float] | None = None, salt: str = SPLIT_SALT) -> pd.DataFrame:
    """One row per movie: ``id``, ``split``, ``genres`` (kept labels, label order), ``n_genres``.

    Movies with no kept genre stay in the table (``n_genres == 0``): they are classified but
    neither trained on nor evaluated.
    """
    position = {name: i for i, name in enumerate(labels)}
    kept = [sorted({g for g in genres if g in position}, key=position.__getitem__) for genres in genre_lists]
    return pd.DataFrame(
        {
            "id": pd.Series([int(i) for i in ids], dtype="int64"),
            "split": pd.Series(assign_splits(ids, fractions, salt), dtype="object"),
            "genres": pd.Series(kept, dtype="object"),
            "n_genres": pd.Series([len(k) for k in kept], dtype="int64"),
        }
    )


def align_rows(source_ids: Sequence[int], matrix: np.ndarray, target_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Reorder ``matrix`` (rows for ``source_ids``) to ``target_ids``: ``(full matrix, available mask)``.

    Rows for target ids absent from the source are zero and marked unavailable. A vector
    (one value per movie) is reordered the same way.
    """
    matrix = np.asarray(matrix)
    position = {int(i): r for r, i in enumerate(source_ids)}
    rows = np.array([position.get(int(i), -1) for i in target_ids], dtype=np.int64)
    available = rows >= 0
    full = np.zeros((len(rows), *matrix.shape[1:]), dtype=matrix.dtype)
    full[available] = matrix[rows[available]]
    return full, available


@dataclass
class LabelledData:
    """The label table as arrays: ids, split per movie, ``Y`` in ``labels`` order."""

    ids: np.ndarray
    split: np.ndarray
    Y: np.ndarray
    labels: list[str]

    @classmethod
    def from_table(cls, table: pd.DataFrame, labels: Sequence[str]) -> LabelledData:
        """From a table with ``id``, ``split`` and ``genres`` columns (:func:`label_table`)."""
        return cls(
            ids=table["id"].to_numpy(dtype=np.int64),
            split=table["split"].to_numpy(dtype=object),
            Y=binarize(list(table["genres"]), labels),
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
        return {name: int(self.rows(name).sum()) for name in SPLITS}

    def require_same_movies(self, ids: Sequence[int], what: str) -> None:
        """``ValueError`` unless ``ids`` are this table's movies in this order (features built from it)."""
        if len(ids) != len(self.ids) or not np.array_equal(np.asarray(ids, dtype=np.int64), self.ids):
            raise ValueError(f"{what} and the labels cover different movies ({len(ids)} vs {len(self.ids)} rows): "
                             f"rebuild {what} from the current label table")


@dataclass
class GenreLabels:
    """Every movie's kept genres in a fixed label order, with the text the text features read.

    ``table``: ``id``, ``title``, ``overview`` (str, "" when missing), ``genres`` (kept
    labels, label order), ``n_genres``; movies without a kept genre stay (``n_genres == 0``):
    classified, never trained on or scored. ``labels``: the label order every model keeps.
    """

    table: pd.DataFrame
    labels: list[str]

    TABLE_FILE = "labels.parquet"
    ORDER_FILE = "label_order.json"

    @property
    def rows(self) -> int:
        return len(self.table)

    @classmethod
    def build(cls, movies: pd.DataFrame, vocabulary_names: Sequence[str]) -> GenreLabels:
        """From the movie table (``id``, ``title``, ``overview``, ``genres``) and the vocabulary's genre names."""
        genre_lists = [list(g) for g in movies["genres"]]
        order = label_order(list(vocabulary_names), genre_lists)
        table = label_table(movies["id"], genre_lists, order)[["id", "genres", "n_genres"]]
        table.insert(1, "title", movies["title"].fillna("").astype(str).to_numpy())
        table.insert(2, "overview", movies["overview"].fillna("").astype(str).to_numpy())
        return cls(table=table, labels=order)

    def save(self, folder: Path) -> None:
        self.table.to_parquet(Path(folder) / self.TABLE_FILE, index=False)
        (Path(folder) / self.ORDER_FILE).write_text(json.dumps({"labels": self.labels}, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> GenreLabels:
        return cls(table=pd.read_parquet(Path(folder) / cls.TABLE_FILE),
                   labels=list(json.loads((Path(folder) / cls.ORDER_FILE).read_text())["labels"]))


def labelled_data(labels: GenreLabels, split: pd.DataFrame) -> LabelledData:
    """The labels joined with the recorded split (``id``, ``split``), as arrays in the labels' row order."""
    table = labels.table.merge(split[["id", "split"]], on="id", how="left")
    if table["split"].isna().any():
        missing = table.loc[table["split"].isna(), "id"].head(5).tolist()
        raise ValueError(f"the split does not cover every labelled movie (e.g. ids {missing}): rebuild data_split")
    return LabelledData.from_table(table, labels.labels)
