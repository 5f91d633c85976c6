"""Ingestion assets beyond the release-year scrape: daily TMDB changes and IMDb genres.

Thin wiring over ``sources.tmdb``, ``catalog.changes`` and ``sources.imdb``: each asset
calls the science, writes atomically into the home and reports metadata for the UI.
"""

import os
from pathlib import Path

import dagster as dg
import pandas as pd

from genre_pipeline.storage.atomic import atomic_write_json, atomic_write_parquet
from genre_pipeline.catalog import genres
from genre_pipeline.catalog.changes import RAW_CHANGES_TABLE, changes_raw_frame, merge_changed_records
from genre_pipeline.defs.catalog.assets import movies
from genre_pipeline.defs.ingestion.resources import TmdbResource
from genre_pipeline.defs.metadata import markdown_table
from genre_pipeline.defs.partitions import daily_change_partitions
from genre_pipeline.defs.resources import HomeResource
from genre_pipeline.ingestion import imdb

IMDB_BASICS_ENV_VAR = "GENRE_PIPELINE_IMDB_BASICS"
IMDB_TABLE = "imdb_title_basics"
COMPARISON_TABLE = "imdb_tmdb_genre_comparison"


@dg.asset(
    group_name="ingestion",
    partitions_def=daily_change_partitions,
    deps=[movies],
    pool="tmdb",
    kinds={"parquet"},
)
def movie_changes(context: dg.AssetExecutionContext, home: HomeResource, tmdb: TmdbResource) -> dg.MaterializeResult:
    """One day of TMDB's change feed merged into the movie table (incremental rescrape).

    Tutorial step "scraping TMDB": the tutorial could only refresh by scraping everything.
    Here ``/movie/changes`` for the day (every page) names the movies TMDB changed; only
    those already in ``tables/movies.parquet`` are re-fetched, their raw records kept in
    ``tables/raw_movie_changes/<day>.parquet`` (a later ``movies`` rebuild keeps them, the
    latest record wins) and their rows replaced in the movie table; a poster is fetched
    again only if its ``poster_path`` changed. Requests grow with the number of changes,
    not with the catalog. Re-running a day overwrites that day; missed days backfill.
    """
    the_home = home.home
    day = context.partition_key
    movies_path = the_home.table_path("movies")
    if not movies_path.is_file():
        raise dg.Failure(f"{movies_path} does not exist: materialize the catalog (movies) before rescraping changes")
    table = pd.read_parquet(movies_path)
    source = tmdb.source()
    rescrape = source.rescrape_changes(day, catalog_ids=set(int(i) for i in table["id"]))
    fetched_at = pd.Timestamp.now(tz="UTC")
    raw = changes_raw_frame(rescrape.records, fetched_at)
    raw_path = atomic_write_parquet(raw, the_home.partition_path(RAW_CHANGES_TABLE, day))

    vocabulary_path = the_home.table_path("genre_vocabulary")
    names = genres.id_to_name(pd.read_parquet(vocabulary_path)) if vocabulary_path.is_file() else {}
    # Re-read right before writing: the window for a concurrent `movies` rebuild is small,
    # and whatever it writes still includes these records (raw_movie_changes is one of its inputs).
    merged = merge_changed_records(pd.read_parquet(movies_path), raw, names)
    if merged.updated_ids:
        atomic_write_parquet(merged.table, movies_path)

    poster_results = []
    new_posters = [new for _, _, new in merged.poster_changes if new]
    if new_posters:
        poster_results = source.fetch_posters(new_posters, the_home.posters_dir)
        _update_poster_index(the_home.table_path("movie_posters"), merged.poster_changes, poster_results)

    touched = [(movie_id, ", ".join(cols) or "(nothing visible)") for movie_id, cols in merged.changed_columns.items()]
    preview = pd.DataFrame(touched[:20], columns=["id", "changed columns"])
    requests = int(rescrape.stats.get("requests", 0)) + sum(1 for r in poster_results if r.status == "fetched")
    context.log.info(
        f"{day}: TMDB changed {rescrape.changed_total} movies, {len(rescrape.in_catalog)} of ours; "
        f"{len(merged.updated_ids)} rows updated, {len(new_posters)} posters changed, {requests} requests"
    )
    return dg.MaterializeResult(
        metadata={
            "day": dg.MetadataValue.text(day),
            "changed_on_tmdb": dg.MetadataValue.int(rescrape.changed_total),
            "changed_in_catalog": dg.MetadataValue.int(len(rescrape.in_catalog)),
            "rows_updated": dg.MetadataValue.int(len(merged.updated_ids)),
            "missing_now": dg.MetadataValue.int(len(rescrape.missing_ids)),
            "missing_ids": dg.MetadataValue.text(str(rescrape.missing_ids[:50])),
            "posters_changed": dg.MetadataValue.int(len(new_posters)),
            "posters_fetched": dg.MetadataValue.int(sum(1 for r in poster_results if r.status == "fetched")),
            "api_requests": dg.MetadataValue.int(int(rescrape.stats.get("requests", 0))),
            "change_pages": dg.MetadataValue.int(rescrape.change_pages),
            "catalog_size": dg.MetadataValue.int(len(table)),
            "updated": dg.MetadataValue.md(markdown_table(preview)),
            "source": dg.MetadataValue.json(source.describe()),
            "path": dg.MetadataValue.path(str(raw_path)),
        }
    )


