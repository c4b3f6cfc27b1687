"""One thin module per notebook: what a notebook does beyond calling the stages.

    prepare.py    notebook 01 (counts, montage, run summary)
    baseline.py   notebook 02 (the pretrained pack, LFW View 2)
    finetune.py   notebook 03 (launch training, export, the baseline's pairs)
Notebook 05 calls :mod:`helpers.evaluation` directly.
"""
