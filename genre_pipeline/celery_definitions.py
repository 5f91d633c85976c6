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

import dagster as dg
from dagster_celery import celery_executor

from genre_pipeline import definitions

CODE_LOCATION = "genre_pipeline_celery"


@dg.definitions
def defs() -> dg.Definitions:
    return definitions.launcher_held(celery_executor)
