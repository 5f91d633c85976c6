"""The home as Dagster resources: where a run writes, and the IO manager that stores assets.

:class:`HomeResource` says which home a run uses (config ``root``, else
``$GENRE_PIPELINE_HOME``, else ``./.genre_pipeline``) and gives assets the content stores
they own (posters, embedding caches) and the published row counts they compare against.

:class:`HomeIOManager` is the one place that knows paths and formats: assets return
values and take typed inputs. A DataFrame is a parquet file under ``tables/`` (one per
partition for partitioned assets), anything else a folder under the name of the plain
package that defines its type (``features/``, ``models/``, ``catalog/``). Writes go to the
run's staging; the run's own reads see them. When the run starts the IO manager takes the
home's writer lock (cleaning up after runs that died, which it reports failed in the
Dagster instance); when the run ends it publishes the staging as the next generation if
every step succeeded, or discards it.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from genre_pipeline.defs import settings
from genre_pipeline.ingestion.records import RawRecords
from genre_pipeline.models import registry
from genre_pipeline.models.base import GenreModel
from genre_pipeline.storage import codecs
from genre_pipeline.storage.generations import GenerationStore, StorageError, Unit
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.writer import OpenRun, close_run, open_run, require_launcher

RUN_FAILED_BY_SWEEP = "the run's process died before the run ended (found by the next run on this home)"
codecs.register(GenreModel, registry.save_model, registry.load_model)  # recorded as registry.MODEL_CODEC


class HomeResource(dg.ConfigurableResource):
    """The pipeline home a run reads and writes."""

    root: str | None = None
    lock_timeout: float | None = None
    """Seconds to wait when another writer holds the home (default ``$GENRE_PIPELINE_LOCK_TIMEOUT`` or 0)."""
    writer: str = "run"
    """Who holds the writer lock and publishes: ``run`` (the run itself, for executors that run every
    step in the run worker) or ``launcher`` (the process that launched the run holds the lock for
    this run id and publishes when the run succeeds: executors that spread steps over processes)."""

    def home(self) -> Home:
        return Home.at(self.root)

    def resolved_lock_timeout(self) -> float:
        return self.lock_timeout if self.lock_timeout is not None else settings.number(settings.LOCK_TIMEOUT_ENV, 0.0, minimum=0.0)

    def store(self) -> GenerationStore:
        return GenerationStore(self.home())

    @property
    def posters_dir(self) -> Path:
        return self.home().posters_dir

    def cache_dir(self, asset: str) -> Path:
        return self.home().cache_dir(asset)

    def published_rows(self, asset: str) -> dict[str | None, int]:
        """Rows of each published unit of ``asset`` (by partition; ``None`` when unpartitioned)."""
        current = self.store().current()
        if current is None:
            return {}
        return {p: int(u.metadata.get("rows", 0)) for (a, p), u in current.units.items() if a == asset and "rows" in u.metadata}


def _folder_for(context: dg.OutputContext) -> str:
    """The asset's group (``features``, ``models``, ...): a person finds an asset under its group's folder."""
    try:
        return context.step_context.job_def.asset_layer.asset_graph.get(context.asset_key).group_name
    except Exception:  # outside a job (direct invocation): one folder for everything  # noqa: BLE001
        return "assets"


def _rows(value: Any) -> int | None:
    if isinstance(value, pd.DataFrame):
        return len(value)
    rows = getattr(value, "rows", None)
    return int(rows) if isinstance(rows, int) else None


class HomeIOManager(dg.ConfigurableIOManager):
    """Stores every asset in the run's staging of the home (see the module docstring)."""

    home: dg.ResourceDependency[HomeResource]

    _run: OpenRun | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)

    # -- run lifecycle -----------------------------------------------------------------
    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run_id
        if context.run_id is None or context.instance is None:
            return  # e.g. loading an input outside a run
        if self.home.writer == "launcher":
            require_launcher(self.home.home(), context.run_id)
            return
        self._run = open_run(self.home.home(), context.run_id, timeout=self.home.resolved_lock_timeout())
        for dead in self._run.sweep.abandoned_runs:
            _report_dead_run(context.instance, dead)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._run is None:
            return
        from dagster._core.events import DagsterEventType

        failures = context.instance.get_records_for_run(context.run_id, of_type=DagsterEventType.STEP_FAILURE).records
        generation = close_run(self._run, success=not failures)
        if generation is not None and context.log is not None:
            context.log.info(f"published generation {generation.id} of {self._run.home.root}")
        self._run = None

    # -- storing -----------------------------------------------------------------------
    def _store(self) -> GenerationStore:
        return self.home.store()

    def _stage(self, asset: str, partition: str | None, value: Any, run_id: str, folder: str) -> Unit:
        codec, kind = codecs.codec_for(value)
        if codec == codecs.PARQUET:
            path = f"tables/{asset}.parquet" if partition is None else f"tables/{asset}/{partition}.parquet"
        else:
            path = f"{folder}/{asset}" + (f"/{partition}" if partition is not None else "")
        staging = self._store().staging(run_id)
        codecs.write(value, staging.target(path), codec)
        rows = _rows(value)
        unit = Unit(path=path, asset=asset, partition=partition, kind=kind, codec=codec, run_id=run_id,
                    metadata={"rows": rows} if rows is not None else {})
        staging.record(unit)
        return unit

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        asset = context.asset_key.to_user_string()
        run_id = context.run_id
        folder = _folder_for(context)
        if context.has_asset_partitions:
            keys = list(context.asset_partition_keys)
            parts = obj.frames if isinstance(obj, RawRecords) else (obj if isinstance(obj, Mapping) else {keys[0]: obj})
            if len(keys) > 1 and not isinstance(obj, (Mapping, RawRecords)):
                raise StorageError(f"{asset}: a run over {len(keys)} partitions must return one value per partition")
            for key in keys:
                if key not in parts:
                    raise StorageError(f"{asset}: no value returned for partition {key}")
                self._stage(asset, key, parts[key], run_id, folder)
            if isinstance(obj, RawRecords) and obj.quarantine is not None:
                self._stage(f"{asset}.quarantine", None, obj.quarantine, run_id, folder)
            return
        unit = self._stage(asset, None, obj, run_id, folder)
        context.add_output_metadata({"stored_at": dg.MetadataValue.text(f"{unit.path} (run staging, published when the run succeeds)")})

    # -- loading -----------------------------------------------------------------------
    def load_input(self, context: dg.InputContext) -> Any:
        asset = context.asset_key.to_user_string()
        columns = (context.definition_metadata or {}).get("columns")
        wanted = context.dagster_type.typing_type if context.dagster_type is not None else Any
        store = self._store()
        if context.has_asset_partitions:
            seen = store.resolve_partitions(self._run_id, asset)
            keys = [k for k in context.asset_partition_keys if k in seen]
            frames = {k: codecs.read(seen[k][1], seen[k][0].codec, columns) for k in keys}
            if wanted is RawRecords:
                quarantine = store.resolve(self._run_id, f"{asset}.quarantine")
                return RawRecords(frames=frames, quarantine=codecs.read(quarantine[1], quarantine[0].codec) if quarantine else None)
            if wanted is pd.DataFrame or wanted is Any:
                frames = [f for f in frames.values() if len(f)] or list(frames.values())
                return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns or []))
            return frames
        found = store.resolve(self._run_id, asset)
        if found is None:
            raise StorageError(f"{asset} has not been materialized in {store.home.root} yet: materialize it first")
        unit, path = found
        return codecs.read(path, unit.codec, columns)


def _report_dead_run(instance: dg.DagsterInstance, run_id: str) -> None:
    """Mark a run that died while writing as failed (it stays STARTED otherwise)."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, RUN_FAILED_BY_SWEEP)
