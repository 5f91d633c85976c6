"""Tokenizer, built-in stop words, bag-of-words / TF-IDF fit on training movies only, saved features."""

import pickle
from pathlib import Path

import numpy as np
import pytest

import genre_pipeline
from genre_pipeline.features import text


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
    with pytest.raises(ValueError, match="no usable words in the 1 training texts"):
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


def test_movie_text_is_title_then_overview():
    assert text.movie_text("Big Job", "A heist.") == "Big Job. A heist."
    assert text.movie_text(None, "") == "" and text.movie_text("Only Title", None) == "Only Title"
    assert text.movie_text("  ", " An overview. ") == "An overview."
    assert text.movie_texts(None, ["x", None]) == ["x", ""]
    with pytest.raises(ValueError, match="1 titles but 2 overviews"):
        text.movie_texts(["t"], ["a", "b"])


OVERVIEWS = ["a killer stalks the town", "a comic wedding", "the wedding killer", "zombies invade the town", ""]
TITLES = ["Stalker", "Vows", "", "Undead", "Silent Night"]


def test_recipes_fit_on_training_movies_only_and_say_what_they_read():
    fit = [True, True, True, False, True]
    bow = text.bag_of_words(OVERVIEWS, [1, 2, 3, 4, 5], fit)
    assert bow.info["text"] == "overview" and "zombies" not in bow.vocabulary and "stalker" not in bow.vocabulary
    assert bow.vectorizer.max_df == 0.95 and bow.vectorizer.min_df == 0.005  # the tutorial's counts
    tfidf = text.tfidf_features(TITLES, OVERVIEWS, [1, 2, 3, 4, 5], fit)
    assert tfidf.info["text"] == "title+overview" and tfidf.info["fit_movies"] == 4
    assert tfidf.matrix[4].nnz > 0  # empty overview: the title still has features
    assert not any("zombies" in name for name in tfidf.vocabulary)  # test-only words are unseen
    with pytest.raises(ValueError, match="texts \\(5\\), ids \\(4\\) and fit_mask \\(5\\) must have the same length"):
        text.bag_of_words(OVERVIEWS, [1, 2, 3, 4], fit)


def test_text_features_save_and_load_inside_their_folder(tmp_path):
    features = text.tfidf_features(TITLES, OVERVIEWS, [11, 12, 13, 14, 15], [True] * 5)
    folder = features.save(tmp_path / "tfidf")
    assert [p.name for p in tmp_path.iterdir()] == ["tfidf"]
    loaded = text.TextFeatures.load(folder)
    assert loaded.ids.tolist() == [11, 12, 13, 14, 15] and loaded.info == features.info
    assert (loaded.matrix != features.matrix).nnz == 0 and loaded.matrix.dtype == np.float32
    new = ["Vows. a comic killer"]
    assert np.allclose(loaded.vectorizer.transform(new).toarray(), features.vectorizer.transform(new).toarray())


def test_tokens_are_those_of_nltks_regexp_tokenizer_without_importing_nltk():
    from nltk.tokenize import RegexpTokenizer

    samples = ["world¹s end", "Café-owner's 3rd day: naïve_hero vs. 2 robots!", "", "x\ny\tz"]
    nltk_tokens = RegexpTokenizer(r"\w+")
    assert [text.OverviewTokenizer(stop_words=(), min_length=1)._regexp.findall(s) for s in samples] == \
        [nltk_tokens.tokenize(s) for s in samples]
    assert text.tokenize("world¹s end") == ["world", "end"]  # the regex engine: a superscript is not a word character


def test_the_recipe_follows_the_catalog_size():
    assert text.tfidf_recipe(text.LARGE_CATALOG_MOVIES - 1) == "exact"
    assert text.tfidf_recipe(text.LARGE_CATALOG_MOVIES) == "hashed"
    assert text.tfidf_recipe(10, "hashed") == "hashed" and text.tfidf_recipe(10**6, "exact") == "exact"
    with pytest.raises(ValueError, match="TF-IDF recipe must be auto, exact or hashed, got 'fast'"):
        text.tfidf_recipe(10, "fast")


def test_hashed_tfidf_is_one_pass_in_chunks_with_idf_from_training_movies(tmp_path):
    titles = ["Night Killer", "Wedding Bells", "Killer Wedding", "Zombie Dawn", "Empty"]
    overviews = ["a killer stalks the town", "a comic wedding", "the wedding killer", "zombies invade the town", ""]
    ids, fit = [1, 2, 3, 4, 5], [True, True, True, False, True]
    whole = text.tfidf_features(titles, overviews, ids, fit, recipe="hashed")
    chunked = text.hashed_tfidf_features(text.movie_texts(titles, overviews), ids, fit, chunk=2)
    assert whole.info["recipe"] == "hashed" and whole.matrix.shape == (5, text.HASH_FEATURES)
    assert whole.matrix.dtype == np.float32 and (whole.matrix != chunked.matrix).nnz == 0
    assert np.allclose(np.asarray(whole.matrix.multiply(whole.matrix).sum(axis=1)).ravel(), 1.0, atol=1e-5)
    idf = whole.vectorizer.named_steps["tfidf"]
    zombie = whole.vectorizer.named_steps["hash"].transform(["zombies"]).indices[0]
    killer = whole.vectorizer.named_steps["hash"].transform(["killer"]).indices[0]
    assert idf.idf_[zombie] > idf.idf_[killer]  # a word no training movie has gets the rarest weight
    new = whole.vectorizer.transform([text.movie_text("Zombie Dawn", "zombies invade the town")])
    assert abs(new - whole.matrix[3]).max() < 1e-6  # a new text is vectorised exactly as at training time
    folder = whole.save(tmp_path / "hashed")
    loaded = text.TextFeatures.load(folder)
    assert (loaded.matrix != whole.matrix).nnz == 0 and loaded.info["recipe"] == "hashed"
    with pytest.raises(ValueError, match="no usable words in the 1 training texts"):
        text.hashed_tfidf_features(["the and of", "killer"], [1, 2], [True, False])
