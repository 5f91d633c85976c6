"""Issue 5 measurements: tutorial models vs the stronger text model vs the fusion model.

Usage: ``python -m genre_pipeline.bench fusion`` (part of ``make bench``). Needs the real
snapshots in ``../shared/data`` (``tmdb5000``: 4,803 movies, no posters; ``posters600``:
600 movies with real posters); each one that is absent is reported as skipped.

For each snapshot, on the deterministic train / validation / test split of
:mod:`genre_pipeline.models.labels`, every model is trained on training movies, tuned and
thresholded on validation movies, and scored on test movies (micro / macro F1):

* the tutorial's models exactly as the pipeline trains them
  (:mod:`genre_pipeline.models.training`): ``svc_tfidf`` and ``naive_bayes_counts`` under their
  own decisions, ``mlp_poster`` / ``mlp_word2vec`` under the tutorial's top-3 rule, and every
  one of them also under per-genre validation thresholds;
* ``text_plus`` (:mod:`genre_pipeline.models.text_plus`; its sentence-encoder embeddings
  are cached in ``.bench/cache``), its ablations (SVMs alone, sentence learner alone), the
  poster model and the fusion model (:mod:`genre_pipeline.models.fusion`), under validation
  thresholds and top-3;
* the GMU variant, trained on the same inputs, for the record.

The summary checks the issue's rule strictly: the fusion model's micro-F1 and macro-F1
(validation thresholds) are each compared with the best figure *any* single-modality model
reaches under *any* of its decision rules.

Poster features come from VGG16 with **random weights** (seeded): ImageNet weights cannot be
downloaded here, so the figures understate what real VGG16 features would add. Embeddings
are cached in ``$GENRE_PIPELINE_BENCH_CACHE`` (default ``.bench/cache``).
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _load_snapshot(folder: Path) -> dict:
    records: dict[int, dict] = {}
    with gzip.open(folder / "movies.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), int) and record["id"] > 0:
                records[record["id"]] = record  # later line wins
    ids = sorted(records)
    vocabulary = [g["name"] for g in json.loads((folder / "genres.json").read_text())["genres"]]
    return {
        "ids": ids,
        "titles": [records[i].get("title") or "" for i in ids],
        "overviews": [records[i].get("overview") or "" for i in ids],
        "genres": [[g["name"] for g in records[i].get("genres") or []] for i in ids],
        "poster_paths": [records[i].get("poster_path") for i in ids],
        "vocabulary": vocabulary,
    }


def _poster_embeddings(folder: Path, poster_paths: list, image_size: int = 224) -> tuple[np.ndarray, np.ndarray, dict]:
    from genre_pipeline.features.vgg16 import VGG16Config, embed_posters
    from genre_pipeline.ingestion.records import poster_basename

    rows, files = [], []
    for row, path in enumerate(poster_paths):
        file = folder / "posters" / poster_basename(path) if path else None
        if file is not None and file.is_file():
            rows.append(row)
            files.append(file)
    full = np.zeros((len(poster_paths), 512), dtype=np.float32)
    available = np.zeros(len(poster_paths), dtype=bool)
    if not files:
        return full, available, {}
    cache = Path(os.environ.get("GENRE_PIPELINE_BENCH_CACHE", ".bench/cache")) / "vgg16_random"
    result = embed_posters(files, VGG16Config(weights="random", image_size=image_size), store_dir=cache)
    ok_rows = np.asarray(rows)[result.ok]
    full[ok_rows] = result.matrix
    available[ok_rows] = True
    return full, available, {"weights": result.info.get("weights"), "image_size": image_size, "embedded": result.n_embedded,
                             "cached": result.n_cached, "seconds": round(result.seconds, 1)}


def _figures(truth, pred) -> dict:
    from genre_pipeline.models.metrics import f1_summary

    scores = f1_summary(truth, pred)
    return {"micro_f1": round(scores["micro_f1"], 4), "macro_f1": round(scores["macro_f1"], 4)}


def paired_bootstrap(truth, pred_a, pred_b, draws: int = 1000, seed: int = 0) -> dict:
    """Test-split difference a - b in micro / macro F1, with its bootstrap standard error.

    Movies are resampled with replacement, the same movies for both models (paired), so the
    spread says how much of a difference the test split alone could produce.
    """
    from genre_pipeline.models.metrics import f1_summary

    truth, pred_a, pred_b = (np.asarray(a) for a in (truth, pred_a, pred_b))
    rng = np.random.default_rng(seed)
    diffs = {"micro_f1": [], "macro_f1": []}
    for _ in range(draws):
        rows = rng.integers(0, len(truth), len(truth))
        a, b = f1_summary(truth[rows], pred_a[rows]), f1_summary(truth[rows], pred_b[rows])
        for metric in diffs:
            diffs[metric].append(a[metric] - b[metric])
    full_a, full_b = f1_summary(truth, pred_a), f1_summary(truth, pred_b)
    out = {}
    for metric, values in diffs.items():
        diff, se = full_a[metric] - full_b[metric], float(np.std(values))
        out[metric] = {"difference": round(diff, 4), "se": round(se, 4), "z": round(diff / se, 2) if se > 0 else None}
    return out


def _score_model(name: str, Y, val, test, proba, own=None, own_rule: str | None = None, keep: dict | None = None) -> dict:
    """Figures of one model: its own rule (if any), top-3, validation thresholds.

    ``keep``: where to store ``name -> (test rows, threshold decisions)`` for paired comparisons.
    """
    from genre_pipeline.models.thresholds import fit_thresholds, top3

    from genre_pipeline.models.stacking import ranking_quality

    labels = [str(i) for i in range(Y.shape[1])]
    thresholds = fit_thresholds(proba[val], Y[val], labels)
    if keep is not None:
        keep[name] = (np.flatnonzero(test), thresholds.apply(proba[test]))
    out = {"model": name, "n_test": int(test.sum()), "validation_ranking_quality": round(ranking_quality(Y[val], proba[val]), 4),
           "thresholds": _figures(Y[test], thresholds.apply(proba[test])),
           "top3": _figures(Y[test], top3(proba[test])),
           "shrinkage_k": thresholds.info.get("shrinkage_k")}
    if own is not None:
        out[f"own ({own_rule})"] = _figures(Y[test], own)
    return out


def measure_snapshot(folder: Path, use_posters: bool = True) -> dict:
    """Train and score every model on one snapshot (see the module docstring)."""
    from genre_pipeline.models import labels as labels_mod
    from genre_pipeline.models import training
    from genre_pipeline.models.fusion import CANDIDATES, combine, train_fusion

    start = time.monotonic()
    snap = _load_snapshot(folder)
    labels = labels_mod.label_order(snap["vocabulary"], snap["genres"])
    table = labels_mod.label_table(snap["ids"], snap["genres"], labels)
    data = training.LabelledData.from_table(table, labels)
    Y = data.Y
    val, test = data.rows("validation"), data.rows("test")
    models: list[dict] = []
    timings: dict[str, float] = {}

    def timed(key, fn):
        t0 = time.monotonic()
        value = fn()
        timings[key] = round(time.monotonic() - t0, 1)
        return value

    # --- the tutorial's models, as the pipeline trains them
    tfidf = training.tfidf(snap["titles"], snap["overviews"], data)
    svc = timed("svc_tfidf", lambda: training.fit_svc(tfidf, data))
    decisions: dict = {}  # model -> (test rows, decisions under validation thresholds), for paired comparisons
    models.append({"modality": "text", "kind": "tutorial", **_score_model(
        "svc_tfidf", Y, val, test, svc.predict_proba(tfidf.matrix), svc.predict(tfidf.matrix[test]), "labels", keep=decisions)})
    bow = training.bag_of_words(snap["overviews"], data)
    nb = timed("naive_bayes_counts", lambda: training.fit_naive_bayes(bow, data))
    models.append({"modality": "text", "kind": "tutorial", **_score_model(
        "naive_bayes_counts", Y, val, test, nb.predict_proba(bow.matrix), nb.predict(bow.matrix[test]), "labels")})
    word_vectors, w2v, w2v_ok = timed("word2vec", lambda: training.mean_word2vec(snap["overviews"], data))
    mlp_w2v = timed("mlp_word2vec", lambda: training.fit_mlp(w2v, w2v_ok, data, "mlp_word2vec", "word2vec"))
    rows_ok = test & w2v_ok
    proba = np.zeros(Y.shape)
    proba[w2v_ok] = mlp_w2v.predict_proba(w2v[w2v_ok])
    entry = _score_model("mlp_word2vec", Y, val & w2v_ok, rows_ok, proba, mlp_w2v.predict(w2v[rows_ok]), "top3")
    models.append({"modality": "text", "kind": "tutorial", **entry})

    posters = np.zeros((len(snap["ids"]), 512), dtype=np.float32)
    has_poster = np.zeros(len(snap["ids"]), dtype=bool)
    poster_info: dict = {"posters": 0}
    if use_posters and (folder / "posters").is_dir():
        posters, has_poster, poster_info = timed("vgg16_embeddings", lambda: _poster_embeddings(folder, snap["poster_paths"]))
        poster_info["posters"] = int(has_poster.sum())
    if has_poster.sum() >= 20:
        mlp_poster = timed("mlp_poster", lambda: training.fit_mlp(posters, has_poster, data, "mlp_poster", "poster"))
        rows_ok = test & has_poster
        proba = np.zeros(Y.shape)
        proba[has_poster] = mlp_poster.predict_proba(posters[has_poster])
        entry = _score_model("mlp_poster", Y, val & has_poster, rows_ok, proba, mlp_poster.predict(posters[rows_ok]), "top3")
        models.append({"modality": "poster", "kind": "tutorial", **entry})

    # --- new: text_plus, poster model, fusion (+ GMU for the record)
    # text_plus: calibrated SVMs (C chosen on validation) + stacked sentence-encoder / word2vec learners
    from genre_pipeline.features.sentence import SentenceEncoderConfig, encode_texts
    from genre_pipeline.models.text_plus import compose_texts, train_text_plus

    texts = np.asarray(compose_texts(snap["overviews"], snap["titles"]), dtype=object)
    sentence_config = SentenceEncoderConfig()
    cache = Path(os.environ.get("GENRE_PIPELINE_BENCH_CACHE", ".bench/cache")) / f"sentence_{folder.name}"
    sentence = timed("sentence_embeddings", lambda: encode_texts(list(texts), sentence_config, cache))
    train = data.rows("train")
    text_model = timed("text_plus", lambda: train_text_plus(
        list(texts[train]), Y[train], labels, list(texts[val]), Y[val], word_vectors=word_vectors,
        sentence_config=sentence_config, sentence_train=sentence[train], sentence_val=sentence[val]))
    fusion = timed("fusion (poster + late, text_plus reused)", lambda: train_fusion(
        snap["overviews"], snap["titles"], posters, has_poster, Y, data.split, labels, text_model=text_model,
        sentence=sentence))
    X = fusion.text.transform(snap["overviews"], snap["titles"], sentence=sentence)
    has_text = X.has_text
    p_text = fusion.text.predict_proba_X(X)
    p_poster = fusion.poster.predict_proba(posters) if fusion.poster is not None else np.zeros_like(p_text)
    models.append({"modality": "text", "kind": "new", **_score_model("text_plus", Y, val, test, p_text, keep=decisions),
                   "sources": list(fusion.text.sources), "C": fusion.text.C,
                   "stack_selection_z": fusion.text.info.get("stack_selection", {}).get("z_vs_best_single")})
    svm_only = fusion.text.svm_proba(X)
    models.append({"modality": "text", "kind": "new (ablation)", **_score_model("text_plus_svm_only", Y, val, test, svm_only, keep=decisions)})
    if "sentence" in fusion.text.dense:
        alone = fusion.text.dense["sentence"].predict_proba(sentence.matrix)
        models.append({"modality": "text", "kind": "new (ablation)", **_score_model(
            "sentence_logreg_only", Y, val & sentence.has_text, test & sentence.has_text, alone)})
    if fusion.poster is not None:
        models.append({"modality": "poster", "kind": "new", **_score_model(
            "poster_logreg", Y, val & has_poster, test & has_poster, p_poster)})
    fused = fusion.predict_proba(snap["overviews"], snap["titles"], posters, has_poster, sentence)
    fusion_entry = {"modality": "text+poster", "kind": "new", **_score_model("fusion", Y, val, test, fused),
                    "method": fusion.method, "selection": fusion.info["selection"]}
    decisions["fusion"] = (np.flatnonzero(test), fusion.thresholds.apply(fused[test]))  # the model's own stored thresholds
    fusion_entry["thresholds"] = _figures(Y[test], decisions["fusion"][1])
    models.append(fusion_entry)
    if fusion.poster is not None:
        with_gmu = timed("fusion with GMU candidate", lambda: train_fusion(
            snap["overviews"], snap["titles"], posters, has_poster, Y, data.split, labels, methods=CANDIDATES,
            text_model=fusion.text, sentence=sentence))
        if with_gmu.gmu is not None:
            scores = combine("gmu", p_text, p_poster, has_text, has_poster, fusion.prior, gmu=with_gmu.gmu, E=posters)
            models.append({"modality": "text+poster", "kind": "new (not default)", **_score_model("gmu", Y, val, test, scores)})
        if fusion.late is not None:
            scores = combine("late", p_text, p_poster, has_text, has_poster, fusion.prior, late=fusion.late)
            models.append({"modality": "text+poster", "kind": "new (candidate)", **_score_model("late_fusion", Y, val, test, scores)})

    def best_of(modality_names):
        candidates = [m for m in models if m["modality"] in modality_names and "ablation" not in m["kind"]]
        def value(m):
            rules = [v for k, v in m.items() if isinstance(v, dict) and "micro_f1" in v]
            return max(r["micro_f1"] for r in rules)
        best = max(candidates, key=value)
        rules = {k: v for k, v in best.items() if isinstance(v, dict) and "micro_f1" in v}
        rule = max(rules, key=lambda k: rules[k]["micro_f1"])
        return {"model": best["model"], "rule": rule, **rules[rule]}

    singles = [m for m in models if m["modality"] in ("text", "poster") and "ablation" not in m["kind"]]
    by_validation = max(singles, key=lambda m: m["validation_ranking_quality"])

    def best_single(metric):  # the best figure any single-modality model reaches under any of its rules
        return max(((v[metric], f"{m['model']} ({k})") for m in singles for k, v in m.items()
                    if isinstance(v, dict) and metric in v), key=lambda x: x[0])

    summary = {"best_single_modality": best_of({"text", "poster"}),
               "best_single_modality_on_validation": {"model": by_validation["model"], **by_validation["thresholds"]},
               "best_single_micro_f1_any_rule": best_single("micro_f1"),
               "best_single_macro_f1_any_rule": best_single("macro_f1"),
               "fusion": {"method": fusion.method, **fusion_entry["thresholds"]}}
    summary["fusion_not_worse_micro"] = summary["fusion"]["micro_f1"] >= summary["best_single_micro_f1_any_rule"][0]
    summary["fusion_not_worse_macro"] = summary["fusion"]["macro_f1"] >= summary["best_single_macro_f1_any_rule"][0]
    # How far outside test-split noise the differences are (same test movies, validation thresholds).
    fusion_rows, fusion_pred = decisions["fusion"]
    summary["paired_bootstrap_fusion_minus"] = {
        name: paired_bootstrap(Y[rows], fusion_pred, pred) for name, (rows, pred) in decisions.items()
        if name != "fusion" and np.array_equal(rows, fusion_rows)}
    return {
        "snapshot": folder.name,
        "split_sizes": data.split_sizes(),
        "labels": len(labels),
        "poster_features": poster_info | ({"note": "VGG16 with RANDOM weights (ImageNet weights unavailable offline)"}
                                          if poster_info.get("posters") else {}),
        "models": models,
        "summary": summary,
        "timings_s": timings,
        "seconds": round(time.monotonic() - start, 1),
    }


def run_fusion_benchmarks() -> dict:
    results: dict = {}
    for name in ("tmdb5000", "posters600"):
        folder = SHARED / name
        if not (folder / "movies.jsonl.gz").is_file():
            results[name] = {"skipped": f"{folder} not found (needs ../shared/data)"}
            continue
        results[name] = measure_snapshot(folder)
    return results


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run_fusion_benchmarks(), indent=2, default=str))
