"""Labels, the stable split and the label table as arrays (genre_pipeline.models.labels)."""

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from genre_pipeline.models import labels

IDS = list(range(1, 20001))
# The split of movies 1..20 under the default salt and fractions: a stored split must never move.
FIRST_TWENTY = ["train", "test", "train", "test", "train", "test", "test", "train", "test", "train",
                "train", "validation", "train", "train", "train", "train", "train", "train", "train", "train"]


def test_split_unit_is_the_first_eight_sha256_bytes_of_salt_and_id():
    for movie_id, salt in ((123, labels.SPLIT_SALT), (7, "other-salt")):
        digest = hashlib.sha256(f"{salt}:{movie_id}".encode()).hexdigest()
        assert labels.split_unit(movie_id, salt) == int(digest[:16], 16) / 2**64
    assert labels.split_unit(123) == pytest.approx(0.16810759952466658, abs=1e-15)
    assert labels.split_unit(np.int64(123)) == labels.split_unit(123)


def test_split_is_a_stable_function_of_the_id_with_the_documented_shares():
    first = labels.assign_splits(IDS)
    assert first.dtype == object and first.tolist()[:20] == FIRST_TWENTY
    assert (first == labels.assign_splits(list(reversed(IDS)))[::-1]).all()  # order does not matter
    assert (labels.assign_splits(IDS[:500]) == first[:500]).all()  # adding movies never moves an existing one
    assert labels.split_of(123) == first[122]
    # exact rule: the unit decides train [0, 0.7), validation [0.7, 0.8), test [0.8, 1)
    units = np.array([labels.split_unit(i) for i in IDS])
    expected = np.where(units < 0.7, "train", np.where(units < 0.8, "validation", "test"))
    assert (first == expected).all()
    shares = {name: float((first == name).mean()) for name in labels.SPLITS}
    assert shares == {"train": 0.69905, "validation": 0.0998, "test": 0.20115}


def test_salt_and_fractions_reach_every_split_function():
    salted = labels.assign_splits(IDS[:2000], salt="other-salt")
    assert salted.tolist() == [labels.split_of(i, salt="other-salt") for i in IDS[:2000]]
    assert (salted != labels.assign_splits(IDS[:2000])).mean() > 0.3  # another salt is another split
    units = np.array([labels.split_unit(i, "other-salt") for i in IDS[:2000]])
    assert (salted == np.where(units < 0.7, "train", np.where(units < 0.8, "validation", "test"))).all()

    halves = {"train": 0.5, "validation": 0.0, "test": 0.5}  # a zero share is allowed: no validation movie
    split = labels.assign_splits(IDS[:2000], halves, salt="other-salt")
    assert (split == np.where(units < 0.5, "train", "test")).all()
    assert labels.split_of(IDS[0], halves, "other-salt") == split[0]

    table = labels.label_table(IDS[:2000], [["A"]] * 2000, ["A"], halves, salt="other-salt")
    assert table["split"].tolist() == split.tolist()


def test_a_movie_on_a_boundary_goes_to_the_upper_split():
    unit = labels.split_unit(5)
    on_edge = {"train": unit, "validation": 0.0, "test": 1.0 - unit}
    assert labels.split_of(5, on_edge) == "test"  # unit == train's upper edge: not train
    assert labels.split_of(5, {"train": unit + 1e-12, "validation": 0.0, "test": 1.0 - unit - 1e-12}) == "train"


def test_a_unit_at_the_very_top_goes_to_the_last_split(monkeypatch):
    # int.from_bytes(...) / 2**64 rounds to 1.0 for the highest 2**10 of the 2**64 digests
    monkeypatch.setattr(labels, "split_unit", lambda movie_id, salt=labels.SPLIT_SALT: 1.0)
    assert labels.split_of(1) == "test"
    assert labels.split_of(1, {"train": 0.5, "validation": 0.5, "test": 0.0}) == "test"


def test_fractions_are_validated_with_a_message_naming_the_problem():
    with pytest.raises(ValueError, match=re.escape("sum to 1, got {'train': 0.5, 'validation': 0.1, 'test': 0.1}")):
        labels.assign_splits([1], {"train": 0.5, "validation": 0.1, "test": 0.1})
    with pytest.raises(ValueError, match="must be non-negative"):
        labels.split_of(1, {"train": 1.2, "validation": -0.2, "test": 0.0})
    with pytest.raises(ValueError, match=r"fractions must name exactly \('train', 'validation', 'test'\), "
                                         r"got \['test', 'train'\]"):
        labels.assign_splits([1], {"train": 0.8, "test": 0.2})
    with pytest.raises(ValueError, match="sum to 1"):
        labels.label_table([1], [["A"]], ["A"], {"train": 0.8, "validation": 0.1, "test": 0.2})
    labels.split_of(1, {"train": 0.7, "validation": 0.1, "test": 0.2 + 5e-10})  # within 1e-9 of 1


