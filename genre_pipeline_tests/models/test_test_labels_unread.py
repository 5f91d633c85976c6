"""Training never reads test labels: scrambling them changes no model, no score and no threshold."""

import dataclasses

import numpy as np
import pytest

from genre_pipeline.models.linear import train_naive_bayes_counts, train_svc_tfidf
from genre_pipeline.models.mlp import train_mlp_poster, train_mlp_word2vec
from genre_pipeline.models.text_plus import TextPlusSettings, train_text_plus
from genre_pipeline_tests.models.conftest import VGG16

TRAIN = {  # as the conftest trains them
    "svc_tfidf": lambda demo, features, data: train_svc_tfidf(features.tfidf, data),
    "naive_bayes_counts": lambda demo, features, data: train_naive_bayes_counts(features.bow, data),
    "mlp_word2vec": lambda demo, features, data: train_mlp_word2vec(features.word2vec, data),
    "mlp_poster": lambda demo, features, data: train_mlp_poster(features.posters, VGG16, data),
    "text_plus": lambda demo, features, data: train_text_plus(demo.texts, data, TextPlusSettings(Cs=(0.1,), min_z=-1e9),
                                                              word_vectors=features.word2vec.vectors, sentence=features.sentence),
}


@pytest.mark.parametrize("kind", sorted(TRAIN))
def test_scrambled_test_labels_change_nothing(trained, demo, features, kind):
    test = demo.split == "test"
    scrambled = demo.Y.copy()
    scrambled[test] = np.random.default_rng(5).integers(0, 2, size=scrambled[test].shape)
    assert (scrambled[test] != demo.Y[test]).any()
    other = TRAIN[kind](demo, features, dataclasses.replace(demo.data, Y=scrambled))
    entry = trained[kind]
    assert np.array_equal(other.predict_proba(entry.X), entry.model.predict_proba(entry.X))
    assert np.array_equal(other.thresholds.values, entry.model.thresholds.values)
