"""Plain code for getting movie records: snapshots, live TMDB, IMDb, posters (no Dagster)."""
