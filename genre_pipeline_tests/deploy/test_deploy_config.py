"""docker-compose.yml, deploy/dagster.yaml, deploy/workspace.yaml and the Dockerfile agree
with each other and with the code.

No Docker engine is needed: the files are parsed and cross-checked (services, volumes,
networks, ports, environment variables, image names), deploy/dagster.yaml is validated by
Dagster's own instance schema and each configurable class's schema, and the environment
variables the code reads are found by *running* the code's readers against a recording
environment. ``docker compose config`` (or ``docker-compose config``) runs where a client
is installed.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
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

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")  # everything that loads the instance
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
REQUIRED_SECRETS = {"DAGSTER_POSTGRES_PASSWORD", "TMDB_API_KEY"}


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


DEPLOY_ENV = {"DAGSTER_POSTGRES_PASSWORD": "pw-for-config-test", "TMDB_API_KEY": "key-for-config-test"}


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
    args, envs = {}, {}
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stage = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if stage:
            current = stage.group(1)
            stages[current] = []
            continue
        if current:
            stages[current].append(line)
        arg = re.match(r"ARG\s+(\w+)=(\S*)", line)
        if arg:
            args[arg.group(1)] = arg.group(2)
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                envs[key] = value
    return {"stages": stages, "args": args, "env": envs, "text": text}


# --- compose: services, health, ports ----------------------------------------------------


def test_compose_services_and_startup_order(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "user_code", "webserver", "daemon"}
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
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
    user_code = compose["services"]["user_code"]
    args = command(user_code)
    assert args[:3] == ["dagster", "api", "grpc"]
    module = flag(args, "-m", "--module-name")
    assert module == "genre_pipeline.definitions"
    import dagster as dg

    assert isinstance(importlib.import_module(module).defs, dg.Definitions)

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
    webserver_env = {**DEPLOY_ENV}
    ports = interpolate(raw_compose["services"]["webserver"]["ports"], webserver_env)
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
        assert mounts(services[name])["/var/run/docker.sock"] == "/var/run/docker.sock"
    # the dagster stage ships the workspace and the instance config where DAGSTER_HOME points
    assert "COPY deploy/workspace.yaml $DAGSTER_HOME/workspace.yaml" in dockerfile["stages"]["dagster"]
    assert "COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml" in dockerfile["text"]


# --- environment: secrets, and every variable the code reads -------------------------------


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


def variables_the_code_reads(monkeypatch) -> set[str]:
    """Run the code's environment readers against a recording environment."""
    from genre_pipeline.defs.operations import switch
    from genre_pipeline.defs.settings import PipelineSettings
    from genre_pipeline.ingestion import tmdb

    recording = RecordingEnv(os.environ)
    monkeypatch.setattr(os, "environ", recording)
    PipelineSettings.from_env()
    switch.schedules_enabled()
    tmdb.TmdbSettings.from_env(recording)
    # base URLs are for tests and mirrors; the deployment talks to TMDB itself
    return recording.seen - {tmdb.ENV_API_BASE_URL, tmdb.ENV_IMAGE_BASE_URL}


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


