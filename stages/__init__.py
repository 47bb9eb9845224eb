"""Stages of the IMDB word-embedding pipeline: one module per DVC stage, run as `python -m stages.<name>`."""
