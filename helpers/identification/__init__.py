"""Identification (notebook 04): who is this? Gallery search, open-set thresholds, classifiers, real LQ benchmarks.

search.py     probes against enrolled people: one batched matrix product; CMC
openset.py    enrolment, non-mated searches, the threshold at a target FPIR
closedset.py  classifiers on embeddings, trained on HQ or mixed quality
intervals.py  bootstrap intervals over people for identification rates
realsets.py   real low-quality benchmarks (TinyFace, SCface, QMUL-SurvFace) from a local copy
storage.py    trained classifiers in skops' format, checked by sha256
report.py     notebook 04's metrics.json, tables, summary.md and headline
figures.py    accuracy along each degradation, CMC, DIR-FPIR, confusions
"""
