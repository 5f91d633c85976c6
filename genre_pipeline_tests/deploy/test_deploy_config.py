"""docker-compose.yml, deploy/dagster.yaml, deploy/workspace.yaml, the Dockerfile and the
compose smoke agree with each other and with the code.

No Docker engine is needed: the compose file is parsed with PyYAML and resolved the way
compose resolves it (merge keys, ``${VAR:-default}`` / ``${VAR:?message}``), the files are
cross-checked (services, volumes, networks, ports, environment variables, image names, the
Docker socket, the user the images run as), deploy/dagster.yaml is validated by Dagster's own
instance schema and each configurable class's schema (the Docker run launcher's by
dagster-docker), and the environment variables are found in the code: every setting name
the package reads, and what loading the code location actually reads (recorded).
``make compose-smoke`` (deploy/compose_smoke.sh) brings the stack up for real.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DAGSTER_YAML = ROOT / "deploy" / "dagster.yaml"
WORKSPACE_YAML = ROOT / "deploy" / "workspace.yaml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SMOKE_SCRIPT = ROOT / "deploy" / "compose_smoke.sh"

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")  # everything that loads the instance
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
REQUIRED_SECRETS = {"DAGSTER_POSTGRES_PASSWORD", "TMDB_API_KEY"}
# compose refuses to start without these: the secrets, and the group of the Docker socket
REQUIRED_VARIABLES = REQUIRED_SECRETS | {"DOCKER_SOCKET_GID"}
SOCKET = "/var/run/docker.sock"


# --- helpers: compose interpolation, as docker compose does it ----------------------------

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(Exception):
    pass


def interpolate(value, env: Mapping[str, str]):
    """Resolve ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?msg}``, ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        if op in (":-", "-"):
            missing = current is None or (op == ":-" and current == "")
            return arg if missing else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise MissingVariable(f"{name}: {arg}")
            return current
        return current or ""

    return _VAR.sub(substitute, value)


def referenced_variables(text: str) -> set[str]:
    return {m.group("name") or m.group("bare") for m in _VAR.finditer(text) if m.group(0) != "$$"}


def required_variables(text: str) -> set[str]:
    return {m.group("name") for m in _VAR.finditer(text) if m.group("op") in (":?", "?")}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def flag(args: list[str], *names: str) -> str:
    for i, arg in enumerate(args):
        if arg in names:
            return args[i + 1]
    raise AssertionError(f"none of {names} in {args}")


def mounts(service: dict) -> dict[str, str]:
    """target -> source for ``source:target[:mode]`` volume entries."""
    out = {}
    for entry in service.get("volumes") or []:
        source, target = entry.split(":")[:2]
        out[target] = source
    return out


DEPLOY_ENV = {"DAGSTER_POSTGRES_PASSWORD": "pw-for-config-test", "TMDB_API_KEY": "key-for-config-test", "DOCKER_SOCKET_GID": "998"}


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw_compose) -> dict:
    """docker-compose.yml as compose resolves it with only the required variables set."""
    return interpolate({k: v for k, v in raw_compose.items() if not k.startswith("x-")}, DEPLOY_ENV)


@pytest.fixture(scope="module")
def instance_yaml() -> dict:
    return yaml.safe_load(DAGSTER_YAML.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> dict:
    """Stages (name -> lines) and ARG/ENV defaults of the Dockerfile."""
    text = DOCKERFILE.read_text()
    stages: dict[str, list[str]] = {}
    current = None
    args, envs, bases = {}, {}, {}
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stage = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE)
        if stage:
            current = stage.group(2)
            stages[current] = []
            bases[current] = stage.group(1)
            continue
        if current:
            stages[current].append(line)
        arg = re.match(r"ARG\s+(\w+)=(\S*)", line)
        if arg:
            args[arg.group(1)] = arg.group(2)
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                envs[key] = value
    return {"stages": stages, "bases": bases, "args": args, "env": envs, "text": text}




# --- compose: the file resolves as compose resolves it ------------------------------------------

