"""One face's quality, as the try-it app and CLI show it: every built-in measure of the aligned crop, and the verdict of
the quality gate a run chose on val for the same recogniser (``quality.json``, :mod:`helpers.quality.gate`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from helpers.models.recognisers import FaceRecogniser
from helpers.quality.gate import Gate
from helpers.quality.measures import CROP_MEASURES, inter_eye_distance
from helpers.quality.model_measures import model_quality

QUALITY_JSON = "quality.json"


def face_quality(crop_rgb: np.ndarray, recogniser: FaceRecogniser, det_score: float | None = None, keypoints: np.ndarray | None = None) -> dict[str, float]:
    """Every built-in measure of one aligned 112 x 112 RGB crop (the detector's confidence and the eye distance when the
    detection that found it is given); a measure that cannot be had here is left out."""
    values = {name: measure(crop_rgb) for name, measure in CROP_MEASURES.items()}
    if det_score is not None:
        values["det_score"] = float(det_score)
    if keypoints is not None:
        values["eye_distance"] = inter_eye_distance(keypoints)
    found, _ = model_quality(recogniser, crop_rgb[None])
    return values | {name: float(column[0]) for name, column in found.items()}


def load_gate(step_folder: Path) -> Gate | None:
    """The quality gate notebook 02 chose on val in ``step_folder`` (None when it ran without one or without quality)."""
    path = Path(step_folder) / QUALITY_JSON
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8")).get("gate") or {}
    return Gate.from_json(record) if "measure" in record else None


def gate_verdict(gate: Gate, values: dict[str, float]) -> str:
    """The gate's verdict on one face in words: passes, rejected, or not judged (its measure could not be had here)."""
    if gate.measure not in values:
        return f"not judged: the gate's measure {gate.measure} cannot be computed here"
    value = values[gate.measure]
    verdict = "passes" if gate.passes(np.array([value]))[0] else "rejected: too low a quality to trust a decision"
    return f"{verdict} ({gate.measure} {value:.4g}, gate {gate.threshold:.4g}, set on val to reject {gate.rejection:.0%} of {gate.condition} probes)"
