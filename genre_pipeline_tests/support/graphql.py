"""Requests to a Dagster webserver on 127.0.0.1: GraphQL queries and the liveness probe.

Direct connections only: a proxy from the environment must never see 127.0.0.1 traffic.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def query(url: str, text: str, variables: dict | None = None, timeout: float = 60) -> dict:
    """The ``data`` of a GraphQL request to the webserver at ``url``; any GraphQL error fails the caller."""
    body = json.dumps({"query": text, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with OPENER.open(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


def serving(url: str) -> bool:
    """Whether the webserver at ``url`` answers ``/server_info``."""
    try:
        with OPENER.open(f"{url}/server_info", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
