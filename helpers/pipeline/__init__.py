"""Running the notebooks as one pipeline: configs, run folders, execution, provenance, the README's results block."""
