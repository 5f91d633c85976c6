import dagster as dg

from genre_pipeline.defs.catalog import assets

defs = dg.Definitions(assets=dg.load_assets_from_modules([assets]))
