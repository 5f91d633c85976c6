"""The web UI, as a user drives it: a real ``dagster-webserver`` on 127.0.0.1.

The webserver loads the demo code location from a workspace file; a materialization of the
catalog is launched through its GraphQL API (what the UI's "Materialize" button sends), runs
with the default run launcher in a subprocess, and is polled to success. Then the asset
lineage is read back the way the asset graph view reads it, and the schedules and sensors
are checked to be stopped (the embedded demo never starts fetching on its own).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genre_pipeline.storage.home import Home
from genre_pipeline_tests.support.postgres import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LOCATION = "genre_pipeline"
REPOSITORY = "__repository__"
CATALOG = ["raw_movie_records", "genre_vocabulary", "movies", "genre_cooccurrence"]
YEARS = ("1960", "2025")  # the demo catalog's release years
STARTUP_TIMEOUT = 240
RUN_TIMEOUT = 300

# Direct connections only: a proxy from the environment must never see 127.0.0.1 traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Webserver:
    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url, self.process, self.log = url, process, log

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with _OPENER.open(request, timeout=60) as response:
            payload = json.loads(response.read())
        assert not payload.get("errors"), payload["errors"]
        return payload["data"]


def _wait_until(predicate, timeout: float, what: str, server: Webserver | None = None, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {server.process.returncode} while waiting for {what}:\n{server.log_tail()}")
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f":\n{server.log_tail()}" if server else ""))


def _webserver_command() -> list[str]:
    script = Path(sys.executable).with_name("dagster-webserver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dagster_webserver"]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    base = tmp_path_factory.mktemp("webserver")
    home, dagster_home = base / "home", base / "dagster_home"
    dagster_home.mkdir(parents=True)
    # runs are launched right away, in a subprocess of the code server (no daemon needed)
    (dagster_home / "dagster.yaml").write_text(
        yaml.safe_dump(
            {
                "telemetry": {"enabled": False},
                "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
                "run_launcher": {"module": "dagster", "class": "DefaultRunLauncher"},
            }
        )
    )
    workspace = base / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump(
            {"load_from": [{"python_module": {"module_name": "genre_pipeline.definitions", "location_name": LOCATION, "working_directory": str(ROOT)}}]}
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_PIPELINE_", "DAGSTER_", "TMDB_"))}
    env.update(
        {
            "GENRE_PIPELINE_HOME": str(home),
            "GENRE_PIPELINE_SOURCE": "demo",
            "GENRE_PIPELINE_DEMO_MOVIES": "60",
            "DAGSTER_HOME": str(dagster_home),
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    port = free_port()
    log = base / "webserver.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*_webserver_command(), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server and run workers too
        )
    server = Webserver(f"http://127.0.0.1:{port}", process, log)
    server.home = Home(home)
    try:
        started = time.monotonic()
        _wait_until(lambda: _server_info(server), STARTUP_TIMEOUT, "/server_info", server)
        _wait_until(lambda: _location_loaded(server), STARTUP_TIMEOUT, "the code location to load", server, interval=1)
        print(f"dagster-webserver up with the code location loaded in {time.monotonic() - started:.1f}s")
        yield server
    finally:
        _stop(process)


def _server_info(server: Webserver) -> dict | None:
    try:
        with _OPENER.open(f"{server.url}/server_info", timeout=5) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def _location_loaded(server: Webserver) -> bool:
    entries = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    (entry,) = [e for e in entries if e["name"] == LOCATION]
    if entry["loadStatus"] != "LOADED":
        return False
    error = entry["locationOrLoadError"]
    assert error["__typename"] == "RepositoryLocation", f"code location failed to load: {error.get('message')}"
    return True


def _stop(process: subprocess.Popen) -> None:
    """Terminate the webserver's process group (webserver, code server, run workers)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything of the group still alive
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=10)


LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_STATUS = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status tags { key value } }
  }
}
"""

RUN_FAILURES = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { message }
      }
    }
  }
}
"""

ASSET_NODES = """
query {
  assetNodes {
    assetKey { path }
    groupName
    dependencyKeys { path }
    dependedByKeys { path }
  }
}
"""

LATEST_MATERIALIZATION = """
query Asset($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries { label ... on IntMetadataEntry { intValue } }
      }
    }
  }
}
"""

