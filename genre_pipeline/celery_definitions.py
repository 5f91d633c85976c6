"""The code location on Celery: each step of a run is a Celery task, run by whichever worker takes it.

The same assets, checks and resources as :mod:`genre_pipeline.definitions`, with two
differences:

* the executor is ``dagster_celery``'s ``celery_executor``: the run worker submits each step
  to the broker named in the run config (``execution: config: broker / backend``, e.g.
  ``redis://127.0.0.1:6379/0``) and Celery workers started with
  ``dagster-celery worker start -A dagster_celery.app`` execute it (docs/DEPLOYMENT.md);
* the home is held by the process that launches the run (``HomeResource(writer="launcher")``):
  steps in other processes cannot share one run's writer lock, so
  ``genre-pipeline run --executor celery`` takes the lock for the run's id before the run
  starts and publishes what it staged when it succeeded. A step of a run nobody holds the
  home for fails at once, saying how to launch it.

Schedules, sensors and the refresh job stay in the default code location. Nothing here
reads the environment: the job snapshot is the same in every process.
"""

from __future__ import annotations

import logging

import dagster as dg
from dagster_celery import celery_executor

from genre_pipeline import definitions
from genre_pipeline.defs.ingestion.resources import CatalogSourceResource
from genre_pipeline.defs.storage import HomeIOManager, HomeResource

CODE_LOCATION = "genre_pipeline_celery"

# dg expects the project's one location name (pyproject's [tool.dg.project]) and warns on every load of the
# defs folder under another; this project has no app-managed components that the name would select.
logging.getLogger("dagster.components.core.component_tree").addFilter(
    lambda record: "does not match the name" not in record.getMessage())


@dg.definitions
def defs() -> dg.Definitions:
    base = definitions.defs()
    home = HomeResource(writer="launcher")
    resources = dict(base.resources or {})
    resources.update(
        home=home,
        catalog_source=CatalogSourceResource(home=home, tmdb=resources["tmdb"]),
        io_manager=HomeIOManager(home=home),
    )
    return dg.Definitions(assets=base.assets, asset_checks=base.asset_checks, resources=resources,
                          executor=celery_executor)
