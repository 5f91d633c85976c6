"""The Dagster code location: everything under ``genre_pipeline/defs``, loaded the dg way.

``dg dev`` / ``dagster dev -w workspace.yaml`` and ``dagster api grpc -m
genre_pipeline.definitions`` load :func:`defs`; the command line launches runs of the same
code location. :func:`launcher_held` gives the same definitions on another executor (the
Celery and multiprocess code locations).
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg

CODE_LOCATION = "genre_pipeline"


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def _not_the_project_name_warning(record: logging.LogRecord) -> bool:
    return "does not match the name" not in record.getMessage()


def launcher_held(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """The assets, checks and resources of :func:`defs` on ``executor``, whose steps run in other
    processes than the run worker: the home is held by the process that launches the run
    (``HomeResource(writer="launcher")``), which takes the lock for the run's id before the run
    starts and publishes what it staged when it succeeded. Schedules, sensors and the refresh
    job stay in the default code location. Nothing here reads the environment: the job
    snapshot is the same in every process."""
    from genre_pipeline.defs.ingestion.resources import CatalogSourceResource
    from genre_pipeline.defs.storage import HomeIOManager, HomeResource

    # dg expects the project's one location name (pyproject's [tool.dg.project]) and warns on every load of
    # the defs folder under another; this project has no app-managed components that the name would select.
    logging.getLogger("dagster.components.core.component_tree").addFilter(_not_the_project_name_warning)
    base = defs()
    home = HomeResource(writer="launcher")
    resources = dict(base.resources or {})
    resources.update(
        home=home,
        catalog_source=CatalogSourceResource(home=home, tmdb=resources["tmdb"]),
        io_manager=HomeIOManager(home=home),
    )
    return dg.Definitions(assets=base.assets, asset_checks=base.asset_checks, resources=resources, executor=executor)
