"""LQFace Workbench: face recognition on low-quality images.

All logic lives in this package; the numbered notebooks in ``notebooks/`` only
set parameters, call into it, plot and explain. Its layers, bottom to top (a
module imports only from its own layer or lower ones; ``tests/code/test_layout.py``
checks the contract in ``pyproject.toml``):

    core/            files, caches, progress, data and model sources, devices
    data/            scan -> split -> detect and align -> degrade (notebook 01)
    models/          packs, recognisers, backbones, losses, checkpoints, export
    evaluation/      pairs -> embeddings -> scores -> metrics -> reports (notebooks 02, 05)
    training/        fine-tuning (notebook 03); beside identification, never importing it
    identification/  gallery search, open-set thresholds, classifiers (notebook 04)
    quality/         face image quality measures and their error-versus-discard curves; beside training and identification
    pipeline/        configs, notebook parameter schemas, run folders, papermill, provenance
    steps/           one thin module per notebook; beside tryit, never importing it
    tryit/           a model on your own photos: verify, identify, the app (notebook 06)
    cli.py           the lqface command: run, verify, identify, app
"""

import os
import sys
import warnings

__version__ = "0.2.0"

# Recent official ONNX Runtime builds (onnxruntime-gpu 1.31.1 here), on Linux too, collect telemetry: on import,
# they write a device id and an event database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and
# upload events to Microsoft. ORT_DISABLE_TELEMETRY=1 turns all of it off, but only when it is set before
# onnxruntime is first imported, and every module here that uses onnxruntime is imported after this package.
# A value the user set is left alone.
if "onnxruntime" in sys.modules and "ORT_DISABLE_TELEMETRY" not in os.environ:
    warnings.warn(
        "onnxruntime was imported before helpers, so its telemetry is already initialised in this process; "
        "set ORT_DISABLE_TELEMETRY=1 in the environment (or import helpers first) to turn it off",
        stacklevel=2,
    )
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
