"""The IO manager over a home: typed values in and out, visible to the run at once, published when it ends."""

import dagster as dg
import pandas as pd
import pytest

from genre_pipeline.catalog.cooccurrence import analyse
from genre_pipeline.defs.storage import HomeIOManager, HomeResource
from genre_pipeline.ingestion.records import RawRecords
from genre_pipeline.storage.generations import GenerationStore
from genre_pipeline.storage.home import Home
from genre_pipeline.storage.lock import HomeLock

PARTS = dg.StaticPartitionsDefinition(["2000", "2001"])


@dg.asset(partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
def raw(context: dg.AssetExecutionContext) -> RawRecords:
    frames = {k: pd.DataFrame({"id": [int(k)], "payload": [f"p{k}"]}) for k in context.partition_keys}
    return RawRecords(frames=frames, quarantine=pd.DataFrame({"file": ["f"], "line": [3], "reason": ["bad"], "raw": ["x"]}))


@dg.asset
def combined(raw: RawRecords) -> pd.DataFrame:
    return raw.combined().assign(quarantined=len(raw.quarantined))


@dg.asset(ins={"combined": dg.AssetIn(metadata={"columns": ["id"]})})
def only_ids(combined: pd.DataFrame) -> pd.DataFrame:
    assert list(combined.columns) == ["id"]  # the column subset asked for, nothing else
    return combined


@dg.asset
def analysis(combined: pd.DataFrame):
    return analyse([["Drama"], ["Drama", "Comedy"]], ["Drama", "Comedy"], n_clusters=2)


@dg.asset
def broken(combined: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("this step fails on purpose")


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home")


def materialize(home: Home, assets, **kwargs):
    resource = HomeResource(root=str(home.root))
    instance = dg.DagsterInstance.ephemeral()
    return dg.materialize(assets, resources={"io_manager": HomeIOManager(home=resource), "home": resource},
                          instance=instance, raise_on_error=False, **kwargs)


def test_a_run_publishes_every_value_at_its_end(home):
    result = materialize(home, [raw, combined, only_ids, analysis],
                         tags={"dagster/asset_partition_range_start": "2000", "dagster/asset_partition_range_end": "2001"})
    assert result.success
    current = GenerationStore(home).current()
    assert sorted(current.partitions("raw")) == ["2000", "2001"]
    table = current.read("combined")
    assert sorted(table["id"]) == [2000, 2001] and set(table["quarantined"]) == {1}
    assert list(current.read("raw.quarantine")["line"]) == [3]
    assert current.read("analysis").matrix.loc["Drama", "Drama"] == 2
    assert (current.root / "default" / "analysis" / "heatmap.png").is_file()  # a folder per asset group
    assert current.runs == [result.run_id]


def test_a_failed_run_publishes_nothing(home):
    first = materialize(home, [raw, combined],
                        tags={"dagster/asset_partition_range_start": "2000", "dagster/asset_partition_range_end": "2001"})
    assert first.success
    before = GenerationStore(home).current().id
    failed = materialize(home, [raw, combined, broken],
                         tags={"dagster/asset_partition_range_start": "2001", "dagster/asset_partition_range_end": "2001"})
    assert not failed.success
    assert GenerationStore(home).current().id == before  # raw 2001 and combined of the failed run are not visible
    assert not any(home.staging_dir.iterdir())


def test_a_run_on_a_home_held_by_another_writer_fails_naming_it(home):
    home.ensure()
    with HomeLock(home.lock_path, command="snapshot export"):
        result = materialize(home, [raw], partition_key="2000")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    assert "in use by snapshot export, pid" in error.message


def test_a_later_run_reads_the_published_values(home):
    assert materialize(home, [raw, combined],
                       tags={"dagster/asset_partition_range_start": "2000", "dagster/asset_partition_range_end": "2001"}).success
    result = materialize(home, [raw, combined, only_ids], selection=[only_ids])
    assert result.success
    assert sorted(GenerationStore(home).current().read("only_ids")["id"]) == [2000, 2001]


def test_models_are_stored_under_the_codec_predict_looks_for():
    from genre_pipeline.models.base import GenreModel
    from genre_pipeline.models.registry import MODEL_CODEC
    from genre_pipeline.storage import codecs

    class Probe(GenreModel):
        kind = "probe"

    assert codecs.codec_for(Probe(labels=["Drama"])) == (MODEL_CODEC, "folder")
