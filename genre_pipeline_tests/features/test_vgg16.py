"""VGG16 poster embeddings (torchvision's VGG16): random weights, the per-poster store, ImageNet weights
from a file, the torch hub cache or a first-use download from a real HTTP server on 127.0.0.1, errors."""

import functools
import hashlib
import http.server
import json
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genre_pipeline.features import vgg16
from genre_pipeline.features.vgg16 import PosterFeatures, VGG16Config

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


def serve(folder: Path):
    """A real HTTP server on 127.0.0.1 serving ``folder``; returns (base url, server)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def refused_url(name: str = "vgg16-397923af.pth") -> str:
    """A URL on 127.0.0.1 whose port refuses connections (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def fake_checkpoint(folder: Path, seed: int) -> Path:
    """A torchvision-layout VGG16 checkpoint (features of the seeded random network plus a classifier tensor),
    named like torchvision's files: ``vgg16-<first 8 hex of its sha256>.pth``."""
    import torch

    features = vgg16.build_vgg16_features(VGG16Config(weights="random", seed=seed))
    checkpoint = {f"features.{k}": v for k, v in features.state_dict().items()}
    checkpoint["classifier.0.weight"] = torch.zeros(4, 4)  # stands in for the 500 MB classifier
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / "staging.pth"
    torch.save(checkpoint, staging)
    return staging.rename(folder / f"vgg16-{hashlib.sha256(staging.read_bytes()).hexdigest()[:8]}.pth")


def test_importing_the_module_does_not_import_torch():
    code = "import sys, genre_pipeline.features.vgg16; print('torch' in sys.modules, 'torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_the_network_is_torchvisions_vgg16_features_with_its_seeded_initialisation():
    import torch
    import torchvision

    with torch.device("meta"):
        reference = torchvision.models.vgg16(weights=None).features
    built = vgg16.build_vgg16_features(VGG16Config(weights="random", seed=3))
    assert [type(m) for m in built] == [type(m) for m in reference]
    assert {k: v.shape for k, v in built.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert not built.training and not any(p.requires_grad for p in built.parameters())
    for name, tensor in built.state_dict().items():
        if name.endswith("bias"):
            assert not tensor.any(), name
        else:  # torchvision's VGG init: kaiming normal, fan_out, relu
            expected_std = (2.0 / (tensor.shape[0] * tensor.shape[2] * tensor.shape[3])) ** 0.5
            assert abs(float(tensor.std()) / expected_std - 1) < 0.05, name
    # the global random stream is left as it was
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    vgg16.build_vgg16_features(VGG16Config(weights="random", seed=3))
    assert torch.equal(torch.rand(3), before)


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


def test_random_weights_are_flagged_as_not_imagenet(posters):
    config = VGG16Config(**SMALL)
    assert "NOT ImageNet" in config.weights_label()
    result = vgg16.embed_posters(posters[:1], config)
    assert "NOT ImageNet" in result.info["weights"] and result.info["imagenet_features"] is False


def test_preprocessing_is_torchvisions_imagenet_preset(tmp_path):
    """On a poster that is already square, the preset with no crop gives the embedder's input exactly."""
    import torch
    from torchvision.models import VGG16_Weights

    rng = np.random.default_rng(0)
    path = tmp_path / "square.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    config = VGG16Config(**{**SMALL, "precision": "fp32"})
    embedder = vgg16.PosterEmbedder(config)
    preset = VGG16_Weights.IMAGENET1K_V1.transforms(crop_size=64, resize_size=64)
    with torch.inference_mode(), Image.open(path) as image:
        expected = embedder.module(preset(image.convert("RGB")).unsqueeze(0)).mean(dim=(2, 3)).numpy()
    matrix, _, _ = embedder.embed_files([path])
    np.testing.assert_allclose(matrix, expected, rtol=1e-4, atol=1e-5)


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
        raise AssertionError("the network was built although every poster is stored")

    monkeypatch.setattr(vgg16, "build_vgg16_features", no_network)
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


def test_unreadable_posters_are_reported_with_their_path_not_raised_and_not_stored(posters, tmp_path):
    broken = posters[0].parent / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    result = vgg16.embed_posters([posters[0], broken, posters[1]], VGG16Config(**SMALL), tmp_path / "store")
    assert result.ok.tolist() == [True, False, True]
    assert result.matrix.shape == (2, 512)
    assert f"cannot read poster {broken}" in result.errors["broken.jpg"]
    again = vgg16.embed_posters([posters[0], broken, posters[1]], VGG16Config(**SMALL), tmp_path / "store")
    assert again.n_embedded == 0 and "broken.jpg" in again.errors


def test_a_poster_shared_by_two_movies_is_embedded_once(posters, tmp_path):
    result = vgg16.embed_posters([posters[0], posters[0], posters[1]], VGG16Config(**SMALL), tmp_path / "store")
    assert result.n_embedded == 2 and result.ok.all()
    assert np.array_equal(result.matrix[0], result.matrix[1])


def test_embed_poster_file_matches_the_batched_path_and_names_bad_files(posters, tmp_path, monkeypatch):
    config = VGG16Config(**SMALL)
    one = vgg16.embed_poster_file(posters[1], config)
    assert one.shape == (1, 512) and one.dtype == np.float32
    np.testing.assert_allclose(one[0], vgg16.embed_posters(posters, config).matrix[1], rtol=1e-5, atol=1e-6)

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(vgg16.PosterError, match=re.escape(f"cannot read poster {broken}")):
        vgg16.embed_poster_file(broken, config)

    def no_network(*args, **kwargs):
        raise AssertionError("the network was built for a poster that does not exist")

    monkeypatch.setattr(vgg16, "build_vgg16_features", no_network)
    missing = tmp_path / "missing.jpg"
    with pytest.raises(vgg16.PosterError, match=re.escape(f"cannot read poster {missing}: no such file")):
        vgg16.embed_poster_file(missing, config)


def test_imagenet_weights_file_loads_only_the_convolutional_part(tmp_path, posters):
    import torch

    path = fake_checkpoint(tmp_path / "weights", seed=5)
    config = VGG16Config(weights="imagenet", weights_file=str(path), image_size=64)
    features = vgg16.build_vgg16_features(config)
    assert "classifier" not in dict(features.named_modules())
    from_file, _, _ = vgg16.PosterEmbedder(config).embed_files(posters)
    from_seed, _, _ = vgg16.PosterEmbedder(VGG16Config(weights="random", seed=5, image_size=64)).embed_files(posters)
    assert np.array_equal(from_file, from_seed)
    assert vgg16.embed_posters(posters[:1], config).info["imagenet_features"] is True

    bad = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    with pytest.raises(ValueError, match=re.escape(f"{bad} does not hold torchvision's VGG16 'features")):
        vgg16.build_vgg16_features(VGG16Config(weights="imagenet", weights_file=str(bad)))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=re.escape(f"cannot read VGG16 weights {garbage}")):
        vgg16.build_vgg16_features(VGG16Config(weights="imagenet", weights_file=str(garbage)))


def test_a_missing_weights_file_is_one_error_and_nothing_is_downloaded(monkeypatch, tmp_path, posters):
    def no_download(*args, **kwargs):
        raise AssertionError("an explicit weights file must never trigger a download")

    monkeypatch.setattr(vgg16, "fetch_imagenet_weights", no_download)
    mine = tmp_path / "mine.pth"
    with pytest.raises(vgg16.WeightsNotFoundError, match=f"not found at {re.escape(str(mine))}.*weights='random'"):
        vgg16.embed_posters(posters, VGG16Config(weights="imagenet", weights_file=str(mine), image_size=64))


def test_default_weights_path_is_torchvisions_hub_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    assert vgg16.default_weights_path() == tmp_path / "torch-home" / "hub" / "checkpoints" / "vgg16-397923af.pth"


def test_offline_download_fails_fast_with_one_clear_error(tmp_path):
    target = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    url = refused_url()
    with pytest.raises(vgg16.WeightsNotFoundError) as caught:
        vgg16.fetch_imagenet_weights(target, url=url, timeout=5)
    message = str(caught.value)
    assert f"not found at {target}" in message and url in message and "weights='random'" in message
    assert "Connection refused" in message or "ConnectionRefusedError" in message
    assert not target.exists()


def test_a_server_that_never_answers_fails_within_the_probe_timeout(tmp_path):
    """The listening socket takes the connection but never replies: the probe gives up, nothing hangs."""
    target = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    outcome = []
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/vgg16-397923af.pth"

        def attempt():
            try:
                vgg16.fetch_imagenet_weights(target, url=url, timeout=0.5)
            except vgg16.WeightsNotFoundError as exc:
                outcome.append(str(exc))

        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(120)  # a guard against hanging the suite, not a speed assertion
    assert not worker.is_alive(), "the download attempt hangs on a silent server"
    assert len(outcome) == 1 and re.search("timed out|no answer within 0.5 s", outcome[0]) and url in outcome[0]


def test_a_server_without_the_file_is_reported_not_raised_raw(tmp_path):
    (tmp_path / "empty").mkdir()
    base, server = serve(tmp_path / "empty")
    try:
        target = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
        with pytest.raises(vgg16.WeightsNotFoundError, match="download failed: HTTPError.*404"):
            vgg16.fetch_imagenet_weights(target, url=f"{base}/vgg16-397923af.pth")
        assert not target.exists()
    finally:
        server.shutdown()
        server.server_close()


def test_imagenet_weights_are_fetched_into_the_hub_cache_on_first_use(monkeypatch, tmp_path, posters):
    from torchvision.models import VGG16_Weights

    checkpoint = fake_checkpoint(tmp_path / "served", seed=5)
    base, server = serve(checkpoint.parent)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.value, "url", f"{base}/{checkpoint.name}")
    config = VGG16Config(weights="imagenet", image_size=64)
    try:
        fetched = vgg16.embed_poster_file(posters[0], config)
    finally:
        server.shutdown()
        server.server_close()
    cached = tmp_path / "torch-home" / "hub" / "checkpoints" / checkpoint.name
    assert cached.read_bytes() == checkpoint.read_bytes()
    np.testing.assert_array_equal(fetched, vgg16.embed_poster_file(posters[0], VGG16Config(**{**SMALL, "seed": 5})))
    # the server is gone: the second use reads the hub cache
    np.testing.assert_array_equal(vgg16.embed_poster_file(posters[0], config), fetched)

    # offline and not cached: the same clear error, from embed_poster_file too
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    url = refused_url(checkpoint.name)
    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.value, "url", url)
    expected = f"empty-torch-home.*{checkpoint.name}.*{re.escape(url)}.*weights='random'"
    with pytest.raises(vgg16.WeightsNotFoundError, match=expected):
        vgg16.embed_poster_file(posters[0], config)


