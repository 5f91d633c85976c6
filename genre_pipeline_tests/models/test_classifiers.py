"""The classifiers on a small synthetic demo catalog, without Dagster: the text models beat the
most-frequent baseline on the test split; persistence keeps label order; prediction works and
fails clearly. (All four models against the baseline through the assets: test_model_assets.)"""

import json

import numpy as np
import pytest

from genre_pipeline.features.vgg16 import VGG16Config, embed_posters
from genre_pipeline.models import classifiers, training
from genre_pipeline.models import labels as labels_mod
from genre_pipeline.models.predict import PredictionError, predict_genres
from genre_pipeline.ingestion.records import poster_basename
from genre_pipeline.demo.generator import write_demo_catalog

DEMO_MOVIES = 300  # ~200 training movies: the smallest catalog where every model learns something
# 32 px keeps this module fast; the poster model's quality (64 px, as the demo runs it) is
# asserted through Dagster in test_model_assets.py.
POSTER_CONFIG = dict(weights="random", seed=0, image_size=32, batch_size=32)
TEXT_MODELS = ("svc_tfidf", "naive_bayes_counts", "mlp_word2vec")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    write_demo_catalog(folder, n_movies=DEMO_MOVIES, seed=0)
    movies, vocabulary = training.snapshot_movie_table(folder)
    labels = labels_mod.label_order(list(vocabulary["name"]), movies["genres"])
    data = training.LabelledData.from_table(labels_mod.label_table(movies["id"], movies["genres"], labels), labels)
    return folder, movies, data


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    """Train all four models once; save them into a models folder."""
    folder, movies, data = demo
    models_dir = tmp_path_factory.mktemp("models")
    out = {}
    tfidf = training.tfidf(movies["title"], movies["overview"], data)
    out["svc_tfidf"] = (training.fit_svc(tfidf, data), tfidf.matrix, None)
    bow = training.bag_of_words(movies["overview"], data)
    out["naive_bayes_counts"] = (training.fit_naive_bayes(bow, data), bow.matrix, None)

    kv, vectors, available = training.mean_word2vec(movies["overview"], data)
    vectors_file = models_dir.parent / "w2v.bin"
    from genre_pipeline.features.word2vec import save_keyed_vectors

    save_keyed_vectors(kv, vectors_file)
    mlp_text = training.fit_mlp(vectors, available, data, "mlp_word2vec", "word2vec",
                                extras={"word_vectors_file": "word_vectors.bin"})
    mlp_text.files = {"word_vectors.bin": vectors_file}
    out["mlp_word2vec"] = (mlp_text, vectors, available)

    names = [poster_basename(p) for p in movies["poster_path"]]
    have = [n is not None and (folder / "posters" / n).is_file() for n in names]
    paths = [folder / "posters" / n for n, h in zip(names, have) if h]
    ids = movies["id"].to_numpy()[np.array(have)]
    embedded = embed_posters(paths, VGG16Config(**POSTER_CONFIG), models_dir.parent / "store")
    posters, poster_available = training.align_rows(ids[embedded.ok], embedded.matrix, data.ids)
    mlp_poster = training.fit_mlp(posters, poster_available, data, "mlp_poster", "poster", extras={"vgg16": POSTER_CONFIG})
    out["mlp_poster"] = (mlp_poster, posters, poster_available)
    for model, _, _ in out.values():
        classifiers.save_model(model, models_dir)
    return out, models_dir, paths


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_each_text_model_beats_the_most_frequent_genres_baseline(trained, demo, name):
    _, _, data = demo
    model, X, available = trained[0][name]
    evaluation = training.evaluate_model(model, X, data, available)
    assert evaluation["n_evaluated"] >= 40
    assert evaluation["micro_f1"] > evaluation["baseline"]["micro_f1"] + 0.02, evaluation
    assert evaluation["macro_f1"] > evaluation["baseline"]["macro_f1"]
    assert evaluation["decision_rule"] == ("top3" if name.startswith("mlp") else "labels")
    assert evaluation["coverage"] > 0.9
    scores = model.predict_proba(X[data.rows("test", available)])
    assert scores.shape == (evaluation["n_evaluated"], len(data.labels))
    assert ((scores >= 0) & (scores <= 1)).all()


def test_models_are_seeded(demo):
    _, movies, data = demo
    kv, vectors, available = training.mean_word2vec(movies["overview"], data)
    a = training.fit_mlp(vectors, available, data, "m", "word2vec")
    b = training.fit_mlp(vectors, available, data, "m", "word2vec")
    assert np.array_equal(a.predict_proba(vectors[:20]), b.predict_proba(vectors[:20]))


