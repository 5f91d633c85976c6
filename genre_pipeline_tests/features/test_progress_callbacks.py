"""The long feature steps report ``progress(done, total)`` as they go, and reporting changes no result."""

from __future__ import annotations

import numpy as np
from PIL import Image

from genre_pipeline.features import sentence, vgg16

SMALL = vgg16.VGG16Config(weights="random", seed=0, image_size=32, batch_size=2)


class LengthEncoder:
    """A stand-in sentence encoder: each text's vector holds its length."""

    device = "cpu"

    def run(self, texts, batch_size=64):
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        vectors[:, 1] = [len(t) for t in texts]
        return vectors


def test_sentence_encoding_reports_every_few_hundred_texts_and_ends_at_the_total(tmp_path):
    texts = [f"overview {i}" for i in range(600)] + ["", "overview 3"]  # an empty text and a repeat: 600 to encode
    calls: list[tuple[int, int]] = []
    followed = sentence.encode_texts(texts, runner=LengthEncoder(), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 600), (256, 600), (512, 600), (600, 600)]
    plain = sentence.encode_texts(texts, runner=LengthEncoder())
    assert np.array_equal(followed.matrix, plain.matrix)
    stored: list[tuple[int, int]] = []
    sentence.encode_texts(texts[:10], store_dir=tmp_path, runner=LengthEncoder())
    sentence.encode_texts(texts[:12], store_dir=tmp_path, runner=LengthEncoder(), progress=lambda d, t: stored.append((d, t)))
    assert stored == [(0, 2), (2, 2)]  # texts already in the store are not counted


def test_poster_embedding_reports_after_each_batch_and_skips_stored_posters(tmp_path):
    folder = tmp_path / "posters"
    folder.mkdir()
    paths = []
    for i in range(5):
        paths.append(folder / f"p{i}.jpg")
        Image.new("RGB", (24, 36), (40 * i, 90, 200 - 30 * i)).save(paths[-1], "JPEG")
    calls: list[tuple[int, int]] = []
    followed = vgg16.embed_posters(paths, SMALL, tmp_path / "store", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]  # batches of two
    plain = vgg16.embed_posters(paths, SMALL)
    assert np.allclose(followed.matrix, plain.matrix, atol=1e-5) and plain.n_embedded == 5
    again: list[tuple[int, int]] = []
    vgg16.embed_posters(paths, SMALL, tmp_path / "store", progress=lambda done, total: again.append((done, total)))
    assert again == []  # everything came from the store: nothing to follow