def test_bf16_is_chosen_only_where_the_cpu_has_it_natively(tmp_path):
    plain = tmp_path / "cpuinfo-avx2"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f\n")
    native = tmp_path / "cpuinfo-amx"
    native.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert not vgg16.cpu_has_native_bf16(plain)
    assert vgg16.cpu_has_native_bf16(native)
    assert not vgg16.cpu_has_native_bf16(tmp_path / "absent")
    auto = VGG16Config(**SMALL)
    assert vgg16.resolve_precision(auto, "cpu", native_bf16=False) == "fp32"
    assert vgg16.resolve_precision(auto, "cpu", native_bf16=True) == "bf16"
    assert vgg16.resolve_precision(VGG16Config(**{**SMALL, "precision": "fp32"}), "cpu", native_bf16=True) == "fp32"
    assert vgg16.resolve_precision(VGG16Config(**{**SMALL, "precision": "bf16"}), "cpu", native_bf16=False) == "bf16"


def test_bf16_path_is_close_to_fp32_and_stored_separately(posters, tmp_path):
    fp32 = vgg16.embed_posters(posters[:2], VGG16Config(**{**SMALL, "precision": "fp32"}), tmp_path / "store")
    bf16 = vgg16.embed_posters(posters[:2], VGG16Config(**{**SMALL, "precision": "bf16"}), tmp_path / "store")
    assert bf16.info["precision"] == "bf16" and fp32.info["precision"] == "fp32"
    assert bf16.info["fingerprint"] != fp32.info["fingerprint"] and bf16.n_embedded == 2
    cosine = (fp32.matrix * bf16.matrix).sum(axis=1) / (np.linalg.norm(fp32.matrix, axis=1) * np.linalg.norm(bf16.matrix, axis=1))
    assert (cosine > 0.98).all()
    assert not np.array_equal(fp32.matrix, bf16.matrix)


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="weights must be"):
        VGG16Config(weights="imagenet21k")
    with pytest.raises(ValueError, match="layer must be"):
        VGG16Config(layer="fc7")
    with pytest.raises(ValueError, match="at least 32"):
        VGG16Config(image_size=16)


