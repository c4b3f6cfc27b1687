"""Stage 3, evaluation (notebooks 02 and 04, and notebook 03's scoring): pairs, scores, metrics, reports.

pairs.py        LFW pair lists; seeded genuine and impostor pairs within a split
embeddings.py   batched, cached embeddings at every quality level
conditions.py   HQ-HQ, HQ gallery vs LQ probe, LQ vs LQ
verification.py the workbench protocol: the one path every model is scored by
metrics.py      ROC, AUC, EER, TAR@FAR, k-fold accuracy, identity bootstrap
statistics.py   the registry of headline statistics
scores.py       scores.csv: the one definition of its format
reports.py      a model's metrics.json: the one definition of its format
model_runs.py   models loaded from their step folders and checked comparable
comparison.py   tables, paired differences, the HQ regression check (one model or many)
figures.py      the figures of every report
summary.py      summary.md and the README's results table, in words
plots.py        matplotlib drawing
"""
