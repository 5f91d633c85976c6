"""Ingestion assets: raw TMDB records per release year, a day of TMDB changes, IMDb's basics.

Thin wiring over ``genre_pipeline.ingestion`` and ``genre_pipeline.catalog.dedup``: each
asset fetches through a resource, returns a table (the IO manager stores it) and reports
metadata for the UI.
"""

import dagster as dg
import pandas as pd

from genre_pipeline.catalog import dedup
from genre_pipeline.defs.ingestion.resources import CatalogSourceResource, TmdbResource
from genre_pipeline.defs.metadata import column_schema_metadata, filled_partitions, metadata_table
from genre_pipeline.defs.partitions import daily_change_partitions, release_year_partitions
from genre_pipeline.defs.settings import IMDB_BASICS_ENV, text
from genre_pipeline.defs.storage import HomeResource
from genre_pipeline.ingestion import imdb
from genre_pipeline.ingestion.records import UNDATED, RawRecords, quarantine_frame

GROUP = "ingestion"
RAW_COLUMN_NOTES = {
    "id": "TMDB movie id", "record_json": "the /movie/{id} record as fetched (JSON)",
    "partition": "release year the record is filed under", "fetched_at": "when this run fetched it",
    "source_seq": "position in the source (file line or request order): the later record of an id wins",
}
SHRINK_FLOOR = 0.5  # a refresh that keeps fewer than half the records it replaces needs allow_shrink


class ShrinkRefused(dg.Failure):
    """A source returned far fewer good records than the catalog it would replace."""


class RawRecordsConfig(dg.Config):
    allow_shrink: bool = False
    """Accept a source that yields no good record, or fewer than half the records it replaces."""


def shrink_problem(new_counts: dict[str, int], published: dict[str | None, int], floor: float = SHRINK_FLOOR) -> str:
    """Why replacing ``published`` record counts with ``new_counts`` looks like data loss ('' if it does not)."""
    new_total = sum(new_counts.values())
    old_total = sum(published.get(key, 0) for key in new_counts)
    if new_total == 0 and old_total > 0:
        return f"the source yielded no good record for these release years, which now hold {old_total} records"
    if old_total and new_total < floor * old_total:
        return f"the source yielded {new_total} good records for these release years, which now hold {old_total} (under {floor:.0%})"
    return ""