def test_poster_features_round_trip_and_align(posters, tmp_path):
    embeddings = vgg16.embed_posters([*posters, posters[0].parent / "gone.jpg"], VGG16Config(**SMALL))
    # movie 30 shares movie 10's poster; movie 40's poster is missing; movie 50 has no poster file name
    features = PosterFeatures.from_embeddings(embeddings, [10, 20, 30, 40, 50], ["a.jpg", "c.jpg", "a.jpg", "gone.jpg", "x.jpg"])
    assert features.ids.tolist() == [10, 20, 30] and features.matrix.shape == (3, 512)
    assert np.array_equal(features.matrix[0], embeddings.matrix[0]) and np.array_equal(features.matrix[1], embeddings.matrix[2])

    folder = tmp_path / "out" / "poster_features"
    features.save(folder)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["embeddings.npz", "info.json", "poster_features"]
    loaded = PosterFeatures.load(folder)
    assert loaded.ids.dtype == np.int64 and loaded.matrix.dtype == np.float32
    assert np.array_equal(loaded.ids, features.ids) and np.array_equal(loaded.matrix, features.matrix)
    assert loaded.info == json.loads(json.dumps(features.info)) and "NOT ImageNet" in loaded.info["weights"]

    full, available = loaded.align([40, 30, 10, 99])
    assert available.tolist() == [False, True, True, False]
    assert np.array_equal(full[1], features.matrix[2]) and np.array_equal(full[2], features.matrix[0])
    assert not full[[0, 3]].any()
    empty_full, empty_available = PosterFeatures(np.zeros(0), np.zeros((0, 512))).align([1, 2])
    assert empty_full.shape == (2, 512) and not empty_available.any()


