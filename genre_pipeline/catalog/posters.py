"""The poster index: which poster file each movie has (the files live in the home's poster store).

Poster images are stored once, under the basename of TMDB's ``poster_path``, in a store
shared by every generation of a home (a file there never changes: a new poster comes
with a new ``poster_path``). The index is what a generation says about them: per movie,
the poster file it uses and whether it is usable. It is stored with the absolute store
folder, so whoever loads the index gets paths to open without knowing the home's layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genre_pipeline.ingestion.records import PosterFetch

INDEX_COLUMNS = ["id", "poster_path", "poster_file", "status", "reason"]
USABLE = ("present", "fetched")


@dataclass
class PosterIndex:
    """One row per movie: ``id``, ``poster_path``, ``poster_file`` (a name in ``root``), ``status``, ``reason``."""

    frame: pd.DataFrame
    root: Path

    @property
    def rows(self) -> int:
        return len(self.frame)

    def usable(self) -> pd.DataFrame:
        """Movies whose poster is on disk and valid."""
        return self.frame[self.frame["poster_file"].notna() & self.frame["status"].isin(USABLE)]

    def path(self, poster_file: str) -> Path:
        return self.root / poster_file

    def counts(self) -> dict[str, int]:
        return {status: int((self.frame["status"] == status).sum()) for status in ("present", "fetched", "missing", "failed")}

    def save(self, folder: Path) -> None:
        self.frame.to_parquet(folder / "index.parquet", index=False)
        (folder / "store.json").write_text(json.dumps({"root": str(self.root)}) + "\n")

    @classmethod
    def load(cls, folder: Path) -> PosterIndex:
        return cls(frame=pd.read_parquet(folder / "index.parquet"), root=Path(json.loads((folder / "store.json").read_text())["root"]))

    @classmethod
    def combine(cls, parts: Mapping[str, PosterIndex]) -> PosterIndex:
        """One index over release-year partitions (``{partition: index}``), in partition order.

        A movie listed by two partitions (its release year moved and only one of the two
        years was rebuilt since) keeps the row of the later partition key. Every part must
        point at the same poster store.
        """
        roots = {str(part.root) for part in parts.values()}
        if len(roots) > 1:
            raise ValueError(f"poster index partitions point at different poster stores: {', '.join(sorted(roots))}")
        frames = [parts[key].frame for key in sorted(parts) if len(parts[key].frame)]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=INDEX_COLUMNS)
        frame = frame.drop_duplicates("id", keep="last").reset_index(drop=True)
        return cls(frame=frame, root=Path(roots.pop()) if roots else Path("."))


def build_index(ids: list[int], poster_paths: list[str | None], fetched: dict[str, PosterFetch], root: Path) -> PosterIndex:
    """The index for movies ``ids`` (with their ``poster_paths``) from the fetch results by poster path."""
    rows = []
    for movie_id, poster_path in zip(ids, poster_paths):
        result = fetched.get(poster_path) if isinstance(poster_path, str) else None
        if result is None:
            rows.append({"id": int(movie_id), "poster_path": None, "poster_file": None, "status": "missing", "reason": "no poster_path"})
        else:
            rows.append({"id": int(movie_id), "poster_path": poster_path,
                         "poster_file": result.file.name if result.file is not None else None,
                         "status": result.status, "reason": result.reason})
    return PosterIndex(frame=pd.DataFrame(rows, columns=INDEX_COLUMNS), root=Path(root))
