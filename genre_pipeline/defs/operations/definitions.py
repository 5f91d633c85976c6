"""Operations domain: the weekly refresh schedule and the retrain sensor.

Their default status follows ``GENRE_PIPELINE_SCHEDULES`` (read when the code location
loads): stopped in the embedded demo, running in the docker-compose deployment.
"""

import dagster as dg

from genre_pipeline.defs.operations.schedules import build_recent_years_schedule, recent_years_refresh_job
from genre_pipeline.defs.operations.sensors import build_retrain_sensor


def build_operations_defs(enabled: bool | None = None) -> dg.Definitions:
    return dg.Definitions(
        jobs=[recent_years_refresh_job],
        schedules=[build_recent_years_schedule(enabled)],
        sensors=[build_retrain_sensor(enabled)],
    )


defs = build_operations_defs()
