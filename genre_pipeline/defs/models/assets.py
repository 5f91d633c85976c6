"""Model assets: the tutorial's four classifiers and their comparison.

Thin wiring over ``genre_pipeline.models``: each model asset reads the features and the
split from the home, trains (seeded), saves the model with its label order under
``models/<name>/``, writes every movie's scores to ``tables/model_scores/<name>.parquet``
and its test evaluation to ``reports/evaluation/<name>.json``, and shows the evaluation
as markdown metadata. ``model_evaluation`` puts them side by side (table + bar chart).
"""


import datetime as dt
import io
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from genre_pipeline.storage.atomic import atomic_write_bytes, atomic_write_json, atomic_write_parquet, atomic_write_text
from genre_pipeline.defs.features import assets as features
from genre_pipeline.defs.metadata import markdown_table, png_markdown
from genre_pipeline.defs.resources import CatalogSourceResource, HomeResource
from genre_pipeline.storage.home import Home
from genre_pipeline.models import classifiers, training

GROUP = "models"
EVALUATION_DIR = "evaluation"
COMPARISON_NAME = "model_comparison"
SUMMARY_KEYS = ("micro_f1", "macro_f1", "samples_f1", "precision", "recall")


class ModelConfig(dg.Config):
    seed: int = 0
    svc_Cs: list[float] = list(training.TrainingSettings().svc_Cs)
    svc_cv: int = 3
    nb_alpha: float = 1.0
    mlp_hidden: list[int] = [256]
    mlp_dropout: float = 0.3
    mlp_max_epochs: int = 60
    mlp_patience: int = 6

    def settings(self) -> training.TrainingSettings:
        return training.TrainingSettings(
            seed=self.seed, svc_Cs=tuple(self.svc_Cs), svc_cv=self.svc_cv, nb_alpha=self.nb_alpha,
            mlp_hidden=tuple(self.mlp_hidden), mlp_dropout=self.mlp_dropout, mlp_max_epochs=self.mlp_max_epochs,
            mlp_patience=self.mlp_patience,
        )


def evaluation_path(home: Home, name: str) -> Path:
    return home.reports_dir / EVALUATION_DIR / f"{name}.json"


def scores_path(home: Home, name: str) -> Path:
    return home.tables_dir / "model_scores" / f"{name}.parquet"


def source_description(catalog_source: CatalogSourceResource) -> str:
    if catalog_source.kind == "snapshot":
        return f"snapshot {catalog_source.snapshot_dir}"
    if catalog_source.kind == "demo":
        return f"demo (SYNTHETIC, {catalog_source.demo_movies} movies, seed {catalog_source.demo_seed})"
    return catalog_source.kind


