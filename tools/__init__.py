"""Developer tools around the pipeline (not pipeline stages)."""
