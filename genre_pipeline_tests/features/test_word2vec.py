"""Mean word2vec embeddings: pretrained formats, seeded training, dropped movies counted."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

from genre_pipeline.features import word2vec


def tiny_vectors() -> KeyedVectors:
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["killer", "detective", "love", "paris"], np.array(
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [2.0, 2.0, 2.0]], dtype=np.float32))
    return kv


def test_mean_embedding_averages_known_words_and_drops_movies_without_any():
    kv = tiny_vectors()
    result = word2vec.mean_embeddings(
        ["The killer and the detective", "", "unknown words only", ["love", "paris", "nowhere"]], kv
    )
    assert result.kept.tolist() == [True, False, False, True]
    assert result.dropped == 2
    assert result.words_used.tolist() == [2, 0, 0, 2]
    assert result.matrix.dtype == np.float32 and result.matrix.shape == (2, 3)
    assert np.allclose(result.matrix[0], [0.5, 0.5, 0.0])
    assert np.allclose(result.matrix[1], [1.0, 1.0, 2.0])


@pytest.mark.parametrize("name", ["vectors.bin", "vectors.txt", "vectors.kv"])
def test_pretrained_vectors_load_in_every_keyedvectors_format(tmp_path, name):
    kv = tiny_vectors()
    path = tmp_path / name
    if name.endswith(".bin"):
        kv.save_word2vec_format(str(path), binary=True)
    elif name.endswith(".txt"):
        kv.save_word2vec_format(str(path), binary=False)
    else:
        kv.save(str(path))
    settings = word2vec.Word2VecSettings(vectors_file=str(path))
    loaded = word2vec.word_vectors([["ignored"]], settings)
    assert loaded.index_to_key == kv.index_to_key
    assert np.allclose(loaded.vectors, kv.vectors)
    assert settings.describe()["source"] == "pretrained"


def test_missing_pretrained_file_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="word vectors file not found.*train word2vec"):
        word2vec.load_keyed_vectors(tmp_path / "GoogleNews-vectors-negative300.bin.gz")


def test_training_is_seeded_and_deterministic(tmp_path):
    sentences = [["haunted", "house", "ghost", "night"], ["ghost", "night", "scream"], ["wedding", "love", "paris"],
                 ["love", "paris", "kiss"], ["space", "alien", "ship"], ["alien", "ship", "war"]] * 5
    settings = word2vec.Word2VecSettings(vector_size=16, epochs=5, seed=3)
    first = word2vec.train_word2vec(sentences, settings)
    second = word2vec.train_word2vec(sentences, settings)
    assert first.index_to_key == second.index_to_key
    assert np.array_equal(first.vectors, second.vectors)
    other = word2vec.train_word2vec(sentences, word2vec.Word2VecSettings(vector_size=16, epochs=5, seed=4))
    assert not np.array_equal(first.vectors, other.vectors)
    # round trip through the saved form the pipeline uses
    path = word2vec.save_keyed_vectors(first, tmp_path / "w2v.bin")
    assert np.allclose(word2vec.load_keyed_vectors(path).vectors, first.vectors)


def test_training_on_nothing_usable_says_so():
    with pytest.raises(ValueError, match="no overview has any usable word"):
        word2vec.train_word2vec([[], []])
