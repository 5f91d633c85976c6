"""Model assets: the tutorial's four classifiers, the stronger text model, text + poster fusion, and their comparison.

Thin wiring over ``genre_pipeline.models``: each model asset takes its features, the labels
and the split as typed inputs, trains (seeded; per-genre thresholds fitted on the
validation split), evaluates on the test split with the same plain code ``report`` uses,
and returns the model (the IO manager stores it, self-contained, for ``predict``).
``model_evaluation`` puts every model's test figures side by side.
"""

import dagster as dg
import numpy as np
import pandas as pd

from genre_pipeline.defs.automation import FOLLOW_INPUTS
from genre_pipeline.defs.ingestion.resources import CatalogSourceResource
from genre_pipeline.defs.metadata import markdown_table, png_markdown
from genre_pipeline.features import sentence as sentence_mod, text, vgg16, word2vec
from genre_pipeline.models import evaluation, fusion as fusion_mod, labels, linear, mlp, text_plus as text_plus_mod
from genre_pipeline.models.base import GenreModel, TooFewTrainingMovies
from genre_pipeline.models.evaluation import ModelComparison, SkippedModel
from genre_pipeline.models.labels import GenreLabels
from genre_pipeline.models.registry import MODEL_NAMES

GROUP = "models"


class ModelConfig(dg.Config):
    seed: int = 0


def _texts(genre_labels: GenreLabels) -> list[str]:
    table = genre_labels.table
    return text.movie_texts(list(table["title"]), list(table["overview"]))


def _sentence(embeddings: sentence_mod.SentenceEmbeddings, data: labels.LabelledData) -> sentence_mod.SentenceEmbeddings | None:
    """The sentence vectors aligned to the labels, or ``None`` when the encoder was switched off."""
    return embeddings.aligned(data.ids) if embeddings.config.enabled else None


def _finish(context: dg.AssetExecutionContext, model: GenreModel, X_all, data: labels.LabelledData,
            source: CatalogSourceResource, available: np.ndarray | None = None, **extra) -> dg.Output:
    """Evaluate ``model`` on the test split, keep the record with it, and describe it in the UI."""
    record = evaluation.evaluation_record(evaluation.evaluate_model(model, X_all, data, available),
                                          source=source.describe(), run_id=context.run_id, **extra)
    model.info["evaluation"] = record
    if not record["beats_baseline"]:
        context.log.warning(f"{model.name} does not beat the most-frequent-genres baseline on the test split")
    per_genre = pd.DataFrame(record["per_genre"])[["genre", "precision", "recall", "f1", "support", "predicted"]]
    decisions = pd.DataFrame(record["decisions"]).T.reset_index(names="rule") if record["decisions"] else pd.DataFrame()
    return dg.Output(
        model,
        metadata={
            **{k: dg.MetadataValue.float(round(float(record[k]), 4)) for k in evaluation.SUMMARY_KEYS},
            "baseline_micro_f1": dg.MetadataValue.float(round(float(record["baseline"]["micro_f1"]), 4)),
            "beats_baseline": dg.MetadataValue.bool(bool(record["beats_baseline"])),
            "decision_rule": dg.MetadataValue.text(model.decision_rule),
            "decisions": dg.MetadataValue.md(markdown_table(decisions)),
            "test_movies_evaluated": dg.MetadataValue.int(int(record["n_evaluated"])),
            "coverage": dg.MetadataValue.float(round(float(record["coverage"]), 4)),
            "split_sizes": dg.MetadataValue.json(record["split_sizes"]),
            "evaluation": dg.MetadataValue.md(markdown_table(evaluation.summary_table(record))),
            "per_genre": dg.MetadataValue.md(markdown_table(per_genre)),
            **{k: dg.MetadataValue.text(str(v)) for k, v in extra.items()},
            "source": dg.MetadataValue.text(source.describe()),
        },
    )


def _skip(context: dg.AssetExecutionContext, name: str, reason: str, source: CatalogSourceResource) -> dg.Output:
    """Store that the model could not be trained; it replaces any model trained on other data."""
    context.log.warning(f"{name} not trained: {reason}")
    record = evaluation.skipped_record(name, reason, source=source.describe(), run_id=context.run_id)
    return dg.Output(SkippedModel(name=name, reason=reason, record=record),
                     metadata={"status": dg.MetadataValue.text("skipped"), "reason": dg.MetadataValue.text(reason)})


@dg.asset(group_name=GROUP, kinds={"sklearn"}, automation_condition=FOLLOW_INPUTS)
def svc_tfidf(context: dg.AssetExecutionContext, config: ModelConfig, catalog_source: CatalogSourceResource,
              tfidf_features: text.TextFeatures, genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output:
    """One-vs-rest linear SVC on TF-IDF, ``GridSearchCV`` over C (tutorial: SVC + grid search).

    class_weight balanced, micro-F1 scoring over all genres at once, seeded 3-fold CV on the
    training split. Predicted label sets are the SVM's own; scores are Platt-calibrated.
    """
    data = labels.labelled_data(genre_labels, data_split)
    data.require_same_movies(tfidf_features.ids, "tfidf_features")
    model = linear.train_svc_tfidf(tfidf_features, data, linear.SVCSettings(seed=config.seed))
    return _finish(context, model, tfidf_features.matrix, data, catalog_source, best_C=model.info.get("best_C"))


@dg.asset(group_name=GROUP, kinds={"sklearn"}, automation_condition=FOLLOW_INPUTS)
def naive_bayes_counts(context: dg.AssetExecutionContext, config: ModelConfig, catalog_source: CatalogSourceResource,
                       bow_features: text.TextFeatures, genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output:
    """One-vs-rest multinomial naive Bayes on bag-of-words counts (tutorial-faithful)."""
    data = labels.labelled_data(genre_labels, data_split)
    data.require_same_movies(bow_features.ids, "bow_features")
    model = linear.train_naive_bayes_counts(bow_features, data, linear.NaiveBayesSettings(seed=config.seed))
    return _finish(context, model, bow_features.matrix, data, catalog_source)


@dg.asset(group_name=GROUP, kinds={"pytorch"}, automation_condition=FOLLOW_INPUTS)
def mlp_word2vec(context: dg.AssetExecutionContext, config: ModelConfig, catalog_source: CatalogSourceResource,
                 word2vec_embeddings: word2vec.MeanWord2Vec, genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output:
    """MLP on mean word2vec overview vectors (tutorial: Keras text network; sigmoid + BCE, top-3).

    Early-stopped on the validation split. Movies without an in-vocabulary word cannot be
    scored (``coverage`` < 1), as in the tutorial.
    """
    data = labels.labelled_data(genre_labels, data_split)
    try:
        model = mlp.train_mlp_word2vec(word2vec_embeddings, data, mlp.MLPSettings(seed=config.seed))
    except TooFewTrainingMovies as exc:
        return _skip(context, "mlp_word2vec", str(exc), catalog_source)
    matrix, present = labels.align_rows(word2vec_embeddings.ids, word2vec_embeddings.matrix, data.ids)
    kept, _ = labels.align_rows(word2vec_embeddings.ids, np.asarray(word2vec_embeddings.kept).reshape(-1, 1), data.ids)
    return _finish(context, model, matrix, data, catalog_source, available=present & kept[:, 0],
                   epochs_run=model.info.get("epochs_run"))


@dg.asset(group_name=GROUP, kinds={"pytorch"}, automation_condition=FOLLOW_INPUTS)
def mlp_poster(context: dg.AssetExecutionContext, config: ModelConfig, catalog_source: CatalogSourceResource,
               poster_embeddings: vgg16.PosterFeatures, genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output:
    """MLP on VGG16 poster embeddings (tutorial: Keras poster network; sigmoid + BCE, top-3).

    With no posters (e.g. the tmdb5000 snapshot) it stores ``skipped: no posters`` and
    succeeds; every movie is still classified by the text models.
    """
    data = labels.labelled_data(genre_labels, data_split)
    if not len(poster_embeddings.ids):
        return _skip(context, "mlp_poster", "no posters in this catalog", catalog_source)
    vgg = vgg16.VGG16Config(**poster_embeddings.info["vgg16"])
    try:
        model = mlp.train_mlp_poster(poster_embeddings, vgg, data, mlp.MLPSettings(seed=config.seed))
    except TooFewTrainingMovies as exc:
        return _skip(context, "mlp_poster", str(exc), catalog_source)
    matrix, available = poster_embeddings.align(data.ids)
    return _finish(context, model, matrix, data, catalog_source, available=available, weights=vgg.weights_label())


class TextPlusConfig(dg.Config):
    seed: int = 0
    Cs: list[float] = list(text_plus_mod.DEFAULT_CS)  # chosen on the validation split by ranking quality
    folds: int = 3


@dg.asset(group_name=GROUP, kinds={"sklearn", "gensim"}, automation_condition=FOLLOW_INPUTS)
def text_plus(context: dg.AssetExecutionContext, config: TextPlusConfig, catalog_source: CatalogSourceResource,
              genre_labels: GenreLabels, data_split: pd.DataFrame, word2vec_embeddings: word2vec.MeanWord2Vec,
              sentence_embeddings: sentence_mod.SentenceEmbeddings) -> dg.Output:
    """Stronger text model: title + overview TF-IDF SVMs stacked with sentence-encoder and word2vec learners.

    ``C`` chosen on the validation split by ranking quality, Platt-calibrated probabilities
    from out-of-fold margins, cross-fitted logistic models on the sentence embeddings
    (all-MiniLM-L6-v2) and on the mean word2vec, stacked per genre (a combination is kept
    only if validation log-loss improves significantly), per-genre validation thresholds.
    """
    data = labels.labelled_data(genre_labels, data_split)
    texts = _texts(genre_labels)
    sentence = _sentence(sentence_embeddings, data)
    if sentence is None:
        context.log.info("sentence encoder switched off: TF-IDF and word2vec only")
    settings = text_plus_mod.TextPlusSettings(Cs=tuple(config.Cs) or text_plus_mod.DEFAULT_CS, folds=config.folds, seed=config.seed)
    model = text_plus_mod.train_text_plus(texts, data, settings, word_vectors=word2vec_embeddings.vectors, sentence=sentence)
    X_all = model.transform(texts, sentence=sentence)
    return _finish(context, model, X_all, data, catalog_source, C=model.C, sources=" + ".join(model.info.get("sources", ["svm"])))


class FusionConfig(dg.Config):
    seed: int = 0
    min_z: float = 1.645  # the combiner must beat the best single modality on validation by this paired z-score


@dg.asset(group_name=GROUP, kinds={"sklearn", "pytorch"}, automation_condition=FOLLOW_INPUTS)
def fusion(context: dg.AssetExecutionContext, config: FusionConfig, catalog_source: CatalogSourceResource,
           text_plus: text_plus_mod.TextPlusModel, poster_embeddings: vgg16.PosterFeatures, genre_labels: GenreLabels,
           data_split: pd.DataFrame, sentence_embeddings: sentence_mod.SentenceEmbeddings) -> dg.Output:
    """Text + poster fusion (the tutorial's closing remark: "combine the two").

    The text model (``text_plus``) and a poster model (whitened VGG16 embeddings, logistic
    regressions), both cross-fitted, combined by per-genre late fusion of their calibrated
    probabilities; kept only if it beats the best single modality on validation with a
    paired z-score above ``min_z``, else the fusion model *is* that modality. Missing
    poster: text alone; empty text: poster alone; neither: genre frequencies.
    """
    data = labels.labelled_data(genre_labels, data_split)
    texts = _texts(genre_labels)
    sentence = _sentence(sentence_embeddings, data)
    has_posters = bool(len(poster_embeddings.ids))
    vgg = vgg16.VGG16Config(**poster_embeddings.info["vgg16"]) if has_posters else None
    model = fusion_mod.train_fusion(texts, data, poster_embeddings if has_posters else None, vgg,
                                    fusion_mod.FusionSettings(min_z=config.min_z, seed=config.seed),
                                    text_model=text_plus, sentence=sentence)
    if has_posters:
        posters, has_poster = poster_embeddings.align(data.ids)
        X_all = fusion_mod.FusionInput(texts, posters, has_poster, sentence)
    else:
        X_all = fusion_mod.FusionInput(texts, sentence=sentence)
    if vgg is not None and vgg.weights == "random":
        context.log.warning("fusion: poster features come from RANDOM VGG16 weights, not ImageNet")
    return _finish(context, model, X_all, data, catalog_source, method=model.info.get("method"),
                   movies_with_poster=int(len(poster_embeddings.ids)))


@dg.asset(group_name=GROUP, kinds={"json", "png"}, automation_condition=FOLLOW_INPUTS)
def model_evaluation(svc_tfidf, naive_bayes_counts, mlp_word2vec, mlp_poster, text_plus, fusion) -> dg.Output[ModelComparison]:
    """Every model on the same test split, side by side (tutorial: printed precision / recall).

    Micro / macro / samples F1 and the tutorial's per-movie precision / recall per model,
    under its own rule, under validation thresholds and under top-3, the most-frequent-genres
    baseline, coverage, a bar chart and a per-genre F1 table. Skipped models (no posters)
    are listed with the reason.
    """
    models = {"svc_tfidf": svc_tfidf, "naive_bayes_counts": naive_bayes_counts, "mlp_word2vec": mlp_word2vec,
              "mlp_poster": mlp_poster, "text_plus": text_plus, "fusion": fusion}
    records = {name: (models[name].record if isinstance(models[name], SkippedModel) else models[name].info["evaluation"])
               for name in MODEL_NAMES}
    comparison = ModelComparison(records=records)
    frame = comparison.frame()
    trained = frame[frame["status"] == "trained"] if len(frame) else frame
    return dg.Output(
        comparison,
        metadata={
            "models": dg.MetadataValue.int(len(frame)),
            "trained": dg.MetadataValue.int(len(trained)),
            "best_by_micro_f1": dg.MetadataValue.text(str(comparison.best())),
            "comparison": dg.MetadataValue.md(markdown_table(frame)),
            "chart": dg.MetadataValue.md(png_markdown(comparison.chart(), "model comparison")),
            "per_genre_f1": dg.MetadataValue.md(markdown_table(comparison.per_genre())),
        },
    )
