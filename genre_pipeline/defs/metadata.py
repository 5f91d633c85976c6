"""Metadata helpers for what people look at in the Dagster UI: tables, column schemas, embedded PNGs.

A table is a :func:`metadata_table` (``MetadataValue.table`` with a schema): the asset page shows it
inline, sorted columns and all, where markdown longer than 1,000 characters and every
embedded image hide behind a "[Show Markdown]" link. Every asset whose value is a table
declares its columns with :func:`column_schema` under ``dagster/column_schema``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from genre_pipeline.ingestion.records import UNDATED

COLUMN_SCHEMA = "dagster/column_schema"


def png_markdown(png: bytes, alt: str) -> str:
    """A PNG embedded in markdown, as Dagster's UI renders it inline."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _first_value(series: pd.Series) -> Any:
    present = series.dropna() if series.dtype != object else series[series.map(lambda v: v is not None)]
    return present.iloc[0] if len(present) else None


def column_type(series: pd.Series) -> str:
    """A column's type as a person reads it: ``int``, ``float``, ``bool``, ``string``, ``datetime``, ``list``, ``json``."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return "string"
    sample = _first_value(series)
    if isinstance(sample, (list, tuple, np.ndarray)):
        return "list"
    if isinstance(sample, dict):
        return "json"
    if isinstance(sample, (bool, np.bool_)):
        return "bool"
    if isinstance(sample, (int, np.integer)):
        return "int"
    if isinstance(sample, (float, np.floating)):
        return "float"
    if isinstance(sample, pd.Timestamp):
        return "datetime"
    return "string"


def column_schema(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    """The columns of ``frame`` (name, type, optional description) as a Dagster table schema."""
    descriptions = descriptions or {}
    unknown = set(descriptions) - {str(c) for c in frame.columns}
    if unknown:
        raise ValueError(f"descriptions name columns the table does not have: {sorted(unknown)}")
    return dg.TableSchema(columns=[dg.TableColumn(name=str(name), type=column_type(frame[name]),
                                                  description=descriptions.get(str(name)))
                                   for name in frame.columns])


def column_schema_metadata(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"dagster/column_schema": ...}`` for an asset whose value is ``frame``."""
    return {COLUMN_SCHEMA: column_schema(frame, descriptions)}


def _cell(value: Any, digits: int) -> str | int | float | bool | None:
    """One value as a table record holds it: lists comma-joined, floats rounded, missing as empty."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in list(value))
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else round(float(value), digits)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def metadata_table(frame: pd.DataFrame, digits: int = 3, descriptions: Mapping[str, str] | None = None) -> dg.TableMetadataValue:
    """``frame`` as a table the asset page shows inline (floats rounded to ``digits``, lists comma-joined)."""
    schema = column_schema(frame, descriptions)
    records = [dg.TableRecord({str(name): _cell(value, digits) for name, value in zip(frame.columns, row)})
               for row in frame.itertuples(index=False, name=None)]
    return dg.MetadataValue.table(records=records, schema=schema)


def filled_partitions(counts: dict[str, int]) -> str:
    """``62 of 158 (1915-2025, 2 undated)``: how many of a run's release-year partitions hold rows, and which years.

    Every partition a run writes carries it, so whichever partition the UI shows as the
    latest materialization tells the whole run (most release years are empty).
    """
    filled = [key for key, n in counts.items() if n]
    years = sorted(int(key) for key in filled if key != UNDATED)
    span = [f"{years[0]}-{years[-1]}" if years else "no dated record"]
    if counts.get(UNDATED):
        span.append(f"{counts[UNDATED]} undated")
    return f"{len(filled)} of {len(counts)} ({', '.join(span)})"
