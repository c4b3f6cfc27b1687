"""Evaluation (notebooks 02 and 05, and notebook 03's scoring): pairs, scores, metrics, reports.

pairs.py         LFW pair lists; capped genuine pairs and every impostor pair within a split
embeddings.py    batched, cached embeddings at every quality level and alignment
conditions.py    HQ-HQ, HQ gallery vs LQ probe, LQ vs LQ; oracle or end to end
verification.py  the workbench protocol: the one path every model is scored by
metrics.py       ROC, AUC, EER, TAR@FAR, FMR/FNMR/FRR at a threshold, k-fold accuracy
people.py        the person as the unit: pair weights, the largest person, Kish's effective number
bootstrap.py     the two-way identity bootstrap, p-values under the null, Holm
thresholds.py    the operating threshold: set on val, its support, its resampled values
simulation.py    scores with a known truth: the bootstrap's coverage check
statistics.py    the registry of statistics every table reads
endpoints.py     the declared primary endpoint and the HQ non-inferiority check
exposure.py      seen or unseen: a condition's corruptions against a model's training
scores.py        scores.parquet: the one definition of its format
reports.py       a model's metrics.json: the one definition of its format
model_runs.py    models loaded from their step folders, checked comparable; their recognisers
comparison.py    tables, paired differences, non-inferiority (one model or many)
robustness.py    which model degrades least, with intervals
ablation.py      recipe studies: the arm val chooses, each ingredient added in turn and removed
transfer.py      beyond the training dataset: FMR and FNMR on another dataset at each model's threshold
seeds.py         the primary endpoint across split seeds
figures.py       the figures of every report
summary.py       summary.md and the tables the README and results pages carry, in words
plots.py         matplotlib drawing
"""
