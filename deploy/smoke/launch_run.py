"""Launch one run through the deployment's webserver and wait for it (used by deploy/compose_smoke.sh).

The run is submitted the way the UI submits it (GraphQL ``launchPipelineExecution`` of the
asset job), so it goes through the queued run coordinator, the daemon and the Docker run
launcher. Standard library only: it runs on the host, outside the images.

    python3 deploy/smoke/launch_run.py --url http://127.0.0.1:3000 \
        --assets raw_movie_records,genre_vocabulary,movies --partitions 2000...2002
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

LOCATION = "genre_pipeline"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
# Direct connections only: a proxy from the environment must never see 127.0.0.1 traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

WORKSPACE = """query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { name } } ... on PythonError { message } }
} } } }"""

LAUNCH = """mutation Launch($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
  __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on Error { message }
  ... on RunConfigValidationInvalid { errors { message } }
} }"""

RUN = """query Run($runId: ID!) { runOrError(runId: $runId) {
  __typename
  ... on Run { status tags { key value } stats { ... on RunStatsSnapshot { stepsSucceeded stepsFailed materializations } } }
  ... on Error { message }
} }"""

EVENTS = """query Events($runId: ID!) { logsForRun(runId: $runId, limit: 500) {
  ... on EventConnection { events { __typename ... on MessageEvent { message level } } }
} }"""


class SmokeError(RuntimeError):
    pass


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 60.0) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with OPENER.open(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise SmokeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def wait_for(what: str, probe, timeout: float, interval: float = 2.0, clock=time.monotonic, sleep=time.sleep):
    """Call ``probe`` until it returns something truthy; its last error is in the timeout message."""
    deadline = clock() + timeout
    last = None
    while clock() < deadline:
        try:
            result = probe()
            if result:
                return result
        except (OSError, urllib.error.URLError, SmokeError) as error:
            last = error
        sleep(interval)
    raise SmokeError(f"{what}: not ready after {timeout:.0f}s (last error: {last})")


def server_info(url: str) -> dict:
    with OPENER.open(f"{url}/server_info", timeout=10) as response:
        if response.status != 200:
            raise SmokeError(f"/server_info answered {response.status}")
        return json.load(response)


def loaded_repository(url: str) -> str | None:
    """The repository name of the code location, once the webserver has loaded it."""
    workspace = graphql(url, WORKSPACE)["workspaceOrError"]
    for entry in workspace.get("locationEntries", []):
        if entry["name"] != LOCATION or entry["loadStatus"] != "LOADED":
            continue
        location = entry["locationOrLoadError"]
        if location["__typename"] == "PythonError":
            raise SmokeError(f"code location {LOCATION} failed to load: {location['message']}")
        return location["repositories"][0]["name"]
    return None


def launch(url: str, repository: str, assets: list[str], partitions: tuple[str, str] | None) -> str:
    tags = []
    if partitions:
        tags = [
            {"key": "dagster/asset_partition_range_start", "value": partitions[0]},
            {"key": "dagster/asset_partition_range_end", "value": partitions[1]},
        ]
    tags.append({"key": "genre_pipeline/trigger", "value": "compose_smoke"})
    selection = [{"path": [asset]} for asset in assets]
    selector = dict(repositoryLocationName=LOCATION, repositoryName=repository, pipelineName="__ASSET_JOB", assetSelection=selection)
    params = {"selector": selector, "mode": "default", "runConfigData": {}, "executionMetadata": {"tags": tags}}
    result = graphql(url, LAUNCH, {"params": params})["launchPipelineExecution"]
    if result["__typename"] != "LaunchRunSuccess":
        raise SmokeError(f"launch refused: {result['__typename']}: {result.get('message') or result.get('errors')}")
    return result["run"]["runId"]


def follow(url: str, run_id: str, timeout: float, interval: float = 2.0, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Poll the run until it ends; returns its last state and when each status was first seen."""
    start = clock()
    seen: dict[str, float] = {}
    while True:
        run = graphql(url, RUN, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise SmokeError(f"run {run_id}: {run.get('message', run['__typename'])}")
        seen.setdefault(run["status"], round(clock() - start, 1))
        if run["status"] in TERMINAL:
            return {**run, "seen": seen}
        if clock() - start > timeout:
            raise SmokeError(f"run {run_id} still {run['status']} after {timeout:.0f}s (statuses seen: {seen})")
        sleep(interval)


def error_messages(url: str, run_id: str) -> list[str]:
    events = graphql(url, EVENTS, {"runId": run_id})["logsForRun"].get("events", [])
    return [e["message"] for e in events if e.get("level") in ("ERROR", "CRITICAL") or "Failure" in e["__typename"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="webserver base URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("--assets", required=True, help="comma-separated asset keys of one run")
    parser.add_argument("--partitions", help="partition range START...END of the partitioned assets")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--run-timeout", type=float, default=1200.0)
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between two polls")
    args = parser.parse_args(argv)

    partitions = tuple(args.partitions.split("...", 1)) if args.partitions else None
    if partitions is not None and len(partitions) != 2:
        parser.error(f"--partitions must be START...END, got {args.partitions!r}")
    started = time.monotonic()
    info = wait_for("webserver /server_info", lambda: server_info(args.url), args.ready_timeout, args.poll_interval)
    repository = wait_for(f"code location {LOCATION} in the webserver", lambda: loaded_repository(args.url), args.ready_timeout, args.poll_interval)
    ready_s = round(time.monotonic() - started, 1)
    run_id = launch(args.url, repository, args.assets.split(","), partitions)
    run = follow(args.url, run_id, args.run_timeout, args.poll_interval)
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    summary = {
        "dagster_webserver_version": info.get("dagster_webserver_version"),
        "webserver_ready_s": ready_s,
        "run_id": run_id,
        "status": run["status"],
        "status_first_seen_s": run["seen"],
        "container_id": tags.get("docker/container_id"),
        "stats": run["stats"],
    }
    if run["status"] != "SUCCESS":
        summary["errors"] = error_messages(args.url, run_id)[-10:]
    print(json.dumps(summary))
    return 0 if run["status"] == "SUCCESS" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SmokeError as error:
        print(f"launch_run: {error}", file=sys.stderr)
        sys.exit(2)
