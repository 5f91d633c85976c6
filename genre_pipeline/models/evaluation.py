"""Evaluating models on the test split, comparing them, and the report ``genre-pipeline report`` prints.

Tutorial step: "Section 7/8 — evaluation". The tutorial prints each model's mean per-movie
precision and recall on its own random split. Here every model is scored on the same
stable test split (:mod:`genre_pipeline.models.labels`) with
:func:`evaluate_model`: the tutorial's precision / recall, micro / macro / samples F1, a
per-genre table, the most-frequent-genres baseline, coverage (share of the split the model
could score: posters, known words), and the F1 figures under two more decision rules: the
per-genre validation thresholds stored with the model and the tutorial's top-3 rule.

Several evaluation records (JSON-ready, :func:`evaluation_record`) are put side by side by
:func:`comparison_frame`, :func:`comparison_chart` (bar chart PNG) and :func:`per_genre_f1`;
:func:`build_report` / :func:`format_table` make the CLI report. Training never calls this
module: test labels are read here only. No Dagster import.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genre_pipeline.models import metrics
from genre_pipeline.models.base import GenreModel
from genre_pipeline.models.labels import LabelledData

__all__ = [
    "ModelComparison",
    "SkippedModel",
    "DECISION_FIGURES",
    "SUMMARY_KEYS",
    "build_report",
    "comparison_chart",
    "comparison_frame",
    "decision_figures",
    "evaluate_model",
    "evaluation_record",
    "format_table",
    "model_scores_frame",
    "per_genre_f1",
    "skipped_record",
    "summary_table",
]

SUMMARY_KEYS = ("micro_f1", "macro_f1", "samples_f1", "precision", "recall")
DECISION_FIGURES = ("micro_f1", "macro_f1", "samples_f1")


def decision_figures(model: GenreModel, scores, truth) -> dict[str, dict[str, float]]:
    """F1 figures of ``scores`` against ``truth`` under the model's thresholds (when it has them) and the top-3 rule."""
    if not len(truth):
        return {}
    out = {}
    for rule, pred in model.decisions(np.asarray(scores)).items():
        figures = metrics.f1_summary(truth, pred)
        out[rule] = {k: round(figures[k], 4) for k in DECISION_FIGURES}
    return out


def evaluate_model(model: GenreModel, X_all, data: LabelledData, available: np.ndarray | None = None,
                   split: str = "test") -> dict:
    """Score ``model`` on ``split``: tutorial precision/recall, F1s, per-genre table, baseline, decision rules.

    ``X_all`` has one row per movie of ``data`` (rows where ``available`` is false are
    ignored: no poster, no known word). ``coverage`` is the share of the split's labelled
    movies the model could score. ``per_genre`` is a DataFrame (:func:`evaluation_record`
    makes the whole result JSON-ready).
    """
    rows = data.rows(split, available)
    everyone = data.rows(split)
    train_rows = data.rows("train", available)
    y_true = data.Y[rows]
    if rows.any():
        X = X_all[rows]
        pred, scores = model.predict(X), model.predict_proba(X)
    else:
        pred, scores = np.zeros_like(y_true), np.zeros(y_true.shape)
    result = metrics.evaluate(y_true, pred, data.labels)
    per_genre = result.pop("per_genre")
    baseline = metrics.best_baseline(data.Y[train_rows] if train_rows.any() else data.Y[data.rows("train")], y_true)
    return {
        "model": model.name,
        "kind": model.kind,
        "input": model.input_kind,
        "decision_rule": model.decision_rule,
        **{k: float(v) for k, v in result.items() if k != "n_movies"},
        "n_evaluated": int(rows.sum()),
        "n_split": int(everyone.sum()),
        "coverage": float(rows.sum() / everyone.sum()) if everyone.sum() else 0.0,
        "split_sizes": data.split_sizes(),
        "baseline": baseline,
        "beats_baseline": bool(result["micro_f1"] > baseline["micro_f1"]) if rows.any() else False,
        "decisions": decision_figures(model, scores, y_true),
        "per_genre": per_genre,
    }


def evaluation_record(evaluation: dict, **provenance) -> dict:
    """:func:`evaluate_model`'s result as JSON-ready data (``status: trained``), plus ``provenance`` (source, run id...)."""
    record = {k: v for k, v in evaluation.items() if k != "per_genre"}
    record["per_genre"] = evaluation["per_genre"].to_dict(orient="records")
    return {**record, "status": "trained", **provenance}


def skipped_record(name: str, reason: str, **provenance) -> dict:
    """The record of a model that could not be trained (e.g. no posters), as the comparison and report read it."""
    return {"model": name, "status": "skipped", "reason": reason, **provenance}


