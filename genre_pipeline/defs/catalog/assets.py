"""Catalog assets: the genre vocabulary, the movie table and its checks, genre analysis, posters, IMDb comparison.

Thin wiring over ``genre_pipeline.catalog``: each asset takes its upstream tables as typed
inputs, calls the science, returns its value (the IO manager stores it) and reports
metadata for the UI.
"""

import hashlib

import dagster as dg
import pandas as pd

from genre_pipeline.catalog import cooccurrence, dedup, genres
from genre_pipeline.catalog.posters import PosterIndex, build_index
from genre_pipeline.defs.automation import FOLLOW_INPUTS, ON_CONTENT_CHANGE
from genre_pipeline.defs.ingestion.resources import CatalogSourceResource
from genre_pipeline.defs.metadata import column_schema_metadata, filled_partitions, metadata_table, png_markdown
from genre_pipeline.defs.partitions import release_year_partitions
from genre_pipeline.defs.progress import step_progress
from genre_pipeline.defs.storage import HomeResource
from genre_pipeline.ingestion import imdb
from genre_pipeline.ingestion.records import RawRecords

GROUP = "catalog"
VOCABULARY_COLUMN_NOTES = {
    "id": "TMDB genre id", "name": "genre name", "legacy": "an id TMDB no longer lists, mapped by the pipeline",
    "known": "in TMDB's list or mapped as legacy", "movie_count": "records carrying the genre",
}
MOVIE_COLUMN_NOTES = {
    "id": "TMDB movie id (unique)", "title": "title", "overview": "plot summary: the text the models read",
    "release_date": "YYYY-MM-DD as TMDB gives it", "release_year": "year of release_date (empty: undated)",
    "genre_ids": "TMDB genre ids", "genres": "genre names (the labels)", "imdb_id": "IMDb id, joins IMDb's genres",
    "poster_path": "TMDB poster path; the poster file is named after its basename",
    "partition": "release-year partition the record came from", "fetched_at": "when the winning record was fetched",
}
EXAMPLES = 10  # offending ids shown by a failed check


def _raw_table(raw_movie_records: RawRecords, movie_changes: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in (raw_movie_records.combined(), movie_changes) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else dedup.raw_frame([], "", pd.Timestamp.now(tz="UTC"))


@dg.asset(group_name=GROUP, kinds={"parquet"}, automation_condition=FOLLOW_INPUTS)
def genre_vocabulary(catalog_source: CatalogSourceResource, raw_movie_records: RawRecords) -> dg.Output[pd.DataFrame]:
    """TMDB's genre list plus legacy ids found in the records (tutorial step: genre list).

    The tutorial discovered id 10769 missing from TMDB's list and patched it to "Foreign"
    by hand; here legacy ids come from a documented table and unknown ids are flagged.
    """
    raw = raw_movie_records.combined()
    vocabulary = genres.build_vocabulary(catalog_source.open().genre_list(), dedup.all_genre_ids(raw.get("record_json", [])))
    return dg.Output(
        vocabulary,
        # what it holds, not when it was written: a re-fetch with the same genres leaves `movies`' readers alone
        data_version=dg.DataVersion(hashlib.sha256(vocabulary.to_json(orient="records").encode()).hexdigest()[:16]),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(vocabulary)),
            "legacy_genres": dg.MetadataValue.int(int(vocabulary["legacy"].sum())),
            "unknown_genres": dg.MetadataValue.int(int((~vocabulary["known"]).sum())),
            "vocabulary": metadata_table(vocabulary),
            **column_schema_metadata(vocabulary, VOCABULARY_COLUMN_NOTES),
        },
    )


MOVIE_CHECKS = [
    dg.AssetCheckSpec("unique_id", asset="movies", blocking=True, description="every movie id appears exactly once"),
    dg.AssetCheckSpec("non_empty_title", asset="movies", blocking=True, description="every movie has a title"),
    dg.AssetCheckSpec("genre_ids_known", asset="movies", blocking=True,
                      description="every genre id is in TMDB's list or mapped as legacy"),
]


def movie_check_results(table: pd.DataFrame, vocabulary: pd.DataFrame) -> list[dg.AssetCheckResult]:
    """The three blocking checks of the movie table; a failure names a few offending ids."""
    duplicated = sorted({int(i) for i in table.loc[table["id"].duplicated(keep=False), "id"]})
    untitled = [int(i) for i in table.loc[table["title"].fillna("").str.strip().str.len() == 0, "id"]]
    known_ids = set(vocabulary.loc[vocabulary["known"], "id"].astype(int))
    unknown = sorted({int(g) for ids in table["genre_ids"] for g in ids} - known_ids)
    with_unknown = [int(i) for i, ids in zip(table["id"], table["genre_ids"]) if set(int(g) for g in ids) - known_ids]
    return [
        dg.AssetCheckResult(check_name="unique_id", passed=not duplicated,
                            metadata={"duplicate_ids": len(duplicated), "offending_ids": str(duplicated[:EXAMPLES])}),
        dg.AssetCheckResult(check_name="non_empty_title", passed=not untitled,
                            metadata={"untitled": len(untitled), "offending_ids": str(untitled[:EXAMPLES])}),
        dg.AssetCheckResult(check_name="genre_ids_known", passed=not unknown,
                            metadata={"unknown_genre_ids": str(unknown), "offending_ids": str(with_unknown[:EXAMPLES])}),
    ]


