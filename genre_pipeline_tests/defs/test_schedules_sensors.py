"""Schedules and sensors: they evaluate, target assets that exist, and do what they say.

The weekly refresh's run request is executed for real on a small snapshot, and the retrain
sensor is evaluated against a real (temporary SQLite) instance through a sequence of
rebuilds of ``movies``: first build, nothing new, rebuilt but unchanged, overview changed,
only popularity changed.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from genre_pipeline.definitions import build_definitions
from genre_pipeline.defs.operations import switch
from genre_pipeline.defs.operations.definitions import build_operations_defs
from genre_pipeline.defs.operations.schedules import recent_year_keys
from genre_pipeline.defs.operations.sensors import MOVIE_TABLE_WRITERS, RetrainCursor, movie_table_fingerprint
from genre_pipeline.defs.partitions import release_year_partitions
from genre_pipeline.defs.resources import HomeResource
from genre_pipeline.defs.settings import PipelineSettings
from genre_pipeline.storage.home import Home
from genre_pipeline_tests.support.snapshots import movie, write_snapshot

SUNDAY = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.timezone.utc)


def _records(overview_of_2: str = "Two friends laugh.", popularity_of_2: float = 1.5) -> list[dict]:
    return [
        movie(1, "Old Classic", "2010-05-01", [18]),
        movie(2, "Recent Comedy", "2025-03-01", [35, 10749], overview=overview_of_2, popularity=popularity_of_2),
        movie(3, "New Action", "2026-02-01", [28, 12], overview="A chase."),
        movie(4, "Announced", "2027-09-01", [27], overview="Coming soon."),
    ]


def _defs(tmp_path, snapshot) -> dg.Definitions:
    settings = PipelineSettings(home=str(tmp_path / "home"), source="snapshot", snapshot_dir=str(snapshot))
    return build_definitions(settings)


# --- the on/off switch ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("off", False), ("OFF", False), ("0", False), ("on", True), ("On", True), ("true", True)],
)
def test_switch_values(value, expected):
    env = {} if value is None else {switch.SCHEDULES_ENV_VAR: value}
    assert switch.schedules_enabled(env) is expected


def test_switch_rejects_typos():
    with pytest.raises(ValueError, match="GENRE_PIPELINE_SCHEDULES must be 'on' or 'off'"):
        switch.schedules_enabled({switch.SCHEDULES_ENV_VAR: "onn"})


def test_operations_defaults_follow_the_switch():
    on, off = build_operations_defs(True), build_operations_defs(False)
    assert [s.default_status for s in on.schedules] == [dg.DefaultScheduleStatus.RUNNING]
    assert [s.default_status for s in on.sensors] == [dg.DefaultSensorStatus.RUNNING]
    assert [s.default_status for s in off.schedules] == [dg.DefaultScheduleStatus.STOPPED]
    assert [s.default_status for s in off.sensors] == [dg.DefaultSensorStatus.STOPPED]


@pytest.mark.parametrize(("value", "schedule_status", "sensor_status"), [
    (None, dg.DefaultScheduleStatus.STOPPED, dg.DefaultSensorStatus.STOPPED),
    ("on", dg.DefaultScheduleStatus.RUNNING, dg.DefaultSensorStatus.RUNNING),
])
def test_every_schedule_and_sensor_of_the_code_location_follows_the_switch(monkeypatch, tmp_path, value, schedule_status, sensor_status):
    """Off in the embedded demo, on in the deployment: every domain's schedules and sensors,
    as the code location loads them (module reloaded under the environment)."""
    monkeypatch.setenv("GENRE_PIPELINE_HOME", str(tmp_path / "home"))
    if value is None:
        monkeypatch.delenv(switch.SCHEDULES_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(switch.SCHEDULES_ENV_VAR, value)
    import genre_pipeline.definitions as root

    try:
        for name in root.DOMAIN_MODULES:
            importlib.reload(importlib.import_module(name))
        defs = importlib.reload(root).defs
        schedules, sensors = list(defs.schedules or []), list(defs.sensors or [])
        assert {"weekly_recent_years_refresh"} <= {s.name for s in schedules}
        assert {"retrain_on_movies_change"} <= {s.name for s in sensors}
        assert {s.name: s.default_status for s in schedules} == {s.name: schedule_status for s in schedules}
        assert {s.name: s.default_status for s in sensors} == {s.name: sensor_status for s in sensors}
    finally:
        monkeypatch.delenv(switch.SCHEDULES_ENV_VAR, raising=False)
        for name in root.DOMAIN_MODULES:
            importlib.reload(importlib.import_module(name))
        importlib.reload(root)


# --- targets exist ------------------------------------------------------------------------


def test_every_schedule_and_sensor_targets_existing_assets(tmp_path):
    defs = build_definitions(PipelineSettings(home=str(tmp_path)))
    repo = defs.get_repository_def()
    all_keys = set(defs.resolve_asset_graph().get_all_asset_keys())
    assert repo.schedule_defs and repo.sensor_defs
    targets = [(s.name, s.job_name) for s in repo.schedule_defs]
    targets += [(s.name, t.job_name) for s in repo.sensor_defs for t in s.targets]
    assert {name for name, _ in targets} == {d.name for d in [*repo.schedule_defs, *repo.sensor_defs]}, "a definition targets nothing"
    for name, job_name in targets:
        job = repo.get_job(job_name)  # resolves: fails on mixed partitions or missing resources
        keys = set(job.asset_layer.selected_asset_keys)
        assert keys, f"{name} selects no asset"
        assert keys <= all_keys, f"{name} targets unknown assets {keys - all_keys}"


def test_weekly_refresh_targets_the_catalog_rebuild(tmp_path):
    defs = build_definitions(PipelineSettings(home=str(tmp_path)))
    repo = defs.get_repository_def()
    job = repo.get_job(repo.get_schedule_def("weekly_recent_years_refresh").job_name)
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {"raw_movie_records", "genre_vocabulary", "movies", "movie_posters"}
    assert job.partitions_def == release_year_partitions


def test_retrain_sensor_targets_what_is_derived_from_the_movie_table(tmp_path):
    defs = build_definitions(PipelineSettings(home=str(tmp_path)))
    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("retrain_on_movies_change")
    keys = set(repo.get_job(sensor.targets[0].job_name).asset_layer.selected_asset_keys)
    derived = dg.AssetSelection.assets("movies").downstream(include_self=False).resolve(graph)
    assert keys <= derived and dg.AssetKey("genre_cooccurrence") in keys
    assert dg.AssetKey("movies") not in keys and dg.AssetKey("raw_movie_records") not in keys
    # one unpartitioned run: nothing time- or year-partitioned (movie_changes writes the table itself)
    assert all(graph.get(k).partitions_def is None for k in keys), [k for k in keys if graph.get(k).partitions_def]
    learning = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name in ("features", "models")}
    assert learning <= keys, f"features/models not retrained when movies changes: {learning - keys}"
    for key in learning:  # and whatever the models need that is derived from the table (posters)
        needed = dg.AssetSelection.assets(key).upstream(include_self=False).resolve(graph)
        assert needed & derived <= keys, f"{key.to_user_string()} needs {(needed & derived) - keys}, not rebuilt"
    # both writers of tables/movies.parquet are watched, and they exist
    all_keys = set(graph.get_all_asset_keys())
    assert set(MOVIE_TABLE_WRITERS) <= all_keys | {dg.AssetKey("movie_changes")}
    assert dg.AssetKey("movies") in MOVIE_TABLE_WRITERS


# --- the weekly schedule evaluates and its run request runs -------------------------------


@pytest.mark.parametrize(("today", "first", "last"), [(dt.date(2026, 11, 29), "2024", "2027"), (dt.date(2030, 1, 5), "2028", "2030")])
def test_recent_year_keys(today, first, last):
    keys = recent_year_keys(today)
    assert (keys[0], keys[-1]) == (first, last)
    assert set(keys) <= set(release_year_partitions.get_partition_keys())


def test_weekly_schedule_evaluates_and_its_run_refreshes_recent_years(tmp_path):
    snapshot = write_snapshot(tmp_path / "snapshot", _records())
    defs = _defs(tmp_path, snapshot)
    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def("weekly_recent_years_refresh")
    assert schedule.cron_schedule == "0 4 * * 0" and schedule.execution_timezone == "UTC"

    data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=SUNDAY))
    assert data.skip_message is None and len(data.run_requests) == 1
    request = data.run_requests[0]
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2024"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2027"
    assert request.run_key == "recent-years-2024-2027-2026-11-29"

    with dg.instance_for_test() as instance:
        result = repo.get_job(schedule.job_name).execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
        assert result.success
        partitions = {
            m.partition for m in result.asset_materializations_for_node("raw_movie_records")
        }
        assert partitions == {"2024", "2025", "2026", "2027"}
    home = Home(tmp_path / "home")
    table = pd.read_parquet(home.table_path("movies"))
    # only the refreshed years were fetched; 2010 is left to manual backfills
    assert sorted(table["id"]) == [2, 3, 4]
    assert not home.partition_path("raw_movie_records", "2010").exists()


# --- the retrain sensor -------------------------------------------------------------------


def _materialize_catalog(defs: dg.Definitions, instance, years=("2025", "2027")) -> None:
    job = defs.get_repository_def().get_job("recent_years_refresh")
    tags = {ASSET_PARTITION_RANGE_START_TAG: years[0], ASSET_PARTITION_RANGE_END_TAG: years[1]}
    assert job.execute_in_process(instance=instance, tags=tags).success


def _tick(sensor, instance, home_root, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"home": HomeResource(root=home_root)})
    data = sensor.evaluate_tick(context)
    return data, context.cursor


def test_retrain_sensor_fires_only_when_modelling_content_changed(tmp_path):
    snapshot = tmp_path / "snapshot"
    write_snapshot(snapshot, _records())
    defs = _defs(tmp_path, snapshot)
    home_root = str(tmp_path / "home")
    sensor = defs.get_repository_def().get_sensor_def("retrain_on_movies_change")

    with dg.instance_for_test() as instance:
        data, cursor = _tick(sensor, instance, home_root, None)
        assert not data.run_requests and "not been materialized" in data.skip_message

        _materialize_catalog(defs, instance)
        data, cursor = _tick(sensor, instance, home_root, cursor)
        assert len(data.run_requests) == 1, data.skip_message
        first = data.run_requests[0]
        latest = instance.fetch_materializations(dg.AssetKey("movies"), limit=1).records[0]
        assert first.run_key == f"movies-{latest.storage_id}"
        parsed = RetrainCursor.parse(cursor)
        assert parsed.storage_id == latest.storage_id
        assert parsed.fingerprint == movie_table_fingerprint(Home(tmp_path / "home").table_path("movies"))
        assert first.tags["genre_pipeline/movies_fingerprint"] == parsed.fingerprint[:16]

        data, cursor = _tick(sensor, instance, home_root, cursor)
        assert not data.run_requests and "no new write" in data.skip_message

        _materialize_catalog(defs, instance)  # re-fetched: new fetched_at, same content
        data, cursor = _tick(sensor, instance, home_root, cursor)
        assert not data.run_requests and "unchanged" in data.skip_message
        assert RetrainCursor.parse(cursor).storage_id > parsed.storage_id

        write_snapshot(snapshot, _records(popularity_of_2=99.0))  # TMDB popularity moves daily
        _materialize_catalog(defs, instance)
        data, cursor = _tick(sensor, instance, home_root, cursor)
        assert not data.run_requests and "unchanged" in data.skip_message

        write_snapshot(snapshot, _records(overview_of_2="Two friends fall in love in Paris."))
        _materialize_catalog(defs, instance)
        data, cursor = _tick(sensor, instance, home_root, cursor)
        assert len(data.run_requests) == 1, data.skip_message
        assert data.run_requests[0].run_key != first.run_key
        assert RetrainCursor.parse(cursor).fingerprint != parsed.fingerprint

        # the daily incremental rescrape (movie_changes) rewrites the table in place
        path = Home(tmp_path / "home").table_path("movies")
        table = pd.read_parquet(path)
        table.loc[table["id"] == 3, "overview"] = "A chase across the desert."
        table.to_parquet(path)
        instance.report_runless_asset_event(dg.AssetMaterialization("movie_changes", partition="2026-11-28"))
        data, cursor = _tick(sensor, instance, home_root, cursor)
        assert len(data.run_requests) == 1, data.skip_message
        writer = instance.fetch_materializations(dg.AssetKey("movie_changes"), limit=1).records[0]
        assert data.run_requests[0].run_key == f"movies-{writer.storage_id}"


def test_retrain_sensor_waits_when_the_table_file_is_missing(tmp_path):
    snapshot = write_snapshot(tmp_path / "snapshot", _records())
    defs = _defs(tmp_path, snapshot)
    sensor = defs.get_repository_def().get_sensor_def("retrain_on_movies_change")
    with dg.instance_for_test() as instance:
        _materialize_catalog(defs, instance)
        Home(tmp_path / "home").table_path("movies").unlink()
        data, cursor = _tick(sensor, instance, str(tmp_path / "home"), None)
        assert not data.run_requests and "missing" in data.skip_message
        assert cursor is None  # not advanced: the next tick looks again


def test_fingerprint_ignores_row_order_and_non_model_columns(tmp_path):
    base = pd.DataFrame(
        {
            "id": [2, 1],
            "overview": ["b", "a"],
            "genre_ids": [[35], [18, 28]],
            "genres": [["Comedy"], ["Drama", "Action"]],
            "poster_path": [None, "/a.jpg"],
            "popularity": [1.0, 2.0],
        }
    )
    paths = {}
    for name, frame in {
        "base": base,
        "reordered": base.iloc[::-1],
        "popularity": base.assign(popularity=[5.0, 6.0]),
        "genres": base.assign(genre_ids=[[35], [18]], genres=[["Comedy"], ["Drama"]]),
    }.items():
        paths[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(paths[name])
    prints = {name: movie_table_fingerprint(path) for name, path in paths.items()}
    assert prints["base"] == prints["reordered"] == prints["popularity"]
    assert prints["genres"] != prints["base"]
    assert json.loads(RetrainCursor(3, "x").dump()) == {"storage_id": 3, "fingerprint": "x"}
