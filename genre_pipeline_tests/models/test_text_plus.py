"""The stronger text model (genre_pipeline.models.text_plus) on synthetic catalogs."""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.features.sentence import SentenceEncoderConfig, encode_texts
from genre_pipeline.features.text import tokenize
from genre_pipeline.features.word2vec import Word2VecSettings, WordVectors
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.metrics import f1_summary, most_frequent_baseline
from genre_pipeline.models.stacking import ranking_quality
from genre_pipeline.models.text_plus import DEFAULT_CS, TextPlusSettings, train_text_plus
from genre_pipeline.models.thresholds import fit_thresholds
from genre_pipeline_tests.support.fusion_helpers import demo_arrays


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_arrays(tmp_path_factory.mktemp("demo_text") / "catalog", n_movies=300, seed=1)


@pytest.fixture(scope="module")
def model(demo):
    return train_text_plus(demo.texts, demo.data)


def _rows(demo, split):
    return np.flatnonzero(demo.data.rows(split))


def test_text_plus_learns_calibrated_genres_decides_by_validation_thresholds_and_is_deterministic(demo, model):
    train, val, test = _rows(demo, "train"), _rows(demo, "validation"), _rows(demo, "test")
    texts = np.asarray(demo.texts, dtype=object)
    assert model.C in DEFAULT_CS and set(model.info["C_grid_validation_quality"]) == {str(c) for c in DEFAULT_CS}
    assert model.oof_proba.shape == (len(train), len(demo.labels)) and model.sources == ("svm",)
    proba = model.predict_proba(model.transform(list(texts[test])))
    assert proba.shape == (len(test), len(demo.labels)) and np.isfinite(proba).all() and 0 <= proba.min() <= proba.max() <= 1
    assert model.thresholds.info["validation_movies"] == len(val)
    ours = f1_summary(demo.Y[test], model.predict(model.transform(list(texts[test]))))["micro_f1"]
    baseline = max(f1_summary(demo.Y[test], most_frequent_baseline(demo.Y[train], len(test), k))["micro_f1"] for k in (1, 2, 3))
    assert ours > baseline + 0.05
    assert ranking_quality(demo.Y[test], proba) > ranking_quality(demo.Y[test], np.tile(demo.Y[train].mean(axis=0), (len(test), 1)))
    again = train_text_plus(demo.texts, demo.data)
    assert np.array_equal(again.predict_proba(again.transform(list(texts[test]))), proba)


def test_empty_text_still_gets_probabilities(model, demo):
    proba = model.predict_proba(model.transform(["", "   "]))
    assert proba.shape == (2, len(demo.labels)) and np.isfinite(proba).all()
    assert model.predict_proba(model.transform([])).shape == (0, len(demo.labels))


def test_texts_of_other_movies_are_refused(demo):
    with pytest.raises(ValueError, match=f"2 texts but {len(demo.ids)} movies in the labels"):
        train_text_plus(["a b", "c d"], demo.data)


def test_word2vec_learner_is_measured_and_unknown_words_fall_back_to_the_svms(demo):
    texts = demo.texts
    train = _rows(demo, "train")
    vectors = WordVectors.build([tokenize(texts[i]) for i in train], Word2VecSettings(vector_size=16, epochs=5, min_count=2))
    always = TextPlusSettings(Cs=(0.1,), min_z=-1e9)  # always keep the stack, to exercise it
    model = train_text_plus(texts, demo.data, always, word_vectors=vectors)
    assert model.info["word2vec"] == "stacked" and model.sources == ("svm", "word2vec") and model.word_vectors is vectors
    assert set(model.info["stack_selection"]["mean_log_loss"]) == {"svm", "svm+word2vec"}
    inputs = model.transform(["zzzqx unknownword", texts[train[0]]])
    assert inputs.has_vectors.tolist() == [False, True]
    proba, svm_only = model.predict_proba(inputs), model.svm_proba(inputs)
    assert np.allclose(proba[0], svm_only[0])  # no known word: the SVMs alone
    assert not np.allclose(proba[1], svm_only[1])  # known words: the stacked model
    strict = train_text_plus(texts, demo.data, TextPlusSettings(Cs=(0.1,), min_z=1e9), word_vectors=vectors)
    assert strict.sources == ("svm",) and not strict.stacks and strict.word_vectors is None
    assert strict.info["word2vec"].startswith("measured, not kept")


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
    rng = np.random.default_rng(0)
    texts, Y = _genre_word_texts(320, rng)
    split = np.array(["train"] * 160 + ["validation"] * 80 + ["test"] * 80, dtype=object)
    data = LabelledData(ids=np.arange(320), split=split, Y=Y, labels=list(GENRE_WORDS))
    config = SentenceEncoderConfig()
    embedded = encode_texts(texts, config)
    model = train_text_plus(texts, data, sentence=embedded)
    assert model.sources == ("svm", "sentence") and model.info["sentence"] == "stacked"
    assert model.sentence_config == config and set(model.stacks) == {("svm", "sentence")}
    assert model.info["stack_selection"]["z_vs_best_single"]["svm+sentence"] > 1.645
    assert model.oof_proba.shape == (160, 4)
    te, va = split == "test", split == "validation"
    inputs = model.transform([t for t, keep in zip(texts, te) if keep], sentence=embedded[te])
    stacked, svm_only = model.predict_proba(inputs), model.svm_proba(inputs)
    # the ranking error (1 - average precision) of the stack is a fraction of the SVMs'
    assert 1 - ranking_quality(Y[te], stacked) < (1 - ranking_quality(Y[te], svm_only)) / 3
    val_inputs = model.transform([t for t, keep in zip(texts, va) if keep], sentence=embedded[va])
    svm_thresholds = fit_thresholds(model.svm_proba(val_inputs), Y[va], data.labels)
    stacked_f1 = f1_summary(Y[te], model.predict(inputs))["micro_f1"]
    assert stacked_f1 > f1_summary(Y[te], svm_thresholds.apply(svm_only))["micro_f1"] + 0.05 and stacked_f1 > 0.9
    # without precomputed vectors the model encodes the texts itself: the same probabilities
    first = [t for t, keep in zip(texts, te) if keep][:5]
    assert np.allclose(model.predict_proba(model.transform(first)), stacked[:5], atol=1e-5)


