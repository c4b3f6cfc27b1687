"""Identification ("who is this?"): gallery search, open-set thresholds, classifiers on embeddings, real low-quality benchmarks."""
