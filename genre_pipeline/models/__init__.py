"""Plain modelling code (no Dagster), built around one registry of model kinds.

``labels`` (label order, stable split, :class:`~genre_pipeline.models.labels.LabelledData`),
``base`` (the :class:`~genre_pipeline.models.base.GenreModel` interface and saved-folder
layout), one module per family (``linear``: svc_tfidf, naive_bayes_counts; ``mlp``:
mlp_word2vec, mlp_poster; ``text_plus``; ``fusion``), the shared ``stacking``,
``thresholds`` and ``metrics``, ``registry`` (kind name -> class, save / load),
``evaluation`` (test-split figures, comparison, report) and ``predict`` (a new movie).
"""
