"""Operations: what keeps a deployed pipeline current without anyone clicking.

* ``weekly_recent_years_refresh`` (schedule): re-fetch the last few release years whole;
* ``genre_pipeline_automation`` (the automation sensor): evaluates the assets' declarative
  automation conditions (a day of TMDB changes each night, the catalog following its
  inputs, features and models rebuilt when the movie table's content changed).

Both are stopped by default; ``GENRE_PIPELINE_SCHEDULES=on`` (the deployment's
docker-compose.yml sets it) starts them, see :mod:`genre_pipeline.defs.operations.switch`.
"""
