"""Where one pipeline home keeps its Dagster instance and its data.

A home is a single directory (``GENRE_PIPELINE_HOME``, default ``./.genre_pipeline``)::

    <home>/
      current -> generations/<id>   the published data: one consistent generation
      generations/<id>/             tables/  features/  models/  catalog/  manifest.json
      staging/<run id>/             what a running run has written (published when it succeeds)
      dagster/                      DAGSTER_HOME: the instance (SQLite by default): runs, events, lineage
      posters/                      poster images, named by the basename of TMDB's poster_path
      cache/<asset>/                per-text / per-poster embedding stores (keyed by content hash)
      demo_catalog/                 the synthetic demo snapshot (written by ``make demo``)
      .lock                         the writer lock: who writes this home now

Everything a run produces lands in ``staging/<run id>`` and becomes visible all at once
when the run succeeds, as a new generation that ``current`` points to. Posters and the
embedding caches are content stores (a file never changes once written) shared by every
generation. Two homes never share a file, so two homes never interfere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "GENRE_PIPELINE_HOME"
DEFAULT_HOME = ".genre_pipeline"


class HomeError(RuntimeError):
    """The home directory cannot be used (a file in its place, an older layout, ...)."""


def resolve_home_dir(home: str | os.PathLike | None = None) -> Path:
    """The home directory: the argument, else ``$GENRE_PIPELINE_HOME``, else ``./.genre_pipeline``."""
    chosen = home or os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def _inside(name: str) -> property:
    """A path of the home: ``<root>/<name>``."""
    return property(lambda self: self.root / name, doc=f"``<home>/{name}``")


@dataclass(frozen=True)
class Home:
    """Paths inside one pipeline home. Creating the object touches nothing on disk."""

    root: Path

    @classmethod
    def at(cls, home: str | os.PathLike | None = None) -> Home:
        return cls(resolve_home_dir(home))

    dagster_home = _inside("dagster")  # DAGSTER_HOME: the instance
    current_link = _inside("current")
    generations_dir = _inside("generations")
    staging_dir = _inside("staging")
    posters_dir = _inside("posters")
    demo_catalog_dir = _inside("demo_catalog")
    lock_path = _inside(".lock")

    def cache_dir(self, name: str) -> Path:
        """A content-addressed store owned by one asset (e.g. ``cache/sentence_embeddings``)."""
        return self.root / "cache" / name

    def check_usable(self) -> None:
        """Raise :class:`HomeError` when the path cannot hold a home."""
        if self.root.exists() and not self.root.is_dir():
            raise HomeError(f"home {self.root} is a file, not a directory (choose another --home)")
        legacy = self.root / "tables"
        if legacy.is_dir() and not self.generations_dir.exists():
            raise HomeError(
                f"home {self.root} was written by an older genre-pipeline (tables/ at its top level, no generations/); "
                "rebuild it in a new home (--home NEW_DIR) or delete it"
            )

    def ensure(self) -> Home:
        """Create the home's folders and the instance settings (idempotent)."""
        self.check_usable()
        for folder in (self.dagster_home, self.generations_dir, self.staging_dir, self.posters_dir):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            # SQLite storage inside the home; telemetry off so nothing tries the network.
            dagster_yaml.write_text("telemetry:\n  enabled: false\n")
        return self

    def contains(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` is the home or lies inside it."""
        return Path(path).expanduser().resolve().is_relative_to(self.root)
