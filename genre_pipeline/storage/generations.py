"""Generations: what one run writes becomes visible all at once, or not at all.

A *unit* is what one asset (or one partition of it) stores: a file such as
``tables/movies.parquet`` or ``tables/raw_movie_records/1999.parquet``, or a folder such as
``models/svc_tfidf/``. A *generation* is a complete, consistent set of units
(``generations/<id>/``) with a ``manifest.json`` that says which asset and partition each
unit holds. ``<home>/current`` is a symlink to the published generation.

A run writes its units into ``staging/<run id>/`` (each file written atomically, each unit
recorded in ``staging/<run id>/units/``). Inside the run, a reader sees its own staged
units over the published generation. When the run succeeds, :meth:`GenerationStore.publish`
builds the next generation — hard links to every unchanged unit of the current one, the
staged units moved in — and swaps ``current`` with one ``rename``: a reader resolves
``current`` once and sees the old generation or the new one, never a mix. A failed run's
staging is discarded. A run killed with ``kill -9`` leaves its staging and the previous
generation behind; :meth:`GenerationStore.sweep` (run by the next writer) removes the
staging and half-built generations and reports which runs died.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genre_pipeline.storage import codecs
from genre_pipeline.storage.atomic import atomic_write_json
from genre_pipeline.storage.home import Home

MANIFEST = "manifest.json"
UNITS_DIR = "units"  # inside a run's staging folder: one JSON record per staged unit
KEEP_GENERATIONS = 3  # the current one and the two before it stay readable


class StorageError(RuntimeError):
    """A unit cannot be read or written; the message names the asset and the path."""


@dataclass(frozen=True)
class Unit:
    """One stored output: ``path`` relative to a generation, the asset (and partition) it holds."""

    path: str
    asset: str
    partition: str | None = None
    kind: str = "file"  # "file" | "folder"
    codec: str = ""  # how to read it back (see genre_pipeline.storage.codecs)
    deleted: bool = False  # a tombstone: the asset no longer has this unit
    run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"path": self.path, "asset": self.asset, "partition": self.partition, "kind": self.kind,
                "codec": self.codec, "deleted": self.deleted, "run_id": self.run_id, "metadata": self.metadata}

    @classmethod
    def from_json(cls, data: dict) -> Unit:
        return cls(path=data["path"], asset=data["asset"], partition=data.get("partition"), kind=data.get("kind", "file"),
                   codec=data.get("codec", ""), deleted=bool(data.get("deleted", False)), run_id=data.get("run_id"),
                   metadata=dict(data.get("metadata") or {}))

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.asset, self.partition)


def _check_relative(path: str) -> str:
    parts = Path(path).parts
    if not parts or Path(path).is_absolute() or ".." in parts or parts[0] in (MANIFEST, UNITS_DIR):
        raise StorageError(f"bad unit path {path!r}")
    return str(Path(*parts))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Generation:
    """A read-only view of one published generation (resolved once: stays consistent)."""

    def __init__(self, root: Path):
        self.root = root
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        self.id: str = manifest["generation"]
        self.created: str = manifest.get("created", "")
        self.runs: list[str] = list(manifest.get("runs", []))
        self.units: dict[tuple[str, str | None], Unit] = {}
        for data in manifest.get("units", []):
            unit = Unit.from_json(data)
            self.units[unit.key] = unit

    def unit(self, asset: str, partition: str | None = None) -> Unit | None:
        return self.units.get((asset, partition))

    def partitions(self, asset: str) -> dict[str, Unit]:
        return {u.partition: u for (a, p), u in self.units.items() if a == asset and p is not None}

    def path(self, unit: Unit) -> Path:
        return self.root / unit.path

    def assets(self) -> list[str]:
        return sorted({a for a, _ in self.units})

    def read(self, asset: str, partition: str | None = None, columns: list[str] | None = None) -> Any:
        """The stored value of ``asset`` (one partition of it), as its asset returned it."""
        unit = self.unit(asset, partition)
        if unit is None:
            where = f"{asset}" + (f" partition {partition}" if partition is not None else "")
            raise StorageError(f"{where} is not in generation {self.id} of {self.root.parent.parent}: materialize it first")
        return codecs.read(self.path(unit), unit.codec, columns)

    def read_partitions(self, asset: str, columns: list[str] | None = None) -> dict[str, Any]:
        """Every stored partition of ``asset``, by partition key."""
        return {p: self.read(asset, p, columns) for p in sorted(self.partitions(asset))}


class RunStaging:
    """The units one run has written so far (``staging/<run id>/``)."""

    def __init__(self, root: Path, run_id: str):
        self.root = root
        self.run_id = run_id

    def target(self, path: str) -> Path:
        """Where to write a unit: a fresh location (an older staged copy of it is removed first)."""
        relative = _check_relative(path)
        target = self.root / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def record(self, unit: Unit) -> None:
        """Record a unit once its bytes are in place (the record is what publish trusts)."""
        name = uuid.uuid5(uuid.NAMESPACE_URL, f"{unit.asset}\x00{unit.partition}").hex
        atomic_write_json(self.root / UNITS_DIR / f"{name}.json", unit.to_json())

    def units(self) -> dict[tuple[str, str | None], Unit]:
        folder = self.root / UNITS_DIR
        out: dict[tuple[str, str | None], Unit] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            unit = Unit.from_json(json.loads(path.read_text(encoding="utf-8")))
            out[unit.key] = unit
        return out


@dataclass
class SweepReport:
    """What :meth:`GenerationStore.sweep` found: runs that died mid-write and what was removed."""

    abandoned_runs: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class GenerationStore:
    """Generations, staging and publishing of one home (see the module docstring)."""

    def __init__(self, home: Home):
        self.home = home

    # -- reading -----------------------------------------------------------------------
    def current(self) -> Generation | None:
        """The published generation, resolved now (``None`` before the first publish)."""
        link = self.home.current_link
        if not link.is_symlink():
            return None
        target = (link.parent / os.readlink(link)).resolve()
        if not (target / MANIFEST).is_file():
            raise StorageError(f"{link} points to {target}, which holds no {MANIFEST}")
        return Generation(target)

    def staging(self, run_id: str) -> RunStaging:
        return RunStaging(self.home.staging_dir / run_id, run_id)

    def resolve(self, run_id: str | None, asset: str, partition: str | None = None) -> tuple[Unit, Path] | None:
        """The unit a reader in run ``run_id`` sees: its own staged copy, else the published one."""
        if run_id is not None:
            staging = self.staging(run_id)
            unit = staging.units().get((asset, partition))
            if unit is not None:
                return None if unit.deleted else (unit, staging.root / unit.path)
        current = self.current()
        if current is None:
            return None
        unit = current.unit(asset, partition)
        return None if unit is None else (unit, current.path(unit))

    def resolve_partitions(self, run_id: str | None, asset: str) -> dict[str, tuple[Unit, Path]]:
        """Every partition of ``asset`` a reader in run ``run_id`` sees, by partition key."""
        out: dict[str, tuple[Unit, Path]] = {}
        current = self.current()
        if current is not None:
            out = {p: (u, current.path(u)) for p, u in current.partitions(asset).items()}
        if run_id is not None:
            staging = self.staging(run_id)
            for (a, p), unit in staging.units().items():
                if a == asset and p is not None:
                    if unit.deleted:
                        out.pop(p, None)
                    else:
                        out[p] = (unit, staging.root / unit.path)
        return out

    # -- publishing --------------------------------------------------------------------
    def publish(self, run_id: str) -> Generation | None:
        """Make everything run ``run_id`` staged visible as one new generation (idempotent).

        Returns the new generation, or ``None`` when the run staged nothing (or was published
        already). The swap of ``current`` is a single ``rename``.
        """
        staging = self.staging(run_id)
        staged = staging.units() if staging.root.is_dir() else {}
        previous = self.current()
        if not staged or (previous is not None and run_id in previous.runs):
            self._remove(staging.root)
            return None
        created = dt.datetime.now(dt.timezone.utc)
        gen_id = created.strftime("%Y%m%dT%H%M%S%fZ") + "-" + run_id[:8]
        building = self.home.generations_dir / f".{gen_id}.building"
        self._remove(building)
        building.mkdir(parents=True)
        units: dict[tuple[str, str | None], Unit] = {}
        if previous is not None:
            for key, unit in previous.units.items():
                if key in staged:
                    continue
                self._link_unit(previous.path(unit), building / unit.path)
                units[key] = unit
        for key, unit in staged.items():
            if unit.deleted:
                units.pop(key, None)
                continue
            source = staging.root / unit.path
            if not source.exists():
                raise StorageError(f"run {run_id} recorded {unit.path} for {unit.asset} but did not write it")
            destination = building / unit.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, destination)
            units[key] = unit
        manifest = {
            "generation": gen_id,
            "created": created.isoformat(timespec="seconds"),
            "parent": previous.id if previous is not None else None,
            "runs": [*(previous.runs[-50:] if previous is not None else []), run_id],
            "units": [u.to_json() for _, u in sorted(units.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))],
        }
        atomic_write_json(building / MANIFEST, manifest)
        for folder in {p for p in building.rglob("*") if p.is_dir()} | {building}:
            _fsync_dir(folder)
        final = self.home.generations_dir / gen_id
        os.replace(building, final)
        self._point_current_at(final)
        self._remove(staging.root)
        self._collect_garbage(keep=final)
        return Generation(final)

    def discard(self, run_id: str) -> None:
        """Drop what a failed run staged; the published generation is untouched."""
        self._remove(self.staging(run_id).root)

    def sweep(self, live_run_id: str | None = None) -> SweepReport:
        """Remove what dead runs left: their staging folders and half-built generations.

        Call it while holding the home's writer lock (no other run can be staging then);
        ``live_run_id`` is the caller's own run, whose staging is kept.
        """
        report = SweepReport()
        published = set(current.runs) if (current := self.current()) is not None else set()
        if self.home.staging_dir.is_dir():
            for folder in sorted(self.home.staging_dir.iterdir()):
                if folder.name == live_run_id:
                    continue
                if folder.name not in published:
                    report.abandoned_runs.append(folder.name)
                self._remove(folder)
                report.removed.append(str(folder.relative_to(self.home.root)))
        if self.home.generations_dir.is_dir():
            for folder in self.home.generations_dir.iterdir():
                if folder.name.startswith("."):
                    self._remove(folder)
                    report.removed.append(str(folder.relative_to(self.home.root)))
        for tmp in self.home.root.glob(".current.*"):
            tmp.unlink(missing_ok=True)
        return report

    # -- helpers -----------------------------------------------------------------------
    def _point_current_at(self, generation: Path) -> None:
        link = self.home.current_link
        tmp = self.home.root / f".current.{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.relpath(generation, self.home.root), tmp)
        os.replace(tmp, link)
        _fsync_dir(self.home.root)

    @staticmethod
    def _link_unit(source: Path, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            for path in _walk_files(source):
                target = destination / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)
            destination.mkdir(exist_ok=True)
        else:
            os.link(source, destination)

    def _collect_garbage(self, keep: Path) -> None:
        generations = sorted(p for p in self.home.generations_dir.iterdir() if not p.name.startswith("."))
        for old in generations[:-KEEP_GENERATIONS]:
            if old != keep:
                self._remove(old)

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _walk_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path
