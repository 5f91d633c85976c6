"""The deployment's topology, brought up for real on this machine and driven the way the UI drives it.

A throwaway PostgreSQL server, the gRPC code server (``dagster api grpc -m
genre_pipeline.definitions``), ``dagster-webserver`` and ``dagster-daemon`` on a workspace
pointing at the code server, all started with the commands of docker-compose.yml and the
instance of deploy/dagster.yaml (``genre_pipeline_tests/support/deployment.py``: the
``DefaultRunLauncher`` stands in for the Docker one, so the code server starts each run
worker; see there for what else is made local). The pipeline home is a folder of the test,
the source the synthetic demo catalog.

One run writes the home at a time, so the steps run in order:

1. a schedule turned on in the UI fires a tick (the weekly schedule's start is moved a week
   back: the daemon's clock is real), whose run the daemon dequeues and which succeeds;
2. a run submitted through GraphQL is queued, dequeued by the daemon and succeeds; the
   ``tmdb`` pool limit set by the daemon's start command is in force;
3. the automation sensor turned on in the UI does not retrain when only popularity changed
   in ``movies``, and requests the retrain when a movie's overview changed, which the daemon
   carries out;
4. the worker of a running run is killed: the run is marked failed, run retries launch it
   again, and the home is consistent: the previous generation untouched, the dead run's
   staging swept, the retry's generation built on the previous one.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import read_holder
from genre_pipeline_tests.support import deployment, graphql
from genre_pipeline_tests.support.postgres import PostgresServer, free_port, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LOCATION = "genre_pipeline"
REPOSITORY = "__repository__"
SCHEDULE = "weekly_recent_years_refresh"
SENSOR = "genre_pipeline_automation"
CATALOG = ["raw_movie_records", "genre_vocabulary", "movies"]
NOT_BUILT = {"movie_changes", "imdb_title_basics", "imdb_tmdb_genre_comparison"}  # daily TMDB feed; IMDb not configured
RETRAINED = {"genre_labels", "genre_cooccurrence", "movie_posters", "data_split", "poster_embeddings", "tfidf_features",
             "svc_tfidf", "mlp_poster", "text_plus", "fusion", "model_evaluation"}
ALL_YEARS = ("1874", "undated")
DEMO_MOVIES = 40
RUN_SETTINGS = {  # what runs read (the deployment hands them to run containers); small and quick
    "GENRE_PIPELINE_SOURCE": "demo",
    "GENRE_PIPELINE_DEMO_MOVIES": str(DEMO_MOVIES),
    "GENRE_PIPELINE_SENTENCE_ENCODER": "none",
    "GENRE_PIPELINE_VGG16_IMAGE_SIZE": "32",
}
# The deployment's instance as it is, but run monitoring at the test's pace (a 5 s poll and slot release).
RUN_MONITORING = {"free_slots_after_run_end_seconds": 5, "poll_interval_seconds": 5}
START_TIMEOUT = 300
RUN_TIMEOUT = 600
TICK_TIMEOUT = 240


@dataclass
class Stack:
    base: Path
    home: Home
    postgres: PostgresServer
    instance: dg.DagsterInstance
    url: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_with: dict[str, tuple[list[list[str]], dict[str, str]]] = field(default_factory=dict)
    build_run: str | None = None

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {name}\n{(self.base / f'{name}.log').read_text(errors='replace')[-chars:]}"
                         for name in self.processes if (self.base / f"{name}.log").exists())

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.log_tail()}")

    def graphql(self, text: str, variables: dict | None = None) -> dict:
        return graphql.query(self.url, text, variables)

    def wait(self, predicate, timeout: float, what: str, interval: float = 1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            result = predicate()
            if result:
                return result
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{self.log_tail()}")


def _start(stack: Stack, name: str, commands: list[list[str]], env: dict[str, str]) -> None:
    """Run ``commands`` one after the other; the last one is the service (its own process group)."""
    *setup, service = commands
    for command in setup:
        done = subprocess.run(command, env=env, cwd=deployment.ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    stack.started_with[name] = (commands, env)
    with open(stack.base / f"{name}.log", "ab") as log:
        stack.processes[name] = subprocess.Popen(service, env=env, cwd=deployment.ROOT, stdout=log, stderr=subprocess.STDOUT,
                                                 start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    """Stop a service and what it started (its process group: the code server's run workers too)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=10)


def _restart(stack: Stack, name: str, while_stopped) -> None:
    """Stop the service ``name``, call ``while_stopped()``, start it again with the same commands."""
    _stop(stack.processes[name])
    while_stopped()
    _start(stack, name, *stack.started_with[name])


WORKSPACE = """
query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _location_loaded(stack: Stack) -> bool:
    entries = stack.graphql(WORKSPACE)["workspaceOrError"]["locationEntries"]
    (entry,) = [e for e in entries if e["name"] == LOCATION]
    if entry["loadStatus"] != "LOADED":
        return False
    error = entry["locationOrLoadError"]
    assert error["__typename"] == "RepositoryLocation", f"code location failed to load: {error.get('message')}"
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("topology")
    postgres = start_server()
    monkeypatch = pytest.MonkeyPatch()
    processes_started = None
    try:
        postgres_env = postgres.env(postgres.create_database("dagster_topology"))
        config = deployment.local_instance_config(base)
        assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1  # one writer per home: runs queue
        assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0  # a dead run's tmdb slot is freed
        config["run_monitoring"].update(RUN_MONITORING)
        dagster_home = deployment.write_dagster_home(base, config)
        grpc_port, web_port = free_port(), free_port()
        workspace = deployment.local_workspace(base / "workspace.yaml", grpc_port)
        home = Home(base / "home")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_PIPELINE_", "DAGSTER_", "TMDB_"))}
        env.update({**postgres_env, **RUN_SETTINGS, "DAGSTER_HOME": str(dagster_home), "GENRE_PIPELINE_HOME": str(home.root),
                    "NO_PROXY": "127.0.0.1,localhost"})
        for key, value in {**postgres_env, "DAGSTER_HOME": str(dagster_home)}.items():
            monkeypatch.setenv(key, value)
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        stack = Stack(base, home, postgres, instance, url=f"http://127.0.0.1:{web_port}")
        processes_started = stack.processes
        started = time.monotonic()
        services = deployment.service_commands(grpc_port, web_port, workspace)
        _start(stack, "user_code", services.pop("user_code"), env)
        health = deployment.code_server_health_command(grpc_port)  # compose starts the others once it passes
        stack.wait(lambda: subprocess.run(health, env=env, capture_output=True, timeout=60).returncode == 0, START_TIMEOUT,
                   "the code server's healthcheck", interval=2)
        for name, commands in services.items():
            _start(stack, name, commands, env)
        stack.wait(lambda: graphql.serving(stack.url), START_TIMEOUT, "the webserver")
        stack.wait(lambda: _location_loaded(stack), START_TIMEOUT, "the code location to load over gRPC")
        print(f"topology up (postgres, code server, webserver, daemon) in {time.monotonic() - started:.1f}s")
        yield stack
        instance.dispose()
    finally:
        for process in (processes_started or {}).values():
            _stop(process)
        monkeypatch.undo()
        stop_server(postgres)


# --- helpers: runs ----------------------------------------------------------------------------

LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""


def launch(stack: Stack, assets: list[str], years: tuple[str, str] | None = None, tags: dict[str, str] | None = None) -> dict:
    """What the UI's Materialize sends: the asset job over ``assets`` (and a release-year range)."""
    all_tags = {**(tags or {})}
    if years is not None:
        all_tags.update({"dagster/asset_partition_range_start": years[0], "dagster/asset_partition_range_end": years[1]})
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": "__ASSET_JOB",
                     "assetSelection": [{"path": [name]} for name in assets]},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
    }
    launched = stack.graphql(LAUNCH, {"executionParams": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]


def run_status(stack: Stack, run_id: str) -> dg.DagsterRunStatus:
    return stack.instance.get_run_by_id(run_id).status


def wait_for_run(stack: Stack, run_id: str) -> dg.DagsterRunStatus:
    status = stack.wait(lambda: (s := run_status(stack, run_id)) in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                                                                     dg.DagsterRunStatus.CANCELED) and s,
                        RUN_TIMEOUT, f"run {run_id} to end")
    if status != dg.DagsterRunStatus.SUCCESS:
        pytest.fail(f"run {run_id} ended {status.value}: {failures(stack, run_id)}\n{stack.log_tail()}")
    return status


