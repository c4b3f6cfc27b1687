"""The recogniser a scored step folder (notebook 02 or 03) used, rebuilt from its ``metrics.json`` and checked by sha256."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.core.sources import project_path
from helpers.evaluation.reports import read_report
from helpers.models.backbones import EMBEDDER_PREPROCESS
from helpers.models.packs import load_pack
from helpers.models.recognisers import FaceRecogniser, Recogniser
from helpers.models.zoo import load_recogniser


def run_recogniser(folder: str | Path, batch_size: int = 64) -> tuple[dict[str, Any], FaceRecogniser, bool]:
    """The step's model description, its recogniser (a fine-tuned run's ``model.onnx``, a zoo model or the pack's) and its flip setting."""
    path = project_path(folder)
    model = read_report(path).model
    recogniser: FaceRecogniser
    if "onnx" in model:
        recogniser = Recogniser(path / model["onnx"], EMBEDDER_PREPROCESS, batch_size=batch_size)
    elif "zoo" in model:
        recogniser = load_recogniser(model["zoo"], batch_size)[0]
    else:
        pack = load_pack(model["pack"])
        recogniser = pack.face_recogniser(batch_size)
    if recogniser.sha256 != model["sha256"]:
        raise ValueError(
            f"{path}: the model found now ({recogniser.name}, sha256 {recogniser.sha256[:12]}…) is not the one this step scored "
            f"(sha256 {model['sha256'][:12]}…); re-run that step, or point at the step folder of the model you mean"
        )
    return model, recogniser, bool(model.get("flip", False))