def _update_poster_index(index_path: Path, changes: list[tuple[int, str | None, str | None]], results) -> None:
    """Point the changed movies' rows of ``movie_posters`` at their new poster files."""
    if not index_path.is_file():
        return
    by_path = {r.poster_path: r for r in results}
    index = pd.read_parquet(index_path)
    for movie_id, _old, new in changes:
        result = by_path.get(new)
        rows = index["id"] == movie_id
        if not rows.any():
            continue
        index.loc[rows, "poster_path"] = new
        index.loc[rows, "poster_file"] = result.file.name if result is not None and result.file is not None else None
        index.loc[rows, "status"] = result.status if result is not None else "missing"
        index.loc[rows, "reason"] = result.reason if result is not None else "no poster_path"
    atomic_write_parquet(index, index_path)


movie_changes_job = dg.define_asset_job(
    name="movie_changes_job",
    selection=dg.AssetSelection.assets(movie_changes),
    partitions_def=daily_change_partitions,
    description="Re-fetch the movies TMDB changed on one day and merge them into the movie table.",
)


def build_movie_changes_schedule(enabled: bool | None = None) -> dg.ScheduleDefinition:
    """Daily, shortly after a UTC day ends: that day's partition. Stopped unless
    ``GENRE_PIPELINE_SCHEDULES=on`` (or ``enabled``), the one switch of the operations domain."""
    try:
        from genre_pipeline.defs.operations.switch import default_schedule_status
    except ImportError:  # a checkout without the operations domain: same rule, read here

        def default_schedule_status(enabled: bool | None = None) -> dg.DefaultScheduleStatus:
            value = os.environ.get("GENRE_PIPELINE_SCHEDULES", "").strip().lower()
            on = value in {"on", "true", "1", "yes"} if enabled is None else enabled
            return dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED

    return dg.build_schedule_from_partitioned_job(
        movie_changes_job,
        name="daily_movie_changes",
        hour_of_day=2,
        minute_of_hour=15,
        default_status=default_schedule_status(enabled),
        description="Daily: merge yesterday's TMDB changes into the movie table (missed days: backfill the partitions).",
    )


class ImdbBasicsConfig(dg.Config):
    basics: str = ""
    """Path or http(s) URL of IMDb's title.basics.tsv[.gz]; empty: $GENRE_PIPELINE_IMDB_BASICS."""


def _imdb_location(config: ImdbBasicsConfig) -> str:
    return (config.basics or os.environ.get(IMDB_BASICS_ENV_VAR, "")).strip()


