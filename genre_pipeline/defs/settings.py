"""PipelineSettings: which source and which home a code location runs against.

`dagster dev` reads them from the environment; the CLI builds them from its flags. They hold
no secret: the TMDB key is read by the TMDB resource from the environment at run time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from genre_pipeline.storage.home import HOME_ENV_VAR, resolve_home_dir

SOURCE_KINDS = ("demo", "snapshot", "tmdb")


@dataclass(frozen=True)
class PipelineSettings:
    home: str
    source: str = "demo"
    snapshot_dir: str | None = None
    demo_movies: int = 600
    demo_seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in SOURCE_KINDS:
            raise ValueError(f"unknown source {self.source!r}; expected one of {', '.join(SOURCE_KINDS)}")
        if self.source == "snapshot" and not self.snapshot_dir:
            raise ValueError("source 'snapshot' needs a snapshot directory (--snapshot DIR or GENRE_PIPELINE_SNAPSHOT)")

    @classmethod
    def from_env(cls) -> "PipelineSettings":
        return cls(
            home=str(resolve_home_dir(os.environ.get(HOME_ENV_VAR))),
            source=os.environ.get("GENRE_PIPELINE_SOURCE", "demo"),
            snapshot_dir=os.environ.get("GENRE_PIPELINE_SNAPSHOT") or None,
            demo_movies=int(os.environ.get("GENRE_PIPELINE_DEMO_MOVIES", "600")),
            demo_seed=int(os.environ.get("GENRE_PIPELINE_DEMO_SEED", "0")),
        )
