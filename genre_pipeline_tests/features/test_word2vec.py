"""Mean word2vec embeddings: pretrained formats, seeded training, dropped movies counted, saved results."""

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
    assert result.matrix.dtype == np.float32 and result.matrix.shape == (4, 3)
    assert np.allclose(result.matrix[0], [0.5, 0.5, 0.0])
    assert np.allclose(result.matrix[3], [1.0, 1.0, 2.0])
    assert not result.matrix[1:3].any()  # dropped movies: zero rows


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
    loaded = word2vec.WordVectors.build([["ignored"]], settings)
    assert loaded.kv.index_to_key == kv.index_to_key
    assert np.allclose(loaded.kv.vectors, kv.vectors)
    assert settings.describe()["source"] == "pretrained" and loaded.settings.vectors_file == str(path.resolve())


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
    folder = word2vec.WordVectors(settings, first).save(tmp_path / "w2v")
    again = word2vec.WordVectors.load(folder)
    assert again.kv.index_to_key == first.index_to_key and np.array_equal(again.kv.vectors, first.vectors)


def test_training_on_nothing_usable_says_so():
    with pytest.raises(ValueError, match="no overview has any usable word"):
        word2vec.train_word2vec([[], []])


OVERVIEWS = ["A haunted house and a ghost at night", "A ghost screams", "Love in Paris", "Zorgblat", "Paris ghost"]


def test_mean_word2vec_learns_from_training_overviews_only_and_saves_inside_its_folder(tmp_path):
    settings = word2vec.Word2VecSettings(vector_size=8, epochs=3, seed=1)
    fit = [True, True, True, False, False]
    result = word2vec.mean_word2vec(OVERVIEWS, [1, 2, 3, 4, 5], fit, settings)
    assert set(result.vectors.kv.index_to_key) == {"haunted", "house", "ghost", "night", "screams", "love", "paris"}
    assert result.kept.tolist() == [True, True, True, False, True] and result.info["movies_without_known_words"] == 1
    assert result.matrix.shape == (5, 8) and not result.matrix[3].any()
    folder = result.save(tmp_path / "w2v")
    assert [p.name for p in tmp_path.iterdir()] == ["w2v"]
    loaded = word2vec.MeanWord2Vec.load(folder)
    assert loaded.ids.tolist() == [1, 2, 3, 4, 5] and np.array_equal(loaded.matrix, result.matrix)
    assert loaded.kept.tolist() == result.kept.tolist() and loaded.info == result.info
    assert np.array_equal(loaded.vectors.mean(["ghost in paris"]).matrix, result.vectors.mean(["ghost in paris"]).matrix)
    with pytest.raises(ValueError, match="overviews \\(5\\), ids \\(2\\) and fit_mask \\(5\\)"):
        word2vec.mean_word2vec(OVERVIEWS, [1, 2], fit, settings)


def test_pretrained_vectors_are_referenced_not_copied(tmp_path):
    source = tmp_path / "pretrained.kv"
    tiny_vectors().save(str(source))
    result = word2vec.mean_word2vec(["the killer in paris", "nothing known"], [7, 8], [True, True],
                                    word2vec.Word2VecSettings(vectors_file=str(source)))
    folder = result.save(tmp_path / "features")
    assert not (folder / word2vec.WordVectors.VECTORS_FILE).exists()
    loaded = word2vec.MeanWord2Vec.load(folder)
    assert loaded.vectors.keyed_vectors is None  # read on first use, from the referenced file
    assert np.allclose(loaded.vectors.mean(["killer"]).matrix, [[1.0, 0.0, 0.0]])
    assert loaded.info["source"] == "pretrained" and loaded.info["vectors_file"] == str(source.resolve())


def test_large_catalogs_train_fewer_epochs_within_the_token_budget():
    from genre_pipeline.features.word2vec import Word2VecSettings

    settings = Word2VecSettings(epochs=40, max_token_passes=1_000_000)
    assert settings.epochs_for(10_000) == 40  # a tutorial-sized corpus keeps every epoch
    assert settings.epochs_for(100_000) == 10 and settings.epochs_for(5_000_000) == 1
    assert Word2VecSettings().epochs_for(120_000) == 40  # tmdb5000: ~120,000 training tokens
