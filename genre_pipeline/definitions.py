"""The Dagster code location: everything under ``genre_pipeline/defs``, loaded the dg way.

``dg dev`` / ``dagster dev -w workspace.yaml`` and ``dagster api grpc -m
genre_pipeline.definitions`` load :func:`defs`; the command line launches runs of the same
code location.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

CODE_LOCATION = "genre_pipeline"


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
