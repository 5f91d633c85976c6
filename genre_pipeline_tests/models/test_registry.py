"""Every model kind survives save -> load unchanged, inside its own folder; bad folders fail clearly."""

import json
import shutil

import numpy as np
import pytest

from genre_pipeline.features.encoder import onnx_available
from genre_pipeline.models.base import FORMAT, GenreModel
from genre_pipeline.models.registry import MODEL_KINDS, MODEL_NAMES, ModelLoadError, load_model, save_model


def test_the_registry_knows_every_kind_in_display_order():
    assert MODEL_NAMES == ("svc_tfidf", "naive_bayes_counts", "mlp_poster", "mlp_word2vec", "text_finetuned", "text_plus",
                           "fusion")
    assert all(MODEL_KINDS[name].kind == name for name in MODEL_NAMES)


# text_finetuned's round trip (torch -> ONNX folder) is in test_finetune.py: fine-tuning is too slow for the shared fixture
@pytest.mark.parametrize("kind", [name for name in MODEL_NAMES if name != "text_finetuned"])
def test_round_trip_gives_the_same_scores_and_decisions(trained, demo, tmp_path, kind):
    entry = trained[kind]
    folder = save_model(entry.model, tmp_path / "saved" / kind)
    assert [p.name for p in tmp_path.iterdir()] == ["saved"] and [p.name for p in (tmp_path / "saved").iterdir()] == [kind]
    loaded = load_model(folder)
    assert type(loaded) is type(entry.model) and loaded.name == kind and loaded.labels == demo.labels
    assert loaded.thresholds is not None
    assert np.array_equal(loaded.thresholds.values, entry.model.thresholds.values)
    rows = demo.data.rows("test", entry.available)
    X = entry.X[rows]
    assert np.allclose(loaded.predict_proba(X), entry.model.predict_proba(X), atol=1e-6)
    assert np.array_equal(loaded.predict(X), entry.model.predict(X))
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["format"] == FORMAT and meta["kind"] == kind and meta["labels"] == demo.labels
    assert meta["decision_rule"] == entry.model.decision_rule


@pytest.mark.parametrize("kind", ["svc_tfidf", "naive_bayes_counts", "mlp_word2vec", "text_plus", "fusion"])
def test_a_loaded_text_model_featurises_a_new_movie_from_its_own_folder(trained, demo, tmp_path, kind):
    model = trained[kind].model
    folder = save_model(model, tmp_path / kind)
    moved = shutil.move(folder, tmp_path / "elsewhere")  # self-contained: nothing points back at the old place
    loaded = load_model(moved)
    i = int(np.flatnonzero(demo.data.rows("test"))[0])
    new = loaded.predict_proba(loaded.featurize(demo.overviews[i], demo.titles[i]))
    assert new.shape == (1, len(demo.labels))
    assert np.allclose(new, model.predict_proba(model.featurize(demo.overviews[i], demo.titles[i])), atol=1e-5)


def test_the_text_model_folder_keeps_its_word_vectors_and_the_poster_model_its_vgg16_settings(trained, tmp_path):
    text_folder = save_model(trained["text_plus"].model, tmp_path / "text_plus")
    assert (text_folder / "word_vectors.npz").is_file()
    if "sentence" in trained["text_plus"].model.sources and onnx_available():  # the encoder as ONNX: predict without torch
        assert {p.name for p in (text_folder / "sentence_encoder").iterdir()} == {"sentence.onnx", "tokenizer.json"}
    poster_folder = save_model(trained["mlp_poster"].model, tmp_path / "mlp_poster")
    assert json.loads((poster_folder / "vgg16.json").read_text())["image_size"] == 32


def _broken_folders(tmp_path, trained) -> dict:
    folders = {}
    folders["no such folder"] = tmp_path / "absent"
    (tmp_path / "empty").mkdir()
    folders["no meta.json"] = tmp_path / "empty"
    bad_json = save_model(trained["naive_bayes_counts"].model, tmp_path / "bad_json")
    (bad_json / "meta.json").write_text("{not json")
    folders["meta.json is unreadable"] = bad_json
    old = save_model(trained["naive_bayes_counts"].model, tmp_path / "old")
    meta = json.loads((old / "meta.json").read_text())
    (old / "meta.json").write_text(json.dumps({**meta, "format": 1}))
    folders["saved in format 1, this version reads format 2; train the model again"] = old
    unknown = save_model(trained["naive_bayes_counts"].model, tmp_path / "unknown")
    (unknown / "meta.json").write_text(json.dumps({**meta, "kind": "mystery"}))
    folders["unknown model kind 'mystery'"] = unknown
    payload = save_model(trained["svc_tfidf"].model, tmp_path / "payload")
    (payload / "estimator.joblib").unlink()
    folders["FileNotFoundError: .*estimator.joblib"] = payload
    return folders


def test_a_folder_that_cannot_be_loaded_is_one_clear_error_naming_it(trained, tmp_path):
    for reason, folder in _broken_folders(tmp_path, trained).items():
        with pytest.raises(ModelLoadError, match=f"cannot load the model in {folder}: {reason}"):
            load_model(folder)


def test_only_registered_kinds_are_saved(tmp_path):
    with pytest.raises(ValueError, match="GenreModel is not a registered model kind"):
        save_model(GenreModel(labels=["A"]), tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kind", ["mlp_word2vec", "text_plus"])
def test_a_loaded_model_saves_again_unchanged_and_answers_without_torch(trained, demo, tmp_path, kind):
    entry = trained[kind]
    first = load_model(save_model(entry.model, tmp_path / "first"))
    if kind == "mlp_word2vec" and onnx_available():
        assert first.module is None and first.session is not None  # ONNX Runtime: predict imports no torch
    again = load_model(save_model(first, tmp_path / "again"))
    rows = demo.data.rows("test", entry.available)
    assert np.allclose(again.predict_proba(entry.X[rows]), entry.model.predict_proba(entry.X[rows]), atol=1e-5)
