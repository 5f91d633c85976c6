"""Catalog sources: where raw TMDB-shaped movie records come from (plain code, no Dagster)."""
