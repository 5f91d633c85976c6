import dagster as dg

from genre_pipeline.defs.features import assets

defs = dg.Definitions(
    assets=[
        assets.genre_labels,
        assets.data_split,
        assets.bow_features,
        assets.tfidf_features,
        assets.word2vec_embeddings,
        assets.sentence_embeddings,
        assets.poster_embeddings,
    ]
)
