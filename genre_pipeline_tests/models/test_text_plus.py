"""The stronger text model (genre_pipeline.models.text_plus) on a synthetic demo catalog."""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.models.metrics import f1_summary, most_frequent_baseline
from genre_pipeline.models.text_plus import compose_text, compose_texts, ranking_quality, train_text_plus
from genre_pipeline.models.thresholds import fit_thresholds
from genre_pipeline_tests.support.fusion_helpers import demo_arrays


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_arrays(tmp_path_factory.mktemp("demo_text") / "catalog", n_movies=300, seed=1)


def _rows(demo, split):
    return np.flatnonzero((demo.split == split) & (demo.Y.sum(axis=1) > 0))


def test_compose_text():
    assert compose_text("A heist.", "Big Job") == "Big Job. A heist."
    assert compose_text("", None) == ""
    assert compose_text(None, "Only Title") == "Only Title"
    assert compose_texts(["x"], None) == ["x"]


def test_text_plus_learns_calibrated_genres_and_is_deterministic(demo):
    texts = compose_texts(demo.overviews, demo.titles)
    train, val, test = _rows(demo, "train"), _rows(demo, "validation"), _rows(demo, "test")
    pick = lambda rows: [texts[i] for i in rows]  # noqa: E731
    model = train_text_plus(pick(train), demo.Y[train], demo.labels, pick(val), demo.Y[val])
    assert model.C in (0.01, 0.03, 0.1, 0.3) and set(model.info["C_grid_validation_quality"]) == {"0.01", "0.03", "0.1", "0.3"}
    assert model.oof_proba.shape == (len(train), len(demo.labels))
    proba = model.predict_proba([demo.overviews[i] for i in test], [demo.titles[i] for i in test])
    assert proba.shape == (len(test), len(demo.labels))
    assert np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1
    # decisions from validation thresholds beat "always the most frequent genres" on test
    thresholds = fit_thresholds(model.predict_proba(pick(val)), demo.Y[val], demo.labels)
    ours = f1_summary(demo.Y[test], thresholds.apply(proba))["micro_f1"]
    baseline = max(f1_summary(demo.Y[test], most_frequent_baseline(demo.Y[train], len(test), k))["micro_f1"] for k in (1, 2, 3))
    assert ours > baseline + 0.05
    assert ranking_quality(demo.Y[test], proba) > ranking_quality(demo.Y[test], np.tile(demo.Y[train].mean(axis=0), (len(test), 1)))
    again = train_text_plus(pick(train), demo.Y[train], demo.labels, pick(val), demo.Y[val])
    assert np.array_equal(again.predict_proba(pick(test)), model.predict_proba(pick(test)))


def test_empty_text_still_gets_probabilities(demo):
    texts = compose_texts(demo.overviews, demo.titles)
    train = _rows(demo, "train")
    model = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, folds=3)
    proba = model.predict_proba(["", "   "])
    assert proba.shape == (2, len(demo.labels)) and np.isfinite(proba).all()
    assert model.predict_proba([]).shape == (0, len(demo.labels))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        train_text_plus(["a b", "c d"], np.zeros((3, 2)), ["X", "Y"])


def test_word2vec_learner_is_measured_and_unknown_words_fall_back_to_the_svms(demo):
    from genre_pipeline.features.text import tokenize
    from genre_pipeline.features.word2vec import Word2VecSettings, train_word2vec

    texts = compose_texts(demo.overviews, demo.titles)
    train, val = _rows(demo, "train"), _rows(demo, "validation")
    vectors = train_word2vec([tokenize(texts[i]) for i in train], Word2VecSettings(vector_size=16, epochs=5, min_count=2))
    model = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, [texts[i] for i in val], demo.Y[val],
                            Cs=(0.1,), word_vectors=vectors, min_z=-1e9)  # min_z: always keep, to exercise the stack
    assert model.info["word2vec"] == "stacked" and model.sources == ("svm", "word2vec")
    selection = model.info["stack_selection"]
    assert set(selection["mean_log_loss"]) == {"svm", "svm+word2vec"}
    inputs = model.transform(["zzzqx unknownword", demo.overviews[train[0]]], ["", demo.titles[train[0]]])
    assert inputs.has_vectors.tolist() == [False, True]
    proba = model.predict_proba_X(inputs)
    svm_only = model.svm_proba(inputs)
    assert np.allclose(proba[0], svm_only[0])  # no known word: the SVMs alone
    assert not np.allclose(proba[1], svm_only[1])  # known words: the stacked model
    strict = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, [texts[i] for i in val], demo.Y[val],
                             Cs=(0.1,), word_vectors=vectors, min_z=1e9)  # never significant enough
    assert strict.sources == ("svm",) and not strict.stacks and strict.info["word2vec"].startswith("measured, not kept")


