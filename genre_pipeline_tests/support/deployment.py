"""The deployment's own files, turned into what runs on this machine without containers.

``deploy/dagster.yaml``, ``deploy/workspace.yaml`` and the service commands of
``docker-compose.yml`` are read and changed only where a container network or a Docker
engine is assumed, so a test that brings the topology up here runs what the deployment
runs and cannot drift from it:

* the ``DockerRunLauncher`` becomes Dagster's ``DefaultRunLauncher`` (the code server starts
  each run worker as its own process);
* the ``/data/dagster`` paths (step logs, local artifacts) move into the test's folder;
* the workspace's code server is ``127.0.0.1:PORT`` instead of the compose service;
* the services listen on 127.0.0.1 and free ports instead of ``0.0.0.0`` and fixed ones.

Everything else (Postgres storage from ``DAGSTER_POSTGRES_*``, the queued run coordinator,
pools, run retries, run monitoring, the daemon's pool command) is used as it is.
"""

from __future__ import annotations

import copy
import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DAGSTER_YAML = ROOT / "deploy" / "dagster.yaml"
WORKSPACE_YAML = ROOT / "deploy" / "workspace.yaml"
COMPOSE = ROOT / "docker-compose.yml"
DEFAULT_LAUNCHER = {"module": "dagster", "class": "DefaultRunLauncher"}


def deployment_config() -> dict:
    """deploy/dagster.yaml as it is."""
    return yaml.safe_load(DAGSTER_YAML.read_text(encoding="utf-8"))


def local_instance_config(base: Path) -> dict:
    """deploy/dagster.yaml with the default run launcher and the ``/data`` paths under ``base``."""
    config = copy.deepcopy(deployment_config())
    config["run_launcher"] = dict(DEFAULT_LAUNCHER)
    config["compute_logs"]["config"]["base_dir"] = str(base / "compute_logs")
    config["local_artifact_storage"]["config"]["base_dir"] = str(base / "storage")
    return config


def write_dagster_home(base: Path, config: dict) -> Path:
    """A DAGSTER_HOME folder under ``base`` holding ``config`` as its dagster.yaml."""
    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return home


def local_workspace(path: Path, port: int) -> Path:
    """deploy/workspace.yaml with its gRPC code server on 127.0.0.1:``port``, written to ``path``."""
    workspace = yaml.safe_load(WORKSPACE_YAML.read_text(encoding="utf-8"))
    (entry,) = workspace["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=port)
    path.write_text(yaml.safe_dump(workspace), encoding="utf-8")
    return path


def _local_command(command: list[str], replacements: dict[str, str]) -> list[str]:
    """A compose command run from this environment's scripts, with its addresses and paths replaced."""
    out = [replacements.get(part, part) for part in command]
    script = Path(sys.executable).with_name(out[0])
    return [str(script) if script.exists() else out[0], *out[1:]]


def service_commands(grpc_port: int, web_port: int, workspace: Path, tmdb_pool_limit: int = 1) -> dict[str, list[list[str]]]:
    """The compose services' commands (``user_code``, ``webserver``, ``daemon``), each a list of
    commands run one after the other, made local."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    container_workspace = next(part for part in services["webserver"]["command"] if part.endswith("workspace.yaml"))
    user_code = services["user_code"]["command"]
    replacements = {"0.0.0.0": "127.0.0.1", container_workspace: str(workspace),
                    user_code[user_code.index("-p") + 1]: str(grpc_port)}
    webserver = services["webserver"]["command"]
    web_replacements = {**replacements, webserver[webserver.index("-p") + 1]: str(web_port)}
    shell = services["daemon"]["command"]
    assert shell[:2] == ["sh", "-c"], shell  # "<pool command> && exec dagster-daemon run -w <workspace>"
    steps = [shlex.split(step.replace("exec ", "", 1).replace('"$$TMDB_POOL_LIMIT"', str(tmdb_pool_limit)))
             for step in shell[2].split(" && ")]
    return {
        "user_code": [_local_command(user_code, replacements)],
        "webserver": [_local_command(webserver, web_replacements)],
        "daemon": [_local_command(step, replacements) for step in steps],
    }


def code_server_health_command(grpc_port: int) -> list[str]:
    """The ``user_code`` service's healthcheck (the webserver and the daemon start once it passes), made local."""
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    kind, *command = services["user_code"]["healthcheck"]["test"]
    assert kind == "CMD", kind
    port = services["user_code"]["command"][services["user_code"]["command"].index("-p") + 1]
    return _local_command(command, {port: str(grpc_port)})