def model_scores_frame(model: GenreModel, X_all, data: LabelledData, available: np.ndarray | None = None) -> pd.DataFrame:
    """Scores and predicted genres for every movie the model can score (all splits).

    Columns: ``id``, ``split``, ``scores`` (list of float32 in ``model.labels`` order),
    ``predicted`` (list of genre names under the model's own rule, :meth:`GenreModel.predict`).
    """
    mask = np.ones(len(data.ids), dtype=bool) if available is None else np.asarray(available, dtype=bool)
    if not mask.any():
        return pd.DataFrame({"id": pd.Series([], dtype="int64"), "split": [], "scores": [], "predicted": []})
    X = X_all[mask]
    scores = np.asarray(model.predict_proba(X), dtype=np.float32)
    pred = np.asarray(model.predict(X))
    names = np.array(model.labels, dtype=object)
    return pd.DataFrame(
        {
            "id": data.ids[mask],
            "split": data.split[mask],
            "scores": [row.tolist() for row in scores],
            "predicted": [list(names[np.flatnonzero(row)]) for row in pred],
        }
    )


def summary_table(record: dict) -> pd.DataFrame:
    """Two rows: the model's figures and the most-frequent-genres baseline's."""
    baseline = record["baseline"]
    rows = [{"": record["model"], **{k: record[k] for k in SUMMARY_KEYS}},
            {"": f"most frequent {baseline['k']} genres", **{k: baseline[k] for k in SUMMARY_KEYS}}]
    return pd.DataFrame(rows)


def comparison_frame(records: dict[str, dict]) -> pd.DataFrame:
    """One row per model record (trained or skipped), figures side by side."""
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
    """A PNG bar chart of micro / macro / samples F1 per trained model, with the baseline's micro F1.

    Horizontal bars, one group per model: the model names read on the left whatever their
    length and number, and the legend sits above the plot, clear of the bars.
    """
    import matplotlib  # imported here: ~0.5 s, and only the comparison draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = frame[frame["status"] == "trained"] if "status" in frame else frame.iloc[0:0]
    metrics_shown = [("micro_f1", "micro F1"), ("macro_f1", "macro F1"), ("samples_f1", "samples F1")]
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.75 * max(1, len(trained))), dpi=100)
    height = 0.8 / len(metrics_shown)
    y = np.arange(len(trained))
    for i, (key, label) in enumerate(metrics_shown):
        values = trained[key].to_numpy(dtype=float) if len(trained) else np.array([])
        bars = ax.barh(y + (i - 1) * height, values, height, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    if len(trained):
        ax.scatter(trained["baseline_micro_f1"], y, marker="|", s=500, color="black", zorder=3, label="baseline micro F1")
    ax.set_yticks(y, list(trained["model"]) if len(trained) else [])
    ax.invert_yaxis()  # models top to bottom in display order
    ax.set_xlim(0, 1)
    ax.set_xlabel("test split")
    ax.set_title("Genre classifiers on the test split (baseline: most frequent genres)", fontsize=10, pad=22)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False, markerscale=0.4)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def per_genre_f1(records: dict[str, dict]) -> pd.DataFrame:
    """Genre x model table of test F1 (trained models only)."""
    columns = {}
    for name, record in records.items():
        if record.get("status") == "trained":
            columns[name] = {row["genre"]: row["f1"] for row in record["per_genre"]}
    frame = pd.DataFrame(columns)
    return frame.reset_index(names="genre") if len(frame) else frame


def build_report(records: dict[str, dict]) -> dict:
    """The ``genre-pipeline report --json`` payload: per model its figures (or why it was skipped)."""
    models = {}
    for name, record in records.items():
        entry = {"status": record.get("status", "trained"), "source": record.get("source")}
        if entry["status"] == "trained":
            entry.update({k: record[k] for k in SUMMARY_KEYS})
            entry.update(
                {
                    "decision_rule": record.get("decision_rule"),
                    "split_sizes": record.get("split_sizes"),
                    "test_movies_evaluated": record.get("n_evaluated"),
                    "coverage": record.get("coverage"),
                    "baseline": {k: record["baseline"][k] for k in ("k", *SUMMARY_KEYS) if k in record.get("baseline", {})},
                    "beats_baseline": record.get("beats_baseline"),
                    "decisions": record.get("decisions", {}),  # validation thresholds and top-3, test split
                }
            )
        else:
            entry["reason"] = record.get("reason")
        if record.get("weights"):
            entry["weights"] = record["weights"]
        if record.get("method"):
            entry["method"] = record["method"]
        entry["evaluated_at"] = record.get("evaluated_at")
        models[name] = entry
    return {"models": models}


