"""The deployment's instance config against a real PostgreSQL server.

A throwaway server (``genre_pipeline_tests/postgres.py``) stands in for the compose
``postgres`` service. The instance is built from deploy/dagster.yaml itself, with only what
cannot work outside a container removed (the Docker run launcher and the /data paths); its
``storage`` section is used verbatim, reading the DAGSTER_POSTGRES_* variables that point at
the test server. The weekly schedule's run request is executed into it on the synthetic demo
catalog, then runs, events, check results, schedule/sensor state and the ``tmdb`` pool limit
are read back — through Dagster and straight from Postgres' tables.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from genre_pipeline.definitions import build_definitions
from genre_pipeline.defs.resources import HomeResource
from genre_pipeline.defs.settings import PipelineSettings
from genre_pipeline.storage.home import Home
from genre_pipeline.ingestion.snapshot import SnapshotCatalogSource
from genre_pipeline_tests.support import postgres as pg_helper
from genre_pipeline_tests.support.postgres import postgres_server  # noqa: F401  (fixture)


ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DAGSTER_YAML = ROOT / "deploy" / "dagster.yaml"
CONTAINER_ONLY = {"run_launcher", "compute_logs", "local_artifact_storage"}
SUNDAY = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.timezone.utc)
DEMO_MOVIES = 60


def deployment_instance_home(tmp_path: Path) -> Path:
    """deploy/dagster.yaml minus the container-only sections, as a DAGSTER_HOME."""
    config = yaml.safe_load(DEPLOY_DAGSTER_YAML.read_text())
    assert CONTAINER_ONLY <= set(config)
    kept = {key: value for key, value in config.items() if key not in CONTAINER_ONLY}
    assert "storage" in kept and "run_coordinator" in kept and "concurrency" in kept and "run_retries" in kept
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(kept))
    return dagster_home


@pytest.fixture
def pg(postgres_server, tmp_path, monkeypatch, request):  # noqa: F811
    """A fresh database, the deployment instance on it, and the env pointing there."""
    db = postgres_server.create_database(f"dagster_{request.node.name[:40].lower()}".replace("-", "_").replace("[", "_").replace("]", ""))
    env = postgres_server.env(db)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    dagster_home = deployment_instance_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        yield postgres_server, db, dagster_home, instance
    finally:
        instance.dispose()


def test_missing_server_skips_with_the_reason_but_fails_in_ci(monkeypatch, capsys):
    monkeypatch.setattr(pg_helper, "find_bin_dir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="initdb, pg_ctl"):
        pg_helper.start_server()
    assert "SKIP: PostgreSQL server binaries" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        pg_helper.start_server()


def test_server_binaries_are_found_where_debian_puts_them(monkeypatch, tmp_path):
    fake = tmp_path / "usr/lib/postgresql/15/bin"
    fake.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        (fake / name).write_text("#!/bin/sh\n")
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PG_BIN", str(fake))
    assert pg_helper.find_bin_dir() == fake
    monkeypatch.setenv("PG_BIN", str(tmp_path / "nowhere"))
    found = pg_helper.find_bin_dir()
    assert found is None or found.match("/usr/lib/postgresql/*/bin")


def _sql(server, db, query, *params):
    conn = server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


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
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
    tables = {row[0] for row in _sql(server, db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"runs", "event_logs", "jobs", "job_ticks", "concurrency_limits"} <= tables


@pytest.mark.postgres
@pytest.mark.slow
def test_demo_graph_materializes_into_postgres_and_reads_back(pg, tmp_path):
    server, db, dagster_home, instance = pg
    home = Home(tmp_path / "home")
    defs = build_definitions(PipelineSettings(home=str(home.root), source="demo", demo_movies=DEMO_MOVIES))
    repo = defs.get_repository_def()

    # 1. what the weekly schedule would launch on a Sunday, executed for real
    schedule = repo.get_schedule_def("weekly_recent_years_refresh")
    (request,) = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=SUNDAY)).run_requests
    weekly = repo.get_job(schedule.job_name).execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
    assert weekly.success
    # 2. an analysis derived from the movie table, as the UI's "materialize" would
    derived = repo.get_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("genre_cooccurrence")], raise_on_error=False
    )
    assert derived.success

    # runs, read back through Dagster and from the runs table
    runs = {run.run_id: run for run in instance.get_runs()}
    assert set(runs) == {weekly.run_id, derived.run_id}
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs.values())
    assert runs[weekly.run_id].tags["dagster/asset_partition_range_start"] == "2024"
    rows = dict(_sql(server, db, "SELECT run_id, status FROM runs"))
    assert rows == {weekly.run_id: "SUCCESS", derived.run_id: "SUCCESS"}

    # events: per-partition materializations of the refreshed years, the movie table, checks
    raw = instance.fetch_materializations(dg.AssetKey("raw_movie_records"), limit=100).records
    assert {r.event_log_entry.dagster_event.partition for r in raw} == {"2024", "2025", "2026", "2027"}
    table = pd.read_parquet(home.table_path("movies"))
    source = SnapshotCatalogSource(home.demo_catalog_dir)
    expected = {int(r["id"]) for year in ("2024", "2025", "2026", "2027") for r in source.fetch_year(year).records}
    assert expected, "the demo catalog has no movie in the refreshed years: pick another scheduled date"
    assert set(table["id"]) == expected
    latest = instance.get_latest_materialization_event(dg.AssetKey("movies"))
    assert latest.run_id == weekly.run_id
    assert latest.asset_materialization.metadata["dagster/row_count"].value == len(table)
    counted = _sql(
        server, db,
        "SELECT asset_key, count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key",
    )
    by_asset = {dg.AssetKey.from_db_string(key).to_user_string(): n for key, n in counted}
    assert by_asset == {"raw_movie_records": 4, "genre_vocabulary": 1, "movies": 1, "genre_cooccurrence": 1, "movie_posters": 1}
    checks = _sql(server, db, "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_CHECK_EVALUATION'", weekly.run_id)
    assert checks[0][0] == 3
    for check in ("unique_id", "genre_ids_known"):
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("movies"), check)]
        )[dg.AssetCheckKey(dg.AssetKey("movies"), check)]
        assert record.status.value == "SUCCEEDED", check

    # the retrain sensor reads the movies materialization from Postgres
    sensor = repo.get_sensor_def("retrain_on_movies_change")
    context = dg.build_sensor_context(instance=instance, resources={"home": HomeResource(root=str(home.root))})
    data = sensor.evaluate_tick(context)
    (storage_id,) = _sql(server, db, "SELECT max(id) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s", dg.AssetKey("movies").to_string())[0]
    assert [r.run_key for r in data.run_requests] == [f"movies-{storage_id}"]


def _dagster_cli(args: list[str], dagster_home: Path, home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "GENRE_PIPELINE_HOME": str(home),
        "GENRE_PIPELINE_SOURCE": "demo",
    }
    env.pop("GENRE_PIPELINE_SCHEDULES", None)
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.run([str(dagster), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.postgres
@pytest.mark.slow
def test_schedule_state_and_pool_limit_live_in_postgres(pg, tmp_path, monkeypatch):
    """The tmdb pool limit set by the same CLI command the compose daemon runs, and schedule
    and sensor state started through a workspace of the code location, live in Postgres."""
    from dagster._core.test_utils import in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    server, db, dagster_home, instance = pg
    home = tmp_path / "home"

    done = _dagster_cli(["instance", "concurrency", "set", "tmdb", "2"], dagster_home, home)
    assert done.returncode == 0, done.stderr
    assert _sql(server, db, 'SELECT concurrency_key, "limit" FROM concurrency_limits') == [("tmdb", 2)]
    assert instance.event_log_storage.get_concurrency_info("tmdb").slot_count == 2

    monkeypatch.setenv("GENRE_PIPELINE_HOME", str(home))
    origin = LoadableTargetOrigin(executable_path=sys.executable, module_name="genre_pipeline.definitions", working_directory=str(ROOT))
    with in_process_test_workspace(instance, origin) as workspace:
        (entry,) = workspace.get_code_location_entries().values()
        assert entry.code_location is not None, entry.load_error
        repo = entry.code_location.get_repository("__repository__")
        schedule = repo.get_schedule("weekly_recent_years_refresh")
        sensor = repo.get_sensor("retrain_on_movies_change")
        # stopped by default outside the deployment: nothing is stored until started
        assert instance.all_instigator_state() == []
        instance.start_schedule(schedule)
        instance.start_sensor(sensor)

        states = {state.name: state.status.value for state in instance.all_instigator_state()}
        assert states == {"weekly_recent_years_refresh": "RUNNING", "retrain_on_movies_change": "RUNNING"}
        stored = sorted(_sql(server, db, "SELECT instigator_type, status FROM instigators"))
        assert stored == [("SCHEDULE", "RUNNING"), ("SENSOR", "RUNNING")]

        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        states = {state.name: state.status.value for state in instance.all_instigator_state()}
        assert states["weekly_recent_years_refresh"] == "STOPPED"
        assert ("SCHEDULE", "STOPPED") in _sql(server, db, "SELECT instigator_type, status FROM instigators")
