"""What every stage uses: atomic files and hashes, the resumable record cache, progress bars,
where data and model files come from (mirror, cache, download), and ONNX Runtime providers."""