@dg.asset(
    group_name=GROUP,
    kinds={"parquet"},
    check_specs=MOVIE_CHECKS,
    ins={"movie_changes": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    automation_condition=FOLLOW_INPUTS,
)
def movies(context: dg.AssetExecutionContext, raw_movie_records: RawRecords, movie_changes: pd.DataFrame,
           genre_vocabulary: pd.DataFrame):
    """The deduplicated movie table, latest record wins (tutorial step: the movie dataset).

    A movie found in two release-year partitions (a re-release, a corrected date) or
    re-fetched from TMDB's change feed appears once, from its most recently fetched record.
    Its data version moves only when what the models read (titles, overviews, genres,
    posters) changed. Three blocking checks: a failure stops everything downstream and the
    run, and nothing of the run is published.
    """
    raw = _raw_table(raw_movie_records, movie_changes)
    table = dedup.build_movie_table(raw, genres.id_to_name(genre_vocabulary))
    quarantine = raw_movie_records.quarantined
    if len(quarantine):
        context.log.warning(f"{len(quarantine)} input lines are quarantined (raw_movie_records.quarantine)")
    years = table["release_year"].dropna()
    preview_columns = ["id", "title", "release_year", "genres"]
    yield dg.MaterializeResult(
        value=table,
        data_version=dg.DataVersion(dedup.content_fingerprint(table)[:16]),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(table)),
            "raw_records": dg.MetadataValue.int(len(raw)),
            "duplicates_merged": dg.MetadataValue.int(len(raw) - len(table)),
            "changes_merged": dg.MetadataValue.int(len(movie_changes)),
            "quarantined_lines": dg.MetadataValue.int(len(quarantine)),
            "quarantine": metadata_table(quarantine[["file", "line", "reason"]].head(20)) if len(quarantine) else "none",
            "empty_overviews": dg.MetadataValue.int(int((table["overview"] == "").sum())),
            "without_poster_path": dg.MetadataValue.int(int(table["poster_path"].isna().sum())),
            "undated": dg.MetadataValue.int(int(table["release_year"].isna().sum())),
            "years": dg.MetadataValue.text(f"{int(years.min())}-{int(years.max())}" if len(years) else "none"),
            "preview": metadata_table(table[preview_columns].head(10)),
            **column_schema_metadata(table, MOVIE_COLUMN_NOTES),
        },
    )
    yield from movie_check_results(table, genre_vocabulary)


