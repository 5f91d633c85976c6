"""Catalog assets: raw records per release year → movies → genre analysis, posters.

Thin wiring over ``genre_pipeline.ingestion`` and ``genre_pipeline.catalog``: each asset calls
the science, writes its files atomically into the home and reports metadata for the UI.
"""


import json

import dagster as dg
import pandas as pd

from genre_pipeline.storage.atomic import atomic_write_bytes, atomic_write_json, atomic_write_parquet
from genre_pipeline.catalog import cooccurrence, dedup, genres
from genre_pipeline.catalog.changes import RAW_CHANGES_TABLE
from genre_pipeline.defs.metadata import markdown_table, png_markdown
from genre_pipeline.defs.partitions import release_year_partitions
from genre_pipeline.defs.resources import CatalogSourceResource, HomeResource
from genre_pipeline.storage.home import Home
from genre_pipeline.ingestion.records import QuarantinedLine

RAW_TABLE = "raw_movie_records"
QUARANTINE_FILE = "raw_movie_records.jsonl"


def _write_quarantine(home: Home, lines: list[QuarantinedLine]) -> None:
    payload = "".join(json.dumps({"file": q.file, "line": q.line, "reason": q.reason, "raw": q.raw}) + "\n" for q in lines)
    atomic_write_bytes(home.quarantine_dir / QUARANTINE_FILE, payload.encode("utf-8"))


def read_quarantine(home: Home) -> pd.DataFrame:
    path = home.quarantine_dir / QUARANTINE_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame(columns=["file", "line", "reason", "raw"])
    return pd.read_json(path, lines=True)


