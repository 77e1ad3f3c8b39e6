"""Data layer: manifest and fetch, the synthetic cohort, loading, checking and preparation."""
