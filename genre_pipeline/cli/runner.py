"""Materialize selected assets and partitions in-process, into a home's Dagster instance.

The CLI's `run` uses this. Runs, events and lineage land in ``<home>/dagster`` (the same
instance `dagster dev` opens with DAGSTER_HOME set there), so everything run from the
command line is browsable in the UI afterwards.

Plan: selected assets are grouped by partitioning. Release-year-partitioned assets run
first as ONE run over the whole key range (their backfill policy is single-run), then every
unpartitioned asset in one run. Time-partitioned maintenance assets (daily changes) are only
run when selected explicitly with their partition keys, never by default.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from genre_pipeline.defs.partitions import release_year_partitions
from genre_pipeline.storage.home import Home


class RunFailed(RuntimeError):
    """A step failed; the message names the asset and partition(s)."""


@dataclass
class MaterializedAsset:
    key: str
    partitions: int = 0
    row_count: int | None = None
    path: str | None = None


@dataclass
class RunSummary:
    run_ids: list[str] = field(default_factory=list)
    assets: dict[str, MaterializedAsset] = field(default_factory=dict)
    seconds: float = 0.0


def instance_for(home: Home) -> dg.DagsterInstance:
    """The home's persistent Dagster instance (creates ``<home>/dagster`` if needed)."""
    home.ensure()
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    return dg.DagsterInstance.from_config(str(home.dagster_home))


def _progress_logger(stream: TextIO) -> dg.LoggerDefinition:
    """A Dagster logger that prints one concise line per step and materialization."""

    @dg.logger
    def progress(_init_context) -> logging.Logger:
        log = logging.getLogger(f"genre_pipeline.progress.{id(stream)}")
        log.propagate = False
        log.setLevel(logging.DEBUG)  # Dagster logs structured events at DEBUG
        log.handlers = [_ProgressHandler(stream)]
        return log

    return progress


class _ProgressHandler(logging.Handler):
    def __init__(self, stream: TextIO):
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # progress display must never fail a step  # noqa: BLE001
            self.handleError(record)

    def _emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = getattr(record, "dagster_event", None) or meta.get("dagster_event")
        step = meta.get("step_key") or ""
        line = None
        if event is None:
            if record.levelno >= logging.WARNING:
                line = f"    ! {step}: {meta.get('orig_message', record.getMessage())}"
            elif step and record.levelno >= logging.INFO:
                line = f"    · {step}: {meta.get('orig_message', record.getMessage())}"
        else:
            kind = event.event_type_value
            if kind == "STEP_START":
                self.started[step] = time.monotonic()
                line = f"  ▶ {step}"
            elif kind == "STEP_SUCCESS":
                took = time.monotonic() - self.started.get(step, time.monotonic())
                line = f"  ✓ {step} ({took:.1f}s)"
            elif kind == "STEP_FAILURE":
                line = f"  ✗ {step} FAILED"
            elif kind == "ASSET_CHECK_EVALUATION":
                data = event.event_specific_data
                status = "passed" if data.passed else "FAILED"
                line = f"    check {data.asset_key.to_user_string()}:{data.check_name} {status}"
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()


def _asset_keys(defs: dg.Definitions, selection: str | None) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    all_keys = set(graph.get_all_asset_keys())
    if selection:
        chosen = dg.AssetSelection.from_string(selection).resolve(graph)
    else:
        chosen = all_keys
    return [k for k in graph.toposorted_asset_keys if k in chosen]


