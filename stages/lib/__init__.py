"""Plain helpers shared by the stages: params, atomic file output, downloads, text, validation reports."""
