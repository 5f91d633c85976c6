"""Issue 5 model assets: the stronger text model and the text + poster fusion model.

Thin wiring over :mod:`genre_pipeline.models.text_plus`, :mod:`genre_pipeline.models.fusion`
and :mod:`genre_pipeline.models.fusion_models`, following the tutorial model assets in
``assets.py``: each asset trains on the training split, fits per-genre thresholds on the
validation split, saves the model (thresholds included) under ``models/<name>/``, writes
every movie's scores to ``tables/model_scores/<name>.parquet`` and its test evaluation to
``reports/evaluation/<name>.json``, so ``model_evaluation`` and ``genre-pipeline report``
show them next to the tutorial's models.

Tutorial step extended: the closing remark "in more complicated models, we can combine the
two [text and poster]". The fusion model does that; a movie without a poster or without an
overview still gets a prediction from what it has.
"""


import dagster as dg
import numpy as np
import pandas as pd

from genre_pipeline.defs.catalog.assets import movies
from genre_pipeline.defs.features import assets as features
from genre_pipeline.defs.metadata import markdown_table
from genre_pipeline.defs.models import assets as models
from genre_pipeline.defs.resources import CatalogSourceResource, HomeResource
from genre_pipeline.models import classifiers, training
from genre_pipeline.models.fusion import DEFAULT_METHODS, train_fusion
from genre_pipeline.models.fusion_models import (
    FusionGenreModel,
    FusionInput,
    TextPlusGenreModel,
    attach_thresholds,
    load_latest_extra,
)
from genre_pipeline.models.text_plus import DEFAULT_CS, compose_texts, train_text_plus

TEXT_PLUS = "text_plus"
FUSION = "fusion"


class TextPlusConfig(dg.Config):
    seed: int = 0
    Cs: list[float] = list(DEFAULT_CS)  # chosen on the validation split by ranking quality
    folds: int = 3


class FusionConfig(dg.Config):
    seed: int = 0
    methods: list[str] = list(DEFAULT_METHODS)  # add "gmu" to let the GMU compete (measured: it loses, see bench)
    min_z: float = 1.645  # a combiner must beat the best single modality on validation by this paired z-score


def _texts(the_home, data: training.LabelledData) -> tuple[list[str], list[str]]:
    frame = features._movie_text_columns(the_home, data)
    return list(frame["overview"].astype(str)), list(frame["title"].astype(str))


def _threshold_table(model: classifiers.GenreModel) -> str:
    table = pd.DataFrame(model.info["thresholds"]["values"], index=model.labels, columns=["threshold"]).round(3)
    return markdown_table(table.reset_index(names="genre"))


def _with_metadata(result: dg.MaterializeResult, extra: dict) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={**(result.metadata or {}), **extra})


def _word_vectors(the_home):
    """The pipeline's word vectors (``word2vec_embeddings`` asset), or ``None`` if absent."""
    from pathlib import Path

    from genre_pipeline.features.word2vec import load_keyed_vectors

    try:
        _, _, _, info = features.read_word2vec(the_home)
    except FileNotFoundError:
        return None
    path = Path(info["word_vectors_file"])
    return load_keyed_vectors(path if path.is_absolute() else the_home.features_dir / path, info.get("limit"))


@dg.asset(group_name=models.GROUP, deps=[features.sentence_embeddings, features.word2vec_embeddings, features.genre_labels,
                                          features.data_split, movies], kinds={"sklearn", "gensim"})
def text_plus(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource,
              config: TextPlusConfig) -> dg.MaterializeResult:
    """Stronger text model: title + overview TF-IDF SVMs stacked with sentence-encoder and word2vec learners.

    Extends the tutorial's SVM and word2vec network: ``C`` chosen on the validation split by
    ranking quality, Platt-calibrated probabilities from out-of-fold margins, cross-fitted
    logistic models on the ``sentence_embeddings`` (all-MiniLM-L6-v2) and on the pipeline's
    mean word2vec, stacked per genre (a combination is kept only if validation log-loss
    improves significantly), per-genre thresholds fitted on validation (stored with the
    model); the top-3 rule is reported next to them.
    """
    the_home = home.home
    data = features.read_labelled_data(the_home)
    overviews, titles = _texts(the_home, data)
    texts = np.asarray(compose_texts(overviews, titles), dtype=object)
    train, val = data.rows("train"), data.rows("validation")
    Cs = list(config.Cs) or list(DEFAULT_CS)
    sentence, sentence_config = features.read_sentence_embeddings(the_home, data.ids)
    if sentence is None:
        context.log.info("no sentence embeddings (sentence_embeddings off or not materialized): TF-IDF and word2vec only")
    core = train_text_plus(list(texts[train]), data.Y[train], data.labels, list(texts[val]), data.Y[val],
                           Cs=Cs, folds=config.folds, seed=config.seed, word_vectors=_word_vectors(the_home),
                           sentence_config=sentence_config, sentence_train=None if sentence is None else sentence[train],
                           sentence_val=None if sentence is None else sentence[val])
    model = TextPlusGenreModel(name=TEXT_PLUS, labels=list(data.labels), input_kind="title+overview",
                               decision_rule="thresholds", info={**core.info, "text": "title+overview"}, model=core)
    X_all = core.transform(list(texts), sentence=sentence)  # already composed: title + overview
    attach_thresholds(model, core.predict_proba_X(X_all[val]), data.Y[val], seed=config.seed)
    extra = {"C": core.C, "features": int(X_all.shape[1]), "sources": " + ".join(core.sources),
             "sentence": str(core.info.get("sentence")), "word2vec": str(core.info.get("word2vec")),
             "shrinkage_k": str(model.info["thresholds"]["info"].get("shrinkage_k"))}
    result = models._finish(context, the_home, model, X_all, data, None, models.source_description(catalog_source), extra)
    return _with_metadata(result, {"thresholds": dg.MetadataValue.md(_threshold_table(model))})


