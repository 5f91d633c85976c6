"""One synthetic demo catalog and one trained model of every kind, shared by the model tests.

The demo overviews and posters carry genre signal, so every model learns something from
~200 training movies. Posters enter the models two ways: colour-histogram features (cheap,
for the fusion science tests) and real VGG16 embeddings with random weights at 32 px (for
the models that must embed a new poster file the way their training posters were).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from genre_pipeline.features.sentence import SentenceEmbeddings, encode_texts
from genre_pipeline.features.text import TextFeatures, bag_of_words, tfidf_features
from genre_pipeline.features.vgg16 import PosterFeatures, VGG16Config, embed_posters
from genre_pipeline.features.word2vec import MeanWord2Vec, mean_word2vec
from genre_pipeline.models.base import GenreModel
from genre_pipeline.models.fusion import FusionInput, train_fusion
from genre_pipeline.models.linear import train_naive_bayes_counts, train_svc_tfidf
from genre_pipeline.models.mlp import train_mlp_poster, train_mlp_word2vec
from genre_pipeline.models.text_plus import TextPlusSettings, train_text_plus
from genre_pipeline_tests.support.fusion_helpers import DemoArrays, demo_arrays

DEMO_MOVIES = 300
VGG16 = VGG16Config(weights="random", seed=0, image_size=32, batch_size=32)


@dataclass
class Features:
    tfidf: TextFeatures
    bow: TextFeatures
    word2vec: MeanWord2Vec
    sentence: SentenceEmbeddings
    posters: PosterFeatures  # VGG16 (random weights, 32 px)


@dataclass
class Trained:
    """A model and its inputs for every movie of the demo (``available``: rows it can score)."""

    model: GenreModel
    X: object
    available: np.ndarray | None = None


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoArrays:
    return demo_arrays(tmp_path_factory.mktemp("models_demo") / "catalog", n_movies=DEMO_MOVIES, seed=0)


@pytest.fixture(scope="session")
def features(demo, tmp_path_factory) -> Features:
    fit = demo.split == "train"
    files = [f for f in demo.poster_files if f is not None]
    embedded = embed_posters(files, VGG16, tmp_path_factory.mktemp("vgg16_store"))
    posters = PosterFeatures.from_embeddings(embedded, demo.ids[demo.has_poster], [f.name for f in files])
    sentence = encode_texts(demo.texts)
    sentence.ids = demo.ids
    return Features(
        tfidf=tfidf_features(demo.titles, demo.overviews, demo.ids, fit),
        bow=bag_of_words(demo.overviews, demo.ids, fit),
        word2vec=mean_word2vec(demo.overviews, demo.ids, fit),
        sentence=sentence,
        posters=posters,
    )


@pytest.fixture(scope="session")
def trained(demo, features) -> dict[str, Trained]:
    """One model of every kind; text_plus keeps both dense learners (min_z very low) so its folder holds everything."""
    data = demo.data
    poster_matrix, has_poster = features.posters.align(data.ids)
    text_plus = train_text_plus(demo.texts, data, TextPlusSettings(Cs=(0.1,), min_z=-1e9),
                                word_vectors=features.word2vec.vectors, sentence=features.sentence)
    fusion = train_fusion(demo.texts, data, features.posters, VGG16, text_model=text_plus, sentence=features.sentence)
    return {
        "svc_tfidf": Trained(train_svc_tfidf(features.tfidf, data), features.tfidf.matrix),
        "naive_bayes_counts": Trained(train_naive_bayes_counts(features.bow, data), features.bow.matrix),
        "mlp_poster": Trained(train_mlp_poster(features.posters, VGG16, data), poster_matrix, has_poster),
        "mlp_word2vec": Trained(train_mlp_word2vec(features.word2vec, data), features.word2vec.matrix, features.word2vec.kept),
        "text_plus": Trained(text_plus, text_plus.transform(demo.texts, sentence=features.sentence)),
        "fusion": Trained(fusion, FusionInput(demo.texts, poster_matrix, has_poster, features.sentence)),
    }
