"""Where the steps of a ``genre-pipeline run`` execute: all in its run worker, each in a process
of its own, or on Celery workers.

``in_process`` (the default): a run of the default code location; its run worker executes
every step and holds the home's writer lock itself. ``multiprocess``: a run of the
multiprocess code location (:mod:`genre_pipeline.multiprocess_definitions`); its run worker
starts one process per step, one at a time, so the run's peak memory is that of its largest
step (large catalogs). ``celery``: a run of the Celery code location
(:mod:`genre_pipeline.celery_definitions`); its run worker hands each step to the broker and
Celery workers execute them, in parallel where the graph allows. For both, this command
holds the home for the run (:func:`~genre_pipeline.storage.writer.hold_for_launch`) and
publishes what the run staged once every step succeeded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

EXECUTORS = ("in_process", "multiprocess", "celery")
DEFAULT_CELERY_BROKER = "redis://127.0.0.1:6379/0"
BROKER_SCHEMES = ("redis", "rediss", "amqp", "pyamqp")


@dataclass(frozen=True)
class Executor:
    """A code location to create the run in, and the ``execution`` section of the run config for its executor."""

    name: str
    module: str
    location: str
    execution: dict[str, Any] = field(default_factory=dict)

    @property
    def launcher_holds_home(self) -> bool:
        """Steps run in other processes: the launching command holds the home and publishes."""
        return self.name != "in_process"

    def run_config(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` (the run's config) with this executor's ``execution`` section, and the home's
        writer set to ``launcher`` when the launching command holds the home."""
        config = copy.deepcopy(base)
        if self.execution:
            config["execution"] = copy.deepcopy(self.execution)
        if self.launcher_holds_home:
            config.setdefault("resources", {}).setdefault("home", {}).setdefault("config", {})["writer"] = "launcher"
        return config


def choose(name: str, broker: str | None = None) -> Executor:
    """The executor called ``name`` (one of :data:`EXECUTORS`); ``broker`` is Celery's broker URL,
    also used as its result backend (default :data:`DEFAULT_CELERY_BROKER`)."""
    if broker and name != "celery":
        raise ValueError("--celery-broker goes with --executor celery")
    if name == "in_process":
        from genre_pipeline.cli.launch import DEFINITIONS_MODULE
        from genre_pipeline.definitions import CODE_LOCATION

        return Executor(name, DEFINITIONS_MODULE, CODE_LOCATION)
    if name == "multiprocess":
        from genre_pipeline import multiprocess_definitions

        return Executor(name, multiprocess_definitions.__name__, multiprocess_definitions.CODE_LOCATION,
                        {"config": {"max_concurrent": 1}})
    if name == "celery":
        # Imported here: the Celery code location imports celery and kombu (0.2 s), which only this executor needs.
        from genre_pipeline import celery_definitions

        url = broker or DEFAULT_CELERY_BROKER
        parts = urlsplit(url)
        if parts.scheme not in BROKER_SCHEMES or not parts.hostname:
            raise ValueError(f"--celery-broker must be a broker URL such as {DEFAULT_CELERY_BROKER} "
                             f"(schemes: {', '.join(BROKER_SCHEMES)}), got {url.split('@')[-1]!r}")
        if parts.password or parts.username:
            raise ValueError("--celery-broker must not carry credentials: the URL is stored in the run's config, "
                             "which the UI shows; keep the broker on a private interface instead")
        return Executor(name, celery_definitions.__name__, celery_definitions.CODE_LOCATION,
                        {"config": {"broker": url, "backend": url}})
    raise ValueError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")


class ExecutorUnavailable(RuntimeError):
    """The executor cannot take a run now (no broker, no worker); nothing was started."""


def check_ready(executor: Executor, timeout: float = 3.0) -> None:
    """Raise :class:`ExecutorUnavailable` unless the executor can run steps now: for Celery, the
    broker answers and at least one worker replies to a ping within ``timeout`` seconds."""
    if executor.name != "celery":
        return
    from dagster_celery.make_app import make_app

    config = executor.execution["config"]
    app = make_app({"broker": config["broker"], "backend": config["backend"],
                    "broker_connection_retry_on_startup": False, "broker_connection_timeout": timeout,
                    "broker_transport_options": {"max_retries": 1}})
    try:
        answers = app.control.ping(timeout=timeout)
    except Exception as exc:  # kombu and redis raise their own connection errors  # noqa: BLE001
        raise ExecutorUnavailable(f"cannot reach the Celery broker at {config['broker']}: {exc}") from None
    finally:
        app.close()
    if not answers:
        raise ExecutorUnavailable(
            f"no Celery worker answers at {config['broker']}: start workers with "
            "`dagster-celery worker start -A dagster_celery.app -y CELERY_YAML` (docs/DEPLOYMENT.md)")


def execute(instance, run, home, executor: Executor, wait: float = 0.0):
    """Execute ``run`` (see :func:`genre_pipeline.cli.launch.execute`); for an executor whose steps
    run elsewhere, hold ``home`` for the run meanwhile and publish what it staged if it succeeded.

    Raises :class:`~genre_pipeline.storage.lock.HomeBusy` when another writer keeps the home
    for longer than ``wait`` seconds (the run is then never started)."""
    from genre_pipeline.cli import launch
    from genre_pipeline.storage.writer import finish_launch, hold_for_launch

    if not executor.launcher_holds_home:
        return launch.execute(instance, run, home, lock_timeout=wait)
    with hold_for_launch(home, run.run_id, timeout=wait) as held:
        outcome = launch.execute(instance, run, home)
        finish_launch(held, outcome.success)
    return outcome
