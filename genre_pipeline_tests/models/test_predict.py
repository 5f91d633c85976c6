"""Predicting a new movie's genres with saved models, found by name through a loader."""

import dataclasses
import json

import numpy as np
import pytest

from genre_pipeline.models.predict import PredictionError, predict_genres
from genre_pipeline.models.registry import load_model, save_model

OVERVIEW = "A haunted house, a ghost and a scream in the night: terror for a family."


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved_models")
    for name, entry in trained.items():
        save_model(entry.model, folder / name)
    return folder, sorted(trained)


def _ask(saved, overview, **kwargs):
    folder, names = saved
    return predict_genres(lambda name: load_model(folder / name), names, overview, **kwargs)


def test_every_text_model_ranks_every_genre(saved, demo):
    results = _ask(saved, OVERVIEW, title="House of Screams")
    assert {r.model for r in results} == {"svc_tfidf", "naive_bayes_counts", "mlp_word2vec", "text_plus", "fusion"}
    for result in results:
        probabilities = [p for _, p in result.ranked]
        assert probabilities == sorted(probabilities, reverse=True) and len(result.ranked) == len(demo.labels)
        assert all(0 <= p <= 1 for p in probabilities)
        assert result.decision_rule == "thresholds"  # every trained model carries validation thresholds
        assert result.predicted == [g for g, _ in result.ranked if g in result.predicted]  # in rank order
        assert result.top3 == [g for g, _ in result.ranked[:3]]
    json.dumps([r.as_dict() for r in results])


def test_a_poster_and_a_text_ask_the_fusion_model_and_a_poster_alone_the_poster_model(saved, demo):
    poster = next(f for f in demo.poster_files if f is not None)
    (fusion,) = _ask(saved, OVERVIEW, poster=poster)
    assert fusion.model == "fusion" and "RANDOM VGG16" in " ".join(fusion.notes)
    (alone,) = _ask(saved, None, poster=poster)
    assert alone.model == "mlp_poster" and "RANDOM VGG16" in " ".join(alone.notes)
    everyone = _ask(saved, OVERVIEW, poster=poster, model="all")
    assert len(everyone) == 6


def test_prediction_errors_are_clear(saved, tmp_path):
    with pytest.raises(PredictionError, match="unknown model 'svm'; available models: fusion, mlp_poster"):
        _ask(saved, "text", model="svm")
    broken = tmp_path / "poster.jpg"
    broken.write_bytes(b"\x00\x01 not an image")
    with pytest.raises(PredictionError, match="model 'mlp_poster': cannot read poster .*poster.jpg"):
        _ask(saved, None, poster=broken, model="mlp_poster")
    with pytest.raises(PredictionError, match="cannot read poster .*absent.jpg: no such file"):
        _ask(saved, "text", poster=tmp_path / "absent.jpg")
    with pytest.raises(PredictionError, match="model 'mlp_poster' classifies posters: give --poster FILE"):
        _ask(saved, "text", model="mlp_poster")
    with pytest.raises(PredictionError, match="no trained model is available"):
        predict_genres(lambda name: load_model(tmp_path / name), [], "text")
    with pytest.raises(PredictionError, match="model 'svc_tfidf' cannot be loaded: cannot load the model in .*: no such folder"):
        predict_genres(lambda name: load_model(tmp_path / name), ["svc_tfidf"], "text")


def test_a_missing_imagenet_weights_file_is_a_clear_error(trained, demo, tmp_path):
    model = trained["mlp_poster"].model
    imagenet = {**model.vgg16, "weights": "imagenet", "weights_file": str(tmp_path / "vgg16-397923af.pth")}
    folder = save_model(dataclasses.replace(model, vgg16=imagenet), tmp_path / "mlp_poster")
    poster = next(f for f in demo.poster_files if f is not None)
    with pytest.raises(PredictionError, match="mlp_poster.*vgg16-397923af.pth"):
        predict_genres(lambda name: load_model(folder), ["mlp_poster"], None, poster=poster, model="mlp_poster")


def test_many_movies_load_every_model_once_and_match_one_at_a_time(saved, demo):
    from genre_pipeline.models.predict import MovieInput, predict_many

    folder, names = saved
    loads: list[str] = []
    loaded = {}

    def load(name):
        loads.append(name)
        loaded[name] = load_model(folder / name)
        return loaded[name]

    movies = [MovieInput(overview=o, title=t, id=int(i), line=k + 1)
              for k, (i, t, o) in enumerate(zip(demo.ids[:70], demo.titles[:70], demo.overviews[:70])) if o]
    movies.append(PredictionError("movies.jsonl:99: not a JSON object"))
    answers = list(predict_many(load, names, movies, batch=16))
    assert sorted(loads) == sorted(set(loads)) and "fusion" in loads  # each model read once
    assert [m for m, _ in answers] == movies and isinstance(answers[-1][1], PredictionError)
    # fusion's text model is text_plus (same uid on disk): one object, each batch's texts scored once for both
    assert loaded["fusion"].text.uid == loaded["text_plus"].uid
    batches = len({k // 16 for k, m in enumerate(movies) if isinstance(m, MovieInput)})
    shared = loaded["fusion"].text._last_batch.cache_info()
    assert (shared.misses, shared.hits) == (batches, batches)
    for movie, predictions in answers[:3]:
        alone = _ask(saved, movie.overview, title=movie.title)
        assert [p.model for p in predictions] == [p.model for p in alone]
        for batched, single in zip(predictions, alone):
            assert batched.predicted == single.predicted
            assert np.allclose([p for _, p in batched.ranked], [p for _, p in single.ranked], atol=1e-6)


def test_a_movie_record_is_read_from_tmdbs_shape_or_title_overview_poster_with_clear_errors(tmp_path):
    from genre_pipeline.models.predict import movie_input

    tmdb = {"id": 603, "title": "The Matrix", "overview": "A hacker learns the truth.", "poster_path": "/abc.jpg", "genres": []}
    movie = movie_input(tmdb, "movies.jsonl", 1)
    assert (movie.id, movie.title, movie.poster, movie.line) == (603, "The Matrix", None, 1)  # poster_path is remote
    assert movie.facts is None  # no catalog fact in the record
    facts = movie_input({**tmdb, "runtime": 136, "original_language": "en", "tagline": 7}, "movies.jsonl", 2).facts
    assert facts == {"language=en": 1.0, "runtime=13": 1.0, "budget=unknown": 1.0, "revenue=unknown": 1.0}
    poster = tmp_path / "p.jpg"
    poster.write_bytes(b"x")
    assert movie_input({"overview": "x", "poster": str(poster)}, "in", 2).poster == str(poster)
    with pytest.raises(PredictionError, match="in:3: overview: expected a string, got int"):
        movie_input({"overview": 12}, "in", 3)
    with pytest.raises(PredictionError, match="in:4: poster: cannot read poster .*absent.jpg: no such file"):
        movie_input({"poster": str(tmp_path / "absent.jpg")}, "in", 4)
    with pytest.raises(PredictionError, match="in:5: no title, overview or poster to classify"):
        movie_input({"title": "  ", "overview": None}, "in", 5)
    with pytest.raises(PredictionError, match="in:6: expected a JSON object .* got list"):
        movie_input([1, 2], "in", 6)
