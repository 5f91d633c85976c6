"""Labels, the stable split and the label table as arrays (genre_pipeline.models.labels)."""

import numpy as np
import pandas as pd
import pytest

from genre_pipeline.models import labels


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


def test_labelled_data_rows_skip_movies_without_genre_and_without_input():
    table = pd.DataFrame({"id": [1, 2, 3, 4, 5], "split": ["train", "train", "test", "test", "validation"],
                          "genres": [["A"], [], ["B"], ["A", "B"], ["B"]]})
    data = labels.LabelledData.from_table(table, ["A", "B"])
    assert data.Y.tolist() == [[1, 0], [0, 0], [0, 1], [1, 1], [0, 1]]
    assert data.rows("train").tolist() == [True, False, False, False, False]  # movie 2 has no genre
    assert data.rows("test", np.array([1, 1, 0, 1, 1], bool)).tolist() == [False, False, False, True, False]
    assert data.split_sizes() == {"train": 1, "validation": 1, "test": 2}
    data.require_same_movies([1, 2, 3, 4, 5], "the features")
    with pytest.raises(ValueError, match="the features and the labels cover different movies \\(4 vs 5 rows\\)"):
        data.require_same_movies([1, 2, 3, 4], "the features")


def test_align_rows_reorders_and_marks_missing_movies():
    full, available = labels.align_rows([30, 10], np.array([[3.0, 3.5], [1.0, 1.5]]), [10, 20, 30])
    assert full.tolist() == [[1.0, 1.5], [0.0, 0.0], [3.0, 3.5]] and available.tolist() == [True, False, True]