# top-level keys of a compose service this deployment may use (the compose specification's names)
SERVICE_KEYS = {
    "build", "command", "depends_on", "environment", "group_add", "healthcheck", "image",
    "networks", "ports", "restart", "user", "volumes",
}


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_compose_file_resolves_with_the_required_settings_only(raw_compose, compose):
    """What ``docker compose config`` checks, from the file: merge keys, substitutions, keys."""
    text = _without_comments(COMPOSE.read_text())
    assert required_variables(text) == REQUIRED_VARIABLES
    for name in sorted(REQUIRED_VARIABLES):
        without = {k: v for k, v in DEPLOY_ENV.items() if k != name}
        with pytest.raises(MissingVariable, match=name):
            interpolate({k: v for k, v in raw_compose.items() if not k.startswith("x-")}, without)
    # nothing is left to substitute, and `$$` became `$` (the daemon's shell sees $TMDB_POOL_LIMIT)
    assert not [s for s in _strings(compose) if "${" in s]
    assert "$TMDB_POOL_LIMIT" in " ".join(command(compose["services"]["daemon"]))
    assert set(compose) == {"services", "volumes", "networks"}
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, f"{name}: unknown keys {set(service) - SERVICE_KEYS}"
        assert isinstance(service.get("environment", {}), dict), name
        for key, value in environment(service).items():
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) and isinstance(value, str), f"{name}.{key}"
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"
    # both Dagster images build from one base image, named by one setting
    for name in DAGSTER_SERVICES:
        assert compose["services"][name]["build"]["args"]["BASE_IMAGE"] == "python:3.11-slim-bookworm", name
    moved = interpolate(raw_compose["services"]["webserver"]["build"], {"GENRE_PIPELINE_BASE_IMAGE": "localhost/base:bookworm"})
    assert moved["args"]["BASE_IMAGE"] == "localhost/base:bookworm"


# --- compose: services, health, ports ----------------------------------------------------


def test_compose_services_and_startup_order(raw_compose, compose):
    services = compose["services"]
    assert set(services) == {"postgres", "user_code", "webserver", "daemon"}
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:16"
    # a machine without Docker Hub names a local image with the same interface (the smoke does)
    local = interpolate(raw_compose["services"]["postgres"], {**DEPLOY_ENV, "GENRE_PIPELINE_POSTGRES_IMAGE": "localhost/pg:15"})
    assert local["image"] == "localhost/pg:15"
    check = " ".join(postgres["healthcheck"]["test"])
    assert "pg_isready" in check
    for name in DAGSTER_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"]["user_code"]["condition"] == "service_healthy", name
    assert services["user_code"]["healthcheck"]["test"][:4] == ["CMD", "dagster", "api", "grpc-health-check"]
    for name, service in services.items():
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name


def test_user_code_serves_the_code_location_the_workspace_points_at(compose, dockerfile):
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.workspace.autodiscovery import loadable_targets_from_python_module

    user_code = compose["services"]["user_code"]
    args = command(user_code)
    assert args[:3] == ["dagster", "api", "grpc"]
    module = flag(args, "-m", "--module-name")
    assert module == "genre_pipeline.definitions"
    # what `dagster api grpc -m` finds in the module, and the repository it builds
    (target,) = loadable_targets_from_python_module(module, working_directory=str(ROOT))
    repository = ReconstructableRepository.for_module(module, target.attribute, working_directory=str(ROOT)).get_definition()
    assert "__ASSET_JOB" in {job.name for job in repository.get_all_jobs()}

    port = int(flag(args, "-p", "--port"))
    assert flag(args, "-h", "--host") == "0.0.0.0"
    assert int(flag(user_code["healthcheck"]["test"], "-p", "--port")) == port
    assert f"EXPOSE {port}" in dockerfile["text"]

    workspace = yaml.safe_load(WORKSPACE_YAML.read_text())
    (entry,) = workspace["load_from"]
    grpc = entry["grpc_server"]
    assert grpc["host"] == "user_code" and int(grpc["port"]) == port
    assert grpc["location_name"] == "genre_pipeline"

    # the build: the user_code stage of the project's Dockerfile, and the default CMD agrees
    assert user_code["build"]["target"] == "user_code" and user_code["build"]["dockerfile"] == "Dockerfile"
    assert '"-m", "genre_pipeline.definitions"' in dockerfile["text"]
    # run containers are started from the code server's own image
    assert environment(user_code)["DAGSTER_CURRENT_IMAGE"] == user_code["image"]