def frequent_pairs(matrix: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` genre pairs by movies carrying both, with each pair's share of the rarer genre's movies."""
    rows = [(a, b, int(matrix.at[a, b]), int(min(matrix.at[a, a], matrix.at[b, b])))
            for i, a in enumerate(matrix.index) for b in matrix.index[i + 1:] if matrix.at[a, b] > 0]
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return pd.DataFrame([{"genres": f"{a} + {b}", "movies": n, "share_of_rarer": n / rarer if rarer else 0.0}
                         for a, b, n, rarer in rows[:top]], columns=["genres", "movies", "share_of_rarer"])


class CooccurrenceConfig(dg.Config):
    n_clusters: int = 5
    seed: int = 0


@dg.asset(
    group_name=GROUP,
    kinds={"sklearn"},
    ins={"movies": dg.AssetIn(metadata={"columns": ["id", "genres"]})},
    automation_condition=ON_CONTENT_CHANGE,
)
def genre_cooccurrence(config: CooccurrenceConfig, movies: pd.DataFrame,
                       genre_vocabulary: pd.DataFrame) -> dg.Output[cooccurrence.CooccurrenceAnalysis]:
    """Genre co-occurrence and spectral co-clustering (tutorial step: genre correlations).

    The matrix is symmetric with genre counts on the diagonal; ``SpectralCoclustering``
    into K clusters groups genres that appear together, shown as a heatmap reordered by
    cluster next to the raw heatmap.
    """
    names = [n for n, c in zip(genre_vocabulary["name"], genre_vocabulary["movie_count"]) if c > 0] or list(genre_vocabulary["name"])
    analysis = cooccurrence.analyse([list(g) for g in movies["genres"]], names, config.n_clusters, config.seed)
    by_cluster = analysis.clusters.groupby("cluster")["genre"].apply(lambda g: ", ".join(g)).reset_index()
    return dg.Output(
        analysis,
        metadata={
            "genres": dg.MetadataValue.int(len(names)),
            "movies": dg.MetadataValue.int(len(movies)),
            "clusters": metadata_table(by_cluster),
            "most_frequent_pairs": metadata_table(frequent_pairs(analysis.matrix)),
            "heatmap": dg.MetadataValue.md(png_markdown(analysis.heatmap_png, "genre co-occurrence heatmap")),
            "coclustered_heatmap": dg.MetadataValue.md(png_markdown(analysis.coclustered_png, "co-clustered heatmap")),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"jpeg"},
    partitions_def=release_year_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"movies": dg.AssetIn(metadata={"columns": ["id", "poster_path", "partition"]})},
    automation_condition=ON_CONTENT_CHANGE,
)
def movie_posters(context: dg.AssetExecutionContext, catalog_source: CatalogSourceResource, home: HomeResource,
                  movies: pd.DataFrame) -> dict[str, PosterIndex]:
    """Poster images for every movie that has a ``poster_path`` (tutorial step: posters), by release year.

    Partitioned like the raw records: partition ``1999`` indexes the posters of the movies
    whose record is filed under 1999, so the download of a large catalog spreads over
    partitions (a backfill, or several runs at once) and a new year fetches only its own
    posters. Stored once in the home's poster store under the basename of ``poster_path``
    (never a title), fetched only when not already valid there, so a re-run fetches nothing
    it already has. The index says, per movie, which file it uses and whether it is usable.
    """
    keys = list(context.partition_keys)
    wanted = movies[movies["partition"].isin(keys)]
    unique_paths = sorted(set(wanted["poster_path"].dropna()))
    store = home.posters_dir
    fetched = catalog_source.open().fetch_posters(unique_paths, store, step_progress(context, "posters")) if unique_paths else []
    results = {r.poster_path: r for r in fetched}
    indexes: dict[str, PosterIndex] = {}
    for key in keys:
        rows = wanted[wanted["partition"] == key]
        indexes[key] = index = build_index(list(rows["id"]), list(rows["poster_path"]), results, store)
        context.add_asset_metadata(  # not dagster/row_count: the UI would show the last-written partition's as the asset's
            {"partition_rows": dg.MetadataValue.int(index.rows),
             **{f"posters_{status}": dg.MetadataValue.int(n) for status, n in index.counts().items()}},
            partition_key=key,
        )
    every = PosterIndex.combine(indexes).frame
    failed = every[every["status"] == "failed"]
    for movie_id, reason in zip(failed["id"].head(20), failed["reason"].head(20)):
        context.log.warning(f"poster for movie {movie_id} failed: {reason}")
    context.log.info(f"{len(every)} movies over {len(keys)} release-year partitions, {len(unique_paths)} posters")
    context.add_asset_metadata({  # the step's totals, on every partition it wrote
        "run_movies": dg.MetadataValue.int(len(every)),
        "run_partitions_with_movies": dg.MetadataValue.text(filled_partitions({k: i.rows for k, i in indexes.items()})),
        "poster_store": dg.MetadataValue.path(str(store)),
    })
    return indexes


@dg.asset(
    group_name=GROUP,
    kinds={"parquet"},
    ins={"movies": dg.AssetIn(metadata={"columns": ["id", "imdb_id", "title", "genres"]})},
)
def imdb_tmdb_genre_comparison(imdb_title_basics: pd.DataFrame, movies: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """IMDb's genres vs TMDB's for every movie on both (tutorial step: the Matrix comparison).

    The tutorial compared one movie by eye. Here IMDb genre names are mapped onto TMDB's
    (Sci-Fi -> Science Fiction, Musical -> Music; genres TMDB lacks are listed, not
    guessed), movies are joined on ``imdb_id``, and the table holds every compared movie;
    the agreement rate, per-genre agreement and the disagreements are in the metadata.
    """
    result = imdb.compare_genres(imdb_title_basics[["imdb_id", "imdb_genres"]], movies)
    summary = result.summary
    rate, overlap = summary["agreement_rate"], summary["overlap_rate"]
    columns = ["id", "imdb_id", "title", "tmdb_genres", "imdb_genres", "only_tmdb", "only_imdb"]
    return dg.Output(
        result.per_movie,
        metadata={
            "compared": dg.MetadataValue.int(summary["compared"]),
            "agreement_rate": dg.MetadataValue.float(float(rate) if rate is not None else float("nan")),
            "overlap_rate": dg.MetadataValue.float(float(overlap) if overlap is not None else float("nan")),
            "disagreements": dg.MetadataValue.int(summary["disagree"]),
            "not_in_imdb_file": dg.MetadataValue.int(summary["not_in_imdb_file"]),
            "unmapped_imdb_genres": dg.MetadataValue.json(summary["unmapped_imdb_genres"]),
            "per_genre": metadata_table(result.per_genre),
            "disagreement_examples": metadata_table(result.disagreements[columns].head(20)),
            **column_schema_metadata(result.per_movie),
        },
    )
