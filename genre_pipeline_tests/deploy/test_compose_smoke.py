"""deploy/smoke/launch_run.py, the client `make compose-smoke` drives the webserver with,
against a real HTTP server on 127.0.0.1 that answers the GraphQL queries as Dagster's
webserver does (the shapes of ``workspaceOrError``, ``launchPipelineExecution``,
``runOrError`` and ``logsForRun``).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("launch_run", ROOT / "deploy" / "smoke" / "launch_run.py")
launch_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(launch_run)


class FakeWebserver:
    """Answers like dagster-webserver; records what was launched."""

    def __init__(self, statuses: list[str], location_error: str | None = None):
        self.statuses = list(statuses)
        self.location_error = location_error
        self.launched: list[dict] = []
        self.polls = 0

    def answer(self, query: str, variables: dict) -> dict:
        if "workspaceOrError" in query:
            location = (
                {"__typename": "PythonError", "message": self.location_error}
                if self.location_error
                else {"__typename": "RepositoryLocation", "repositories": [{"name": "__repository__"}]}
            )
            entry = {"name": "genre_pipeline", "loadStatus": "LOADED", "locationOrLoadError": location}
            return {"workspaceOrError": {"__typename": "Workspace", "locationEntries": [entry]}}
        if "launchPipelineExecution" in query:
            self.launched.append(variables["params"])
            return {"launchPipelineExecution": {"__typename": "LaunchRunSuccess", "run": {"runId": "r-1", "status": "QUEUED"}}}
        if "runOrError" in query:
            status = self.statuses[min(self.polls, len(self.statuses) - 1)]
            self.polls += 1
            return {
                "runOrError": {
                    "__typename": "Run",
                    "status": status,
                    "tags": [{"key": "docker/container_id", "value": "c0ffee"}],
                    "stats": {"stepsSucceeded": 3, "stepsFailed": 0, "materializations": 5},
                }
            }
        if "logsForRun" in query:
            events = [
                {"__typename": "ExecutionStepFailureEvent", "message": 'Execution of step "movies" failed.', "level": "ERROR"},
                {"__typename": "LogMessageEvent", "message": "noise", "level": "INFO"},
            ]
            return {"logsForRun": {"events": events}}
        raise AssertionError(f"unexpected query {query}")


@pytest.fixture()
def serve():
    servers = []

    def start(fake: FakeWebserver) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, payload: dict):
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                assert self.path == "/server_info", self.path
                self._send({"dagster_webserver_version": "1.13.27"})

            def do_POST(self):
                assert self.path == "/graphql", self.path
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._send({"data": fake.answer(request["query"], request["variables"])})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_successful_run_is_launched_as_the_ui_launches_it_and_followed_to_the_end(serve, capsys):
    fake = FakeWebserver(["QUEUED", "STARTING", "STARTED", "STARTED", "SUCCESS"])
    url = serve(fake)
    code = launch_run.main(["--url", url, "--assets", "raw_movie_records,movies", "--partitions", "2000...2002", "--poll-interval", "0"])
    assert code == 0
    (params,) = fake.launched
    assert params["selector"] == {
        "repositoryLocationName": "genre_pipeline",
        "repositoryName": "__repository__",
        "pipelineName": "__ASSET_JOB",
        "assetSelection": [{"path": ["raw_movie_records"]}, {"path": ["movies"]}],
    }
    tags = {tag["key"]: tag["value"] for tag in params["executionMetadata"]["tags"]}
    assert tags["dagster/asset_partition_range_start"] == "2000" and tags["dagster/asset_partition_range_end"] == "2002"
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "SUCCESS" and summary["run_id"] == "r-1"
    assert list(summary["status_first_seen_s"]) == ["QUEUED", "STARTING", "STARTED", "SUCCESS"]
    assert summary["container_id"] == "c0ffee" and summary["stats"]["materializations"] == 5
    assert fake.polls == 5


def test_a_failed_run_exits_non_zero_with_its_error_events(serve, capsys):
    url = serve(FakeWebserver(["STARTED", "FAILURE"]))
    assert launch_run.main(["--url", url, "--assets", "movies", "--poll-interval", "0"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "FAILURE"
    assert summary["errors"] == ['Execution of step "movies" failed.']


def test_a_location_that_failed_to_load_is_reported_with_its_error(serve):
    url = serve(FakeWebserver(["SUCCESS"], location_error="ModuleNotFoundError: No module named 'torch'"))
    with pytest.raises(launch_run.SmokeError, match="failed to load: ModuleNotFoundError: No module named 'torch'"):
        launch_run.loaded_repository(url)


def test_waiting_gives_up_with_the_last_error_on_an_injected_clock():
    now = [0.0]

    def refused():
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(launch_run.SmokeError, match=r"webserver: not ready after 10s \(last error: connection refused\)"):
        launch_run.wait_for("webserver", refused, timeout=10, interval=2, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] == 10.0


def test_a_run_that_never_ends_times_out_naming_its_statuses(serve):
    url = serve(FakeWebserver(["QUEUED"]))
    now = [0.0]
    with pytest.raises(launch_run.SmokeError, match=r"run r-1 still QUEUED after 30s \(statuses seen: \{'QUEUED': 0.0\}\)"):
        launch_run.follow(url, "r-1", timeout=30, interval=5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))


def test_a_malformed_partition_range_is_refused(capsys):
    with pytest.raises(SystemExit):
        launch_run.main(["--url", "http://127.0.0.1:9", "--assets", "movies", "--partitions", "2000"])
    assert "--partitions must be START...END, got '2000'" in capsys.readouterr().err