def materialize(
    defs: dg.Definitions,
    home: Home,
    selection: str | None = None,
    year_keys: list[str] | None = None,
    stream: TextIO | None = None,
) -> RunSummary:
    """Materialize the selected assets (every partition unless ``year_keys``) in-process."""
    stream = stream or sys.stdout
    instance = instance_for(home)
    keys = _asset_keys(defs, selection)
    if not keys:
        raise RunFailed(f"the selection {selection!r} matches no asset")
    graph = defs.resolve_asset_graph()
    by_year = [k for k in keys if graph.get(k).partitions_def == release_year_partitions]
    unpartitioned = [k for k in keys if graph.get(k).partitions_def is None]
    skipped = [k for k in keys if k not in by_year and k not in unpartitioned]
    run_defs = dg.Definitions.merge(defs, dg.Definitions(loggers={"progress": _progress_logger(stream)}))
    job = run_defs.resolve_implicit_global_asset_job_def()
    run_config = {"loggers": {"progress": {"config": {}}}}
    summary = RunSummary()
    start = time.monotonic()

    if by_year:
        partition_keys = year_keys or release_year_partitions.get_partition_keys()
        stream.write(
            f"● run 1: {', '.join(k.to_user_string() for k in by_year)} over {len(partition_keys)} release-year partitions "
            f"({partition_keys[0]} … {partition_keys[-1]})\n"
        )
        tags = {ASSET_PARTITION_RANGE_START_TAG: partition_keys[0], ASSET_PARTITION_RANGE_END_TAG: partition_keys[-1]}
        if len(partition_keys) != len(_key_range(partition_keys[0], partition_keys[-1])):
            raise RunFailed("year partitions must form a contiguous range")
        _execute(job, instance, by_year, run_config, tags, summary, f"partitions {partition_keys[0]}…{partition_keys[-1]}")
    if unpartitioned:
        stream.write(f"● run {2 if by_year else 1}: {len(unpartitioned)} unpartitioned assets\n")
        _execute(job, instance, unpartitioned, run_config, {}, summary, None)
    for key in skipped:
        stream.write(f"  (skipped {key.to_user_string()}: time-partitioned; materialize it by partition in the UI or schedule)\n")
    summary.seconds = time.monotonic() - start
    _collect(instance, summary)
    return summary


def _key_range(first: str, last: str) -> list[str]:
    keys = release_year_partitions.get_partition_keys()
    return keys[keys.index(first) : keys.index(last) + 1]


def _execute(job, instance, asset_keys, run_config, tags, summary: RunSummary, partitions: str | None) -> None:
    result = job.execute_in_process(
        run_config=run_config, instance=instance, asset_selection=asset_keys, tags=tags, raise_on_error=False
    )
    summary.run_ids.append(result.run_id)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            name = mat.asset_key.to_user_string()
            entry = summary.assets.setdefault(name, MaterializedAsset(name))
            if mat.partition:
                entry.partitions += 1
                records = mat.metadata.get("records")
                if records is not None:
                    entry.row_count = (entry.row_count or 0) + int(records.value)
                path = mat.metadata.get("path")
                if path is not None:
                    entry.path = str(Path(str(path.value)).parent) + "/"
    if not result.success:
        failures = []
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                message = _root_cause(event.event_specific_data.error)
                failures.append(f"{event.step_key}{f' [{partitions}]' if partitions else ''}: {message}")
        raise RunFailed("; ".join(failures) or f"run {result.run_id} failed")


def _root_cause(error) -> str:
    """The innermost error's message (Dagster wraps the asset's own exception)."""
    if error is None:
        return "unknown error"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def _collect(instance: dg.DagsterInstance, summary: RunSummary) -> None:
    for name, entry in summary.assets.items():
        record = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(name))
        if record is None or record.asset_materialization is None:
            continue
        metadata = record.asset_materialization.metadata
        if entry.partitions:
            continue
        if "dagster/row_count" in metadata:
            entry.row_count = int(metadata["dagster/row_count"].value)
        if "path" in metadata:
            entry.path = str(metadata["path"].value)


def format_summary(summary: RunSummary, home: Home) -> str:
    lines = [f"Materialized {len(summary.assets)} assets in {summary.seconds:.1f}s ({len(summary.run_ids)} runs):"]
    width = max((len(n) for n in summary.assets), default=10)
    for name, entry in summary.assets.items():
        detail = []
        if entry.partitions:
            detail.append(f"{entry.partitions} partitions")
        if entry.row_count is not None:
            detail.append(f"{entry.row_count} rows")
        if entry.path:
            detail.append(str(Path(entry.path).relative_to(home.root)) if Path(entry.path).is_relative_to(home.root) else entry.path)
        lines.append(f"  {name.ljust(width)}  {'  '.join(detail)}")
    lines += [
        "",
        f"Home: {home.root}  (tables/, posters/, models/, reports/, dagster/)",
        "Browse runs, lineage and plots in the web UI:",
        f"  GENRE_PIPELINE_HOME={home.root} DAGSTER_HOME={home.dagster_home} .venv/bin/dagster dev -w workspace.yaml   (or: make ui)",
    ]
    return "\n".join(lines)
