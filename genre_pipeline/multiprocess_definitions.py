"""The code location with each step of a run in a process of its own (Dagster's ``multiprocess_executor``).

The same assets, checks and resources as :mod:`genre_pipeline.definitions`, with two
differences (see :func:`genre_pipeline.definitions.launcher_held`):

* the run worker starts a fresh process for every step, ``max_concurrent`` at a time (run
  config ``execution: config: max_concurrent``; ``genre-pipeline run --executor
  multiprocess`` sets 1): what a step allocates is given back to the system when it ends,
  so a run's peak memory is that of its largest step rather than the sum of what every step
  left behind in one long-lived process. That is what the text path of a catalog of a
  million movies needs to stay within a few gigabytes; each step pays a process start
  for it (about 7 s a step: 50,000 movies in 557 s, 408 s in-process);
* the home is held by the process that launches the run (``HomeResource(writer="launcher")``).
"""

from __future__ import annotations

import dagster as dg

from genre_pipeline import definitions

CODE_LOCATION = "genre_pipeline_multiprocess"


@dg.definitions
def defs() -> dg.Definitions:
    return definitions.launcher_held(dg.multiprocess_executor)
