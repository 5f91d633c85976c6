"""VGG16 poster embeddings with random weights: shape, determinism, the per-poster store, errors."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genre_pipeline.features import vgg16
from genre_pipeline.features.vgg16 import VGG16Config

SMALL = dict(weights="random", seed=0, image_size=64, batch_size=2)


def write_poster(path: Path, color, size=(48, 72), stripe=None) -> Path:
    image = Image.new("RGB", size, color)
    if stripe is not None:
        for x in range(size[0]):
            image.putpixel((x, size[1] // 2), stripe)
    image.save(path, "JPEG", quality=90)
    return path


@pytest.fixture
def posters(tmp_path):
    folder = tmp_path / "posters"
    folder.mkdir()
    return [
        write_poster(folder / "a.jpg", (200, 30, 30)),
        write_poster(folder / "b.jpg", (20, 180, 40), stripe=(255, 255, 255)),
        write_poster(folder / "c.jpg", (10, 10, 120)),
    ]


def test_random_weight_embeddings_have_the_documented_shape_and_are_deterministic(posters):
    first, ok, errors = vgg16.PosterEmbedder(VGG16Config(**SMALL)).embed_files(posters)
    second, _, _ = vgg16.PosterEmbedder(VGG16Config(**SMALL)).embed_files(posters)
    assert ok.all() and errors == {}
    assert first.shape == (3, 512) and first.dtype == np.float32
    assert vgg16.embedding_dim(VGG16Config(**SMALL)) == 512
    assert np.array_equal(first, second)
    assert np.isfinite(first).all() and first.std(axis=0).max() > 0  # posters differ, so do embeddings
    assert not np.allclose(first[0], first[2])
    other_seed, _, _ = vgg16.PosterEmbedder(VGG16Config(**{**SMALL, "seed": 1})).embed_files(posters)
    assert not np.allclose(first, other_seed)


def test_pool5_layer_is_the_tutorials_flattened_grid(posters):
    config = VGG16Config(**{**SMALL, "layer": "pool5"})
    matrix, ok, _ = vgg16.PosterEmbedder(config).embed_files(posters[:1])
    assert matrix.shape == (1, 512 * 2 * 2) == (1, vgg16.embedding_dim(config))
    assert vgg16.embedding_dim(VGG16Config(weights="random", image_size=224, layer="pool5")) == 25088


def test_store_embeds_only_new_or_changed_posters(posters, tmp_path, monkeypatch):
    store = tmp_path / "store"
    config = VGG16Config(**SMALL)
    first = vgg16.embed_posters(posters, config, store)
    assert (first.n_embedded, first.n_cached) == (3, 0)
    assert first.info["weights"].startswith("random")

    # a re-run embeds nothing and does not even build the network
    def no_network(*args, **kwargs):
        raise AssertionError("the network was loaded although every poster is stored")

    monkeypatch.setattr(vgg16.PosterEmbedder, "__init__", no_network)
    again = vgg16.embed_posters(posters, config, store)
    assert (again.n_embedded, again.n_cached) == (0, 3)
    assert np.array_equal(again.matrix, first.matrix)
    monkeypatch.undo()

    # one poster replaced under the same name, one new poster: exactly those two are embedded
    write_poster(posters[0], (250, 250, 0))
    new = write_poster(posters[0].parent / "d.jpg", (90, 90, 90))
    third = vgg16.embed_posters([*posters, new], config, store)
    assert (third.n_embedded, third.n_cached) == (2, 2)
    assert not np.allclose(third.matrix[0], first.matrix[0])
    assert np.array_equal(third.matrix[1:3], first.matrix[1:3])

    # another configuration never reuses these numbers
    other = vgg16.embed_posters(posters, VGG16Config(**{**SMALL, "image_size": 32}), store)
    assert other.n_embedded == 3


def test_unreadable_posters_are_reported_not_raised_and_not_stored(posters, tmp_path):
    broken = posters[0].parent / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    result = vgg16.embed_posters([posters[0], broken, posters[1]], VGG16Config(**SMALL), tmp_path / "store")
    assert result.ok.tolist() == [True, False, True]
    assert result.matrix.shape == (2, 512)
    assert "broken.jpg" in result.errors and "cannot read poster" in result.errors["broken.jpg"]
    again = vgg16.embed_posters([posters[0], broken, posters[1]], VGG16Config(**SMALL), tmp_path / "store")
    assert again.n_embedded == 0 and "broken.jpg" in again.errors


def test_a_poster_shared_by_two_movies_is_embedded_once(posters, tmp_path):
    result = vgg16.embed_posters([posters[0], posters[0], posters[1]], VGG16Config(**SMALL), tmp_path / "store")
    assert result.n_embedded == 2 and result.ok.all()
    assert np.array_equal(result.matrix[0], result.matrix[1])


def test_missing_imagenet_weights_is_one_error_naming_the_file(monkeypatch, tmp_path, posters):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    expected = tmp_path / "torch-home" / "hub" / "checkpoints" / vgg16.IMAGENET_FILENAME
    assert vgg16.default_weights_path() == expected
    with pytest.raises(vgg16.WeightsNotFoundError) as caught:
        vgg16.PosterEmbedder(VGG16Config(weights="imagenet", image_size=64))
    message = str(caught.value)
    assert str(expected) in message and "vgg16-397923af.pth" in message and "weights='random'" in message
    with pytest.raises(vgg16.WeightsNotFoundError, match="mine.pth"):
        vgg16.embed_posters(posters, VGG16Config(weights="imagenet", weights_file=str(tmp_path / "mine.pth"), image_size=64))


def test_imagenet_weights_file_loads_only_the_convolutional_part(tmp_path, posters):
    import torch

    reference = vgg16.build_vgg16_features(VGG16Config(weights="random", seed=5))
    checkpoint = {f"features.{k}": v for k, v in reference.state_dict().items()}
    checkpoint["classifier.0.weight"] = torch.zeros(4, 4)  # stands in for the 500 MB classifier
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(checkpoint, path)
    from_file, _, _ = vgg16.PosterEmbedder(VGG16Config(weights="imagenet", weights_file=str(path), image_size=64)).embed_files(posters)
    from_seed, _, _ = vgg16.PosterEmbedder(VGG16Config(weights="random", seed=5, image_size=64)).embed_files(posters)
    assert np.array_equal(from_file, from_seed)
    bad = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    with pytest.raises(ValueError, match="no VGG16 'features"):
        vgg16.build_vgg16_features(VGG16Config(weights="imagenet", weights_file=str(bad)))


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="weights"):
        VGG16Config(weights="imagenet21k")
    with pytest.raises(ValueError, match="layer"):
        VGG16Config(layer="fc7")
    with pytest.raises(ValueError, match="at least 32"):
        VGG16Config(image_size=16)


def test_bf16_path_is_close_to_fp32_and_stored_separately(posters, tmp_path):
    fp32 = vgg16.embed_posters(posters[:2], VGG16Config(**{**SMALL, "precision": "fp32"}), tmp_path / "store")
    bf16 = vgg16.embed_posters(posters[:2], VGG16Config(**{**SMALL, "precision": "bf16"}), tmp_path / "store")
    assert bf16.info["precision"] == "bf16" and fp32.info["precision"] == "fp32"
    assert bf16.info["fingerprint"] != fp32.info["fingerprint"] and bf16.n_embedded == 2
    cosine = (fp32.matrix * bf16.matrix).sum(axis=1) / (np.linalg.norm(fp32.matrix, axis=1) * np.linalg.norm(bf16.matrix, axis=1))
    assert (cosine > 0.98).all()
    assert not np.array_equal(fp32.matrix, bf16.matrix)
