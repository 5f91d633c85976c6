"""The multimodal fusion model (genre_pipeline.models.fusion) on a synthetic demo catalog.

The demo posters carry genre signal (palettes / motifs for Animation, Horror, Western,
Documentary, Science Fiction) that overviews lack, so fusion has something to add.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from genre_pipeline.features.facts import CatalogFacts, catalog_facts
from genre_pipeline.features.sentence import encode_texts
from genre_pipeline.models.fusion import FusionInput, combine, train_fusion
from genre_pipeline.models.metrics import f1_summary
from genre_pipeline.models.stacking import per_movie_log_loss, ranking_quality, select_candidate
from genre_pipeline.models.thresholds import fit_thresholds
from genre_pipeline_tests.support.fusion_helpers import demo_arrays


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_arrays(tmp_path_factory.mktemp("demo_fusion") / "catalog", n_movies=600, seed=0)


@pytest.fixture(scope="module")
def sentence(demo):
    """Sentence embeddings of the composed texts, as the ``sentence_embeddings`` feature stores them."""
    return encode_texts(demo.texts)


@pytest.fixture(scope="module")
def model(demo, sentence):
    return train_fusion(demo.texts, demo.data, demo.poster_features(), sentence=sentence)


def _inputs(demo, sentence) -> FusionInput:
    return FusionInput(demo.texts, demo.posters, demo.has_poster, sentence)


def test_fusion_beats_each_single_modality_on_demo_test_split(demo, model, sentence):
    assert model.method == "late"
    assert "svm+sentence" in model.text.info["stack_selection"]["mean_log_loss"]  # the text side measured the encoder
    val, test = demo.data.rows("validation"), demo.data.rows("test")
    X = model.text.transform(demo.texts, sentence=sentence)
    p_text, p_poster = model.text.predict_proba(X), model.poster.predict_proba(demo.posters)
    fused = model.predict_proba(_inputs(demo, sentence))
    fused_f1 = f1_summary(demo.Y[test], model.predict(_inputs(demo, sentence)[test]))
    for single in ("text", "poster"):
        scores = combine(single, {"text": p_text, "poster": p_poster}, {"text": X.has_text, "poster": demo.has_poster}, model.prior)
        thresholds = fit_thresholds(scores[val], demo.Y[val], demo.labels)
        single_f1 = f1_summary(demo.Y[test], thresholds.apply(scores[test]))
        assert fused_f1["micro_f1"] > single_f1["micro_f1"] + 0.02, single
        assert fused_f1["macro_f1"] > single_f1["macro_f1"] + 0.02, single
        assert ranking_quality(demo.Y[test], fused[test]) > ranking_quality(demo.Y[test], scores[test]), single
    # the poster weight is large exactly where the posters carry the genre
    weights = dict(zip(demo.labels, model.late.weights[:, 1]))
    assert np.mean([weights[g] for g in ("Animation", "Horror", "Western")]) > np.mean([weights[g] for g in ("Comedy", "Drama", "Romance")])


def test_test_labels_are_never_read(demo, model, sentence):
    """Scramble every test-split label: the fitted model (text side included) must not change at all."""
    test = demo.split == "test"
    garbage = demo.Y.copy()
    garbage[test] = np.random.default_rng(123).integers(0, 2, size=garbage[test].shape)
    other = train_fusion(demo.texts, dataclasses.replace(demo.data, Y=garbage), demo.poster_features(), sentence=sentence)
    assert other.method == model.method and other.text.sources == model.text.sources
    assert np.array_equal(other.thresholds.values, model.thresholds.values)
    assert np.array_equal(other.predict_proba(_inputs(demo, sentence)), model.predict_proba(_inputs(demo, sentence)))


def test_missing_modalities_still_get_predictions(demo, model):
    text, poster = demo.texts[0], demo.posters[0]
    posters = np.stack([poster, np.zeros_like(poster), poster, np.zeros_like(poster)])
    batch = FusionInput([text, text, "", ""], posters, np.array([True, False, True, False]))
    proba = model.predict_proba(batch)
    assert proba.shape == (4, len(demo.labels)) and np.isfinite(proba).all()
    text_only = model.text.predict_proba(model.text.transform([text]))[0]
    poster_only = model.poster.predict_proba(poster[None, :])[0]
    assert np.allclose(proba[1], text_only)  # no poster: the text model
    assert np.allclose(proba[2], poster_only)  # no text: the poster model
    assert np.allclose(proba[3], model.prior)  # neither: training genre frequencies
    assert not np.allclose(proba[0], text_only)  # both: the combiner
    # no poster embeddings at all (text-only prediction, as `predict --overview` without --poster)
    assert np.allclose(model.predict_proba(FusionInput([text]))[0], text_only)


def test_at_least_one_gives_every_movie_a_genre(demo, model, sentence):
    """With ``at_least_one`` on, no movie is left without a genre; with it off, some are (so the check can fail)."""
    scores = model.predict_proba(_inputs(demo, sentence))
    on = dataclasses.replace(model.thresholds, at_least_one=True)
    off = dataclasses.replace(model.thresholds, at_least_one=False)
    assert (on.apply(scores).sum(axis=1) >= 1).all()
    assert (off.apply(scores).sum(axis=1) == 0).any()
    assert model.thresholds.info["validation_micro_f1"] > 0


def test_selection_needs_a_significant_gain_over_the_best_single_modality():
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, size=(80, 3))
    good = np.where(Y == 1, 0.8, 0.2)
    poster = np.full(good.shape, 0.5)
    slightly = good.copy()  # better on two movies only: a gain, but not a significant one
    slightly[:2] = np.where(Y[:2] == 1, 0.9, 0.1)
    chosen, report = select_candidate(Y, {"text": good, "poster": poster, "late": slightly})
    assert per_movie_log_loss(Y, slightly).mean() < per_movie_log_loss(Y, good).mean()
    assert chosen == "text" and report["best_single"] == "text" and 0 < report["z_vs_best_single"]["late"] < 1.645
    better = np.where(Y == 1, 0.95, 0.05)
    chosen, report = select_candidate(Y, {"text": good, "poster": poster, "late": better})
    assert chosen == "late" and report["z_vs_best_single"]["late"] > 1.645
    assert per_movie_log_loss(Y, better).mean() < per_movie_log_loss(Y, good).mean()


def test_without_posters_fusion_is_the_text_model(demo, model, sentence):
    text_only = train_fusion(demo.texts, demo.data, None, text_model=model.text, sentence=sentence)
    assert text_only.method == "text" and text_only.poster is None and text_only.vgg16 == {}
    assert text_only.info["text_model"] == "text_plus (reused)"
    X = FusionInput(demo.texts, sentence=sentence)
    assert np.allclose(text_only.predict_proba(X), model.text.predict_proba(model.text.transform(demo.texts, sentence=sentence)))


STUDIOS = {"Documentary": "True Story Films", "Family": "Kids First", "Horror": "Night Shift", "War": "Front Line",
           "Music": "Soundstage", "History": "Chronicle", "Mystery": "Clue Box", "Fantasy": "Dragon Gate"}


def informative_facts(demo) -> CatalogFacts:
    """The demo records' facts plus a studio that produces most movies of its genre (seeded): facts that carry genre."""
    rng = np.random.default_rng(7)
    facts = []
    for row, own in enumerate(demo.facts):
        studios = [name for genre, name in STUDIOS.items() if demo.Y[row, demo.labels.index(genre)] and rng.random() < 0.8]
        facts.append({**own, **{f"company={name}": 1.0 for name in studios}})
    return catalog_facts(facts, demo.ids, demo.split == "train")


