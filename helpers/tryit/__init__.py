"""Try a model on your own photos (notebook 06, `lqface verify / identify / app`).

faces.py     photos in, the largest face aligned out; a photo degraded before detection
models.py    a pack or a scored step folder, its detector and operating threshold
verify.py    same person? one score, the run's threshold, the decision
identify.py  who is this? a probe against a folder-per-person gallery
figures.py   the face used on each photo; the score as the probe degrades
widgets.py   notebook 06's ipywidgets panel
app.py       the gradio web app
cli.py       the verify and identify subcommands
"""