def format_table(report: dict) -> str:
    """:func:`build_report`'s payload as the plain-text table ``genre-pipeline report`` prints."""
    lines = [f"{'model':<20} {'micro F1':>8} {'macro F1':>8} {'samp. F1':>8} {'prec.':>6} {'recall':>6}  test  "
             f"{'thr mi/ma':>11} {'top3 mi/ma':>11}  note"]
    source = None
    for name, entry in report["models"].items():
        source = source or entry.get("source")
        if entry["status"] != "trained":
            lines.append(f"{name:<20} {'-':>8} {'-':>8} {'-':>8} {'-':>6} {'-':>6}  {'-':>4}  {'-':>11} {'-':>11}  skipped: {entry.get('reason')}")
            continue
        note = []
        if entry.get("coverage", 1.0) < 1.0:
            note.append(f"coverage {entry['coverage']:.0%}")
        if entry.get("weights", "").startswith("random"):
            note.append("RANDOM VGG16 weights")
        if entry.get("beats_baseline") is False:
            note.append("does not beat baseline")
        if entry.get("method"):
            note.append(f"fusion method: {entry['method']}")
        decisions = entry.get("decisions") or {}
        pair = lambda rule: (f"{decisions[rule]['micro_f1']:.3f}/{decisions[rule]['macro_f1']:.3f}"  # noqa: E731
                             if rule in decisions else "-")
        lines.append(
            f"{name:<20} {entry['micro_f1']:>8.3f} {entry['macro_f1']:>8.3f} {entry['samples_f1']:>8.3f} "
            f"{entry['precision']:>6.3f} {entry['recall']:>6.3f}  {entry['test_movies_evaluated']:>4}  "
            f"{pair('thresholds'):>11} {pair('top3'):>11}  {', '.join(note)}"
        )
    baselines = [e["baseline"] for e in report["models"].values() if e.get("baseline")]
    if baselines:
        b = baselines[0]
        lines.append(f"{'baseline (top ' + str(b['k']) + ')':<20} {b['micro_f1']:>8.3f} {b['macro_f1']:>8.3f} {b['samples_f1']:>8.3f} {b['precision']:>6.3f} {b['recall']:>6.3f}")
    sizes = next((e["split_sizes"] for e in report["models"].values() if e.get("split_sizes")), None)
    if sizes:
        lines.append(f"split: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']} labelled movies")
    lines.append("micro/macro F1 under each model's own rule; thr = per-genre thresholds fitted on validation (fusion: with out-of-fold training scores), top3 = tutorial rule")
    if source:
        lines.append(f"source: {source}")
    return "\n".join(lines)


@dataclass
class SkippedModel:
    """What a model asset stores when it cannot train (e.g. a catalog without posters): the reason.

    It replaces the asset's previous model, so a model trained on other data never answers
    for this catalog; predictions and the comparison list it as skipped.
    """

    name: str
    reason: str
    record: dict = field(default_factory=dict)

    FILE = "skipped.json"

    def save(self, folder: Path) -> None:
        (Path(folder) / self.FILE).write_text(json.dumps({"name": self.name, "reason": self.reason, "record": self.record},
                                                         indent=1, default=str) + "\n")

    @classmethod
    def load(cls, folder: Path) -> SkippedModel:
        data = json.loads((Path(folder) / cls.FILE).read_text())
        return cls(name=data["name"], reason=data["reason"], record=dict(data.get("record") or {}))


@dataclass
class ModelComparison:
    """Every model's test-split record side by side: the table, the chart and the per-genre F1."""

    records: dict[str, dict]

    RECORDS_FILE = "records.json"

    @property
    def rows(self) -> int:
        return len(self.records)

    def frame(self) -> pd.DataFrame:
        return comparison_frame(self.records)

    def chart(self) -> bytes:
        return comparison_chart(self.frame())

    def per_genre(self) -> pd.DataFrame:
        return per_genre_f1(self.records)

    def best(self) -> str | None:
        trained = {n: r for n, r in self.records.items() if r.get("status") == "trained"}
        return max(trained, key=lambda n: trained[n]["micro_f1"]) if trained else None

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        (folder / self.RECORDS_FILE).write_text(json.dumps(self.records, indent=1, default=str) + "\n")
        (folder / "comparison.png").write_bytes(self.chart())
        markdown = self.frame().to_markdown(index=False, floatfmt=".3f")
        per_genre = self.per_genre()
        if len(per_genre):
            markdown += "\n\nPer-genre F1 on the test split:\n\n" + per_genre.to_markdown(index=False, floatfmt=".3f")
        (folder / "comparison.md").write_text(markdown + "\n")

    @classmethod
    def load(cls, folder: Path) -> ModelComparison:
        return cls(records=json.loads((Path(folder) / cls.RECORDS_FILE).read_text()))