def run_event_types(stack: Stack, run_id: str) -> list[str]:
    records = stack.instance.get_records_for_run(run_id, limit=100000).records
    return [r.event_log_entry.dagster_event.event_type_value for r in records if r.event_log_entry.dagster_event]


def failures(stack: Stack, run_id: str) -> list[str]:
    out = []
    for record in stack.instance.get_records_for_run(run_id, limit=100000).records:
        entry = record.event_log_entry
        if entry.dagster_event is not None and entry.dagster_event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE", "ENGINE_EVENT"):
            out.append(f"{entry.dagster_event.event_type_value} {entry.step_key or ''}: {entry.message[:300]}")
    return out


ASSET_NODES = "query { assetNodes { assetKey { path } } }"


def ensure_built(stack: Stack) -> str:
    """Every asset over every release year (what ``make demo`` builds), through GraphQL, once per stack."""
    if stack.build_run is None:
        assets = sorted("/".join(n["assetKey"]["path"]) for n in stack.graphql(ASSET_NODES)["assetNodes"])
        assert set(CATALOG) | NOT_BUILT | RETRAINED <= set(assets)
        run = launch(stack, [a for a in assets if a not in NOT_BUILT], ALL_YEARS)
        assert run["status"] == "QUEUED"  # the webserver queues; only the daemon launches
        wait_for_run(stack, run["runId"])
        stack.build_run = run["runId"]
    return stack.build_run


