"""One door to every detector: a resolved detector file (:func:`helpers.models.packs.resolve_detector`) opened as a :class:`Detector`."""

from __future__ import annotations

from helpers.core.sources import ModelFile
from helpers.data.faces import DETECTOR_INPUT, Detector, FaceDetector
from helpers.data.mtcnn import MTCNN, MtcnnDetector
from helpers.data.yunet import YUNET, YunetDetector

SIZED_BY_THEMSELVES = {MTCNN: MtcnnDetector, YUNET: YunetDetector}
"""Detectors that run at the photo's own size (no input size to choose), by the name their model file carries."""


def open_detector(model: ModelFile, threshold: float = 0.5, input_size: int | None = DETECTOR_INPUT, providers: list[str] | None = None) -> Detector:
    """MTCNN or YuNet for their entries (``input_size`` does not apply), else SCRFD at ``input_size`` on ``providers``."""
    if model.name in SIZED_BY_THEMSELVES:
        return SIZED_BY_THEMSELVES[model.name](model, threshold)
    return FaceDetector(model, threshold, providers=providers, input_size=input_size)