def test_webserver_binds_loopback_by_default(raw_compose):
    ports = interpolate(raw_compose["services"]["webserver"]["ports"], DEPLOY_ENV)
    assert ports == ["127.0.0.1:3000:3000"]
    moved = interpolate(raw_compose["services"]["webserver"]["ports"], {**DEPLOY_ENV, "DAGSTER_WEBSERVER_BIND": "0.0.0.0", "DAGSTER_WEBSERVER_PORT": "8080"})
    assert moved == ["0.0.0.0:8080:3000"]
    # nothing else is published on the host (Postgres and gRPC stay on the compose network)
    published = [name for name, service in raw_compose["services"].items() if service.get("ports")]
    assert published == ["webserver"]


def test_webserver_and_daemon_commands(compose, dockerfile):
    services = compose["services"]
    home = dockerfile["env"]["DAGSTER_HOME"]
    web = command(services["webserver"])
    assert web[0] == "dagster-webserver"
    assert flag(web, "-h", "--host") == "0.0.0.0"
    assert services["webserver"]["ports"][0].rsplit(":", 1)[1] == flag(web, "-p", "--port")
    assert flag(web, "-w", "--workspace") == f"{home}/workspace.yaml"
    daemon = " ".join(command(services["daemon"]))
    assert f"exec dagster-daemon run -w {home}/workspace.yaml" in daemon
    # the tmdb pool limit is set in the instance before the daemon starts dequeuing
    assert 'dagster instance concurrency set tmdb "$TMDB_POOL_LIMIT" &&' in daemon
    assert environment(services["daemon"])["TMDB_POOL_LIMIT"] == "1"
    for name in ("webserver", "daemon"):
        assert services[name]["build"]["target"] == "dagster"
    # the dagster stage ships the workspace and the instance config where DAGSTER_HOME points;
    # the user-code stage (code server and runs) the instance config
    assert "COPY deploy/dagster.yaml deploy/workspace.yaml $DAGSTER_HOME/" in dockerfile["stages"]["dagster"]
    assert "COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml" in dockerfile["stages"]["user_code"]


# --- the Docker socket and the user the images run as -----------------------------------------


def test_only_the_daemon_reaches_the_docker_socket(raw_compose, compose, instance_yaml):
    """With the queued run coordinator the daemon alone launches runs; nothing else gets the socket."""
    assert instance_yaml["run_coordinator"]["class"] == "QueuedRunCoordinator"
    services = compose["services"]
    daemon = services["daemon"]
    assert mounts(daemon)[SOCKET] == SOCKET
    assert daemon["group_add"] == [DEPLOY_ENV["DOCKER_SOCKET_GID"]]  # the socket's group, not root
    for name, service in services.items():
        if name == "daemon":
            continue
        assert not [m for m in service.get("volumes", []) if m.split(":")[0].endswith(".sock")], f"{name} mounts a socket"
        assert "group_add" not in service, name
    # another Docker API socket (podman's) is mounted where the launcher's client looks
    podman = interpolate(raw_compose["services"]["daemon"], {**DEPLOY_ENV, "DOCKER_SOCKET": "/run/podman/podman.sock"})
    assert mounts(podman)[SOCKET] == "/run/podman/podman.sock"
    # ... and the launcher's client looks there: no DOCKER_HOST points elsewhere
    assert "DOCKER_HOST" not in environment(daemon)