def _evaluation_record(evaluation: dict, source: str, extra: dict, run_id: str) -> dict:
    record = {k: v for k, v in evaluation.items() if k != "per_genre"}
    record["per_genre"] = evaluation["per_genre"].to_dict(orient="records")
    record.update({"status": "trained", "source": source, "evaluated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                   "run_id": run_id, **extra})
    return record


def _summary_table(record: dict) -> pd.DataFrame:
    baseline = record["baseline"]
    rows = [{"": record["model"], **{k: record[k] for k in SUMMARY_KEYS}},
            {"": f"most frequent {baseline['k']} genres", **{k: baseline[k] for k in SUMMARY_KEYS}}]
    return pd.DataFrame(rows)


def _finish(
    context: dg.AssetExecutionContext,
    the_home: Home,
    model: classifiers.GenreModel,
    X_all,
    data: training.LabelledData,
    available: np.ndarray | None,
    source: str,
    extra: dict,
) -> dg.MaterializeResult:
    """Save the model, its scores for every movie it can score, and its test evaluation."""
    from genre_pipeline.models.fusion_models import attach_thresholds, decision_figures

    val_rows = data.rows("validation", available)
    if "thresholds" not in model.info and val_rows.any():  # issue 5: per-genre thresholds from validation only
        attach_thresholds(model, model.predict_proba(X_all[val_rows]), data.Y[val_rows])
    folder = classifiers.save_model(model, the_home.models_dir)
    scores = training.model_scores_frame(model, X_all, data, available)
    atomic_write_parquet(scores, scores_path(the_home, model.name))
    evaluation = training.evaluate_model(model, X_all, data, available)
    record = _evaluation_record(evaluation, source, {**extra, "model_version": folder.name}, context.run_id)
    record["decisions"] = decision_figures(model, X_all, data.Y, data.rows("test", available))  # thresholds + top-3
    atomic_write_json(evaluation_path(the_home, model.name), record)
    if not evaluation["beats_baseline"]:
        context.log.warning(f"{model.name} does not beat the most-frequent-genres baseline on the test split")
    per_genre = evaluation["per_genre"][["genre", "precision", "recall", "f1", "support", "predicted"]]
    return dg.MaterializeResult(
        metadata={
            **{k: dg.MetadataValue.float(round(float(record[k]), 4)) for k in SUMMARY_KEYS},
            "baseline_micro_f1": dg.MetadataValue.float(round(float(record["baseline"]["micro_f1"]), 4)),
            "beats_baseline": dg.MetadataValue.bool(bool(record["beats_baseline"])),
            "decision_rule": dg.MetadataValue.text(model.decision_rule),
            "decisions": dg.MetadataValue.md(markdown_table(pd.DataFrame(record["decisions"]).T.reset_index(names="rule"))),
            "test_movies_evaluated": dg.MetadataValue.int(int(record["n_evaluated"])),
            "coverage": dg.MetadataValue.float(round(float(record["coverage"]), 4)),
            "split_sizes": dg.MetadataValue.json(record["split_sizes"]),
            "classified_movies": dg.MetadataValue.int(len(scores)),
            "evaluation": dg.MetadataValue.md(markdown_table(_summary_table(record))),
            "per_genre": dg.MetadataValue.md(markdown_table(per_genre)),
            **{k: (dg.MetadataValue.text(str(v)) if not isinstance(v, (int, float)) else v) for k, v in extra.items()
               if not isinstance(v, (dict, list))},
            "source": dg.MetadataValue.text(source),
            "model_path": dg.MetadataValue.path(str(folder)),
        }
    )


def _skip(context: dg.AssetExecutionContext, the_home: Home, name: str, reason: str, source: str, extra: dict) -> dg.MaterializeResult:
    """Record that a model could not be trained (e.g. no posters) instead of failing."""
    latest = the_home.models_dir / name / "LATEST"
    latest.unlink(missing_ok=True)  # a model trained on other data must not answer for this catalog
    scores_path(the_home, name).unlink(missing_ok=True)
    record = {"model": name, "status": "skipped", "reason": reason, "source": source,
              "evaluated_at": dt.datetime.now(dt.timezone.utc).isoformat(), "run_id": context.run_id, **extra}
    atomic_write_json(evaluation_path(the_home, name), record)
    context.log.warning(f"{name} not trained: {reason}")
    return dg.MaterializeResult(metadata={"status": dg.MetadataValue.text("skipped"), "reason": dg.MetadataValue.text(reason),
                                          "source": dg.MetadataValue.text(source)})


FEATURE_DEPS = [features.genre_labels, features.data_split]


@dg.asset(group_name=GROUP, deps=[features.tfidf_features, *FEATURE_DEPS], kinds={"sklearn"})
def svc_tfidf(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource, config: ModelConfig) -> dg.MaterializeResult:
    """One-vs-rest linear SVC on TF-IDF, ``GridSearchCV`` over C (tutorial: SVC + grid search).

    class_weight balanced, micro-F1 scoring over all genres at once, seeded 3-fold CV on the
    training split. Predicted label sets are the SVM's own; scores are sigmoid margins.
    """
    the_home = home.home
    data = features.read_labelled_data(the_home)
    feats = features.read_text_features(the_home, features.TFIDF_FILE)
    _check_aligned(feats.ids, data)
    model = training.fit_svc(feats, data, config.settings())
    extra = {"best_C": model.info["best_C"], "cv_grid": model.info["grid"], "features": int(feats.matrix.shape[1])}
    return _finish(context, the_home, model, feats.matrix, data, None, source_description(catalog_source), extra)


@dg.asset(group_name=GROUP, deps=[features.bow_features, *FEATURE_DEPS], kinds={"sklearn"})
def naive_bayes_counts(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource, config: ModelConfig) -> dg.MaterializeResult:
    """One-vs-rest multinomial naive Bayes on bag-of-words counts (tutorial-faithful)."""
    the_home = home.home
    data = features.read_labelled_data(the_home)
    feats = features.read_text_features(the_home, features.BOW_FILE)
    _check_aligned(feats.ids, data)
    model = training.fit_naive_bayes(feats, data, config.settings())
    extra = {"alpha": config.nb_alpha, "features": int(feats.matrix.shape[1])}
    return _finish(context, the_home, model, feats.matrix, data, None, source_description(catalog_source), extra)


@dg.asset(group_name=GROUP, deps=[features.word2vec_embeddings, *FEATURE_DEPS], kinds={"pytorch"})
def mlp_word2vec(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource, config: ModelConfig) -> dg.MaterializeResult:
    """MLP on mean word2vec overview vectors (tutorial: Keras text network; sigmoid + BCE, top-3).

    Early-stopped on the validation split. Movies without an in-vocabulary word cannot be
    scored (``coverage`` < 1), as in the tutorial.
    """
    the_home = home.home
    data = features.read_labelled_data(the_home)
    source = source_description(catalog_source)
    ids, kept, matrix, info = features.read_word2vec(the_home)
    vectors, available = training.align_rows(ids[kept], matrix, data.ids)
    if data.rows("train", available).sum() < 2:
        return _skip(context, the_home, "mlp_word2vec", "fewer than 2 training movies have word2vec features", source, {})
    vectors_file = info["word_vectors_file"]
    extras = {"word_vectors_file": vectors_file, "word_vectors_limit": info.get("limit")}
    model = training.fit_mlp(vectors, available, data, "mlp_word2vec", "word2vec", config.settings(), extras=extras)
    if not Path(vectors_file).is_absolute():  # trained here: the model keeps its own copy
        model.files = {vectors_file: the_home.features_dir / vectors_file}
    extra = {"word_vectors": info.get("source"), "movies_without_known_words": int((~available).sum()),
             "epochs_run": model.info["epochs_run"], "best_epoch": model.info["best_epoch"]}
    return _finish(context, the_home, model, vectors, data, available, source, extra)


@dg.asset(group_name=GROUP, deps=[features.poster_embeddings, *FEATURE_DEPS], kinds={"pytorch"})
def mlp_poster(context: dg.AssetExecutionContext, home: HomeResource, catalog_source: CatalogSourceResource, config: ModelConfig) -> dg.MaterializeResult:
    """MLP on VGG16 poster embeddings (tutorial: Keras poster network; sigmoid + BCE, top-3).

    With no posters (e.g. the tmdb5000 snapshot) it records ``skipped: no posters`` and
    succeeds; every movie is still classified by the text models.
    """
    the_home = home.home
    data = features.read_labelled_data(the_home)
    source = source_description(catalog_source)
    ids, matrix, info = features.read_poster_embeddings(the_home)
    weights = info.get("weights", "")
    extra = {"weights": weights, "posters_embedded": int(len(ids))}
    if len(ids) == 0:
        return _skip(context, the_home, "mlp_poster", "no posters in this catalog", source, extra)
    posters, available = training.align_rows(ids, matrix, data.ids)
    if data.rows("train", available).sum() < 2:
        return _skip(context, the_home, "mlp_poster", "fewer than 2 training movies have a poster", source, extra)
    # A new poster must be embedded exactly as the training posters were (same precision too).
    vgg16_settings = {**info["vgg16"], "precision": info.get("precision", info["vgg16"].get("precision", "auto"))}
    model = training.fit_mlp(posters, available, data, "mlp_poster", "poster", config.settings(), extras={"vgg16": vgg16_settings})
    model.info["weights"] = info["vgg16"]["weights"]
    extra.update({"movies_without_poster": int((~available).sum()), "epochs_run": model.info["epochs_run"],
                  "best_epoch": model.info["best_epoch"]})
    return _finish(context, the_home, model, posters, data, available, source, extra)


def _check_aligned(ids: np.ndarray, data: training.LabelledData) -> None:
    if len(ids) != len(data.ids) or not np.array_equal(np.asarray(ids), data.ids):
        raise ValueError("features and labels cover different movies: re-materialize the features group")


MODEL_ASSETS = [svc_tfidf, naive_bayes_counts, mlp_poster, mlp_word2vec]


# --------------------------------------------------------------------------- comparison


def read_evaluations(home: Home) -> dict[str, dict]:
    """The latest evaluation record of every model, in display order."""
    folder = home.reports_dir / EVALUATION_DIR
    records = {}
    for name in training.MODEL_NAMES:
        path = folder / f"{name}.json"
        if path.is_file():
            records[name] = json.loads(path.read_text())
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        records.setdefault(path.stem, json.loads(path.read_text()))
    return records


def comparison_frame(records: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for name, record in records.items():
        if record.get("status") != "trained":
            rows.append({"model": name, "status": f"skipped: {record.get('reason', '')}"})
            continue
        rows.append({
            "model": name, "status": "trained", "input": record["input"], "rule": record["decision_rule"],
            **{k: record[k] for k in SUMMARY_KEYS},
            **{f"{rule}_{k}": record.get("decisions", {}).get(rule, {}).get(k) for rule in ("thresholds", "top3")
               for k in ("micro_f1", "macro_f1")},
            "baseline_micro_f1": record["baseline"]["micro_f1"], "test_movies": record["n_evaluated"],
            "coverage": record["coverage"],
        })
    return pd.DataFrame(rows)


def comparison_chart(frame: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = frame[frame["status"] == "trained"] if "status" in frame else frame.iloc[0:0]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    metrics_shown = [("micro_f1", "micro F1"), ("macro_f1", "macro F1"), ("samples_f1", "samples F1")]
    width = 0.8 / len(metrics_shown)
    x = np.arange(len(trained))
    for i, (key, label) in enumerate(metrics_shown):
        values = trained[key].to_numpy(dtype=float) if len(trained) else np.array([])
        bars = ax.bar(x + (i - 1) * width, values, width, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    if len(trained):
        ax.scatter(x, trained["baseline_micro_f1"], marker="_", s=900, color="black", zorder=3, label="baseline micro F1")
    ax.set_xticks(x, list(trained["model"]) if len(trained) else [])
    ax.set_ylim(0, 1)
    ax.set_ylabel("test split")
    ax.set_title("Genre classifiers on the test split (baseline: most frequent genres)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def per_genre_f1(records: dict[str, dict]) -> pd.DataFrame:
    columns = {}
    for name, record in records.items():
        if record.get("status") == "trained":
            columns[name] = {row["genre"]: row["f1"] for row in record["per_genre"]}
    frame = pd.DataFrame(columns)
    return frame.reset_index(names="genre") if len(frame) else frame


@dg.asset(group_name=GROUP, deps=[*MODEL_ASSETS, "text_plus", "fusion"], kinds={"json", "png"})
def model_evaluation(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    """Every model on the same test split, side by side (tutorial: printed precision / recall).

    ``reports/model_comparison.{json,md,png}``: micro / macro / samples F1 and the tutorial's
    per-movie precision / recall per model, the most-frequent-genres baseline, coverage, and a
    per-genre F1 table. Skipped models (no posters) are listed with the reason.
    """
    the_home = home.home
    records = read_evaluations(the_home)
    frame = comparison_frame(records)
    chart = comparison_chart(frame)
    genre_table = per_genre_f1(records)
    summary = {
        "models": {name: {k: v for k, v in record.items() if k != "per_genre"} for name, record in records.items()},
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "run_id": context.run_id,
    }
    atomic_write_json(the_home.reports_dir / f"{COMPARISON_NAME}.json", summary)
    atomic_write_bytes(the_home.reports_dir / f"{COMPARISON_NAME}.png", chart)
    markdown = markdown_table(frame) + "\n\nPer-genre F1 on the test split:\n\n" + markdown_table(genre_table)
    atomic_write_text(the_home.reports_dir / f"{COMPARISON_NAME}.md", markdown + "\n")
    trained = frame[frame["status"] == "trained"] if len(frame) else frame
    best = trained.sort_values("micro_f1", ascending=False)["model"].iloc[0] if len(trained) else "none"
    return dg.MaterializeResult(
        metadata={
            "models": dg.MetadataValue.int(len(frame)),
            "trained": dg.MetadataValue.int(len(trained)),
            "best_by_micro_f1": dg.MetadataValue.text(str(best)),
            "comparison": dg.MetadataValue.md(markdown_table(frame)),
            "chart": dg.MetadataValue.md(png_markdown(chart, "model comparison")),
            "per_genre_f1": dg.MetadataValue.md(markdown_table(genre_table)),
            "path": dg.MetadataValue.path(str(the_home.reports_dir / f"{COMPARISON_NAME}.json")),
        }
    )
