"""The synthetic demo catalog: test and demo data, not a source of real movies.

``generator.write_demo_catalog`` writes it in snapshot format. Its vocabulary (genres and
their co-occurrence, words, palettes, motifs, quirk rates) is data in ``demo/data/*.json``,
read by ``vocabulary``; ``records``, ``text`` and ``posters`` draw from it.
"""
