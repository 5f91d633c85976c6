"""Launch runs of the code location from the command line, the way the UI launches them.

A run is created with the code location's origin (so it shows on the UI's timeline and
re-executes from the UI as it is) and executed by Dagster's own run worker,
``python -m dagster api execute_run``, in a separate process: a crash or ``kill -9`` of
the worker cannot take the command with it, and the command reports it. While the worker
runs, the command follows the run's event log and prints one line per step.

One run covers the whole selection: release-year partitioned assets over a partition
range (their backfill policy is single-run) and every unpartitioned asset after them, so
everything the run writes is published together. Daily-partitioned assets run only when
asked for with their partition.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg
from tqdm import tqdm

from genre_pipeline.definitions import CODE_LOCATION
from genre_pipeline.defs.partitions import partition_range_tags, release_year_partitions
from genre_pipeline.defs.progress import ProgressReport, parse_progress
from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home, HomeError
from genre_pipeline.storage.lock import HomeLock

DEFINITIONS_MODULE = "genre_pipeline.definitions"
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"
TRIGGER_TAG = "genre_pipeline/trigger"
POLL_SECONDS = 0.25


class LaunchError(RuntimeError):
    """The run could not be created (bad selection, bad config); nothing ran."""


@dataclass
class AssetOutcome:
    name: str
    partitions: int = 0
    rows: int | None = None
    where: str | None = None
    not_trained: str | None = None  # a model stored as skipped: why


@dataclass
class RunOutcome:
    run_id: str
    status: str
    seconds: float
    assets: dict[str, AssetOutcome] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    generation: str | None = None

    @property
    def success(self) -> bool:
        return self.status == "SUCCESS"


def instance_for(home: Home) -> dg.DagsterInstance:
    """The home's persistent Dagster instance (creates ``<home>/dagster`` if needed)."""
    home.ensure()
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    return dg.DagsterInstance.from_config(str(home.dagster_home))


def code_location(instance: dg.DagsterInstance, module: str = DEFINITIONS_MODULE, location_name: str = CODE_LOCATION):
    """The code location defined by ``module`` (the default one, or e.g. the Celery one), loaded in this process."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=module),
        location_name=location_name,
    )
    return origin.create_location(instance)


def resolve_selection(graph, selection: str | None) -> list[dg.AssetKey]:
    """Asset keys of a Dagster selection string (every asset when empty), in dependency order."""
    names = ", ".join(sorted(k.to_user_string() for k in graph.get_all_asset_keys()))
    if selection:
        try:
            chosen = dg.AssetSelection.from_string(selection).resolve(graph)
        except Exception as exc:  # Dagster raises several types for bad syntax or unknown keys  # noqa: BLE001
            raise LaunchError(f"bad --select {selection!r} ({str(exc).strip().splitlines()[0]}); "
                              f"e.g. 'movies+', 'group:catalog', 'key:movies or key:genre_labels'; assets: {names}") from None
        if not chosen:
            raise LaunchError(f"bad --select {selection!r}: it matches no asset; assets: {names}")
    else:
        chosen = set(graph.get_all_asset_keys())
    return [k for k in graph.toposorted_asset_keys if k in chosen]


@dataclass
class Plan:
    keys: list[dg.AssetKey]
    year_range: tuple[str, str] | None
    skipped: list[str]


def plan_run(graph, keys: Sequence[dg.AssetKey], year_keys: Sequence[str] | None) -> Plan:
    """Which selected assets one run can cover, and over which release-year range."""
    by_year = [k for k in keys if graph.get(k).partitions_def == release_year_partitions]
    unpartitioned = [k for k in keys if graph.get(k).partitions_def is None]
    skipped = [k.to_user_string() for k in keys if k not in by_year and k not in unpartitioned]
    all_years = release_year_partitions.get_partition_keys()
    chosen = list(year_keys) if year_keys else all_years
    if by_year and chosen != all_years[all_years.index(chosen[0]) : all_years.index(chosen[-1]) + 1]:
        raise LaunchError("release-year partitions must form a contiguous range")
    return Plan([*by_year, *unpartitioned], (chosen[0], chosen[-1]) if by_year else None, skipped)


def create_run(instance: dg.DagsterInstance, plan: Plan, run_config: dict[str, Any], tags: dict[str, str],
               module: str = DEFINITIONS_MODULE, location_name: str = CODE_LOCATION):
    """A run of the code location's asset job for ``plan``, with its remote origin."""
    from dagster._core.definitions.selector import JobSubsetSelector

    run_tags = {TRIGGER_TAG: "cli", **tags}
    if plan.year_range is not None:
        run_tags.update(partition_range_tags(*plan.year_range))
    with code_location(instance, module, location_name) as location:
        repository = location.get_repository(REPOSITORY)
        selector = JobSubsetSelector(location_name=location_name, repository_name=REPOSITORY, job_name=ASSET_JOB,
                                     op_selection=None, asset_selection=plan.keys)
        job = location.get_job(selector)
        try:
            execution_plan = location.get_execution_plan(job, run_config, step_keys_to_execute=None, known_state=None,
                                                         instance=instance)
        except dg.DagsterInvalidConfigError as exc:
            raise LaunchError(f"invalid run config: {exc.errors[0].message if exc.errors else exc}") from None
        return instance.create_run(
            job_name=job.name, run_id=None, run_config=run_config, resolved_op_selection=None,
            step_keys_to_execute=None, op_selection=None, status=None, root_run_id=None, parent_run_id=None,
            tags=run_tags, job_snapshot=job.job_snapshot, execution_plan_snapshot=execution_plan.execution_plan_snapshot,
            parent_job_snapshot=job.parent_job_snapshot, remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(), asset_selection=frozenset(plan.keys), asset_check_selection=None,
            asset_graph=repository.asset_graph,
        )


