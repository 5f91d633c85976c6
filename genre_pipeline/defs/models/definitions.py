import dagster as dg

from genre_pipeline.defs.models import assets, fusion_assets

defs = dg.Definitions(assets=[*assets.MODEL_ASSETS, *fusion_assets.FUSION_ASSETS, assets.model_evaluation])