def _sql(stack: Stack, query: str, *params) -> list[tuple]:
    return stack.postgres.query(os.environ["DAGSTER_POSTGRES_DB"], query, *params)


# --- helpers: schedules and sensors -----------------------------------------------------------

INSTIGATORS = """
query Instigators($repo: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repo) { ... on Schedules { results { name scheduleState { status } } } }
  sensorsOrError(repositorySelector: $repo) { ... on Sensors { results { name sensorState { status } } } }
}
"""

START_SCHEDULE = """
mutation Start($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename ... on ScheduleStateResult { scheduleState { id status } } ... on PythonError { message }
  }
}
"""

START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename ... on Sensor { sensorState { id status } } ... on PythonError { message }
  }
}
"""

STOP_SENSOR = """
mutation Stop($id: String!) {
  stopSensor(id: $id) { __typename ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } }
}
"""


def instigator_states(stack: Stack) -> dict[str, str]:
    data = stack.graphql(INSTIGATORS, {"repo": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}})
    schedules = {s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    return {**schedules, **sensors}


def stored_state(stack: Stack, name: str):
    (state,) = [s for s in stack.instance.all_instigator_state() if s.name == name]
    return state


def ticks(stack: Stack, name: str) -> list:
    state = stored_state(stack, name)
    return list(reversed(stack.instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=50)))


def next_finished_tick(stack: Stack, name: str, after: float):
    """The first tick of ``name`` that started after ``after`` (a timestamp), once it has finished."""
    def finished():
        done = [t for t in ticks(stack, name) if t.timestamp > after and t.status.value in ("SUCCESS", "SKIPPED", "FAILURE")]
        return done[0] if done else None

    return stack.wait(finished, TICK_TIMEOUT, f"a tick of {name} after {dt.datetime.fromtimestamp(after, dt.timezone.utc)}",
                      interval=2)


# --- helpers: the demo catalog and the home ---------------------------------------------------

def edit_demo_record(home: Home, year: str, **changes) -> int:
    """Change fields of the first demo record released in ``year``; its id."""
    path = home.demo_catalog_dir / "movies.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    record = next(r for r in records if (r.get("release_date") or "").startswith(year))
    record.update(changes)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    return int(record["id"])


def a_year_with_movies(home: Home) -> str:
    movies = GenerationStore(home).current().read("movies")
    return str(int(movies["release_year"].dropna().value_counts().index[0]))


def fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the tests --------------------------------------------------------------------------------

def test_a_schedule_turned_on_fires_a_tick_whose_run_succeeds(stack):
    assert set(instigator_states(stack).values()) == {"STOPPED"}  # GENRE_PIPELINE_SCHEDULES is not on here
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "scheduleName": SCHEDULE}
    # Its cron is weekly: start it through the webserver, then move its start eight days back so the
    # last cron time falls after it. The daemon is stopped meanwhile and started again afterwards: a
    # daemon that has seen the schedule running keeps its next iteration time in memory and would
    # wait a week from there, and one that read the schedule's state just before the change can
    # write that stale state back.
    week_ago = time.time() - 8 * 24 * 3600

    def start_a_week_ago():
        started = stack.graphql(START_SCHEDULE, {"selector": selector})["startSchedule"]
        assert started["__typename"] == "ScheduleStateResult" and started["scheduleState"]["status"] == "RUNNING", started
        state = stored_state(stack, SCHEDULE)
        stack.instance.update_instigator_state(state.with_data(state.instigator_data._replace(start_timestamp=week_ago)))

    _restart(stack, "daemon", while_stopped=start_a_week_ago)
    assert stored_state(stack, SCHEDULE).instigator_data.start_timestamp == week_ago
    assert _sql(stack, "SELECT status FROM instigators WHERE instigator_type = 'SCHEDULE'") == [("RUNNING",)]

    tick = next_finished_tick(stack, SCHEDULE, after=week_ago)
    assert tick.status.value == "SUCCESS", tick
    (run_id,) = tick.run_ids
    wait_for_run(stack, run_id)
    run = stack.instance.get_run_by_id(run_id)
    assert run.tags["dagster/schedule_name"] == SCHEDULE and run.tags["genre_pipeline/trigger"] == SCHEDULE
    years = (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"])
    this_year = dt.datetime.now(dt.timezone.utc).year
    assert int(years[0]) == this_year - 2 and int(years[1]) == this_year + 1
    current = GenerationStore(stack.home).current()
    assert run_id in current.runs and set(current.partitions("movie_posters")) == {str(y) for y in range(int(years[0]), int(years[1]) + 1)}


def test_a_run_submitted_through_graphql_is_queued_dequeued_and_succeeds(stack):
    run_id = ensure_built(stack)
    events = run_event_types(stack, run_id)
    E = dg.DagsterEventType  # queued by the webserver; the daemon dequeues it by launching it (RUN_STARTING)
    order = [e.value for e in (E.RUN_ENQUEUED, E.RUN_STARTING, E.RUN_START, E.RUN_SUCCESS)]
    assert [e for e in events if e in order] == order, events
    assert stack.instance.get_run_by_id(run_id).tags.get("dagster/partition") is None  # one run over the range
    current = GenerationStore(stack.home).current()
    assert run_id in current.runs and RETRAINED | set(CATALOG) <= set(current.assets())
    assert len(current.read("movies")) == DEMO_MOVIES
    assert dict(_sql(stack, 'SELECT run_id, status FROM runs WHERE run_id = %s', run_id)) == {run_id: "SUCCESS"}
    # the pool limit the daemon's start command sets (TMDB_POOL_LIMIT) is in Postgres and in force
    assert _sql(stack, 'SELECT concurrency_key, "limit" FROM concurrency_limits') == [("tmdb", 1)]
    info = stack.instance.event_log_storage.get_concurrency_info("tmdb")
    assert info.slot_count == 1 and not info.claimed_slots and not info.pending_steps
    assert "raw_movie_records" in {r.event_log_entry.step_key for r in
                                   stack.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records}


def test_the_retrain_automation_runs_on_a_content_change_not_on_a_popularity_change(stack):
    ensure_built(stack)
    year = a_year_with_movies(stack.home)
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": SENSOR}
    started = stack.graphql(START_SENSOR, {"selector": selector})["startSensor"]
    assert started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING", started
    baseline = next_finished_tick(stack, SENSOR, after=time.time() - 5)
    assert not baseline.requested_asset_keys  # everything built is up to date

    # popularity and vote counts move every day: the table is rewritten, its content is not
    edit_demo_record(stack.home, year, popularity=12345.6, vote_count=999)
    popularity = launch(stack, CATALOG, (year, year))
    wait_for_run(stack, popularity["runId"])
    quiet = next_finished_tick(stack, SENSOR, after=stack.instance.get_run_record_by_id(popularity["runId"]).end_time)
    assert not {k.to_user_string() for k in quiet.requested_asset_keys} & RETRAINED, quiet.requested_asset_keys

    changed = edit_demo_record(stack.home, year, overview="A lighthouse keeper finds a map to a sunken city and sails for it.")
    content = launch(stack, CATALOG, (year, year))
    wait_for_run(stack, content["runId"])
    retrain = next_finished_tick(stack, SENSOR, after=stack.instance.get_run_record_by_id(content["runId"]).end_time)
    stopped = stack.graphql(STOP_SENSOR, {"id": started["sensorState"]["id"]})
    assert retrain.status.value == "SUCCESS", retrain
    assert RETRAINED <= {k.to_user_string() for k in retrain.requested_asset_keys}, retrain.requested_asset_keys
    assert stopped["stopSensor"]["__typename"] == "StopSensorMutationResult", stopped

    # the daemon carries the retrain out: a backfill (the release-year partitioned posters with the rest)
    backfills = stack.instance.get_backfills()
    assert len(backfills) == 1
    backfill = backfills[0]
    stack.wait(lambda: stack.instance.get_backfill(backfill.backfill_id).status.value.startswith("COMPLETED")
               or stack.instance.get_backfill(backfill.backfill_id).status.value in ("FAILED", "CANCELED"),
               RUN_TIMEOUT, f"backfill {backfill.backfill_id}", interval=2)
    runs = stack.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status, failures(stack, r.run_id)) for r in runs]
    current = GenerationStore(stack.home).current()
    labels = current.read("genre_labels").table.set_index("id")
    assert labels.loc[changed, "overview"].startswith("A lighthouse keeper")
    assert {"model_evaluation", "fusion", "mlp_poster"} <= set(current.assets())


def test_a_killed_run_worker_is_marked_failed_retried_and_leaves_the_home_consistent(stack):
    ensure_built(stack)
    store = GenerationStore(stack.home)
    previous = store.current()
    before = fingerprint(previous.root)
    # every step again on retry: what a dead run staged is never published, so a retry from the failed
    # step would read the previous generation's inputs
    run = launch(stack, [*CATALOG, "movie_posters", "poster_embeddings"], ALL_YEARS, tags={"dagster/retry_strategy": "ALL_STEPS"})
    run_id = run["runId"]
    staging = store.staging(run_id)

    def worker_pid() -> int | None:
        holder = read_holder(stack.home.lock_path)
        staged = staging.units() if staging.root.is_dir() else {}
        return holder.pid if holder is not None and holder.run_id == run_id and staged else None

    pid = stack.wait(worker_pid, RUN_TIMEOUT, f"run {run_id} to hold the home and stage a unit", interval=0.05)
    os.kill(pid, signal.SIGKILL)

    ended = stack.wait(lambda: (r := stack.instance.get_run_by_id(run_id)).is_finished and r, RUN_TIMEOUT, f"run {run_id} marked ended")
    assert ended.status == dg.DagsterRunStatus.FAILURE
    # the code server that started the worker saw it die (the Docker launcher's run monitoring does this for containers)
    died = f"Run execution process for {run_id} was terminated by signal 9 (SIGKILL)"
    assert any(died in f for f in failures(stack, run_id)), failures(stack, run_id)

    def retry():
        found = stack.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))
        return found[0] if found else None

    retried = stack.wait(retry, RUN_TIMEOUT, f"a retry of run {run_id}", interval=2)
    assert retried.tags["dagster/retry_number"] == "1" and retried.tags["dagster/root_run_id"] == run_id
    wait_for_run(stack, retried.run_id)

    current = store.current()
    assert current.id != previous.id and run_id not in current.runs and retried.run_id in current.runs
    assert json.loads((current.root / "manifest.json").read_text())["parent"] == previous.id
    assert fingerprint(previous.root) == before  # the previous generation is untouched
    assert not staging.root.exists() and not any(stack.home.staging_dir.iterdir())  # the dead run's staging was swept
    assert read_holder(stack.home.lock_path) is None
    assert not stack.instance.event_log_storage.get_concurrency_info("tmdb").claimed_slots  # the dead run's slot was freed
