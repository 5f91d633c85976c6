"""The fine-tuned MiniLM text model: when it runs, its class-balanced loss, training, the ONNX folder it is saved in."""

from __future__ import annotations

import numpy as np
import pytest

from genre_pipeline.models import finetune
from genre_pipeline.models.finetune import FineTuneSettings, fine_tuning_plan, positive_weights
from genre_pipeline.models.labels import LabelledData
from genre_pipeline.models.registry import load_model, save_model


def test_the_plan_fine_tunes_on_cuda_always_and_on_cpu_only_for_small_training_splits(monkeypatch):
    monkeypatch.setattr(finetune.encoder_mod, "onnx_available", lambda: True)
    settings = FineTuneSettings(max_cpu_train_movies=20_000)
    assert fine_tuning_plan("auto", 3_354, settings, device="cpu").run
    large = fine_tuning_plan("auto", 700_000, settings, device="cpu")
    assert not large.run and "700,000 training movies on CPU exceed max_cpu_train_movies=20,000" in large.reason
    assert fine_tuning_plan("auto", 700_000, settings, device="cuda").run
    assert fine_tuning_plan("on", 700_000, settings, device="cpu").run  # asked for: runs however long it takes
    default = fine_tuning_plan("auto", 3_354, FineTuneSettings(), device="cpu")  # tmdb5000 on CPU: opt-in
    assert not default.run and "exceed max_cpu_train_movies=1,000" in default.reason and "mode on" in default.reason
    assert fine_tuning_plan("auto", 420, FineTuneSettings(), device="cpu").run
    assert fine_tuning_plan("OFF", 10, settings, device="cuda").reason == "fine-tuning switched off"
    with pytest.raises(ValueError, match="fine-tuning mode must be one of auto, on, off, got 'sometimes'"):
        fine_tuning_plan("sometimes", 10, settings)
    monkeypatch.setattr(finetune.encoder_mod, "onnx_available", lambda: False)
    assert "pip install onnx onnxruntime" in fine_tuning_plan("on", 10, settings, device="cpu").reason


def test_rare_genres_weigh_more_in_the_balanced_loss():
    Y = np.zeros((100, 3), dtype=np.uint8)
    Y[:50, 0] = 1  # common
    Y[:4, 1] = 1  # rare
    weights = positive_weights(Y, "balanced", cap=10.0)
    assert weights[0] == pytest.approx(1.0) and weights[1] == pytest.approx(np.sqrt(96 / 4))
    assert weights[2] == pytest.approx(10.0)  # no positive at all: capped
    assert positive_weights(Y, "bce", cap=10.0).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="loss must be 'balanced' or 'bce', got 'focal'"):
        FineTuneSettings(loss="focal")


@pytest.mark.slow
def test_fine_tuning_learns_early_stops_and_the_onnx_folder_answers_like_the_torch_model(demo, tmp_path):
    import onnxruntime  # noqa: F401  (a dependency: a missing one fails here)
    keep = np.flatnonzero(np.isin(demo.split, ["train", "validation"]))[:60]
    data = LabelledData(demo.ids[keep], demo.split[keep], demo.Y[keep], demo.labels)
    texts = [demo.texts[i] for i in keep]
    settings = FineTuneSettings(max_seq_length=24, batch_size=8, max_epochs=2, patience=1, lr=1e-4, precision="fp32")
    lines: list[str] = []
    model = finetune.train_finetuned(texts, data, settings, log=lines.append)
    assert model.info["device"] == "cpu" and 1 <= model.info["epochs_run"] <= 2 and len(lines) == model.info["epochs_run"]
    assert model.thresholds is not None and model.thresholds.info["validation_movies"] == int(data.rows("validation").sum())
    scores = model.predict_proba(texts[:5])
    assert scores.shape == (5, len(demo.labels)) and ((scores > 0) & (scores < 1)).all()
    folder = save_model(model, tmp_path / "text_finetuned")
    assert sorted(p.name for p in folder.iterdir()) == ["classifier.onnx", "finetune.json", "meta.json", "tokenizer.json"]
    loaded = load_model(folder)
    assert np.allclose(loaded.predict_proba(texts[:5]), scores, atol=1e-4)
    assert np.allclose(loaded.score_texts([demo.overviews[keep[0]]], [demo.titles[keep[0]]]), scores[:1], atol=1e-4)
    again = finetune.train_finetuned(texts, data, settings)
    assert np.allclose(again.predict_proba(texts[:5]), scores, atol=1e-5)  # seeded
    # text_plus blending this model keeps its uid on disk: a batch loads them as one model and scores its texts once
    from genre_pipeline.models.predict import MovieInput, predict_many
    from genre_pipeline.models.text_plus import TextPlusSettings, train_text_plus

    text_plus = train_text_plus(texts, data, TextPlusSettings(Cs=(0.1,), min_z=-1e9), sentence_config=None, finetuned=model)
    assert text_plus.finetuned is model
    save_model(text_plus, tmp_path / "text_plus")
    loaded_models = {}

    def load(name):
        loaded_models[name] = load_model(tmp_path / name)
        return loaded_models[name]

    movies = [MovieInput(demo.overviews[i], demo.titles[i]) for i in keep[:6]]
    answers = list(predict_many(load, ["text_plus", "text_finetuned"], movies))
    assert [[p.model for p in predictions] for _, predictions in answers] == [["text_plus", "text_finetuned"]] * 6
    shared = loaded_models["text_plus"].finetuned
    assert shared.uid == model.uid and shared._last_batch.cache_info()[:2] == (1, 1)  # (hits, misses)