def test_text_without_words_gets_the_svm_probability_under_the_sentence_stack(demo):
    embedded = encode_texts(demo.texts)
    model = train_text_plus(demo.texts, demo.data, TextPlusSettings(Cs=(0.1,), min_z=-1e9), sentence=embedded)
    inputs = model.transform(["", demo.texts[_rows(demo, "train")[0]]])
    assert inputs.has_sentence.tolist() == [False, True]
    proba, svm_only = model.predict_proba(inputs), model.svm_proba(inputs)
    assert np.allclose(proba[0], svm_only[0]) and not np.allclose(proba[1], svm_only[1])
    with pytest.raises(ValueError, match="2 texts but 3 sentence embeddings"):
        model.transform(["a", "b"], sentence=embedded[:3])


class KnownScores:
    """A stand-in fine-tuned model: fixed probabilities per composed text (labels, predict_proba, info)."""

    def __init__(self, labels, by_text: dict[str, np.ndarray]):
        self.labels, self.by_text, self.info = list(labels), by_text, {"model": "stand-in"}

    def predict_proba(self, texts):
        return np.stack([self.by_text[t] for t in texts])


def test_a_fine_tuned_encoder_is_blended_in_only_when_validation_gains_significantly(demo, model):
    texts = demo.texts
    truth = (demo.Y > 0).astype(float)
    oracle = KnownScores(demo.labels, {t: 0.05 + 0.9 * y for t, y in zip(texts, truth)})  # knows every answer
    helped = train_text_plus(texts, demo.data, finetuned=oracle)
    assert helped.finetuned is oracle and 0.0 <= helped.blend_weight < 1.0 and "finetuned" in helped.info["sources"]
    assert helped.info["finetuned_selection"]["chosen"] == "blend"
    test = _rows(demo, "test")
    inputs = helped.transform([texts[i] for i in test])
    assert inputs.texts == [texts[i] for i in test]
    assert ranking_quality(demo.Y[test], helped.predict_proba(inputs)) > ranking_quality(
        demo.Y[test], model.predict_proba(model.transform([texts[i] for i in test])))
    rng = np.random.default_rng(0)
    noise = KnownScores(demo.labels, {t: rng.uniform(0.01, 0.99, len(demo.labels)) for t in texts})
    ignored = train_text_plus(texts, demo.data, finetuned=noise)
    assert ignored.finetuned is None and ignored.info["finetuned"] == "measured, not kept (no significant validation gain)"
    assert np.allclose(ignored.predict_proba(ignored.transform(texts[:5])), model.predict_proba(model.transform(texts[:5])))


def test_text_plus_reads_precomputed_tfidf_features_and_mean_vectors(demo, model):
    from genre_pipeline.features.text import tfidf_features
    from genre_pipeline.models.metrics import best_baseline

    fit = demo.split == "train"
    exact = tfidf_features(demo.titles, demo.overviews, demo.ids, fit)
    reused = train_text_plus(demo.texts, demo.data, features=exact)
    assert reused.vectorizer is exact.vectorizer and reused.info["tfidf"] == "exact" and reused.info["solver"] == "liblinear"
    test = _rows(demo, "test")
    direct = reused.predict_proba(reused.inputs(exact.matrix[test], [demo.texts[i] for i in test]))
    assert np.allclose(direct, reused.predict_proba(reused.transform([demo.texts[i] for i in test])), atol=1e-6)
    hashed = tfidf_features(demo.titles, demo.overviews, demo.ids, fit, recipe="hashed")
    large = train_text_plus(demo.texts, demo.data, features=hashed)
    assert large.info["solver"] == "sgd" and large.info["tfidf"] == "hashed"
    X_test = large.inputs(hashed.matrix[test], [demo.texts[i] for i in test])
    figures = f1_summary(demo.Y[test], large.decide(large.predict_proba(X_test)))
    assert figures["micro_f1"] > best_baseline(demo.Y[_rows(demo, "train")], demo.Y[test])["micro_f1"]
