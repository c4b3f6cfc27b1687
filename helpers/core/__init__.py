"""What every layer uses: files, caches, progress, where data and models come from, devices.

cache.py       an append-only key -> record store: the checkpoint of long per-image loops
devices.py     ONNX Runtime providers (CUDA when usable, else CPU), sessions without telemetry
files.py       content hashes, atomic writes, safe output paths
markdown.py    plain Markdown tables for the reports
parameters.py  parameter specs (integer, text, mapping, ...) and the check that names a bad value
progress.py    progress bars that read well in terminals and saved notebooks
sources.py     a local mirror, a cache or a sha256-checked download
"""
