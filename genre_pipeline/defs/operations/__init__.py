"""Operations: the schedules and sensors that keep a deployed pipeline current.

* ``recent_years_refresh`` (schedule, weekly): re-fetch the last few release years whole
  and rebuild the movie table from them.
* ``retrain_on_movies_change`` (sensor): when the movie table's modelling content changed,
  rebuild everything derived from it (features, models, evaluation, co-occurrence, posters).

Both are stopped by default; ``GENRE_PIPELINE_SCHEDULES=on`` (set by the deployment's
docker-compose.yml) starts them, see :mod:`genre_pipeline.defs.operations.switch`.
"""