@dg.asset(group_name=models.GROUP, deps=[text_plus, features.sentence_embeddings, features.poster_embeddings, features.genre_labels,
                                          features.data_split, movies],
          kinds={"sklearn", "pytorch"})
def fusion(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource,
           config: FusionConfig) -> dg.MaterializeResult:
    """Text + poster fusion (tutorial's closing remark: "combine the two").

    Cross-fitted text model (``text_plus``, reused) and poster model (whitened VGG16
    embeddings, logistic regressions), combined by per-genre late fusion of their calibrated
    probabilities; the combiner is kept only if it beats the best single modality on the
    validation split with a paired z-score above ``min_z``, else the fusion model *is* that
    modality. Missing poster: text alone; empty text: poster alone; neither: genre
    frequencies. Per-genre thresholds from validation are stored with the model.
    """
    the_home = home.home
    data = features.read_labelled_data(the_home)
    overviews, titles = _texts(the_home, data)
    ids, matrix, info = features.read_poster_embeddings(the_home)
    dim = int(matrix.shape[1]) if matrix.ndim == 2 and matrix.shape[1] else 512
    posters, has_poster = training.align_rows(ids, matrix.reshape(len(ids), dim), data.ids)
    text_model = None
    try:
        loaded = load_latest_extra(the_home.models_dir, TEXT_PLUS)
        text_model = loaded.model if isinstance(loaded, TextPlusGenreModel) else None
    except classifiers.ModelNotFoundError:
        context.log.info("text_plus not materialized: training the text model inside fusion")
    sentence, sentence_config = features.read_sentence_embeddings(the_home, data.ids)
    core = train_fusion(overviews, titles, posters, has_poster, data.Y, data.split, data.labels,
                        methods=config.methods, min_z=config.min_z, seed=config.seed, text_model=text_model,
                        sentence=sentence, sentence_config=sentence_config)
    weights = info.get("vgg16", {}).get("weights", "none")
    model = FusionGenreModel(
        name=FUSION, labels=list(data.labels), input_kind="text+poster", decision_rule="thresholds",
        info={"method": core.method, "selection": core.info["selection"], "weights": weights,
              "thresholds": core.thresholds.to_dict(), "train_with_poster": core.info["train_with_poster"],
              "text": "title+overview"},
        # a new poster is embedded exactly as the training posters were (resolved precision too)
        model=core, vgg16={**info.get("vgg16", {}), **({"precision": info["precision"]} if info.get("precision") else {})},
    )
    X_all = FusionInput(overviews, titles, posters, has_poster, sentence)
    selection = core.info["selection"]
    extra = {"method": core.method, "best_single_modality": selection["best_single"],
             "movies_with_poster": int(has_poster.sum()), "poster_weights": str(weights)}
    if weights == "random":
        context.log.warning("fusion: poster features come from RANDOM VGG16 weights, not ImageNet")
    if core.method in ("text", "poster"):
        context.log.info(f"fusion fell back to the {core.method} model: no combiner beat it significantly on validation")
    result = models._finish(context, the_home, model, X_all, data, None, models.source_description(catalog_source), extra)
    rows = [{"candidate": m, "validation_log_loss": selection["mean_log_loss"].get(m),
             "validation_ranking_quality": selection["ranking_quality"].get(m),
             "z_vs_best_single": selection["z_vs_best_single"].get(m, "")} for m in selection["mean_log_loss"]]
    meta = {"selection": dg.MetadataValue.md(markdown_table(pd.DataFrame(rows))),
            "thresholds": dg.MetadataValue.md(_threshold_table(model))}
    if core.late is not None:
        late = pd.DataFrame(core.late.weights, columns=["w_text", "w_poster", "bias"], index=data.labels).round(3)
        meta["late_fusion_weights"] = dg.MetadataValue.md(markdown_table(late.reset_index(names="genre")))
    return _with_metadata(result, meta)


FUSION_ASSETS = [text_plus, fusion]