def test_saved_models_round_trip_with_their_label_order(trained, demo):
    models, models_dir, _ = trained
    _, _, data = demo
    assert classifiers.available_models(models_dir) == sorted(training.MODEL_NAMES)
    for name, (model, X, available) in models.items():
        loaded = classifiers.load_model(models_dir, name)
        assert loaded.labels == data.labels
        rows = data.rows("test", available)
        assert np.allclose(loaded.predict_proba(X[rows]), model.predict_proba(X[rows]))
        assert np.array_equal(loaded.predict(X[rows]), model.predict(X[rows]))
        meta = json.loads((classifiers.latest_folder(models_dir, name) / "meta.json").read_text())
        assert meta["labels"] == data.labels and meta["decision_rule"] == model.decision_rule
    with pytest.raises(classifiers.ModelNotFoundError, match="unknown model 'nope'.*mlp_poster"):
        classifiers.load_model(models_dir, "nope")


def test_save_replaces_latest_and_keeps_two_versions(trained, tmp_path):
    models, _, _ = trained
    model = models["naive_bayes_counts"][0]
    for _ in range(3):
        folder = classifiers.save_model(model, tmp_path)
    versions = [p for p in (tmp_path / "naive_bayes_counts").iterdir() if p.is_dir()]
    assert len(versions) == 2
    assert classifiers.latest_folder(tmp_path, "naive_bayes_counts") == folder


def test_predict_ranks_genres_with_every_text_model_and_the_poster_model(trained):
    _, models_dir, poster_paths = trained
    overview = "A haunted house, a ghost and a scream in the night: terror for a family."
    results = predict_genres(models_dir, overview)
    assert {r.model for r in results} == {"svc_tfidf", "naive_bayes_counts", "mlp_word2vec"}  # no poster given
    for result in results:
        probabilities = [p for _, p in result.ranked]
        assert probabilities == sorted(probabilities, reverse=True) and len(result.ranked) == 20
        assert all(0 <= p <= 1 for p in probabilities)
    (mlp,) = [r for r in results if r.model == "mlp_word2vec"]
    assert len(mlp.predicted) == 3 and mlp.predicted == [g for g, _ in mlp.ranked[:3]]
    (poster,) = predict_genres(models_dir, None, poster=poster_paths[0], model="mlp_poster")
    assert len(poster.predicted) == 3 and "RANDOM" in " ".join(poster.notes)


def test_predict_errors_are_clear(trained, tmp_path):
    _, models_dir, _ = trained
    with pytest.raises(PredictionError, match="unknown model 'svm'; materialized models: .*svc_tfidf"):
        predict_genres(models_dir, "text", model="svm")
    broken = tmp_path / "poster.jpg"
    broken.write_bytes(b"\x00\x01 not an image")
    with pytest.raises(PredictionError, match="cannot read poster .*poster.jpg"):
        predict_genres(models_dir, None, poster=broken, model="mlp_poster")
    with pytest.raises(PredictionError, match="no such file"):
        predict_genres(models_dir, "text", poster=tmp_path / "absent.jpg")
    with pytest.raises(PredictionError, match="give --poster"):
        predict_genres(models_dir, "text", model="mlp_poster")
    with pytest.raises(PredictionError, match="no materialized model"):
        predict_genres(tmp_path / "empty", "text")


def test_the_written_out_adam_matches_torch_optim_adam():
    import torch

    from genre_pipeline.models.classifiers import _Adam, _build_mlp

    torch.manual_seed(0)
    ours = _build_mlp(5, [4], 3, 0.0)
    torch.manual_seed(0)
    reference = _build_mlp(5, [4], 3, 0.0)
    initial = [p.detach().clone() for p in ours.parameters()]
    optimizers = [(ours, _Adam(list(ours.parameters()), lr=1e-2, weight_decay=1e-3)),
                  (reference, torch.optim.Adam(reference.parameters(), lr=1e-2, weight_decay=1e-3))]
    x, y = torch.randn(16, 5), (torch.rand(16, 3) > 0.5).float()
    for _ in range(20):
        for module, optimizer in optimizers:
            optimizer.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(module(x), y).backward()
            optimizer.step()
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert all(not torch.allclose(a, b) for a, b in zip(ours.parameters(), initial))  # it did train


def test_predict_with_missing_imagenet_weights_is_a_clear_error(trained, tmp_path):
    import dataclasses

    models, _, poster_paths = trained
    poster_model = models["mlp_poster"][0]
    imagenet = {**POSTER_CONFIG, "weights": "imagenet", "weights_file": str(tmp_path / "vgg16-397923af.pth")}
    classifiers.save_model(dataclasses.replace(poster_model, extras={"vgg16": imagenet}), tmp_path / "models")
    with pytest.raises(PredictionError, match="mlp_poster.*VGG16 ImageNet weights not found at .*vgg16-397923af.pth"):
        predict_genres(tmp_path / "models", None, poster=poster_paths[0], model="mlp_poster")
