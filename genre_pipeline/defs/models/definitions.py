import dagster as dg

from genre_pipeline.defs.models import assets

defs = dg.Definitions(assets=[*assets.MODEL_ASSETS, assets.model_evaluation])
