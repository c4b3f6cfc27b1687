"""Stage 3, evaluation (notebooks 02 and 05, and notebook 03's scoring): pairs, scores, metrics, reports.

pairs.py        LFW pair lists; balanced genuine pairs and every impostor pair within a split
embeddings.py   batched, cached embeddings at every quality level
conditions.py   HQ-HQ, HQ gallery vs LQ probe, LQ vs LQ
verification.py the workbench protocol: the one path every model is scored by
metrics.py      ROC (under any pair weights), AUC, EER, TAR@FAR, FMR/FNMR at a threshold, k-fold accuracy
bootstrap.py    the two-way identity bootstrap, p-values under the null, Holm
simulation.py   scores with a known truth (crossed person effects): the bootstrap's coverage check
statistics.py   the registry of statistics every table reads
endpoints.py    the declared primary endpoint and the HQ non-inferiority check
scores.py       scores.parquet: the one definition of its format
reports.py      a model's metrics.json: the one definition of its format
model_runs.py   models loaded from their step folders and checked comparable
comparison.py   tables, paired differences, non-inferiority (one model or many)
seeds.py        the primary endpoint across split seeds
figures.py      the figures of every report
summary.py      summary.md and the README's results table, in words
plots.py        matplotlib drawing
"""
