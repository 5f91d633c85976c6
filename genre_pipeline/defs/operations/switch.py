"""One switch for every schedule and sensor: ``GENRE_PIPELINE_SCHEDULES``.

The embedded demo (``make ui``, ``genre-pipeline run``, tests) must never start fetching
from TMDB or retraining on its own, so schedules and sensors default to *stopped*. The
deployment (docker-compose.yml) sets ``GENRE_PIPELINE_SCHEDULES=on`` and they start
*running* as soon as the daemon sees the code location. A stopped/started state set by
hand in the UI is stored in the instance and wins over this default.

Any domain that defines a schedule or sensor should take its ``default_status`` from
:func:`default_schedule_status` / :func:`default_sensor_status` so one switch covers all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

SCHEDULES_ENV_VAR = "GENRE_PIPELINE_SCHEDULES"
_ON = {"on", "true", "1", "yes"}
_OFF = {"off", "false", "0", "no", ""}


def schedules_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``GENRE_PIPELINE_SCHEDULES`` says on. Unset means off; a typo is an error
    (a deployment that silently never schedules anything is worse than one that fails to load)."""
    value = (os.environ if env is None else env).get(SCHEDULES_ENV_VAR, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{SCHEDULES_ENV_VAR} must be 'on' or 'off', got {value!r}")


def default_schedule_status(enabled: bool | None = None) -> dg.DefaultScheduleStatus:
    on = schedules_enabled() if enabled is None else enabled
    return dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED


def default_sensor_status(enabled: bool | None = None) -> dg.DefaultSensorStatus:
    on = schedules_enabled() if enabled is None else enabled
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED
