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
from genre_pipeline.defs.metadata import metadata_table, png_markdown
from genre_pipeline.defs.progress import step_progress
from genre_pipeline.features import facts as facts_mod, sentence as sentence_mod, text, vgg16, word2vec
from genre_pipeline.defs.settings import choice
from genre_pipeline.models import evaluation, finetune, fusion as fusion_mod, labels, linear, mlp, text_plus as text_plus_mod
from genre_pipeline.models.base import GenreModel, TooFewTrainingMovies
from genre_pipeline.models.evaluation import ModelComparison, SkippedModel
from genre_pipeline.models.labels import GenreLabels
from genre_pipeline.models.registry import MODEL_NAMES

GROUP = "models"
FINETUNE_ENV = "GENRE_PIPELINE_FINETUNE"  # auto | on | off


def _pair(frame: pd.DataFrame, rule: str) -> list[str]:
    """``micro/macro`` F1 under ``rule`` (``thresholds`` or ``top3``) as one cell, ``-`` where not measured."""
    def shown(value) -> str:
        return "-" if value is None or pd.isna(value) else f"{value:.3f}"

    return [f"{shown(a)}/{shown(b)}" for a, b in zip(frame[f"{rule}_micro_f1"], frame[f"{rule}_macro_f1"])]


COLUMN_NOTES = {
    "decision_rules": {
        "own rule": "the rule behind the model's figures in the comparison table",
        "thresholds": "micro / macro F1 with per-genre thresholds fitted on the validation split",
        "top-3": "micro / macro F1 predicting each movie's three best-scored genres (the tutorial's rule)",
    },
}


def comparison_tables(comparison: ModelComparison) -> dict[str, pd.DataFrame]:
    """The comparison as narrow tables (five columns at most), which the asset page shows inline without scrolling.

    ``comparison``: each trained model's figures under its own rule; ``decision_rules``: micro /
    macro F1 under validation thresholds and under top-3 (:data:`COLUMN_NOTES` says so in the
    schema); ``per_genre_best``: each genre's best model on the test split.
    """
    frame = comparison.frame()
    trained = frame[frame["status"] == "trained"].reset_index(drop=True) if len(frame) else frame
    if not len(trained):
        return {}
    figures = trained[["model", "micro_f1", "macro_f1", "samples_f1", "coverage"]].rename(
        columns={"micro_f1": "micro F1", "macro_f1": "macro F1", "samples_f1": "samples F1"})
    rules = pd.DataFrame({"model": trained["model"], "own rule": trained["rule"],
                          "thresholds": _pair(trained, "thresholds"), "top-3": _pair(trained, "top3")})
    per_genre = comparison.per_genre()
    scores = per_genre.drop(columns="genre")
    leaders = pd.DataFrame({"genre": per_genre["genre"], "best F1": scores.max(axis=1),
                            "best model": [str(row.idxmax()) if row.max() > 0 else "none" for _, row in scores.iterrows()]})
    return {"comparison": figures, "decision_rules": rules, "per_genre_best": leaders}


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
            "decisions": metadata_table(decisions),
            "test_movies_evaluated": dg.MetadataValue.int(int(record["n_evaluated"])),
            "coverage": dg.MetadataValue.float(round(float(record["coverage"]), 4)),
            "split_sizes": dg.MetadataValue.json(record["split_sizes"]),
            "evaluation": metadata_table(evaluation.summary_table(record).rename(columns={"": "model"})),
            "per_genre": metadata_table(per_genre),
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
        model = mlp.train_mlp_word2vec(word2vec_embeddings, data, mlp.MLPSettings(seed=config.seed),
                                       progress=step_progress(context, "epochs"))
    except TooFewTrainingMovies as exc:
        return _skip(context, "mlp_word2vec", str(exc), catalog_source)
    matrix, present = labels.align_rows(word2vec_embeddings.ids, word2vec_embeddings.matrix, data.ids)
    kept, _ = labels.align_rows(word2vec_embeddings.ids, np.asarray(word2vec_embeddings.kept).reshape(-1, 1), data.ids)
    return _finish(context, model, matrix, data, catalog_source, available=present & kept[:, 0],
                   epochs_run=model.info.get("epochs_run"))


@dg.asset(group_name=GROUP, kinds={"pytorch"}, automation_condition=FOLLOW_INPUTS)
def mlp_poster(context: dg.AssetExecutionContext, config: ModelConfig, catalog_source: CatalogSourceResource,
               poster_embeddings: dict[str, vgg16.PosterFeatures], genre_labels: GenreLabels,
               data_split: pd.DataFrame) -> dg.Output:
    """MLP on VGG16 poster embeddings (tutorial: Keras poster network; sigmoid + BCE, top-3).

    With no posters (e.g. the tmdb5000 snapshot) it stores ``skipped: no posters`` and
    succeeds; every movie is still classified by the text models.
    """
    data = labels.labelled_data(genre_labels, data_split)
    posters = vgg16.PosterFeatures.combine(poster_embeddings)  # every release-year partition
    if not len(posters.ids):
        return _skip(context, "mlp_poster", "no posters in this catalog", catalog_source)
    vgg = vgg16.VGG16Config(**posters.info["vgg16"])
    try:
        model = mlp.train_mlp_poster(posters, vgg, data, mlp.MLPSettings(seed=config.seed),
                                     progress=step_progress(context, "epochs"))
    except TooFewTrainingMovies as exc:
        return _skip(context, "mlp_poster", str(exc), catalog_source)
    matrix, available = posters.align(data.ids)
    return _finish(context, model, matrix, data, catalog_source, available=available, weights=vgg.weights_label())


class FineTuneConfig(dg.Config):
    mode: str | None = None  # auto | on | off; default: env GENRE_PIPELINE_FINETUNE, else off for the demo, auto otherwise
    seed: int = 0
    max_epochs: int = finetune.FineTuneSettings.max_epochs
    max_seq_length: int = finetune.FineTuneSettings.max_seq_length
    loss: str = finetune.FineTuneSettings.loss  # balanced (rare genres weighted up) | bce
    max_cpu_train_movies: int = finetune.FineTuneSettings.max_cpu_train_movies
    device: str = "auto"  # auto: CUDA when present, else CPU


@dg.asset(group_name=GROUP, kinds={"pytorch", "huggingface"}, automation_condition=FOLLOW_INPUTS)
def text_finetuned(context: dg.AssetExecutionContext, config: FineTuneConfig, catalog_source: CatalogSourceResource,
                   genre_labels: GenreLabels, data_split: pd.DataFrame) -> dg.Output:
    """The MiniLM sentence encoder fine-tuned end to end with a multi-label head (beyond the tutorial's frozen features).

    Title + overview, class-balanced binary cross-entropy, AdamW, early-stopped on the
    validation split, seeded; CUDA when present. ``auto``: on CUDA always, on CPU while the
    training split has at most ``max_cpu_train_movies`` movies; the demo leaves it off (its
    run must stay fast). When it does not run, the asset stores why and ``text_plus`` goes on
    without it.
    """
    mode = config.mode or choice(FINETUNE_ENV, finetune.MODES, "off" if catalog_source.resolved_kind() == "demo" else "auto")
    data = labels.labelled_data(genre_labels, data_split)
    settings = finetune.FineTuneSettings(seed=config.seed, max_epochs=config.max_epochs, max_seq_length=config.max_seq_length,
                                         loss=config.loss, max_cpu_train_movies=config.max_cpu_train_movies, device=config.device)
    plan = finetune.fine_tuning_plan(mode, int(data.rows("train").sum()), settings)
    if not plan.run:
        reason = f"{plan.reason} (mode {mode})"
        if catalog_source.resolved_kind() == "demo" and mode == "off":
            reason = "fine-tuning off in the demo (its run stays fast); GENRE_PIPELINE_FINETUNE=on turns it on"
        return _skip(context, "text_finetuned", reason, catalog_source)
    context.log.info(plan.reason)
    texts = _texts(genre_labels)
    model = finetune.train_finetuned(texts, data, settings, log=context.log.info)
    return _finish(context, model, np.asarray(texts, dtype=object), data, catalog_source, device=model.info["device"],
                   epochs_run=model.info["epochs_run"], train_seconds=model.info["train_seconds"])


class TextPlusConfig(dg.Config):
    seed: int = 0
    Cs: list[float] = list(text_plus_mod.DEFAULT_CS)  # chosen on the validation split by ranking quality
    folds: int = 3


@dg.asset(group_name=GROUP, kinds={"sklearn", "gensim"}, automation_condition=FOLLOW_INPUTS)
def text_plus(context: dg.AssetExecutionContext, config: TextPlusConfig, catalog_source: CatalogSourceResource,
              genre_labels: GenreLabels, data_split: pd.DataFrame, tfidf_features: text.TextFeatures,
              word2vec_embeddings: word2vec.MeanWord2Vec, sentence_embeddings: sentence_mod.SentenceEmbeddings,
              text_finetuned) -> dg.Output:
    """Stronger text model: title + overview TF-IDF SVMs stacked with sentence-encoder and word2vec learners.

    ``C`` chosen on the validation split by ranking quality, Platt-calibrated probabilities
    from out-of-fold margins, cross-fitted logistic models on the sentence embeddings
    (all-MiniLM-L6-v2) and on the mean word2vec, stacked per genre (a combination is kept
    only if validation log-loss improves significantly), and the fine-tuned encoder
    (``text_finetuned``) blended in when validation says so; per-genre validation thresholds.
    Reads the ``tfidf_features`` (large catalogs: hashed, SVMs fitted by SGD).
    """
    data = labels.labelled_data(genre_labels, data_split)
    texts = _texts(genre_labels)
    sentence = _sentence(sentence_embeddings, data)
    if sentence is None:
        context.log.info("sentence encoder switched off: TF-IDF and word2vec only")
    finetuned = None if isinstance(text_finetuned, SkippedModel) else text_finetuned
    embedded = word2vec_embeddings.vectors.mean(texts)  # title + overview, as the model reads a new movie
    mean_vectors = (embedded.matrix, embedded.kept)
    settings = text_plus_mod.TextPlusSettings(Cs=tuple(config.Cs) or text_plus_mod.DEFAULT_CS, folds=config.folds, seed=config.seed)
    model = text_plus_mod.train_text_plus(texts, data, settings, word_vectors=word2vec_embeddings.vectors, sentence=sentence,
                                          features=tfidf_features, finetuned=finetuned, mean_vectors=mean_vectors)
    X_all = model.inputs(tfidf_features.matrix, texts, sentence=sentence, mean_vectors=mean_vectors)
    return _finish(context, model, X_all, data, catalog_source, C=model.C, sources=" + ".join(model.info.get("sources", ["svm"])),
                   tfidf=model.info.get("tfidf"), finetuned=model.info.get("finetuned"))


class FusionConfig(dg.Config):
    seed: int = 0
    min_z: float = 1.645  # the combiner must beat the best single modality on validation by this paired z-score


@dg.asset(group_name=GROUP, kinds={"sklearn", "pytorch"}, automation_condition=FOLLOW_INPUTS)
def fusion(context: dg.AssetExecutionContext, config: FusionConfig, catalog_source: CatalogSourceResource,
           text_plus: text_plus_mod.TextPlusModel, poster_embeddings: dict[str, vgg16.PosterFeatures], genre_labels: GenreLabels,
           data_split: pd.DataFrame, sentence_embeddings: sentence_mod.SentenceEmbeddings,
           catalog_facts: facts_mod.CatalogFacts) -> dg.Output:
    """Text + poster + catalog facts (the tutorial's closing remark: "combine the two", and TMDB's own facts).

    The text model (``text_plus``), a poster model (whitened VGG16 embeddings, logistic
    regressions) and a catalog-facts model (logistic regressions on ``catalog_facts``), each
    cross-fitted, combined by per-genre late fusion of their calibrated probabilities; a
    combination is kept only if it beats the best single modality on validation with a
    paired z-score above ``min_z``, else the fusion model *is* that modality. A movie
    missing a modality is scored by the ones it has; with none, by genre frequencies.
    """
    data = labels.labelled_data(genre_labels, data_split)
    texts = _texts(genre_labels)
    sentence = _sentence(sentence_embeddings, data)
    posters = vgg16.PosterFeatures.combine(poster_embeddings)  # every release-year partition
    has_posters = bool(len(posters.ids))
    vgg = vgg16.VGG16Config(**posters.info["vgg16"]) if has_posters else None
    model = fusion_mod.train_fusion(texts, data, posters if has_posters else None, vgg,
                                    fusion_mod.FusionSettings(min_z=config.min_z, seed=config.seed),
                                    text_model=text_plus, sentence=sentence, facts=catalog_facts)
    facts_rows, _ = catalog_facts.aligned(data.ids)
    if has_posters:
        poster_matrix, has_poster = posters.align(data.ids)
        X_all = fusion_mod.FusionInput(texts, poster_matrix, has_poster, sentence, facts_rows)
    else:
        X_all = fusion_mod.FusionInput(texts, sentence=sentence, facts=facts_rows)
    if vgg is not None and vgg.weights == "random":
        context.log.warning("fusion: poster features come from RANDOM VGG16 weights, not ImageNet")
    return _finish(context, model, X_all, data, catalog_source, method=model.info.get("method"),
                   modalities=" + ".join(model.info.get("modalities", [])), movies_with_poster=int(len(posters.ids)))


@dg.asset(group_name=GROUP, kinds={"json", "png"}, automation_condition=FOLLOW_INPUTS)
def model_evaluation(svc_tfidf, naive_bayes_counts, mlp_word2vec, mlp_poster, text_finetuned, text_plus,
                     fusion) -> dg.Output[ModelComparison]:
    """Every model on the same test split, side by side (tutorial: printed precision / recall).

    Micro / macro / samples F1 and the tutorial's per-movie precision / recall per model,
    under its own rule, under validation thresholds and under top-3, the most-frequent-genres
    baseline, coverage, a bar chart and per-genre F1. The asset page shows the figures as
    narrow tables and the best model's micro / macro F1 as numbers (plotted over runs).
    Skipped models (no posters) are listed with the reason.
    """
    models = {"svc_tfidf": svc_tfidf, "naive_bayes_counts": naive_bayes_counts, "mlp_word2vec": mlp_word2vec,
              "mlp_poster": mlp_poster, "text_finetuned": text_finetuned, "text_plus": text_plus, "fusion": fusion}
    records = {name: (models[name].record if isinstance(models[name], SkippedModel) else models[name].info["evaluation"])
               for name in MODEL_NAMES}
    comparison = ModelComparison(records=records)
    frame = comparison.frame()
    trained = frame[frame["status"] == "trained"] if len(frame) else frame
    best = comparison.best()
    headline = {f"best_{k}": dg.MetadataValue.float(round(float(records[best][k]), 4)) for k in ("micro_f1", "macro_f1")} if best else {}
    if best:
        headline["baseline_micro_f1"] = dg.MetadataValue.float(round(float(records[best]["baseline"]["micro_f1"]), 4))
    return dg.Output(
        comparison,
        metadata={
            "best_by_micro_f1": dg.MetadataValue.text(str(best)),
            **headline,  # floats: the Plots tab draws them over runs
            "models": dg.MetadataValue.int(len(frame)),
            "trained": dg.MetadataValue.int(len(trained)),
            **{name: metadata_table(shown, descriptions=COLUMN_NOTES.get(name))
               for name, shown in comparison_tables(comparison).items()},
            "skipped": dg.MetadataValue.text("; ".join(f"{n}: {r.get('reason')}" for n, r in records.items()
                                                       if r.get("status") != "trained") or "none"),
            "chart": dg.MetadataValue.md(png_markdown(comparison.chart(), "model comparison")),
            "per_genre_f1_all_models": dg.MetadataValue.md(comparison.per_genre().to_markdown(index=False, floatfmt=".2f")),
        },
    )