def test_label_order_follows_the_vocabulary_and_counts_movies():
    vocabulary = ["Drama", "Action", "Comedy", "Western", "Drama"]
    genre_lists = [["Drama", "Action", "Drama"], ["Comedy"], ["Drama", "Foreign"], [], ["Action"], ["Zombie", "Foreign"]]
    # unused Western dropped, unlisted Foreign / Zombie appended in name order, duplicates counted once
    assert labels.label_order(vocabulary, genre_lists) == ["Drama", "Action", "Comedy", "Foreign", "Zombie"]
    # Drama: 2 movies, Action: 2, Comedy: 1, Foreign: 2, Zombie: 1
    assert labels.label_order(vocabulary, genre_lists, min_movies=2) == ["Drama", "Action", "Foreign"]
    assert labels.label_order(vocabulary, genre_lists, min_movies=3) == []


def test_binarize_uses_the_given_label_order():
    order = ["Drama", "Action", "Western", "Comedy"]  # not alphabetical; Western carried by no movie
    Y = labels.binarize([["Action", "Drama"], ["Comedy", "Foreign"], []], order)
    assert Y.dtype == np.uint8
    assert Y.tolist() == [[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]  # Foreign (not a label) ignored
    empty = labels.binarize([], order)
    assert empty.shape == (0, 4) and empty.dtype == np.uint8


def test_label_table_keeps_genres_in_label_order():
    genre_lists = [["Action", "Drama"], ["Comedy"], ["Drama", "Foreign"], []]
    table = labels.label_table([10, 11, 12, 13], genre_lists, ["Drama", "Action"])
    assert list(table.columns) == ["id", "split", "genres", "n_genres"]
    assert table["id"].tolist() == [10, 11, 12, 13]
    assert table["split"].tolist() == labels.assign_splits([10, 11, 12, 13]).tolist()
    assert table["genres"].tolist() == [["Drama", "Action"], [], ["Drama"], []]
    assert table["n_genres"].tolist() == [2, 0, 1, 0]
    assert table.dtypes.astype(str).to_dict() == {"id": "int64", "split": "object", "genres": "object", "n_genres": "int64"}
    empty = labels.label_table([], [], ["Drama"])
    assert len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == {"id": "int64", "split": "object", "genres": "object", "n_genres": "int64"}


def test_labelled_data_rows_skip_movies_without_genre_and_without_input():
    table = pd.DataFrame({"id": [1, 2, 3, 4, 5], "split": ["train", "train", "test", "test", "validation"],
                          "genres": [["A"], [], ["B"], ["A", "B"], ["B"]]})
    data = labels.LabelledData.from_table(table, ("A", "B"))
    assert data.labels == ["A", "B"]
    assert data.ids.dtype == np.int64 and data.split.dtype == object
    assert data.Y.tolist() == [[1, 0], [0, 0], [0, 1], [1, 1], [0, 1]]
    assert data.labelled.tolist() == [True, False, True, True, True]
    assert data.rows("train").tolist() == [True, False, False, False, False]  # movie 2 has no genre
    available = np.array([1, 1, 0, 1, 1])  # 0/1 flags work as a mask
    assert data.rows("test", available).tolist() == [False, False, False, True, False]
    assert data.ids[data.rows("test", available)].tolist() == [4]
    assert data.split_sizes() == {"train": 1, "validation": 1, "test": 2}


def test_labelled_data_ids_are_int64_whatever_the_table_stores():
    table = pd.DataFrame({"id": np.array([5, 6], dtype=np.int32), "split": ["train", "test"], "genres": [["A"], ["A"]]})
    data = labels.LabelledData.from_table(table, ["A"])
    assert data.ids.dtype == np.int64 and data.ids.tolist() == [5, 6]


def test_require_same_movies_needs_the_same_ids_in_the_same_order():
    table = pd.DataFrame({"id": [1, 2, 3], "split": ["train"] * 3, "genres": [["A"]] * 3})
    data = labels.LabelledData.from_table(table, ["A"])
    data.require_same_movies([1, 2, 3], "the features")
    data.require_same_movies(np.array([1, 2, 3], dtype=np.int32), "the features")
    with pytest.raises(ValueError, match=r"^the features and the labels cover different movies \(2 vs 3 rows\): "
                                         r"rebuild the features from the current label table$"):
        data.require_same_movies([1, 2], "the features")
    with pytest.raises(ValueError, match=r"the posters and the labels cover different movies \(3 vs 3 rows\)"):
        data.require_same_movies([1, 3, 2], "the posters")


def test_align_rows_reorders_and_marks_missing_movies():
    full, available = labels.align_rows([30, 10], np.array([[3.0, 3.5], [1.0, 1.5]]), [10, 20, 30])
    assert full.tolist() == [[1.0, 1.5], [0.0, 0.0], [3.0, 3.5]] and available.tolist() == [True, False, True]
    flags, _ = labels.align_rows([30, 10], np.array([[True], [False]]), [10, 30, 20])
    assert flags.dtype == bool and flags[:, 0].tolist() == [False, True, False]
    none, none_available = labels.align_rows([30, 10], np.ones((2, 3)), [])
    assert none.shape == (0, 3) and none_available.shape == (0,)


def test_align_rows_of_a_vector_keeps_its_values():
    full, available = labels.align_rows([30, 10], np.array([3.5, 1.5]), [10, 20, 30])
    assert full.tolist() == [1.5, 0.0, 3.5] and available.tolist() == [True, False, True]


def _movies() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [7, 3, 9, 4],
        "title": ["Seven", None, "Nine", 1917],
        "overview": ["A detective story.", "Space.", np.nan, "War."],
        "genres": [("Crime", "Drama"), ["Science Fiction"], [], ["War", "Drama"]],
        "popularity": [1.0, 2.0, 3.0, 4.0],
    }, index=[100, 101, 102, 103])


