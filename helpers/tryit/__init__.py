"""Try a model on your own photos (notebook 06, `lqface verify / identify / calibrate / app`).

arguments.py    every command-line argument checked before a model library loads
thresholds.py   the thresholds a decision is made at (1:1 and open-set) and where each was measured
shipped.py      each pack's thresholds measured on LFW val, written from a run and checked against it
calibration.py  a threshold set at a target FMR on the user's own folder-per-person photos
faces.py        photos in, the largest face aligned out; a photo degraded before detection
quality.py      each face's quality and the verdict of the quality gate notebook 02 chose for the same recogniser
models.py       a pack or a scored step folder, its detector, its thresholds and its quality gate
verify.py       same person? one score, the threshold, the decision
batch.py        many pairs from a CSV, one model load, scores and decisions out
identify.py     who is this? a probe against a folder-per-person gallery, at the open-set threshold
figures.py      the face used on each photo; the score as the probe degrades
widgets.py      notebook 06's ipywidgets panel
app.py          the gradio web app
cli.py          the verify, identify and calibrate subcommands
"""
