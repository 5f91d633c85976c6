"""Poster download and validation (plain code, no Dagster)."""

from genre_pipeline.posters.download import (
    DEFAULT_IMAGE_BASE_URL,
    DEFAULT_POSTER_SIZE,
    PosterDownloader,
    image_bytes_problem,
    image_file_problem,
)

__all__ = [
    "DEFAULT_IMAGE_BASE_URL",
    "DEFAULT_POSTER_SIZE",
    "PosterDownloader",
    "image_bytes_problem",
    "image_file_problem",
]
