"""One thin module per notebook: what a notebook does beyond calling the layers below.

prepare.py   notebook 01: scan, split, align, degrade, account for every file
baseline.py  notebook 02: the pretrained model on the test people, LFW View 2
finetune.py  notebook 03: launch training, export, score on the baseline's pairs
identify.py  notebook 04: closed-set classifiers and open-set search at every view
"""