def _root_cause(error) -> str:
    """The innermost error's own message (Dagster wraps the asset's exception and prefixes its class)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = error.message.strip()
    head, sep, rest = message.partition(": ")
    if sep and head.rsplit(".", 1)[-1] == error.cls_name:
        message = rest.strip()
    return message


class RunProgress:
    """One concise line per step and check, from the run's events.

    A step's progress lines (:mod:`genre_pipeline.defs.progress`) become a live bar with
    the step's rate and ETA under its line when ``stream`` is a terminal, and stay plain
    lines otherwise (a log file, a pipe).
    """

    def __init__(self, stream: TextIO, live: bool | None = None):
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)()) if live is None else live
        self.started: dict[str, float] = {}
        self.bars: dict[str, tqdm] = {}

    def show(self, entry) -> None:
        event = entry.dagster_event
        step = entry.step_key or ""
        line = None
        if event is None:
            report = parse_progress(entry.user_message) if step else None
            if report is not None and self.live:
                self._draw(step, report)
            elif entry.level >= 30 and entry.user_message:
                line = f"    ! {step}: {entry.user_message}" if step else f"    ! {entry.user_message}"
            elif step and entry.level >= 20 and entry.user_message:
                line = f"    · {step}: {entry.user_message}"
        else:
            kind = event.event_type_value
            if kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                self._close(step)
            if kind == "STEP_START":
                self.started[step] = time.monotonic()
                line = f"  ▶ {step}"
            elif kind == "STEP_SUCCESS":
                line = f"  ✓ {step} ({time.monotonic() - self.started.get(step, time.monotonic()):.1f}s)"
            elif kind == "STEP_FAILURE":
                line = f"  ✗ {step} FAILED: {_root_cause(event.event_specific_data.error)}"
            elif kind == "RESOURCE_INIT_FAILURE":
                line = f"  ✗ {step or 'run'} could not start: {_root_cause(event.event_specific_data.error)}"
            elif kind == "ASSET_CHECK_EVALUATION":
                data = event.event_specific_data
                status = "passed" if data.passed else "FAILED"
                line = f"    check {data.asset_key.to_user_string()}:{data.check_name} {status}"
        if line:
            if self.bars:
                tqdm.write(line, file=self.stream)  # clears the bars, writes the line, draws them again
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _draw(self, step: str, report: ProgressReport) -> None:
        bar = self.bars.get(step)
        if bar is None:
            bar = self.bars[step] = tqdm(
                total=report.total, file=self.stream, desc=step, unit=report.unit, leave=False, position=len(self.bars),
                mininterval=0, dynamic_ncols=True,
                bar_format="    {desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}{postfix}",  # postfix: ", 8.1/s, ETA 59s"
            )
        bar.total = report.total
        bar.n = report.done
        bar.set_postfix_str(report.speed(), refresh=False)
        bar.refresh()

    def _close(self, step: str) -> None:
        bar = self.bars.pop(step, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        """Take down the bars of steps that never finished (a crashed run)."""
        for step in list(self.bars):
            self._close(step)


def execute(instance: dg.DagsterInstance, run, home: Home, stream: TextIO | None = None, lock_timeout: float = 0.0) -> RunOutcome:
    """Run ``run`` in a Dagster run worker process, printing progress; wait for it to end."""
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import serialize_value

    stream = stream or sys.stdout
    args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=instance.get_ref(),
                          set_exit_code_on_failure=True)
    env = dict(os.environ, DAGSTER_HOME=str(home.dagster_home), GENRE_PIPELINE_HOME=str(home.root),
               GENRE_PIPELINE_LOCK_TIMEOUT=str(float(lock_timeout)))
    progress = RunProgress(stream)
    start = time.monotonic()
    with tempfile.TemporaryFile(mode="w+b") as worker_log:
        worker = subprocess.Popen([sys.executable, "-m", "dagster", "api", "execute_run", serialize_value(args)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=worker_log, preexec_fn=_die_with_parent)
        cursor = None
        try:
            while True:
                finished = worker.poll() is not None
                records = instance.get_records_for_run(run.run_id, cursor=cursor)
                for record in records.records:
                    progress.show(record.event_log_entry)
                cursor = records.cursor
                if finished and not records.has_more:
                    break
                if not records.has_more:
                    time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            worker.send_signal(signal.SIGTERM)
            worker.wait()
            raise
        finally:
            progress.close()
        worker_log.seek(0)
        worker_tail = worker_log.read().decode("utf-8", "replace")[-2000:]
    outcome = _outcome(instance, run.run_id, time.monotonic() - start)
    if worker.returncode is not None and worker.returncode < 0 and not outcome.failures:
        outcome.failures.append(f"the run worker was killed by signal {-worker.returncode}")
    if outcome.status not in ("SUCCESS", "FAILURE", "CANCELED"):
        _fail_dead_run(instance, home, run.run_id, worker.returncode)
        outcome.status = "FAILURE"
        if not outcome.failures:
            outcome.failures.append(f"the run worker exited with code {worker.returncode}: {worker_tail.strip()[-500:]}")
    elif not outcome.success and not outcome.failures:
        outcome.failures.append(worker_tail.strip()[-500:] or "the run failed")
    return outcome


def _die_with_parent() -> None:
    """In the worker, before exec: a SIGKILL of the command also ends the run (Linux ``PR_SET_PDEATHSIG``).

    SIGINT back to its default too: a command started as a background job has it ignored, and
    the worker (Dagster maps SIGTERM onto SIGINT's handler) would then ignore SIGTERM as well.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: the run outlives a killed command and is swept later
        pass


def _fail_dead_run(instance: dg.DagsterInstance, home: Home, run_id: str, returncode: int | None) -> None:
    """The worker died mid-run: mark the run failed and clean what it staged (the lock is free now)."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, f"the run worker died (exit code {returncode}) before the run ended")
    try:
        with HomeLock(home.lock_path, command="cleanup after a dead run"):
            GenerationStore(home).sweep()
    except (OSError, HomeError, RuntimeError):
        pass  # another writer holds the home now; it swept on taking the lock


def _outcome(instance: dg.DagsterInstance, run_id: str, seconds: float) -> RunOutcome:
    from dagster._core.events import DagsterEventType

    run = instance.get_run_by_id(run_id)
    outcome = RunOutcome(run_id=run_id, status=run.status.value if run else "UNKNOWN", seconds=seconds)
    run_errors: list[str] = []
    for record in instance.get_records_for_run(run_id, limit=100000).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            name = mat.asset_key.to_user_string()
            asset = outcome.assets.setdefault(name, AssetOutcome(name))
            rows = mat.metadata.get("dagster/row_count") or mat.metadata.get("partition_rows")
            if mat.partition:
                asset.partitions += 1
                if rows is not None:
                    asset.rows = (asset.rows or 0) + int(rows.value)
            elif rows is not None:
                asset.rows = int(rows.value)
            status = mat.metadata.get("status")
            if status is not None and status.value == "skipped":
                reason = mat.metadata.get("reason")
                asset.not_trained = reason.value if reason is not None else "skipped"
        elif kind == DagsterEventType.STEP_FAILURE:
            outcome.failures.append(f"{event.step_key}: {_root_cause(event.event_specific_data.error)}")
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            if not data.passed:
                ids = data.metadata.get("offending_ids")
                detail = f" (offending ids: {ids.value})" if ids is not None and ids.value not in ("[]", "") else ""
                outcome.failed_checks.append(f"{data.asset_key.to_user_string()}:{data.check_name}{detail}")
        elif kind == DagsterEventType.RESOURCE_INIT_FAILURE and event.event_specific_data.error is not None:
            outcome.failures.append(_root_cause(event.event_specific_data.error))
        elif kind in (DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT):
            error = entry.error_info or getattr(event.event_specific_data, "error", None)
            if error is not None:
                run_errors.append(_root_cause(error))
    outcome.failures = list(dict.fromkeys(outcome.failures or run_errors))
    return outcome


def locate_outputs(home: Home, outcome: RunOutcome) -> None:
    """Fill in where each asset's published units live (``current/...``)."""
    current = GenerationStore(home).current()
    if current is None or outcome.run_id not in current.runs:
        return
    outcome.generation = current.id
    for (asset, partition), unit in current.units.items():
        if unit.run_id != outcome.run_id or asset not in outcome.assets:
            continue
        where = f"current/{Path(unit.path).parent}/" if partition is not None else f"current/{unit.path}"
        outcome.assets[asset].where = where


def format_outcome(outcome: RunOutcome, home: Home, source: str, skipped: Sequence[str] = ()) -> str:
    lines = [f"Materialized {len(outcome.assets)} assets in {outcome.seconds:.1f}s (run {outcome.run_id}), source: {source}"]
    width = max((len(n) for n in outcome.assets), default=10)
    for name, asset in outcome.assets.items():
        detail = []
        if asset.partitions:
            detail.append(f"{asset.partitions} partitions")
        if asset.rows is not None:
            detail.append(f"{asset.rows} rows")
        if asset.where:
            detail.append(asset.where)
        if asset.not_trained:
            detail.append(f"not trained: {asset.not_trained}")
        lines.append(f"  {name.ljust(width)}  {'  '.join(detail)}")
    for name in skipped:
        lines.append(f"  (skipped {name}: time-partitioned; materialize it by partition in the UI or let its schedule run)")
    lines += [
        "",
        f"Home: {home.root}  (current/ = the published generation {outcome.generation or '-'}; dagster/ = the instance)",
        "Browse runs, lineage and plots in the web UI:  make ui",
        f"  (= GENRE_PIPELINE_HOME={home.root} DAGSTER_HOME={home.dagster_home} .venv/bin/dg dev)",
    ]
    return "\n".join(lines)