def test_genre_labels_build_keeps_every_movie_with_its_text_and_kept_genres():
    built = labels.GenreLabels.build(_movies(), ["Drama", "Crime", "Comedy", "War"])
    assert built.labels == ["Drama", "Crime", "War", "Science Fiction"]  # vocabulary order, extra appended
    assert built.rows == 4
    table = built.table
    assert list(table.columns) == ["id", "title", "overview", "genres", "n_genres"]
    assert table["id"].tolist() == [7, 3, 9, 4]
    assert table["title"].tolist() == ["Seven", "", "Nine", "1917"]
    assert table["overview"].tolist() == ["A detective story.", "Space.", "", "War."]
    assert table["genres"].tolist() == [["Drama", "Crime"], ["Science Fiction"], [], ["Drama", "War"]]
    assert table["n_genres"].tolist() == [2, 1, 0, 2]


def test_genre_labels_save_and_load_round_trip(tmp_path):
    built = labels.GenreLabels.build(_movies(), ["Drama", "Crime", "War"])
    built.table = built.table.iloc[[3, 1, 0]]  # a filtered table keeps no index in the file
    built.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["label_order.json", "labels.parquet"]
    assert pq.read_schema(tmp_path / "labels.parquet").names == ["id", "title", "overview", "genres", "n_genres"]
    assert (tmp_path / "label_order.json").read_text() == (
        '{\n "labels": [\n  "Drama",\n  "Crime",\n  "War",\n  "Science Fiction"\n ]\n}\n')
    loaded = labels.GenreLabels.load(tmp_path)
    assert loaded.labels == built.labels
    assert loaded.table["id"].tolist() == [4, 3, 7] and list(loaded.table.index) == [0, 1, 2]
    assert [list(g) for g in loaded.table["genres"]] == [["Drama", "War"], ["Science Fiction"], ["Drama", "Crime"]]
    assert loaded.table["title"].tolist() == ["1917", "", "Seven"]
    assert json.loads((tmp_path / "label_order.json").read_text())["labels"] == loaded.labels


def test_labelled_data_joins_the_recorded_split_in_the_labels_row_order():
    built = labels.GenreLabels.build(_movies(), ["Drama", "Crime", "War"])
    split = pd.DataFrame({"id": [9, 4, 7, 3, 55], "split": ["test", "validation", "train", "train", "test"],
                          "other": [1, 2, 3, 4, 5]})
    data = labels.labelled_data(built, split)
    assert data.ids.tolist() == [7, 3, 9, 4]
    assert data.split.tolist() == ["train", "train", "test", "validation"]
    assert data.labels == built.labels
    assert data.Y.tolist() == [[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1, 0, 1, 0]]


def test_labelled_data_names_movies_the_split_does_not_cover():
    movies = pd.DataFrame({"id": range(1, 9), "title": "t", "overview": "o", "genres": [["Drama"]] * 8})
    built = labels.GenreLabels.build(movies, ["Drama"])
    split = pd.DataFrame({"id": [2, 8], "split": ["train", "test"]})
    with pytest.raises(ValueError, match=r"^the split does not cover every labelled movie \(e\.g\. ids \[1, 3, 4, 5, 6\]\): "
                                         r"rebuild data_split$"):
        labels.labelled_data(built, split)