# Each genre is carried by one word from a large pool of related words, so any one word is
# rare (TF-IDF sees it a couple of times, if at all) while a sentence encoder knows the
# words of a pool mean related things.
GENRE_WORDS = {
    "Horror": "ghost phantom spirit demon poltergeist specter ghoul vampire werewolf zombie banshee wraith "
              "haunting curse exorcism possession nightmare bloodbath slasher monster",
    "Romance": "love romance sweetheart kiss wedding marriage courtship affection passion honeymoon valentine "
               "fiancee proposal heartthrob lover crush flirtation engagement soulmate bride",
    "Western": "cowboy sheriff outlaw gunslinger marshal ranch saloon stagecoach bandit frontier rodeo "
               "cattle prairie desperado posse lasso homestead wrangler bounty revolver",
    "Science Fiction": "spaceship starship alien extraterrestrial robot android cyborg planet galaxy asteroid "
                       "cosmos spacecraft astronaut interstellar wormhole teleporter martian satellite nebula laser",
}
NAMES = ["Anna", "Ben", "Carla", "Dev", "Elena", "Femi", "Grace", "Hugo"]
PLACES = ["a small town", "the old city", "a quiet village", "the harbour", "a mountain pass"]


def _genre_word_texts(n: int, rng) -> tuple[list[str], np.ndarray]:
    labels = list(GENRE_WORDS)
    texts, Y = [], np.zeros((n, len(labels)), dtype=np.uint8)
    for i in range(n):
        genres = rng.choice(len(labels), size=int(rng.integers(1, 3)), replace=False)
        Y[i, genres] = 1
        words = [str(rng.choice(GENRE_WORDS[labels[g]].split())) for g in genres]
        texts.append(f"{rng.choice(NAMES)} finds a {words[0]} in {rng.choice(PLACES)}, and then the {words[-1]} "
                     f"changes everything.")
    return texts, Y


def test_sentence_learner_transfers_meaning_where_tfidf_cannot():
    from genre_pipeline.features.sentence import SentenceEncoderConfig, encode_texts

    rng = np.random.default_rng(0)
    train_texts, Y_train = _genre_word_texts(160, rng)
    val_texts, Y_val = _genre_word_texts(80, rng)
    test_texts, Y_test = _genre_word_texts(80, rng)
    labels = list(GENRE_WORDS)
    config = SentenceEncoderConfig()
    embedded = encode_texts(train_texts + val_texts + test_texts, config)
    tr, va, te = np.arange(160), np.arange(160, 240), np.arange(240, 320)
    model = train_text_plus(train_texts, Y_train, labels, val_texts, Y_val, sentence_config=config,
                            sentence_train=embedded[tr], sentence_val=embedded[va])
    assert model.sources == ("svm", "sentence") and model.info["sentence"] == "stacked"
    assert model.sentence_config == config and set(model.stacks) == {("svm", "sentence")}
    assert model.info["stack_selection"]["z_vs_best_single"]["svm+sentence"] > 1.645
    assert model.oof_proba.shape == Y_train.shape
    inputs = model.transform(test_texts, sentence=embedded[te])
    stacked, svm_only = model.predict_proba_X(inputs), model.svm_proba(inputs)
    # the ranking error (1 - average precision) of the stack is a fraction of the SVMs'
    assert 1 - ranking_quality(Y_test, stacked) < (1 - ranking_quality(Y_test, svm_only)) / 3
    val_inputs = model.transform(val_texts, sentence=embedded[va])
    thresholds = fit_thresholds(model.predict_proba_X(val_inputs), Y_val, labels)
    svm_thresholds = fit_thresholds(model.svm_proba(val_inputs), Y_val, labels)
    stacked_f1 = f1_summary(Y_test, thresholds.apply(stacked))["micro_f1"]
    assert stacked_f1 > f1_summary(Y_test, svm_thresholds.apply(svm_only))["micro_f1"] + 0.05 and stacked_f1 > 0.9
    # without precomputed vectors the model encodes the texts itself: the same probabilities
    assert np.allclose(model.predict_proba(test_texts[:5]), stacked[:5], atol=1e-5)


@pytest.fixture(scope="module")
def sentence_demo(demo):
    from genre_pipeline.features.sentence import SentenceEncoderConfig, encode_texts

    texts = compose_texts(demo.overviews, demo.titles)
    return texts, encode_texts(texts), SentenceEncoderConfig()


def test_text_without_words_gets_the_svm_probability_under_the_sentence_stack(demo, sentence_demo):
    texts, embedded, config = sentence_demo
    train, val = _rows(demo, "train"), _rows(demo, "validation")
    model = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, [texts[i] for i in val], demo.Y[val],
                            Cs=(0.1,), sentence_config=config, sentence_train=embedded[train], sentence_val=embedded[val],
                            min_z=-1e9)
    inputs = model.transform(["", texts[train[0]]])
    assert inputs.has_sentence.tolist() == [False, True]
    proba, svm_only = model.predict_proba_X(inputs), model.svm_proba(inputs)
    assert np.allclose(proba[0], svm_only[0]) and not np.allclose(proba[1], svm_only[1])
    with pytest.raises(ValueError, match="sentence embeddings"):
        model.transform(["a", "b"], sentence=embedded[:3])


def test_a_model_saved_before_sentence_features_still_loads(demo):
    """text_plus pickles from before the sentence encoder (one optional word2vec stack) unpickle and predict."""
    texts = compose_texts(demo.overviews, demo.titles)
    train = _rows(demo, "train")
    model = train_text_plus([texts[i] for i in train], demo.Y[train], demo.labels, folds=3)
    state = {k: v for k, v in model.__dict__.items() if k not in ("sentence_config", "sources", "dense", "stacks")}
    old = object.__new__(type(model))
    old.__setstate__({**state, "dense": None, "stack": None})
    assert old.sources == ("svm",) and old.stacks == {}
    assert np.allclose(old.predict_proba(texts[:3]), model.predict_proba(texts[:3]))
