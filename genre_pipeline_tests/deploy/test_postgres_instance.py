"""The deployment's instance config against a real PostgreSQL server.

A throwaway server (``genre_pipeline_tests/support/postgres.py``) stands in for the compose
``postgres`` service. The instance is deploy/dagster.yaml made local
(``genre_pipeline_tests/support/deployment.py``: the default run launcher, the ``/data``
paths in a temp folder); its ``storage`` section is used verbatim, reading the
DAGSTER_POSTGRES_* variables that point at the test server. The daemon's pool command and
schedule/sensor state started through a workspace of the code location are read back through
Dagster and straight from Postgres' tables. Runs through the whole topology (code server,
webserver, daemon) are in ``test_topology.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from genre_pipeline_tests.support import deployment
from genre_pipeline_tests.support.postgres import postgres_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg(postgres_server, tmp_path, monkeypatch, request):  # noqa: F811
    """A fresh database, the deployment instance on it, and the env pointing there."""
    db = postgres_server.create_database(f"dagster_{request.node.name[:40].lower()}".replace("-", "_").replace("[", "_").replace("]", ""))
    env = postgres_server.env(db)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    dagster_home = deployment.write_dagster_home(tmp_path, deployment.local_instance_config(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        yield postgres_server, db, dagster_home, instance
    finally:
        instance.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_deployment_instance_is_postgres_with_queue_pools_and_retries(pg):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    server, db, _home, instance = pg
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_monitoring_enabled
    pools = instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == 1 and pools.pool_granularity.value == "op"
    queue = deployment.deployment_config()["concurrency"]["runs"]["max_concurrent_runs"]
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == queue
    tables = {row[0] for row in server.query(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"runs", "event_logs", "jobs", "job_ticks", "concurrency_limits"} <= tables


def _run(command: list[str], dagster_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.postgres
@pytest.mark.slow
def test_schedule_state_and_pool_limit_live_in_postgres(pg, tmp_path, monkeypatch):
    """The tmdb pool limit set by the compose daemon's own start command, and schedule and
    sensor state started through a workspace of the code location, live in Postgres."""
    from dagster._core.test_utils import in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    server, db, dagster_home, instance = pg
    home = tmp_path / "home"

    pool_command, _daemon = deployment.service_commands(4000, 3000, tmp_path / "workspace.yaml", tmdb_pool_limit=2)["daemon"]
    assert pool_command[-4:] == ["concurrency", "set", "tmdb", "2"]
    done = _run(pool_command, dagster_home)
    assert done.returncode == 0, done.stderr
    assert server.query(db, 'SELECT concurrency_key, "limit" FROM concurrency_limits') == [("tmdb", 2)]
    assert instance.event_log_storage.get_concurrency_info("tmdb").slot_count == 2

    monkeypatch.setenv("GENRE_PIPELINE_HOME", str(home))
    origin = LoadableTargetOrigin(executable_path=sys.executable, module_name="genre_pipeline.definitions", working_directory=str(ROOT))
    with in_process_test_workspace(instance, origin) as workspace:
        (entry,) = workspace.get_code_location_entries().values()
        assert entry.code_location is not None, entry.load_error
        repo = entry.code_location.get_repository("__repository__")
        schedule = repo.get_schedule("weekly_recent_years_refresh")
        sensor = repo.get_sensor("genre_pipeline_automation")
        # stopped by default outside the deployment: nothing is stored until started
        assert instance.all_instigator_state() == []
        instance.start_schedule(schedule)
        instance.start_sensor(sensor)

        states = {state.name: state.status.value for state in instance.all_instigator_state()}
        assert states == {"weekly_recent_years_refresh": "RUNNING", "genre_pipeline_automation": "RUNNING"}
        stored = sorted(server.query(db, "SELECT instigator_type, status FROM instigators"))
        assert stored == [("SCHEDULE", "RUNNING"), ("SENSOR", "RUNNING")]

        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        states = {state.name: state.status.value for state in instance.all_instigator_state()}
        assert states["weekly_recent_years_refresh"] == "STOPPED"
        assert ("SCHEDULE", "STOPPED") in server.query(db, "SELECT instigator_type, status FROM instigators")
