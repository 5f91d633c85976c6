"""The code location: it loads the dg way, its groups flow one way, the environment cannot change it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from genre_pipeline.definitions import CODE_LOCATION, defs
from genre_pipeline.defs.partitions import release_year_partitions, year_keys_between

ROOT = Path(__file__).resolve().parents[2]
GROUP_ORDER = ["ingestion", "catalog", "features", "models"]


def loaded() -> dg.Definitions:
    return defs()


def readme_asset_table() -> dict[str, str]:
    """asset -> group, from the README's asset table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| group | asset |"):].split("\n\n", 1)[0]
    out: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.split("|")]
        for name in re.findall(r"`([a-z_0-9]+)`", cells[2]):
            out[name] = cells[1]
    return out


def test_dg_check_defs_accepts_the_project():
    done = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "defs"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All component YAML validated successfully" in done.stdout + done.stderr or "success" in (done.stdout + done.stderr).lower()


def test_every_asset_is_in_the_group_of_its_folder_and_the_readme():
    graph = loaded().resolve_asset_graph()
    readme = readme_asset_table()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        folder = Path(sys.modules[node.assets_def.op.compute_fn.decorated_fn.__module__].__file__).parent.name
        assert node.group_name == folder, f"{key.to_user_string()} is in group {node.group_name} but lives in defs/{folder}/"
    assert readme == {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}


def test_groups_form_a_one_way_chain():
    graph = loaded().resolve_asset_graph()
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    backwards = [
        f"{parent.to_user_string()} ({graph.get(parent).group_name}) -> {key.to_user_string()} ({graph.get(key).group_name})"
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
        if rank[graph.get(parent).group_name] > rank[graph.get(key).group_name]
    ]
    assert backwards == []


def test_the_environment_cannot_change_the_job_snapshot(monkeypatch):
    """The CLI and the UI load the same definitions whatever their environment, so runs re-execute as they are."""
    from dagster._core.snap import JobSnap

    def snapshot_id() -> str:
        return JobSnap.from_job_def(loaded().resolve_implicit_global_asset_job_def()).snapshot_id

    before = snapshot_id()
    for name, value in {"GENRE_PIPELINE_SOURCE": "bogus", "TMDB_RATE_LIMIT": "fast", "GENRE_PIPELINE_DEMO_MOVIES": "abc",
                        "GENRE_PIPELINE_SCHEDULES": "maybe", "TMDB_API_KEY": "secret-key", "GENRE_PIPELINE_HOME": "/nowhere"}.items():
        monkeypatch.setenv(name, value)
    assert snapshot_id() == before


def test_movies_has_blocking_checks():
    graph = loaded().resolve_asset_graph()
    checks = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys if key.asset_key == dg.AssetKey("movies")}
    assert set(checks) == {"unique_id", "non_empty_title", "genre_ids_known"}
    assert all(spec.blocking for spec in checks.values())


def test_release_year_partitions():
    keys = release_year_partitions.get_partition_keys()
    assert keys[0] == "1874" and keys[-2] == "2030" and keys[-1] == "undated"
    assert len(keys) == 158
    assert year_keys_between(2015, 2016) == ["2015", "2016"]
    with pytest.raises(ValueError, match="outside 1874-2030"):
        year_keys_between(1700, 1800)


@pytest.mark.parametrize(("value", "running"), [(None, False), ("off", False), ("on", True), ("typo", False)])
def test_schedules_and_the_automation_sensor_follow_the_switch(monkeypatch, value, running):
    if value is None:
        monkeypatch.delenv("GENRE_PIPELINE_SCHEDULES", raising=False)
    else:
        monkeypatch.setenv("GENRE_PIPELINE_SCHEDULES", value)
    loaded_defs = loaded()
    schedules = list(loaded_defs.schedules or [])
    sensors = list(loaded_defs.sensors or [])
    assert {s.name for s in schedules} == {"weekly_recent_years_refresh"}
    assert {s.name for s in sensors} == {"genre_pipeline_automation"}
    for item in schedules + sensors:
        assert (item.default_status.value == "RUNNING") is running, item.name


def test_code_location_name_is_the_one_the_cli_uses():
    text = (ROOT / "pyproject.toml").read_text()
    assert f'code_location_name = "{CODE_LOCATION}"' in text
    assert f"location_name: {CODE_LOCATION}" in (ROOT / "workspace.yaml").read_text()
