"""genre_pipeline: Spandan Madan's multi-modal movie genre tutorial as Dagster assets."""

__version__ = "0.1.0"