def test_images_run_as_an_unprivileged_user(compose, dockerfile, instance_yaml):
    base = " ".join(dockerfile["stages"]["base"])
    assert "useradd --system --uid 10001 --gid dagster" in base
    assert "chown -R dagster:dagster /data" in base  # the data volume starts owned by the user
    assert dockerfile["bases"] == {"base": "${BASE_IMAGE}", "dagster": "base", "user_code": "base"}
    for stage in ("dagster", "user_code"):
        users = [line.split()[1] for line in dockerfile["stages"][stage] if line.startswith("USER ")]
        assert users and users[-1] == "dagster:dagster", f"{stage} ends as {users[-1:] or 'root'}"
        # nothing is installed after the switch: the packages stay root-owned and read-only
        after = dockerfile["stages"][stage][dockerfile["stages"][stage].index(f"USER {users[-1]}") :]
        assert not [line for line in after if line.startswith(("RUN ", "COPY "))], stage
    # no service, and no run container, switches back to root
    for name in DAGSTER_SERVICES:
        assert compose["services"][name].get("user") in (None, "dagster", "10001", "10001:10001"), name
    assert "user" not in instance_yaml["run_launcher"]["config"]["container_kwargs"]


# --- environment: secrets, and every variable the code reads -------------------------------

SETTING = re.compile(r"(GENRE_PIPELINE|TMDB)_[A-Z0-9_]+")
# the package's own tooling, never part of a deployment
NOT_PIPELINE = ("bench",)


