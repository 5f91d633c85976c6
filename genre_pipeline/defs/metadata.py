"""Metadata helpers for what people look at in the Dagster UI (tables, embedded PNGs)."""

from __future__ import annotations

import base64

import pandas as pd


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A DataFrame as a markdown table (lists shown comma-separated)."""
    if frame.empty:
        return "_(empty)_"
    shown = frame.copy()
    for column in shown.columns:
        if shown[column].map(lambda v: isinstance(v, (list, tuple)) or hasattr(v, "tolist")).any():
            shown[column] = shown[column].map(lambda v: ", ".join(map(str, list(v))) if v is not None else "")
    return shown.to_markdown(index=False, floatfmt=floatfmt)


def png_markdown(png: bytes, alt: str) -> str:
    """A PNG embedded in markdown, as Dagster's UI renders it inline."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