@pytest.fixture(scope="module")
def with_facts(demo, model, sentence):
    """Fusion over the same text model, the posters and catalog facts in which studios carry genre."""
    return train_fusion(demo.texts, demo.data, demo.poster_features(), text_model=model.text, sentence=sentence,
                        facts=informative_facts(demo))


def test_uninformative_catalog_facts_are_measured_and_left_out(demo, model, sentence):
    """The demo records' own facts (random languages and studios) do not earn their place: fusion stays text + poster."""
    plain = train_fusion(demo.texts, demo.data, demo.poster_features(), text_model=model.text, sentence=sentence,
                         facts=demo.catalog_facts())
    assert plain.method == "late" and plain.facts is None and set(plain.stacks) == {("text", "poster")}
    assert "late+facts" in plain.info["selection"]["mean_log_loss"] and plain.info["facts"]["train_rows"] > 0


def test_catalog_facts_are_stacked_when_validation_says_they_help(demo, model, with_facts, sentence):
    assert with_facts.method == "late+facts" and with_facts.facts is not None
    assert set(with_facts.stacks) == {("text", "poster"), ("text", "facts"), ("poster", "facts"), ("text", "poster", "facts")}
    selection = with_facts.info["selection"]
    assert selection["z_vs_best_single"]["late+facts"] == max(selection["z_vs_best_single"].values()) > 1.645
    rows, _ = informative_facts(demo).aligned(demo.ids)
    X = FusionInput(demo.texts, demo.posters, demo.has_poster, sentence, rows)
    test = demo.data.rows("test")
    plus, without = with_facts.predict_proba(X), model.predict_proba(_inputs(demo, sentence))
    assert ranking_quality(demo.Y[test], plus[test]) > ranking_quality(demo.Y[test], without[test])
    assert f1_summary(demo.Y[test], with_facts.predict(X[test]))["micro_f1"] > f1_summary(demo.Y[test], model.predict(_inputs(demo, sentence)[test]))["micro_f1"]


