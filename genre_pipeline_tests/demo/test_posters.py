"""Synthetic demo posters: every motif draws; motifs and palettes tell genres apart."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from genre_pipeline.demo.posters import PATTERNS, PosterPainter
from genre_pipeline.demo.vocabulary import load_vocabulary

VOCAB = load_vocabulary()
GENRES = VOCAB.genres.names


def motif_mask(genre: str, seed: int) -> np.ndarray:
    """Where ``genre``'s motif paints a black poster white (one seeded draw)."""
    spec = VOCAB.posters.motifs[genre]
    image = Image.new("RGB", VOCAB.posters.size)
    PATTERNS[spec.pattern].draw(ImageDraw.Draw(image), random.Random(seed),
                                lambda: (255, 255, 255), spec, VOCAB.posters.size)
    return np.asarray(image)[..., 0] > 0


@pytest.mark.parametrize("genre", GENRES)
def test_every_motif_draws_a_visible_shape(genre):
    coverage = [motif_mask(genre, seed).mean() for seed in range(20)]
    assert min(coverage) > 0.0, coverage  # something on every poster
    assert max(coverage) < 1.0, coverage  # but not a flat fill


def test_motifs_differ_between_genres():
    masks = {g: np.mean([motif_mask(g, seed) for seed in range(30)], axis=0) for g in GENRES}
    for a in GENRES:
        for b in GENRES:
            if a < b:
                # Average footprints of two genres' motifs are never the same picture.
                assert np.abs(masks[a] - masks[b]).mean() > 0.01, (a, b)


def test_posters_decode_and_follow_the_genre_palette():
    painter = PosterPainter(VOCAB.posters, VOCAB.genres)
    rng, noise = random.Random(1), np.random.default_rng(1)
    horror = [painter.jpeg(rng, noise, ["Horror"]) for _ in range(20)]
    comedy = [painter.jpeg(rng, noise, ["Comedy"]) for _ in range(20)]

    def mean_brightness(jpegs: list[bytes]) -> float:
        values = []
        for data in jpegs:
            with Image.open(io.BytesIO(data)) as image:
                assert image.format == "JPEG" and image.size == VOCAB.posters.size
                values.append(np.asarray(image.convert("L"), dtype=float).mean())
        return float(np.mean(values))

    # Horror's palette is near-black with red, Comedy's pale yellow: the posters show it.
    assert mean_brightness(horror) + 60 < mean_brightness(comedy)


def test_same_streams_give_the_same_poster_bytes():
    painter = PosterPainter(VOCAB.posters, VOCAB.genres)
    first = painter.jpeg(random.Random(7), np.random.default_rng(7), ["Western", "Action"])
    again = painter.jpeg(random.Random(7), np.random.default_rng(7), ["Western", "Action"])
    other = painter.jpeg(random.Random(8), np.random.default_rng(7), ["Western", "Action"])
    assert first == again and first != other
