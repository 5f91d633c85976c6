"""The automation sensor that evaluates every asset's declarative automation condition."""

from __future__ import annotations

import dagster as dg

from genre_pipeline.defs.operations.schedules import ALL_STEPS_ON_RETRY
from genre_pipeline.defs.operations.switch import default_sensor_status


def build_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """The sensor (stopped unless ``GENRE_PIPELINE_SCHEDULES=on``)."""
    return dg.AutomationConditionSensorDefinition(
        "genre_pipeline_automation",
        target=dg.AssetSelection.all(),
        default_status=default_sensor_status(),
        minimum_interval_seconds=60,
        run_tags=ALL_STEPS_ON_RETRY,
        description="Nightly TMDB changes, the catalog following its inputs, features and models rebuilt when the movie "
        "table's content changed.",
    )