def test_a_movie_is_scored_by_the_modalities_it_has(demo, with_facts):
    rows, _ = informative_facts(demo).aligned(demo.ids[:1])
    text, poster = demo.texts[0], demo.posters[0]
    M = sp.vstack([rows, rows, rows, sp.csr_matrix((1, rows.shape[1])), rows]).tocsr()
    posters = np.stack([poster, poster, np.zeros_like(poster), poster, np.zeros_like(poster)])
    batch = FusionInput([text, "", "", text, text], posters, np.array([True, True, False, True, False]), facts=M)
    probas, available = with_facts.modality_scores(batch)
    assert available["facts"].tolist() == [True, True, True, False, True]
    proba = with_facts.predict_proba(batch)
    stacks = with_facts.stacks
    assert np.allclose(proba[0], stacks[("text", "poster", "facts")].predict_proba(probas["text"][:1], probas["poster"][:1], probas["facts"][:1]))
    assert np.allclose(proba[1], stacks[("poster", "facts")].predict_proba(probas["poster"][1:2], probas["facts"][1:2]))
    assert np.allclose(proba[2], with_facts.facts.predict_proba(rows))  # facts only: the facts learner
    assert np.allclose(proba[3], with_facts.late.predict_proba(probas["text"][3:4], probas["poster"][3:4]))
    assert np.allclose(proba[4], stacks[("text", "facts")].predict_proba(probas["text"][4:5], probas["facts"][4:5]))
    # no facts given at all (``predict`` from a title and overview): the text model, as before
    text_only = with_facts.text.predict_proba(with_facts.text.transform([text]))[0]
    assert np.allclose(with_facts.predict_proba(FusionInput([text]))[0], text_only)


def test_combine_falls_back_to_the_modalities_a_movie_has():
    prior = np.array([0.25, 0.5])
    probas = {"text": np.full((4, 2), 0.9), "poster": np.full((4, 2), 0.2), "facts": np.full((4, 2), 0.6)}
    available = {"text": np.array([True, False, False, False]), "poster": np.array([True, True, False, False]),
                 "facts": np.array([True, True, True, False])}
    scores = combine("text", probas, available, prior)
    assert np.allclose(scores[:, 0], [0.9, 0.2, 0.6, 0.25])  # text, else the first modality present, else the prior
    with pytest.raises(ValueError, match="unknown fusion method"):
        combine("everything", probas, available, prior)


def test_saved_fusion_reads_the_facts_of_a_tmdb_record_in_predict(demo, with_facts, tmp_path):
    from genre_pipeline.models.predict import movie_input, predict_genres, predict_many
    from genre_pipeline.models.registry import load_model, save_model

    save_model(with_facts, tmp_path / "fusion")
    loaded = load_model(tmp_path / "fusion")
    documentary = demo.labels.index("Documentary")
    row = int(np.flatnonzero(demo.Y[:, documentary])[0])
    facts = {**demo.facts[row], "company=True Story Films": 1.0}
    expected = with_facts.predict_proba(FusionInput([demo.texts[row]], facts=with_facts.facts_rows([facts])))[0]
    assert np.allclose(loaded.predict_proba(loaded.featurize(demo.overviews[row], demo.titles[row], facts=facts))[0], expected)
    text_only = loaded.predict_proba(loaded.featurize(demo.overviews[row], demo.titles[row]))[0]
    assert expected[documentary] > text_only[documentary]  # the studio of documentaries raises Documentary
    record = {"id": 1, "title": demo.titles[row], "overview": demo.overviews[row], "production_companies": [{"name": "True Story Films"}]}
    movie = movie_input(record, "movies.jsonl", 1)
    [(_, [batched])] = list(predict_many(lambda name: loaded, ["fusion"], [movie], model="fusion"))
    [single] = predict_genres(lambda name: loaded, ["fusion"], demo.overviews[row], title=demo.titles[row], model="fusion")
    ranked = dict(batched.ranked)
    assert ranked["Documentary"] > dict(single.ranked)["Documentary"]
    assert np.isclose(ranked["Documentary"], loaded.predict_proba(
        loaded.featurize(demo.overviews[row], demo.titles[row], facts=movie.facts))[0, documentary], atol=1e-4)


def test_a_fusion_model_saved_before_catalog_facts_still_loads(model, tmp_path, demo, sentence):
    import joblib

    from genre_pipeline.models.fusion import PAYLOAD_FILE
    from genre_pipeline.models.registry import load_model, save_model

    save_model(model, tmp_path / "fusion")
    payload = joblib.load(tmp_path / "fusion" / PAYLOAD_FILE)
    legacy = {"poster": payload["poster"], "method": payload["method"], "prior": payload["prior"], "late": model.late}
    joblib.dump(legacy, tmp_path / "fusion" / PAYLOAD_FILE)
    loaded = load_model(tmp_path / "fusion")
    assert loaded.method == "late" and np.array_equal(loaded.late.weights, model.late.weights) and loaded.facts is None
    assert np.allclose(loaded.predict_proba(_inputs(demo, sentence)), model.predict_proba(_inputs(demo, sentence)))
