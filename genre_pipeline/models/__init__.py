"""Plain modelling code (no Dagster): labels and the stable split, the tutorial's classifiers,
metrics, training recipes shared by the assets and the benchmarks, and prediction."""
