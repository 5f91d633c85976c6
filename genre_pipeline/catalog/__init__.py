"""Catalog science (plain code): dedup, genre vocabulary, co-occurrence, co-clustering."""