@dg.asset(
    group_name=GROUP,
    partitions_def=release_year_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"parquet"},
    pool="tmdb",  # with source "tmdb" this step calls the API
)
def raw_movie_records(
    context: dg.AssetExecutionContext, catalog_source: CatalogSourceResource, home: HomeResource, config: RawRecordsConfig
) -> RawRecords:
    """Raw TMDB ``/movie/{id}`` records for each release year (tutorial step: scraping TMDB).

    Improves on the tutorial's pickled scrape loop: one table per release year, replaced
    whole on every run, so re-running a partition overwrites it; each row keeps where and
    when it was fetched so the movie table can let the latest record win. Unusable input
    lines are quarantined with ``file:line``, the field and the reason, never dropped silently,
    and counted (with undated records) in the metadata and the step's summary line. A range
    of years runs in one step. A source that yields no good record, or fewer than half of
    those it would replace, fails the run (``allow_shrink`` to accept it): the published
    catalog stays as it was.
    """
    source = catalog_source.open()
    fetched_at = pd.Timestamp.now(tz="UTC")
    quarantined = list(getattr(source, "quarantined", []))
    frames: dict[str, pd.DataFrame] = {}
    for key in context.partition_keys:
        fetch = source.fetch_year(key)
        quarantined.extend(fetch.quarantined)
        frames[key] = dedup.raw_frame(fetch.records, key, fetched_at, fetch.stats.get("source_seq"))
        stats = {k: v for k, v in fetch.stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        # this partition's own figures; not dagster/row_count, which the UI would show as the row count of the
        # whole asset (whichever partition was written last, often an empty year)
        context.add_asset_metadata(
            {"partition_rows": dg.MetadataValue.int(len(frames[key])),
             "missing_ids": dg.MetadataValue.int(len(fetch.missing_ids)), **{f"stat_{k}": v for k, v in stats.items()}},
            partition_key=key,
        )
    counts = {key: len(frame) for key, frame in frames.items()}
    problem = shrink_problem(counts, home.published_rows("raw_movie_records"))
    if problem and not config.allow_shrink:
        raise ShrinkRefused(
            description=f"refusing to replace the catalog: {problem} ({catalog_source.describe()}). "
            "Nothing was published. Rerun with --allow-shrink (run config allow_shrink: true) if this is intended."
        )
    tally = getattr(source, "line_tally", None)  # a file source says how its lines ended
    undated = counts.get(UNDATED, 0)
    context.add_asset_metadata(  # the step's totals, on every partition it wrote: any one of them tells the whole run
        {"run_records": dg.MetadataValue.int(sum(counts.values())),
         "run_partitions_with_records": dg.MetadataValue.text(filled_partitions(counts)),
         "quarantined_lines": dg.MetadataValue.int(len(quarantined)), "undated_records": dg.MetadataValue.int(undated),
         **({"input_lines": dg.MetadataValue.int(tally.lines), "blank_lines": dg.MetadataValue.int(tally.blank)} if tally else {}),
         **column_schema_metadata(next(iter(frames.values())) if frames else dedup.raw_frame([], "", fetched_at), RAW_COLUMN_NOTES)}
    )
    for q in quarantined[:50]:
        context.log.warning(f"quarantined {q.message()}")
    if len(quarantined) > 50:
        context.log.warning(f"... and {len(quarantined) - 50} more quarantined lines (see the raw_movie_records.quarantine table)")
    context.log.info(
        f"{sum(counts.values())} records over {len(counts)} release-year partitions ({undated} undated); "
        f"{len(quarantined)} quarantined{f'; {tally.summary()}' if tally else ''}"
    )
    return RawRecords(frames=frames, quarantine=quarantine_frame(quarantined))


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_change_partitions,
    ins={"raw_movie_records": dg.AssetIn(metadata={"columns": ["id"]}, partition_mapping=dg.AllPartitionMapping())},
    pool="tmdb",
    kinds={"parquet"},
    automation_condition=dg.AutomationCondition.on_cron("15 2 * * *"),
)
def movie_changes(context: dg.AssetExecutionContext, tmdb: TmdbResource, raw_movie_records: pd.DataFrame) -> pd.DataFrame:
    """One day of TMDB's change feed, re-fetched for the movies we hold (incremental rescrape).

    Tutorial step "scraping TMDB": the tutorial could only refresh by scraping everything.
    Here ``/movie/changes`` for the day (every page) names the movies TMDB changed; only
    those already among the raw records are re-fetched. Their fresh records feed ``movies``
    (the latest record of an id wins), which rebuilds from them. Requests grow with the
    number of changes, not with the catalog. Re-running a day replaces that day; missed
    days backfill like any partition.
    """
    day = context.partition_key
    source = tmdb.source()
    rescrape = source.rescrape_changes(day, catalog_ids=set(int(i) for i in raw_movie_records["id"]))
    frame = dedup.changes_raw_frame(rescrape.records, pd.Timestamp.now(tz="UTC"))
    context.log.info(
        f"{day}: TMDB changed {rescrape.changed_total} movies, {len(rescrape.in_catalog)} of ours re-fetched, "
        f"{len(rescrape.missing_ids)} now missing, {len(rescrape.quarantined)} quarantined, "
        f"{int(rescrape.stats.get('requests', 0))} requests"
    )
    for q in rescrape.quarantined[:50]:
        context.log.warning(f"quarantined {q.message()}")
    context.add_output_metadata(
        {
            "day": dg.MetadataValue.text(day),
            "changed_on_tmdb": dg.MetadataValue.int(rescrape.changed_total),
            "changed_in_catalog": dg.MetadataValue.int(len(rescrape.in_catalog)),
            "records": dg.MetadataValue.int(len(frame)),
            "missing_now": dg.MetadataValue.int(len(rescrape.missing_ids)),
            "missing_ids": dg.MetadataValue.text(str(rescrape.missing_ids[:50])),
            "quarantined": dg.MetadataValue.int(len(rescrape.quarantined)),
            "quarantined_records": dg.MetadataValue.text("\n".join(q.message() for q in rescrape.quarantined[:50])),
            "api_requests": dg.MetadataValue.int(int(rescrape.stats.get("requests", 0))),
            "change_pages": dg.MetadataValue.int(rescrape.change_pages),
            **column_schema_metadata(frame),
        }
    )
    return frame


class ImdbBasicsConfig(dg.Config):
    basics: str = ""
    """Path or http(s) URL of IMDb's title.basics.tsv[.gz]; empty: $GENRE_PIPELINE_IMDB_BASICS."""


@dg.asset(group_name=GROUP, kinds={"parquet"}, output_required=False)
def imdb_title_basics(context: dg.AssetExecutionContext, config: ImdbBasicsConfig):
    """IMDb's non-commercial ``title.basics`` dataset, movies only (tutorial step: IMDb genres).

    The tutorial fetched IMDb pages one movie at a time through IMDbPY. Here the official
    dataset file is streamed (``httpx`` for a URL, or a local path) and parsed line by line.
    Without ``GENRE_PIPELINE_IMDB_BASICS`` (or config ``basics``) the step materializes
    nothing: the demo stays offline, the asset is not shown as fresh (the comparison that
    reads it is skipped), and an observation on the asset says it is not configured and how
    to configure it.
    """
    location = (config.basics or text(IMDB_BASICS_ENV) or "").strip()
    if not location:
        how = f"set {IMDB_BASICS_ENV} (or config 'basics') to IMDb's title.basics.tsv.gz, a path or an http(s) URL"
        context.log.info(f"IMDb basics not configured ({how}): nothing materialized")
        context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata={
            "status": dg.MetadataValue.text("not configured: nothing materialized"), "to_configure": dg.MetadataValue.text(how)}))
        return
    frame, stats = imdb.read_title_basics(location)
    for q in stats.quarantined[:20]:
        context.log.warning(f"IMDb line {q.line} skipped: {q.reason}")
    yield dg.Output(
        frame,
        metadata={
            "source": dg.MetadataValue.text(imdb.describe_source(location)),
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "rows_read": dg.MetadataValue.int(stats.rows),
            "quarantined_lines": dg.MetadataValue.int(stats.quarantined_count),
            "title_types": dg.MetadataValue.json(dict(list(stats.title_types.most_common())[:15])),
            "unmapped_imdb_genres": dg.MetadataValue.json(imdb.unmapped_genre_counts(frame)),
            "preview": metadata_table(frame.head(10)),
            **column_schema_metadata(frame),
        },
    )
