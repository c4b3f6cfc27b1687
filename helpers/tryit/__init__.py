"""Try a model on your own photos: verify two faces, search a gallery, watch a degradation move the score (CLI and app)."""