@dg.asset(
    group_name="ingestion",
    partitions_def=release_year_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"parquet"},
    pool="tmdb",  # with source "tmdb" this step calls the API
)
def raw_movie_records(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource) -> None:
    """Raw TMDB ``/movie/{id}`` records for one release year (tutorial step: scraping TMDB).

    Improves on the tutorial's pickled scrape loop: one parquet file per release year
    (``tables/raw_movie_records/<year>.parquet``), rewritten whole on every run so re-running
    a partition overwrites it; each row keeps where and when it was fetched so the movie
    table can let the latest record win. Unusable input lines are quarantined with
    ``file:line`` and the reason, never dropped silently. A range of years runs in one step.
    """
    the_home = home.home
    source = catalog_source.open()
    fetched_at = pd.Timestamp.now(tz="UTC")
    quarantined = list(getattr(source, "quarantined", []))
    total = 0
    for key in context.partition_keys:
        fetch = source.fetch_year(key)
        quarantined.extend(fetch.quarantined)
        seqs = fetch.stats.get("source_seq")
        frame = dedup.raw_frame(fetch.records, key, fetched_at, seqs)
        path = atomic_write_parquet(frame, the_home.partition_path(RAW_TABLE, key))
        total += len(frame)
        stats = {k: v for k, v in fetch.stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        context.add_asset_metadata(
            {
                "records": dg.MetadataValue.int(len(frame)),
                "missing_ids": dg.MetadataValue.int(len(fetch.missing_ids)),
                "source": dg.MetadataValue.json(source.describe()),
                "path": dg.MetadataValue.path(str(path)),
                **{f"stat_{k}": v for k, v in stats.items()},
            },
            partition_key=key,
        )
    _write_quarantine(the_home, quarantined)
    for q in quarantined[:50]:
        context.log.warning(f"quarantined {q.location()}: {q.reason}")
    if len(quarantined) > 50:
        context.log.warning(f"... and {len(quarantined) - 50} more quarantined lines, see {the_home.quarantine_dir / QUARANTINE_FILE}")
    context.log.info(f"{total} records over {len(context.partition_keys)} release-year partitions; {len(quarantined)} lines quarantined")


def _read_raw(the_home: Home) -> pd.DataFrame:
    # Year partitions plus records re-fetched by the daily changes asset (latest wins).
    paths = [*the_home.partition_paths(RAW_TABLE), *the_home.partition_paths(RAW_CHANGES_TABLE)]
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return dedup.raw_frame([], "", pd.Timestamp.now(tz="UTC"))
    return pd.concat(frames, ignore_index=True)


@dg.asset(group_name="catalog", deps=[raw_movie_records], kinds={"parquet"})
def genre_vocabulary(home: HomeResource, catalog_source: CatalogSourceResource) -> dg.MaterializeResult:
    """TMDB's genre list plus legacy ids found in the records (tutorial step: genre list).

    The tutorial discovered id 10769 missing from TMDB's list and patched it to "Foreign"
    by hand; here legacy ids come from a documented table and unknown ids are flagged.
    """
    the_home = home.home
    raw = _read_raw(the_home)
    vocabulary = genres.build_vocabulary(catalog_source.open().genre_list(), dedup.all_genre_ids(raw["record_json"]))
    path = atomic_write_parquet(vocabulary, the_home.table_path("genre_vocabulary"))
    return dg.MaterializeResult(
        metadata={
            "genres": dg.MetadataValue.int(len(vocabulary)),
            "legacy_genres": dg.MetadataValue.int(int(vocabulary["legacy"].sum())),
            "unknown_genres": dg.MetadataValue.int(int((~vocabulary["known"]).sum())),
            "vocabulary": dg.MetadataValue.md(markdown_table(vocabulary)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    group_name="catalog",
    deps=[raw_movie_records, genre_vocabulary],
    kinds={"parquet"},
    check_specs=[
        dg.AssetCheckSpec("unique_id", asset="movies", description="every movie id appears exactly once"),
        dg.AssetCheckSpec("non_empty_title", asset="movies", description="every movie has a title"),
        dg.AssetCheckSpec("genre_ids_known", asset="movies", description="every genre id is in TMDB's list or mapped as legacy"),
    ],
)
def movies(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    """The deduplicated movie table, latest record wins (tutorial step: the movie dataset).

    A movie found in two release-year partitions (a re-release, a corrected date) appears
    once, from its most recently fetched record. Written to ``tables/movies.parquet``.
    """
    the_home = home.home
    raw = _read_raw(the_home)
    vocabulary = pd.read_parquet(the_home.table_path("genre_vocabulary"))
    table = dedup.build_movie_table(raw, genres.id_to_name(vocabulary))
    path = atomic_write_parquet(table, the_home.table_path("movies"))

    duplicates = int(table["id"].duplicated().sum())
    untitled = table.loc[table["title"].str.len() == 0, "id"].tolist()
    known_ids = set(vocabulary.loc[vocabulary["known"], "id"].astype(int))
    unknown = sorted({g for ids in table["genre_ids"] for g in ids} - known_ids)
    quarantine = read_quarantine(the_home)
    if len(quarantine):
        context.log.warning(f"{len(quarantine)} input lines are quarantined in {the_home.quarantine_dir}")
    years = table["release_year"].dropna()
    preview_columns = ["id", "title", "release_date", "genres", "poster_path"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(table)),
            "raw_records": dg.MetadataValue.int(len(raw)),
            "duplicates_merged": dg.MetadataValue.int(len(raw) - len(table)),
            "quarantined_lines": dg.MetadataValue.int(len(quarantine)),
            "quarantine": dg.MetadataValue.md(markdown_table(quarantine[["file", "line", "reason"]].head(20)) if len(quarantine) else "none"),
            "empty_overviews": dg.MetadataValue.int(int((table["overview"] == "").sum())),
            "without_poster_path": dg.MetadataValue.int(int(table["poster_path"].isna().sum())),
            "undated": dg.MetadataValue.int(int(table["release_year"].isna().sum())),
            "years": dg.MetadataValue.text(f"{int(years.min())}-{int(years.max())}" if len(years) else "none"),
            "preview": dg.MetadataValue.md(markdown_table(table[preview_columns].head(10))),
            "path": dg.MetadataValue.path(str(path)),
        },
        check_results=[
            dg.AssetCheckResult(check_name="unique_id", passed=duplicates == 0, metadata={"duplicate_ids": duplicates}),
            dg.AssetCheckResult(
                check_name="non_empty_title",
                passed=not untitled,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"untitled": len(untitled), "example_ids": str(untitled[:10])},
            ),
            dg.AssetCheckResult(check_name="genre_ids_known", passed=not unknown, metadata={"unknown_genre_ids": str(unknown)}),
        ],
    )


class CooccurrenceConfig(dg.Config):
    n_clusters: int = 5
    seed: int = 0


@dg.asset(group_name="catalog", deps=[movies, genre_vocabulary], kinds={"parquet", "sklearn"})
def genre_cooccurrence(home: HomeResource, config: CooccurrenceConfig) -> dg.MaterializeResult:
    """Genre co-occurrence and spectral co-clustering (tutorial step: genre correlations).

    The matrix is symmetric with genre counts on the diagonal (``tables/genre_cooccurrence``);
    ``SpectralCoclustering`` into K clusters groups genres that appear together, shown as a
    heatmap reordered by cluster next to the raw heatmap (``reports/*.png``).
    """
    the_home = home.home
    table = pd.read_parquet(the_home.table_path("movies"), columns=["id", "genres"])
    vocabulary = pd.read_parquet(the_home.table_path("genre_vocabulary"))
    names = [n for n, c in zip(vocabulary["name"], vocabulary["movie_count"]) if c > 0] or list(vocabulary["name"])
    matrix = cooccurrence.cooccurrence_matrix(list(table["genres"]), names)
    clusters, order = cooccurrence.spectral_coclusters(matrix, config.n_clusters, config.seed)

    stored = matrix.reset_index(names="genre")
    atomic_write_parquet(stored, the_home.table_path("genre_cooccurrence"))
    atomic_write_parquet(clusters, the_home.table_path("genre_coclusters"))
    heatmap = cooccurrence.heatmap_png(matrix, "Genre co-occurrence (diagonal = movies per genre)")
    reordered = cooccurrence.heatmap_png(
        matrix, f"Spectral co-clustering, K={config.n_clusters}", order=order, clusters=list(clusters["cluster"])
    )
    atomic_write_bytes(the_home.reports_dir / "genre_cooccurrence.png", heatmap)
    atomic_write_bytes(the_home.reports_dir / "genre_coclusters.png", reordered)
    atomic_write_json(
        the_home.reports_dir / "genre_coclusters.json",
        {str(c): list(g) for c, g in clusters.groupby("cluster")["genre"]},
    )
    by_cluster = clusters.groupby("cluster")["genre"].apply(lambda g: ", ".join(g)).reset_index()
    return dg.MaterializeResult(
        metadata={
            "genres": dg.MetadataValue.int(len(names)),
            "movies": dg.MetadataValue.int(len(table)),
            "heatmap": dg.MetadataValue.md(png_markdown(heatmap, "genre co-occurrence heatmap")),
            "coclustered_heatmap": dg.MetadataValue.md(png_markdown(reordered, "co-clustered heatmap")),
            "clusters": dg.MetadataValue.md(markdown_table(by_cluster)),
            "path": dg.MetadataValue.path(str(the_home.table_path("genre_cooccurrence"))),
        }
    )


@dg.asset(group_name="ingestion", deps=[movies], kinds={"jpeg"})
def movie_posters(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource) -> dg.MaterializeResult:
    """Poster images for every movie that has a ``poster_path`` (tutorial step: posters).

    Stored under ``posters/`` by the basename of ``poster_path`` (never a title), fetched
    only when not already valid on disk, so a re-run fetches nothing it already has.
    Index: ``tables/movie_posters.parquet`` with a status per movie.
    """
    the_home = home.home
    table = pd.read_parquet(the_home.table_path("movies"), columns=["id", "poster_path"])
    with_path = table[table["poster_path"].notna()]
    unique_paths = sorted(set(with_path["poster_path"]))
    results = {r.poster_path: r for r in catalog_source.open().fetch_posters(unique_paths, the_home.posters_dir)} if unique_paths else {}
    rows = []
    for movie_id, poster_path in zip(table["id"], table["poster_path"]):
        result = results.get(poster_path) if isinstance(poster_path, str) else None
        if result is None:
            rows.append({"id": int(movie_id), "poster_path": None, "poster_file": None, "status": "missing", "reason": "no poster_path"})
        else:
            rows.append(
                {
                    "id": int(movie_id),
                    "poster_path": poster_path,
                    "poster_file": result.file.name if result.file is not None else None,
                    "status": result.status,
                    "reason": result.reason,
                }
            )
    index = pd.DataFrame(rows, columns=["id", "poster_path", "poster_file", "status", "reason"])
    path = atomic_write_parquet(index, the_home.table_path("movie_posters"))
    counts = index["status"].value_counts().to_dict()
    failed = index[index["status"] == "failed"]
    for movie_id, reason in zip(failed["id"].head(20), failed["reason"].head(20)):
        context.log.warning(f"poster for movie {movie_id} failed: {reason}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(index)),
            **{f"posters_{status}": dg.MetadataValue.int(int(counts.get(status, 0))) for status in ("present", "fetched", "missing", "failed")},
            "posters_dir": dg.MetadataValue.path(str(the_home.posters_dir)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )
