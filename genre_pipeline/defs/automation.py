"""Declarative automation: what rebuilds by itself when the daemon's automation sensor runs.

* the catalog follows its inputs (``eager``): new raw records or a day of TMDB changes
  rebuild the vocabulary and the movie table;
* everything read from the movie table (labels, features, posters, co-occurrence) rebuilds
  when the table's *data version* moved, i.e. when a title, overview, genre, poster or a
  catalog fact the models read changed, not on every rewrite (popularity and vote counts change daily and no model
  reads them);
* models and their evaluation follow their features (``eager``).

The sensor that evaluates these conditions is stopped unless ``GENRE_PIPELINE_SCHEDULES=on``
(the deployment sets it), see :mod:`genre_pipeline.defs.operations.automation`.
"""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition

FOLLOW_INPUTS = AC.eager()

ON_CONTENT_CHANGE = (
    (AC.any_deps_match(AC.data_version_changed() | AC.will_be_requested()) | AC.newly_missing()).since_last_handled()
    & ~AC.any_deps_missing()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
).with_label("on_movie_content_change")
