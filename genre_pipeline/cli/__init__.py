"""`genre-pipeline`: the command line."""
