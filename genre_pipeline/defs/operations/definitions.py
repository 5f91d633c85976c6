"""Operations' schedules and sensors, built when the code location loads (their default status
follows ``GENRE_PIPELINE_SCHEDULES`` in the loading process's environment)."""

from __future__ import annotations

import dagster as dg

from genre_pipeline.defs.operations.automation import build_automation_sensor
from genre_pipeline.defs.operations.schedules import build_recent_years_schedule, recent_years_refresh_job


@dg.definitions
def operations() -> dg.Definitions:
    return dg.Definitions(jobs=[recent_years_refresh_job], schedules=[build_recent_years_schedule()],
                          sensors=[build_automation_sensor()])
