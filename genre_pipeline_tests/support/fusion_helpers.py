"""Demo-catalog arrays for the model tests (no Dagster, no ../shared).

Poster features here are a coarse colour histogram plus a 4x6 colour thumbnail (136 numbers):
the fusion code is agnostic to what the poster embedding is, and these keep the synthetic
posters' genre palettes and gradients while costing milliseconds instead of a VGG16 pass.
Tests that embed a new poster file with the saved VGG16 settings use real (random-weight)
VGG16 embeddings of ``poster_files``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from genre_pipeline.demo.generator import write_demo_catalog
from genre_pipeline.features.facts import CatalogFacts, catalog_facts, record_facts
from genre_pipeline.features.text import movie_texts
from genre_pipeline.features.vgg16 import PosterFeatures
from genre_pipeline.ingestion.records import poster_basename
from genre_pipeline.models.labels import LabelledData, assign_splits, binarize, label_order


@dataclass
class DemoArrays:
    ids: np.ndarray
    titles: list[str]
    overviews: list[str]
    posters: np.ndarray
    has_poster: np.ndarray
    Y: np.ndarray
    split: np.ndarray
    labels: list[str]
    poster_files: list[Path | None]
    facts: list[dict[str, float]]  # :func:`record_facts` of every movie's record

    @property
    def data(self) -> LabelledData:
        return LabelledData(ids=self.ids, split=self.split, Y=self.Y, labels=list(self.labels))

    @property
    def texts(self) -> list[str]:
        """Title + overview of every movie, as the text models read them."""
        return movie_texts(self.titles, self.overviews)

    def poster_features(self) -> PosterFeatures:
        """The histogram poster features of the movies that have a poster."""
        return PosterFeatures(ids=self.ids[self.has_poster], matrix=self.posters[self.has_poster], info={"weights": "histogram"})

    def catalog_facts(self) -> CatalogFacts:
        """The ``catalog_facts`` feature of these movies (names fitted on the training split)."""
        return catalog_facts(self.facts, self.ids, self.split == "train")


POSTER_DIM = 64 + 4 * 6 * 3


def poster_features(path: Path) -> np.ndarray:
    """4x4x4 RGB histogram (shares of pixels) + 4x6 RGB thumbnail, in [0, 1]."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        pixels = np.asarray(rgb, dtype=np.int64).reshape(-1, 3) // 64
        histogram = np.bincount(pixels[:, 0] * 16 + pixels[:, 1] * 4 + pixels[:, 2], minlength=64) / len(pixels)
        small = np.asarray(rgb.resize((4, 6), Image.BILINEAR), dtype=np.float64).ravel() / 255.0
    return np.concatenate([histogram, small])


def demo_arrays(folder: Path, n_movies: int = 600, seed: int = 0) -> DemoArrays:
    write_demo_catalog(folder, n_movies=n_movies, seed=seed)
    records: dict[int, dict] = {}
    with gzip.open(folder / "movies.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            records[int(record["id"])] = record  # later line wins, as in the pipeline
    ids = sorted(records)
    vocabulary = [g["name"] for g in json.loads((folder / "genres.json").read_text())["genres"]]
    genres = [[g["name"] for g in records[i].get("genres") or []] for i in ids]
    labels = label_order(vocabulary, genres)
    posters = np.zeros((len(ids), POSTER_DIM))
    has_poster = np.zeros(len(ids), dtype=bool)
    files: list[Path | None] = []
    for row, movie_id in enumerate(ids):
        path = records[movie_id].get("poster_path")
        file = folder / "posters" / poster_basename(path) if path else None
        files.append(file if file is not None and file.is_file() else None)
        if files[-1] is not None:
            posters[row] = poster_features(file)
            has_poster[row] = True
    return DemoArrays(
        ids=np.asarray(ids),
        titles=[records[i].get("title") or "" for i in ids],
        overviews=[records[i].get("overview") or "" for i in ids],
        posters=posters,
        has_poster=has_poster,
        Y=binarize(genres, labels),
        split=assign_splits(ids),
        labels=labels,
        poster_files=files,
        facts=[record_facts(records[i]) for i in ids],
    )