@dg.asset(group_name="ingestion", kinds={"parquet"})
def imdb_title_basics(context: dg.AssetExecutionContext, home: HomeResource, config: ImdbBasicsConfig) -> dg.MaterializeResult:
    """IMDb's non-commercial ``title.basics`` dataset, movies only (tutorial step: IMDb genres).

    The tutorial fetched IMDb pages one movie at a time through IMDbPY. Here the official
    dataset file is streamed (``httpx`` for a URL, or a local path) and parsed line by line
    into ``tables/imdb_title_basics.parquet``. Without ``GENRE_PIPELINE_IMDB_BASICS`` (or
    config ``basics``) nothing is read and the metadata says "not configured": the demo
    stays offline and green.
    """
    location = _imdb_location(config)
    if not location:
        context.log.info(f"IMDb basics not configured (set {IMDB_BASICS_ENV_VAR}); skipped")
        return dg.MaterializeResult(
            metadata={"status": dg.MetadataValue.text("not configured"), "env_var": dg.MetadataValue.text(IMDB_BASICS_ENV_VAR)}
        )
    frame, stats = imdb.read_title_basics(location)
    the_home = home.home
    path = atomic_write_parquet(frame, the_home.table_path(IMDB_TABLE))
    for q in stats.quarantined[:20]:
        context.log.warning(f"IMDb line {q.line} skipped: {q.reason}")
    unmapped = imdb.unmapped_genre_counts(frame)
    return dg.MaterializeResult(
        metadata={
            "status": dg.MetadataValue.text("ingested"),
            "source": dg.MetadataValue.text(imdb._describe_source(location)),
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "rows_read": dg.MetadataValue.int(stats.rows),
            "quarantined_lines": dg.MetadataValue.int(stats.quarantined_count),
            "title_types": dg.MetadataValue.json(dict(list(stats.title_types.most_common())[:15])),
            "unmapped_imdb_genres": dg.MetadataValue.json(unmapped),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(group_name="catalog", deps=[imdb_title_basics, movies], kinds={"parquet"})
def imdb_tmdb_genre_comparison(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    """IMDb's genres vs TMDB's for every movie on both (tutorial step: the Matrix comparison).

    The tutorial compared one movie by eye. Here IMDb genre names are mapped onto TMDB's
    (Sci-Fi -> Science Fiction, Musical -> Music; genres TMDB lacks are listed, not
    guessed), movies are joined on ``imdb_id`` and the agreement rate, per-genre agreement
    and every disagreement are written (``tables/imdb_tmdb_genre_comparison.parquet``,
    ``reports/imdb_tmdb_genre_comparison.json``). Skipped when IMDb is not ingested.
    """
    the_home = home.home
    imdb_path = the_home.table_path(IMDB_TABLE)
    if not imdb_path.is_file():
        context.log.info("no IMDb table: comparison skipped")
        return dg.MaterializeResult(metadata={"status": dg.MetadataValue.text("not configured")})
    imdb_frame = pd.read_parquet(imdb_path, columns=["imdb_id", "imdb_genres"])
    table = pd.read_parquet(the_home.table_path("movies"), columns=["id", "imdb_id", "title", "genres"])
    result = imdb.compare_genres(imdb_frame, table)
    path = atomic_write_parquet(result.per_movie, the_home.table_path(COMPARISON_TABLE))
    atomic_write_json(
        the_home.reports_dir / f"{COMPARISON_TABLE}.json",
        {"summary": result.summary, "per_genre": result.per_genre.to_dict(orient="records")},
    )
    summary = result.summary
    rate = summary["agreement_rate"]
    columns = ["id", "imdb_id", "title", "tmdb_genres", "imdb_genres", "only_tmdb", "only_imdb"]
    return dg.MaterializeResult(
        metadata={
            "status": dg.MetadataValue.text("compared"),
            "compared": dg.MetadataValue.int(summary["compared"]),
            "agreement_rate": dg.MetadataValue.float(float(rate) if rate is not None else float("nan")),
            "overlap_rate": dg.MetadataValue.float(float(summary["overlap_rate"]) if summary["overlap_rate"] is not None else float("nan")),
            "disagreements": dg.MetadataValue.int(summary["disagree"]),
            "not_in_imdb_file": dg.MetadataValue.int(summary["not_in_imdb_file"]),
            "unmapped_imdb_genres": dg.MetadataValue.json(summary["unmapped_imdb_genres"]),
            "per_genre": dg.MetadataValue.md(markdown_table(result.per_genre)),
            "disagreement_examples": dg.MetadataValue.md(markdown_table(result.disagreements[columns].head(20))),
            "path": dg.MetadataValue.path(str(path)),
        }
    )