def setting_names_in_the_package() -> set[str]:
    """Every ``GENRE_PIPELINE_*`` / ``TMDB_*`` string in the package (names in ``__all__`` aside)."""
    names: set[str] = set()
    package = ROOT / "genre_pipeline"
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] in NOT_PIPELINE:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        exported = {
            id(elt)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            for elt in ast.walk(node.value)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exported:
                if SETTING.fullmatch(node.value):
                    names.add(node.value)
    return names


class RecordingEnv(dict):
    """An environment that remembers every name looked up in it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: set[str] = set()

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


def variables_the_code_server_reads(monkeypatch) -> set[str]:
    """Load the code location and evaluate its schedules (what the code server does) against a
    recording environment; the pipeline settings among the names looked up."""
    import datetime as dt

    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    recording = RecordingEnv(os.environ)
    monkeypatch.setattr(os, "environ", recording)
    repository = ReconstructableRepository.for_module("genre_pipeline.definitions", "defs", working_directory=str(ROOT)).get_definition()
    when = dt.datetime(2026, 1, 4, 4, 0, tzinfo=dt.timezone.utc)
    for schedule in repository.schedule_defs:
        schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))
    monkeypatch.undo()
    return {name for name in recording.seen if SETTING.fullmatch(name)}


def instance_env_vars(node) -> set[str]:
    """Every ``{env: NAME}`` in an instance config."""
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"env"}:
            found.add(node["env"])
        for value in node.values():
            found |= instance_env_vars(value)
    elif isinstance(node, list):
        for value in node:
            found |= instance_env_vars(value)
    return found


def test_runs_get_every_setting_the_code_reads(compose, instance_yaml):
    code_vars = setting_names_in_the_package()
    assert {"GENRE_PIPELINE_HOME", "GENRE_PIPELINE_SOURCE", "GENRE_PIPELINE_SCHEDULES", "TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN"} <= code_vars
    instance_vars = instance_env_vars(instance_yaml)
    assert instance_vars == {f"DAGSTER_POSTGRES_{p}" for p in ("HOST", "PORT", "USER", "PASSWORD", "DB")}
    launcher_vars = instance_yaml["run_launcher"]["config"]["env_vars"]
    assert len(launcher_vars) == len(set(launcher_vars))
    # run containers get exactly what the code and the instance read, copied from the daemon
    # (the launcher raises when a listed variable is unset there)
    assert set(launcher_vars) == code_vars | instance_vars, set(launcher_vars) ^ (code_vars | instance_vars)
    daemon = environment(compose["services"]["daemon"])
    assert set(launcher_vars) <= set(daemon), set(launcher_vars) - set(daemon)
    assert set(daemon) == set(launcher_vars) | {"TMDB_POOL_LIMIT"}
    assert daemon["GENRE_PIPELINE_HOME"] == "/data/home" and daemon["GENRE_PIPELINE_SOURCE"] == "tmdb"
    assert daemon["DAGSTER_POSTGRES_HOST"] == "postgres" and daemon["DAGSTER_POSTGRES_PORT"] == "5432"


def test_each_service_gets_only_the_variables_it_uses(compose, instance_yaml, monkeypatch):
    instance_vars = instance_env_vars(instance_yaml)
    services = compose["services"]
    # the webserver loads the instance and talks to the code server: nothing else
    assert set(environment(services["webserver"])) == instance_vars
    # the code server loads the instance and the definitions, and evaluates schedules
    loaded = variables_the_code_server_reads(monkeypatch)
    assert loaded == {"GENRE_PIPELINE_SCHEDULES"}, loaded
    user_code = environment(services["user_code"])
    assert set(user_code) == instance_vars | loaded | {"DAGSTER_CURRENT_IMAGE"}
    assert user_code["GENRE_PIPELINE_SCHEDULES"] == "on"  # schedules and sensors run in the deployment
    # secrets: the Postgres password where the instance is loaded, TMDB credentials in the daemon only
    for name in DAGSTER_SERVICES:
        secrets = {key for key in environment(services[name]) if SECRET_NAME.search(key)}
        expected = {"DAGSTER_POSTGRES_PASSWORD", "TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN"} if name == "daemon" else {"DAGSTER_POSTGRES_PASSWORD"}
        assert secrets == expected, name
    postgres = environment(services["postgres"])
    assert postgres["POSTGRES_USER"] == user_code["DAGSTER_POSTGRES_USER"]
    assert postgres["POSTGRES_DB"] == user_code["DAGSTER_POSTGRES_DB"]
    assert postgres["POSTGRES_PASSWORD"] == user_code["DAGSTER_POSTGRES_PASSWORD"] == DEPLOY_ENV["DAGSTER_POSTGRES_PASSWORD"]


def test_the_deployment_settings_are_valid_for_the_code(compose, monkeypatch):
    """A run container's environment (the daemon's values) passes the pipeline's own readers:
    empty tuning values mean the defaults."""
    from genre_pipeline.defs import settings
    from genre_pipeline.defs.ingestion.resources import TmdbResource
    from genre_pipeline.defs.operations.switch import schedules_on
    from genre_pipeline.features.sentence import SentenceEncoderConfig

    for key, value in environment(compose["services"]["daemon"]).items():
        monkeypatch.setenv(key, value)
    assert schedules_on() is True
    assert settings.choice(settings.SOURCE_ENV, settings.SOURCE_KINDS, "demo") == "tmdb"
    tmdb = TmdbResource().settings()
    assert tmdb.api_key == DEPLOY_ENV["TMDB_API_KEY"] and tmdb.read_access_token is None
    assert (tmdb.rate_limit, tmdb.concurrency, tmdb.max_retries) == (40.0, 16, 5)
    assert SentenceEncoderConfig.from_env().encoder == "minilm"


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_no_secret_is_committed(raw_compose):
    text = _without_comments(COMPOSE.read_text())
    with pytest.raises(MissingVariable, match="DAGSTER_POSTGRES_PASSWORD"):
        interpolate(raw_compose["services"]["postgres"], {"TMDB_API_KEY": "x"})
    with pytest.raises(MissingVariable, match="TMDB_API_KEY"):
        interpolate(raw_compose["x-run-env"], {"DAGSTER_POSTGRES_PASSWORD": "x"})
    # every secret-looking value is a substitution without a default (an optional one may default to empty)
    for name, service in raw_compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                match = _VAR.fullmatch(value)
                assert match and match.group("op") in (":?", "?", ":-", None), f"{name}.{key} = {value!r}"
                if match.group("op") == ":-":
                    assert match.group("arg") == "", f"{name}.{key} has a default: {value!r}"
    # the instance config takes the password from the environment only
    password = yaml.safe_load(DAGSTER_YAML.read_text())["storage"]["postgres"]["postgres_db"]["password"]
    assert password == {"env": "DAGSTER_POSTGRES_PASSWORD"}
    # the example env file names every required setting and sets no secret
    example = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            example[key] = value
    assert REQUIRED_VARIABLES <= set(example)
    assert all(value == "" for key, value in example.items() if SECRET_NAME.search(key)), example
    # commented-out settings in the example are variables compose actually reads
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert documented <= referenced_variables(text), documented - referenced_variables(text)
    # .env (where the secrets go) is ignored by git and never sent to a docker build
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert not docker_context_includes(".env") and not docker_context_includes("deploy/.env")


# --- volumes and networks ---------------------------------------------------------------


def test_data_volume_is_shared_by_every_process_and_run(compose, instance_yaml):
    volumes = compose["volumes"]
    networks = compose["networks"]
    launcher = instance_yaml["run_launcher"]["config"]
    (run_volume,) = launcher["container_kwargs"]["volumes"]
    volume_name, mount_point = run_volume.split(":")[:2]
    (data_key,) = [key for key, spec in volumes.items() if (spec or {}).get("name") == volume_name]
    for name in DAGSTER_SERVICES:
        assert mounts(compose["services"][name]).get(mount_point) == data_key, f"{name} does not mount {data_key} at {mount_point}"
    home = environment(compose["services"]["daemon"])["GENRE_PIPELINE_HOME"]
    assert Path(home).is_relative_to(mount_point)
    for section in ("compute_logs", "local_artifact_storage"):
        assert Path(instance_yaml[section]["config"]["base_dir"]).is_relative_to(mount_point), section
    # Postgres keeps its data in its own named volume
    pg_source = mounts(compose["services"]["postgres"])["/var/lib/postgresql/data"]
    assert pg_source in volumes and pg_source != data_key
    # run containers join the compose network by its fixed name, where `postgres` resolves
    (network_key,) = [key for key, spec in networks.items() if spec.get("name") == launcher["network"]]
    for name, service in compose["services"].items():
        assert network_key in service["networks"], name


# --- deploy/dagster.yaml --------------------------------------------------------------------


def test_instance_yaml_is_valid_for_dagster(tmp_path, instance_yaml):
    """Dagster's own instance schema accepts it, and every configurable class imports and
    accepts its config."""
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes.config_class import class_from_code_pointer

    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    for section in ("run_coordinator", "run_launcher", "compute_logs", "local_artifact_storage"):
        data = instance_yaml[section]
        cls = class_from_code_pointer(data["module"], data["class"])
        result = validate_config(cls.config_type(), data.get("config") or {})
        assert result.success, f"{section}: {[e.message for e in result.errors]}"
    assert instance_yaml["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance_yaml["run_launcher"]["class"] == "DockerRunLauncher"
    assert set(instance_yaml["storage"]) == {"postgres"}
    pools = instance_yaml["concurrency"]["pools"]
    assert pools["granularity"] == "op" and pools["default_limit"] >= 1
    assert instance_yaml["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    retries = instance_yaml["run_retries"]
    assert retries["enabled"] is True and retries["max_retries"] >= 1
    assert instance_yaml["run_monitoring"]["enabled"] is True  # detects dead run workers, which retries need
    assert config["telemetry"]["enabled"] is False


def test_docker_run_launcher_accepts_its_config(instance_yaml):
    """The launcher is built from the config the way the instance builds it (its own checks of
    `network` / `container_kwargs` run then), and the env var entries are names only."""
    from dagster._config import process_config
    from dagster_docker import DockerRunLauncher

    data = instance_yaml["run_launcher"]
    result = process_config(DockerRunLauncher.config_type(), data["config"])
    assert result.success, [e.message for e in result.errors]
    launcher = DockerRunLauncher.from_config_value(None, result.value)
    assert launcher.networks == ["genre_pipeline_network"]
    assert launcher.container_kwargs == {"volumes": ["genre_pipeline_data:/data"]}
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) for name in launcher.env_vars), "names only: values come from the daemon"
    with pytest.raises(Exception, match="'environment' cannot be used in 'container_kwargs'"):
        DockerRunLauncher(container_kwargs={"environment": {"TMDB_API_KEY": "x"}})
    # both images install the launcher the instance names
    assert DockerRunLauncher.__module__.split(".")[0] == data["module"]


# --- Dockerfile and build context --------------------------------------------------------------


def _requirements() -> dict:
    import tomllib

    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {Requirement(d).name: Requirement(d) for d in deps}


def test_dockerfile_pins_agree_with_the_project(dockerfile):
    args, requirements = dockerfile["args"], _requirements()
    assert set(dockerfile["stages"]) == {"base", "dagster", "user_code"}
    for name, arg in [
        ("dagster", "DAGSTER_VERSION"),
        ("dagster-webserver", "DAGSTER_VERSION"),
        ("dagster-postgres", "DAGSTER_LIBS_VERSION"),
        ("torch", "TORCH_VERSION"),
        ("torchvision", "TORCHVISION_VERSION"),
    ]:
        assert requirements[name].specifier.contains(args[arg]), f"{arg}={args[arg]} does not satisfy pyproject's {requirements[name]}"
    makefile_pins = re.search(r"^TORCH_PINS \?= (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1).split()
    assert makefile_pins == [f"torch=={args['TORCH_VERSION']}", f"torchvision=={args['TORCHVISION_VERSION']}"]
    # the default base image has the Python the project requires (pyproject: 3.11)
    assert re.fullmatch(r"python:3\.11-slim-bookworm", args["BASE_IMAGE"])
    # both images install the launcher the instance config names, at the same versions
    for stage in ("dagster", "user_code"):
        body = " ".join(dockerfile["stages"][stage])
        assert '"dagster-docker==${DAGSTER_LIBS_VERSION}"' in body and '"dagster==${DAGSTER_VERSION}"' in body, stage
        assert '"dagster-postgres==${DAGSTER_LIBS_VERSION}"' in body, stage
    assert dockerfile["env"]["GENRE_PIPELINE_HOME"] == "/data/home"
    assert dockerfile["env"]["PATH"].startswith(dockerfile["env"]["VIRTUAL_ENV"] + "/bin:")


def _dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def docker_context_includes(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a path is excluded with any parent."""
    parts = Path(path).parts
    included = True
    for pattern in _dockerignore_patterns():
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pat) or (pat.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], pat[3:])):
                included = negate
                break
    return included


