"""One switch for every schedule and sensor: ``GENRE_PIPELINE_SCHEDULES``.

The embedded demo (``make ui``, ``genre-pipeline run``, tests) must never start fetching
from TMDB or retraining on its own, so schedules and sensors default to *stopped*. The
deployment (docker-compose.yml) sets ``GENRE_PIPELINE_SCHEDULES=on`` and they start
*running* as soon as the daemon sees the code location. A stopped/started state set by
hand in the UI is stored in the instance and wins over this default. A value other than
on/off loads as "off" (the code location must load whatever the environment says); the
command line rejects it with a clear error when it starts.
"""

from __future__ import annotations

import dagster as dg

from genre_pipeline.defs import settings


def schedules_on() -> bool:
    try:
        return settings.switch(settings.SCHEDULES_ENV)
    except settings.SettingsError:
        return False


def default_schedule_status() -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if schedules_on() else dg.DefaultScheduleStatus.STOPPED


def default_sensor_status() -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if schedules_on() else dg.DefaultSensorStatus.STOPPED
