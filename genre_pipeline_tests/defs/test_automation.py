"""Declarative automation: what is read from the movie table rebuilds only when its content changed."""

import dagster as dg
import pandas as pd

from genre_pipeline.catalog.dedup import content_fingerprint
from genre_pipeline.defs.automation import FOLLOW_INPUTS, ON_CONTENT_CHANGE

STATE = {"table": None}


@dg.asset
def movies():
    table = STATE["table"]
    return dg.Output(table, data_version=dg.DataVersion(content_fingerprint(table)[:16]))


@dg.asset(automation_condition=ON_CONTENT_CHANGE)
def genre_labels(movies):
    return len(movies)


@dg.asset(automation_condition=FOLLOW_INPUTS)
def svc_tfidf(genre_labels):
    return genre_labels


def table(title_of_1: str = "One", popularity_of_1: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2], "title": [title_of_1, "Two"], "overview": ["a", "b"], "genre_ids": [[28], [35]],
                         "genres": [["Action"], ["Comedy"]], "poster_path": [None, "/p.jpg"],
                         "popularity": [popularity_of_1, 2.0]})


def requested(defs, instance, cursor):
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}, result.cursor


def test_features_rebuild_on_content_changes_not_on_popularity():
    defs = dg.Definitions(assets=[movies, genre_labels, svc_tfidf], resources={"io_manager": dg.mem_io_manager})
    instance = dg.DagsterInstance.ephemeral()

    def build(**changes) -> None:
        STATE["table"] = table(**changes)
        assert dg.materialize([movies, genre_labels, svc_tfidf], instance=instance, selection=[movies],
                              resources={"io_manager": dg.mem_io_manager}).success

    STATE["table"] = table()
    assert dg.materialize([movies, genre_labels, svc_tfidf], instance=instance, resources={"io_manager": dg.mem_io_manager}).success
    wanted, cursor = requested(defs, instance, None)
    assert "genre_labels" not in wanted  # everything is built and nothing changed

    build(popularity_of_1=99.0)  # rewritten, same modelling content
    wanted, cursor = requested(defs, instance, cursor)
    assert "genre_labels" not in wanted

    build(title_of_1="One, retitled")  # a title changed
    wanted, cursor = requested(defs, instance, cursor)
    assert "genre_labels" in wanted and "svc_tfidf" in wanted  # the model follows its features in the same tick