INSTIGATORS = """
query Instigators($repo: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repo) {
    __typename
    ... on Schedules { results { name scheduleState { status } } }
  }
  sensorsOrError(repositorySelector: $repo) {
    __typename
    ... on Sensors { results { name sensorState { status } } }
  }
}
"""


@pytest.fixture(scope="module")
def catalog_run(webserver):
    """Materialize the catalog over the demo's release years through GraphQL, wait for it."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": [name]} for name in CATALOG],
        },
        # one process for all steps (the launchpad's in_process executor): the default
        # multiprocess executor would re-import the code location once per step
        "runConfigData": {"execution": {"config": {"in_process": {}}}},
        "executionMetadata": {
            "tags": [
                {"key": "dagster/asset_partition_range_start", "value": YEARS[0]},
                {"key": "dagster/asset_partition_range_end", "value": YEARS[1]},
            ]
        },
    }
    launched = webserver.graphql(LAUNCH, {"executionParams": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    started = time.monotonic()

    def finished():
        run = webserver.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
        return run["status"] if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    status = _wait_until(finished, RUN_TIMEOUT, f"run {run_id}", webserver, interval=1)
    print(f"run {run_id} {status} after {time.monotonic() - started:.1f}s")
    if status != "SUCCESS":
        events = webserver.graphql(RUN_FAILURES, {"runId": run_id})["logsForRun"].get("events", [])
        failures = [e for e in events if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")]
        pytest.fail(f"run {run_id} ended {status}: {json.dumps(failures)[:3000]}\n{webserver.log_tail()}")
    return run_id


def test_materialization_launched_through_graphql_succeeds(webserver, catalog_run):
    table = pd.read_parquet(webserver.home.table_path("movies"))
    assert 50 <= len(table) <= 60  # the 60-movie demo, minus the undated ones (outside the range)
    key = {"path": ["movies"]}
    asset = webserver.graphql(LATEST_MATERIALIZATION, {"key": key})["assetOrError"]
    (materialization,) = asset["assetMaterializations"]
    assert materialization["runId"] == catalog_run
    row_count = {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]}["dagster/row_count"]
    assert row_count == len(table)
    assert (webserver.home.reports_dir / "genre_coclusters.png").is_file()


def _lineage(webserver) -> tuple[dict, dict, dict]:
    nodes = webserver.graphql(ASSET_NODES)["assetNodes"]
    name = lambda key: "/".join(key["path"])  # noqa: E731
    upstream = {name(n["assetKey"]): {name(k) for k in n["dependencyKeys"]} for n in nodes}
    downstream = {name(n["assetKey"]): {name(k) for k in n["dependedByKeys"]} for n in nodes}
    groups = {name(n["assetKey"]): n["groupName"] for n in nodes}
    return upstream, downstream, groups


def _closure(graph: dict, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_asset_lineage_as_the_ui_shows_it(webserver, catalog_run):
    upstream, downstream, groups = _lineage(webserver)
    assert upstream["movies"] >= {"raw_movie_records", "genre_vocabulary"}
    assert downstream["movies"] >= {"genre_cooccurrence", "movie_posters"}
    assert upstream["genre_cooccurrence"] >= {"movies", "genre_vocabulary"}
    assert "raw_movie_records" in _closure(upstream, "genre_cooccurrence")
    # the two directions agree
    for node, ups in upstream.items():
        for up in ups:
            assert node in downstream[up], f"{up} -> {node} missing from dependedByKeys"

    models = sorted(n for n, g in groups.items() if g == "models")
    features = {n for n, g in groups.items() if g == "features"}
    for model in models:
        ancestors = _closure(upstream, model)
        assert "movies" in ancestors and "raw_movie_records" in ancestors, f"{model} does not derive from movies"
        if features:
            assert ancestors & features, f"{model} uses no feature asset"
        assert model in _closure(downstream, "movies")


def test_schedules_and_sensors_are_stopped_in_the_embedded_demo(webserver):
    data = webserver.graphql(INSTIGATORS, {"repo": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}})
    schedules = {s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    assert "weekly_recent_years_refresh" in schedules and "retrain_on_movies_change" in sensors
    assert set(schedules.values()) == {"STOPPED"}, schedules
    assert set(sensors.values()) == {"STOPPED"}, sensors
