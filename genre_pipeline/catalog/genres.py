"""The genre vocabulary: TMDB's current genre list plus legacy ids old records still carry.

Tutorial step: "Genre list". The tutorial printed TMDB's genre list, then met genre id
10769 in the data, which the list lacks, and named it "Foreign" by hand. Here legacy ids are
a documented table, and any id still unknown is reported (and named ``Unknown (id)``) rather
than crashing a dictionary lookup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

# Ids TMDB no longer lists in /genre/movie/list but that old records still carry.
LEGACY_GENRES: dict[int, str] = {10769: "Foreign"}


def unknown_genre_name(genre_id: int) -> str:
    return f"Unknown ({genre_id})"


def build_vocabulary(genre_list: list[dict[str, Any]], record_genre_ids: Iterable[Iterable[int]]) -> pd.DataFrame:
    """One row per genre: ``id``, ``name``, ``legacy``, ``known``, ``movie_count``.

    Current genres come first in TMDB's order; legacy and unknown ids that occur in the
    records follow. ``known`` is False only for ids neither listed nor legacy-mapped.
    """
    counts: Counter[int] = Counter()
    for ids in record_genre_ids:
        counts.update(set(int(i) for i in ids))
    rows = []
    listed = set()
    for genre in genre_list:
        gid = int(genre["id"])
        listed.add(gid)
        rows.append({"id": gid, "name": str(genre["name"]), "legacy": False, "known": True, "movie_count": counts.get(gid, 0)})
    for gid in sorted(set(counts) - listed):
        if gid in LEGACY_GENRES:
            rows.append({"id": gid, "name": LEGACY_GENRES[gid], "legacy": True, "known": True, "movie_count": counts[gid]})
        else:
            rows.append({"id": gid, "name": unknown_genre_name(gid), "legacy": False, "known": False, "movie_count": counts[gid]})
    frame = pd.DataFrame(rows, columns=["id", "name", "legacy", "known", "movie_count"])
    return frame.astype({"id": "int64", "movie_count": "int64", "legacy": bool, "known": bool})


def id_to_name(vocabulary: pd.DataFrame) -> dict[int, str]:
    return dict(zip(vocabulary["id"].astype(int), vocabulary["name"]))
