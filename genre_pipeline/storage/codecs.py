"""How a value becomes a stored unit and back: parquet for tables, ``save``/``load`` for the rest.

* ``pandas.DataFrame`` -> one parquet file (codec ``"parquet"``), read back with optional
  column selection;
* any object with ``save(folder)`` and a classmethod ``load(folder)`` (feature matrices,
  analyses, model comparisons) -> a folder written by the object itself (codec
  ``"object:<module>:<qualname>"``), read back through that class;
* types registered with :func:`register` (trained models, whose class is chosen by a
  registry when loading) -> a folder written and read by the registered functions (codec
  ``"call:<module>:<load function>"``, so any reader can load the unit without registering).

Every write goes to a fresh staging location and is fsynced before it is recorded, so a
recorded unit is always complete.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PARQUET = "parquet"


@dataclass(frozen=True)
class FolderCodec:
    name: str
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]


_REGISTERED: list[tuple[type, FolderCodec]] = []


def codec_name(load: Callable[[Path], Any]) -> str:
    """The codec name of a registered ``load`` function (what the manifest records)."""
    return f"call:{load.__module__}:{load.__qualname__}"


def register(base: type, save: Callable[[Any, Path], None], load: Callable[[Path], Any]) -> str:
    """Store values that are instances of ``base`` with ``save(value, folder)`` / ``load(folder)``; returns the codec name."""
    name = codec_name(load)
    if not any(existing is base for existing, _ in _REGISTERED):
        _REGISTERED.append((base, FolderCodec(name, save, load)))
    return name


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def codec_for(value: Any) -> tuple[str, str]:
    """``(codec name, "file" | "folder")`` for a value to store."""
    if isinstance(value, pd.DataFrame):
        return PARQUET, "file"
    for base, codec in _REGISTERED:
        if isinstance(value, base):
            return codec.name, "folder"
    cls = type(value)
    if callable(getattr(value, "save", None)) and callable(getattr(cls, "load", None)):
        return f"object:{cls.__module__}:{cls.__qualname__}", "folder"
    raise TypeError(f"cannot store a {cls.__module__}.{cls.__qualname__}: return a DataFrame or an object with save()/load()")


def _fsync_tree(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in paths:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def write(value: Any, target: Path, codec: str) -> None:
    """Write ``value`` at ``target`` (a file path for parquet, a new folder otherwise), durably."""
    if codec == PARQUET:
        target.parent.mkdir(parents=True, exist_ok=True)
        value.to_parquet(target, engine="pyarrow", index=False)
    else:
        target.mkdir(parents=True, exist_ok=False)
        registered = next((c for _, c in _REGISTERED if c.name == codec), None)
        if registered is not None:
            registered.save(value, target)
        else:
            value.save(target)
    _fsync_tree(target)


def read(path: Path, codec: str, columns: Sequence[str] | None = None) -> Any:
    """Read a unit back (``columns``: a subset of a parquet table's columns)."""
    if codec == PARQUET:
        return pd.read_parquet(path, columns=list(columns) if columns else None)
    if codec.startswith("call:"):
        _, module, qualname = codec.split(":", 2)
        return _resolve(module, qualname)(path)
    if codec.startswith("object:"):
        _, module, qualname = codec.split(":", 2)
        return _resolve(module, qualname).load(path)
    raise ValueError(f"{path}: unknown codec {codec!r}")
