"""Tokenizer, built-in stop words, bag-of-words / TF-IDF fit on training movies only; labels + split."""

import pickle
from pathlib import Path

import numpy as np
import pytest

import genre_pipeline
from genre_pipeline.features import text
from genre_pipeline.models import labels


def test_tokenizer_lowercases_and_drops_stop_words_digits_and_single_letters():
    tokens = text.tokenize("The Vampire's 2 brothers, and THEIR haunted house in 1931!")
    assert tokens == ["vampire", "brothers", "haunted", "house"]
    assert text.tokenize("") == [] and text.tokenize(None) == []
    assert {"the", "and", "their", "in", "s"} <= text.ENGLISH_STOP_WORDS


def test_no_nltk_download_anywhere_in_the_package():
    package = Path(genre_pipeline.__file__).parent
    offenders = [p for p in package.rglob("*.py") if "nltk.download" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_count_vectorizer_is_the_tutorials_and_fits_on_training_movies_only():
    vectorizer = text.count_vectorizer()
    assert (vectorizer.max_df, vectorizer.min_df) == (0.95, 0.005)
    overviews = ["a killer stalks the town", "a comic wedding", "the wedding killer", "zombies invade", ""]
    features = text.fit_transform_split(vectorizer, overviews, [1, 2, 3, 4, 5], [True, True, True, False, True])
    vocabulary = features.vocabulary
    assert "zombies" not in vocabulary and "invade" not in vocabulary  # test-only words are unseen
    assert {"killer", "wedding", "stalks"} <= set(vocabulary)
    assert features.matrix.shape == (5, len(vocabulary))
    row = features.matrix[2].toarray()[0]
    assert row[vocabulary.index("killer")] == 1 and row[vocabulary.index("wedding")] == 1
    assert features.matrix[3].nnz == 0 and features.matrix[4].nnz == 0  # unseen words / empty: zero rows
    assert features.info["rows_without_known_words"] == 2 and features.info["empty_overviews"] == 1


def test_fit_with_no_usable_training_word_says_so():
    with pytest.raises(ValueError, match="no usable words"):
        text.fit_transform_split(text.count_vectorizer(), ["the and of", "words here"], [1, 2], [True, False])


def test_tfidf_rows_are_unit_length_and_the_fitted_vectorizer_pickles():
    overviews = [
        "a serial killer hunts a detective",
        "two lovers meet in paris",
        "a detective hunts the serial killer",
        "lovers in love in paris",
        "space marines fight aliens",
        "aliens invade the space station",
    ]
    titles = ["Hunt", "Paris", "", "Amour", "Marines", None]
    texts = [text.movie_text(t, o) for t, o in zip(titles, overviews)]
    assert texts[0] == "Hunt. a serial killer hunts a detective" and texts[2] == overviews[2]
    features = text.fit_transform_split(text.tfidf_vectorizer(), texts, np.arange(6), [True] * 6)
    norms = np.sqrt(np.asarray(features.matrix.multiply(features.matrix).sum(axis=1))).ravel()
    assert np.allclose(norms, 1.0, atol=1e-5)
    names = features.vocabulary
    assert any(n.startswith("word__") and " " in n for n in names)  # bigrams
    assert any(n.startswith("char__") for n in names)  # character n-grams
    clone = pickle.loads(pickle.dumps(features.vectorizer))
    again = clone.transform(["a killer in paris"]).toarray()
    assert np.allclose(again, features.vectorizer.transform(["a killer in paris"]).toarray())


def test_split_is_a_stable_function_of_the_id_with_the_documented_shares():
    ids = list(range(1, 20001))
    first = labels.assign_splits(ids)
    assert (first == labels.assign_splits(list(reversed(ids)))[::-1]).all()  # order does not matter
    shares = {name: float((first == name).mean()) for name in labels.SPLITS}
    assert shares["train"] == pytest.approx(0.7, abs=0.015)
    assert shares["validation"] == pytest.approx(0.1, abs=0.01)
    assert shares["test"] == pytest.approx(0.2, abs=0.015)
    # adding movies never moves an existing one
    assert (labels.assign_splits(ids[:500]) == first[:500]).all()
    assert labels.split_of(123) == first[122]
    with pytest.raises(ValueError, match="sum to 1"):
        labels.assign_splits([1], {"train": 0.5, "validation": 0.1, "test": 0.1})


def test_label_order_and_binarizer_follow_the_vocabulary():
    vocabulary = ["Action", "Comedy", "Drama", "Western"]
    genre_lists = [["Drama", "Action"], ["Comedy"], ["Drama", "Foreign"], []]
    order = labels.label_order(vocabulary, genre_lists)
    assert order == ["Action", "Comedy", "Drama", "Foreign"]  # unused Western dropped, unlisted Foreign kept
    Y = labels.binarize(genre_lists, order)
    assert Y.tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]]
    table = labels.label_table([10, 11, 12, 13], genre_lists, ["Action", "Drama"])
    assert table["genres"].tolist() == [["Action", "Drama"], [], ["Drama"], []]
    assert table["n_genres"].tolist() == [2, 0, 1, 0]
    assert set(table["split"]) <= set(labels.SPLITS)