def test_poster_features_reject_bad_input_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match="one row per id: 2 ids"):
        PosterFeatures(ids=[1, 2], matrix=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="ids must be unique"):
        PosterFeatures(ids=[1, 1], matrix=np.zeros((2, 4)))
    folder = tmp_path / "features"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{folder / 'embeddings.npz'} does not exist")):
        PosterFeatures.load(folder)
    PosterFeatures(ids=[1], matrix=np.ones((1, 4)), info={"weights": "random"}).save(folder)
    np.savez(folder / "embeddings.npz", ids=np.array([1]))
    with pytest.raises(ValueError, match=re.escape(f"cannot read poster features {folder / 'embeddings.npz'}") + ".*'matrix'"):
        PosterFeatures.load(folder)
    PosterFeatures(ids=[1], matrix=np.ones((1, 4))).save(folder)
    (folder / "info.json").write_text("{\n  broken")
    with pytest.raises(ValueError, match=re.escape(f"cannot read poster features {folder / 'info.json'}: line 2")):
        PosterFeatures.load(folder)


def test_poster_features_of_release_year_partitions_combine_into_one_set():
    info = {"fingerprint": "f1", "weights": "random"}
    parts = {
        "2002": PosterFeatures(ids=[30, 10], matrix=np.array([[3.0, 3.0], [9.0, 9.0]]), info=info),  # movie 10 moved to 2002
        "2001": PosterFeatures(ids=[10, 20], matrix=np.array([[1.0, 1.0], [2.0, 2.0]]), info=info),
        "undated": PosterFeatures(ids=np.zeros(0), matrix=np.zeros((0, 2)), info={"fingerprint": "other"}),
    }
    combined = PosterFeatures.combine(parts)
    assert combined.ids.tolist() == [20, 30, 10] and combined.info == info
    full, available = combined.align([10, 20, 30])
    assert available.all() and full[:, 0].tolist() == [9.0, 2.0, 3.0]
    nothing = PosterFeatures.combine({"1999": PosterFeatures(ids=np.zeros(0), matrix=np.zeros((0, 512)), info=info)})
    assert len(nothing.ids) == 0 and nothing.dim == 512 and nothing.info == info
    assert len(PosterFeatures.combine({}).ids) == 0


def test_poster_features_from_different_vgg16_settings_do_not_combine():
    parts = {"2001": PosterFeatures(ids=[1], matrix=np.ones((1, 2)), info={"fingerprint": "a"}),
             "2002": PosterFeatures(ids=[2], matrix=np.ones((1, 2)), info={"fingerprint": "b"})}
    with pytest.raises(ValueError, match="different VGG16 settings \\(2001: a, 2002: b\\)"):
        PosterFeatures.combine(parts)
    wide = {"2001": PosterFeatures(ids=[1], matrix=np.ones((1, 2)), info={}), "2002": PosterFeatures(ids=[2], matrix=np.ones((1, 3)), info={})}
    with pytest.raises(ValueError, match="different widths \\[2, 3\\]"):
        PosterFeatures.combine(wide)
