"""LQFace Workbench: face recognition on low-quality images.

All logic lives in this package; the numbered notebooks in ``notebooks/`` only
set parameters, call into it, plot and explain. Its sub-packages read in the
order data flows:

    core/        files, caches, progress, data and model sources, devices
    data/        scan -> split -> detect and align -> degrade (notebook 01)
    models/      packs, recognisers, backbones, losses, checkpoints, export
    evaluation/  pairs -> embeddings -> scores -> metrics -> reports (notebooks 02, 04)
    training/    fine-tuning (notebook 03)
    pipeline/    configs, run folders, papermill execution, provenance
    steps/       one thin module per notebook
"""

__version__ = "0.2.0"
