"""ONNX export of a trained embedder, so notebook 02's ``Recogniser`` can score it like any pack."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from helpers.core.devices import CPU, inference_session
from helpers.core.files import atomic_path
from helpers.models.backbones import EMBEDDER_PREPROCESS, FaceEmbedder

INPUT, OUTPUT, BATCH = "input", "embedding", "N"


def export_onnx(embedder: FaceEmbedder, target: Path, opset: int = 17) -> Path:
    """Write ``embedder`` (eval mode, CPU) as ONNX with a dynamic batch axis, atomically; returns ``target``."""
    model = copy.deepcopy(embedder).cpu().eval()
    example = torch.zeros(2, 3, 112, 112)
    with atomic_path(Path(target)) as tmp, torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: BATCH}, OUTPUT: {0: BATCH}},
            opset_version=opset,
            dynamo=False,
        )
    return Path(target)


def max_export_error(embedder: FaceEmbedder, onnx_path: Path, crops_rgb: np.ndarray) -> float:
    """Largest |torch - ONNX Runtime| over the raw outputs for N x 112 x 112 x 3 uint8 RGB crops."""
    inputs = EMBEDDER_PREPROCESS.apply(crops_rgb)
    model = copy.deepcopy(embedder).cpu().eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    session = inference_session(onnx_path, [CPU])
    actual = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    return float(np.abs(expected - actual).max())
