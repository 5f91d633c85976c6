"""Plain feature code (no Dagster): overview text (bag-of-words, TF-IDF), mean word2vec,
VGG16 poster embeddings with a per-poster store. See each module for the tutorial step."""
