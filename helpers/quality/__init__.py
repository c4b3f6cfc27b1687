"""Face image quality inside the run (issue 32): measures per image, and how they are judged.

measures.py        image-based measures on the aligned crop or the landmarks: inter-eye distance, sharpness, exposure, contrast, JPEG blocking
model_measures.py  model-based measures from the recogniser itself: embedding norm, agreement under a mirror flip or a 1-pixel shift
onnx_models.py     any ONNX quality model (CR-FIQA, MagFace) through a YAML quality card, sha256-checked
ofiq.py            OFIQ (ISO/IEC 29794-5) through the optional python-ofiq package, with why it is unavailable
scorers.py         the outside measures a run adds: ONNX quality cards, and OFIQ when it can run here
availability.py    QualityUnavailable: a measure that cannot be had here, and why
edc.py             error-versus-discard curves and pAUC-EDC against the theoretical best
images.py          every measure of every face a run scores, per image and view, cached like embeddings
ranking.py         pAUC-EDC per measure and condition at the operating threshold, with identity-bootstrap intervals
tracking.py        does quality track degradation: each measure's Spearman correlation with each degradation curve's severity
gate.py            the quality gate chosen on val, and a rejected face counted like a failure to acquire on test
figures.py         quality figures: measures along each degradation curve, and EDC curves per measure
face.py            one face's quality and the gate's verdict on it, for the try-it app and CLI
report.py          notebook 02's quality section: quality.parquet, quality.json, tables and figures
"""