def copied_sources(dockerfile: Path) -> list[str]:
    copies = re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile.read_text(), re.MULTILINE)
    return [src for line in copies for src in line.split()]


def test_build_context_holds_what_the_dockerfiles_copy_and_nothing_else():
    sources = copied_sources(DOCKERFILE) + copied_sources(ROOT / "deploy" / "smoke" / "postgres.Dockerfile")
    assert "deploy/smoke/postgres-entrypoint.sh" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: missing"
        assert docker_context_includes(source), f"COPY {source}: excluded by .dockerignore"
    assert docker_context_includes("genre_pipeline/definitions.py")
    for private in (".venv/bin/python", ".genre_pipeline/tables/movies.parquet", ".git/config", "deploy/.env", "genre_pipeline_tests/conftest.py"):
        assert not docker_context_includes(private), private
    assert not docker_context_includes("genre_pipeline/__pycache__/x.pyc")


# --- make compose-smoke ------------------------------------------------------------------------


def test_compose_smoke_settings_are_the_compose_files(raw_compose):
    """The smoke's env file sets compose variables only, every required one, the demo source."""
    script = SMOKE_SCRIPT.read_text()
    env_file = re.search(r'cat >"\$WORK/smoke.env" <<EOF\n(.*?)\nEOF\n', script, re.DOTALL).group(1)
    settings = dict(line.split("=", 1) for line in env_file.splitlines())
    assert set(settings) <= referenced_variables(COMPOSE.read_text()), set(settings) - referenced_variables(COMPOSE.read_text())
    assert REQUIRED_VARIABLES <= set(settings)
    assert settings["GENRE_PIPELINE_SOURCE"] == "demo"  # no TMDB key needed
    assert settings["GENRE_PIPELINE_SCHEDULES"] == "off"  # nothing but the smoke's run
    # the Makefile target runs the script; the Postgres stand-in honours the official image's variables
    assert re.search(r"^compose-smoke:\n\tbash deploy/compose_smoke.sh$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    entrypoint = (ROOT / "deploy" / "smoke" / "postgres-entrypoint.sh").read_text()
    for key in environment(raw_compose["services"]["postgres"]):
        assert f"${key}" in entrypoint or f"${{{key}" in entrypoint, key