def test_every_variable_the_code_and_instance_read_reaches_every_process(compose, instance_yaml, monkeypatch):
    code_vars = variables_the_code_reads(monkeypatch)
    assert {"GENRE_PIPELINE_HOME", "GENRE_PIPELINE_SOURCE", "GENRE_PIPELINE_SCHEDULES", "TMDB_API_KEY"} <= code_vars
    instance_vars = instance_env_vars(instance_yaml)
    assert instance_vars == {f"DAGSTER_POSTGRES_{p}" for p in ("HOST", "PORT", "USER", "PASSWORD", "DB")}
    launcher_vars = set(instance_yaml["run_launcher"]["config"]["env_vars"])

    for name in DAGSTER_SERVICES:
        env = environment(compose["services"][name])
        assert instance_vars <= set(env), f"{name} lacks {instance_vars - set(env)}"
        assert code_vars <= set(env), f"{name} lacks {code_vars - set(env)}"
    # run containers get exactly what the code and the instance need, copied from the daemon
    # (the launcher raises when a listed variable is unset there)
    assert code_vars | instance_vars <= launcher_vars
    assert launcher_vars <= set(environment(compose["services"]["daemon"]))

    user_code = environment(compose["services"]["user_code"])
    assert user_code["GENRE_PIPELINE_SCHEDULES"] == "on"  # schedules and sensors run in the deployment
    assert user_code["DAGSTER_POSTGRES_HOST"] == "postgres" and user_code["DAGSTER_POSTGRES_PORT"] == "5432"
    postgres = environment(compose["services"]["postgres"])
    assert postgres["POSTGRES_USER"] == user_code["DAGSTER_POSTGRES_USER"]
    assert postgres["POSTGRES_DB"] == user_code["DAGSTER_POSTGRES_DB"]
    assert postgres["POSTGRES_PASSWORD"] == user_code["DAGSTER_POSTGRES_PASSWORD"] == DEPLOY_ENV["DAGSTER_POSTGRES_PASSWORD"]
    from genre_pipeline.defs.operations.switch import schedules_enabled
    from genre_pipeline.defs.settings import PipelineSettings

    monkeypatch.undo()
    assert schedules_enabled(user_code) is True
    for key, value in user_code.items():
        monkeypatch.setenv(key, value)
    settings = PipelineSettings.from_env()  # the deployment's settings are valid
    assert settings.home == user_code["GENRE_PIPELINE_HOME"] and settings.source == "tmdb"


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_no_secret_is_committed(raw_compose):
    text = _without_comments(COMPOSE.read_text())
    assert required_variables(text) == REQUIRED_SECRETS
    with pytest.raises(MissingVariable, match="DAGSTER_POSTGRES_PASSWORD"):
        interpolate(raw_compose["services"]["postgres"], {"TMDB_API_KEY": "x"})
    with pytest.raises(MissingVariable, match="TMDB_API_KEY"):
        interpolate(raw_compose["x-dagster-env"], {"DAGSTER_POSTGRES_PASSWORD": "x"})
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
    # the example env file names every required secret and sets none of them
    example = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            example[key] = value
    assert REQUIRED_SECRETS <= set(example)
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
    home = environment(compose["services"]["user_code"])["GENRE_PIPELINE_HOME"]
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
    accepts its config (the Docker launcher's schema is checked when dagster-docker is installed)."""
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes.config_class import class_from_code_pointer

    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    for section in ("run_coordinator", "run_launcher", "compute_logs", "local_artifact_storage"):
        data = instance_yaml[section]
        if data["module"] == "dagster_docker" and importlib.util.find_spec("dagster_docker") is None:
            # installed in both images, not necessarily here:
            # test_docker_launcher_config_is_structurally_sound covers it without the package
            continue
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


def test_docker_launcher_config_is_structurally_sound(instance_yaml):
    """What DockerRunLauncher rejects at start-up, checked without dagster-docker installed."""
    launcher = instance_yaml["run_launcher"]["config"]
    assert set(launcher) <= {"image", "network", "networks", "registry", "env_vars", "container_kwargs"}
    assert not ({"image", "environment", "network"} & set(launcher["container_kwargs"]))
    assert not ("network" in launcher and "networks" in launcher)
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) for name in launcher["env_vars"]), "names only: values come from the daemon"


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
    assert args["PYTHON_VERSION"] == "3.11"
    # both images install the launcher the instance config names, at the same versions
    for stage in ("dagster", "user_code"):
        body = " ".join(dockerfile["stages"][stage])
        assert '"dagster-docker==${DAGSTER_LIBS_VERSION}"' in body and '"dagster==${DAGSTER_VERSION}"' in body, stage
        assert '"dagster-postgres==${DAGSTER_LIBS_VERSION}"' in body, stage
    assert dockerfile["env"]["GENRE_PIPELINE_HOME"] == "/data/home"


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


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_else():
    copies = re.findall(r"^COPY\s+(.+?)\s+\S+$", DOCKERFILE.read_text(), re.MULTILINE)
    sources = [src for line in copies for src in line.split()]
    assert sources, "no COPY found"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: missing"
        assert docker_context_includes(source), f"COPY {source}: excluded by .dockerignore"
    assert docker_context_includes("genre_pipeline/definitions.py")
    for private in (".venv/bin/python", ".genre_pipeline/tables/movies.parquet", ".git/config", "deploy/.env", "genre_pipeline_tests/conftest.py"):
        assert not docker_context_includes(private), private
    assert not docker_context_includes("genre_pipeline/__pycache__/x.pyc")


# --- docker compose config, where a client is installed --------------------------------------


def _compose_client() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file(tmp_path):
    client = _compose_client()
    if client is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed: the file was checked by parsing only")
    empty_env_file = tmp_path / "empty.env"  # never read a developer's real .env (secrets)
    empty_env_file.write_text("")
    base = [*client, "--env-file", str(empty_env_file), "-f", str(COMPOSE)]
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "TMDB_", "GENRE_PIPELINE_", "COMPOSE_"))}

    refused = subprocess.run([*base, "config"], capture_output=True, text=True, env=clean_env, cwd=ROOT, timeout=120)
    assert refused.returncode != 0 and "DAGSTER_POSTGRES_PASSWORD" in refused.stderr + refused.stdout

    done = subprocess.run([*base, "config"], capture_output=True, text=True, env={**clean_env, **DEPLOY_ENV}, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == {"postgres", "user_code", "webserver", "daemon"}
    assert resolved["volumes"]["genre_data"]["name"] == "genre_pipeline_data"
    user_env = environment(resolved["services"]["user_code"])
    assert user_env["TMDB_API_KEY"] == DEPLOY_ENV["TMDB_API_KEY"] and user_env["GENRE_PIPELINE_SCHEDULES"] == "on"
    port = resolved["services"]["webserver"]["ports"][0]
    if isinstance(port, dict):  # compose v2 prints the long syntax
        assert (port["host_ip"], str(port["published"]), int(port["target"])) == ("127.0.0.1", "3000", 3000)
    else:
        assert port.removesuffix("/tcp") == "127.0.0.1:3000:3000"
