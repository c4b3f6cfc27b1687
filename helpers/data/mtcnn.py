"""MTCNN (Zhang et al. 2016) as a workbench detector, from the ``facenet-pytorch`` wheel, which ships its P/R/O-Net weights.

MTCNN runs its own image pyramid (faces down to ``min_face_size`` pixels) on the photo at its own
size, so it has no input size to choose. Its three stage thresholds stay at facenet-pytorch's
defaults (0.6, 0.7, 0.7); the workbench's ``threshold`` is applied on top, to the final (O-Net)
probability, so the default 0.5 changes nothing. Landmarks come in SCRFD's order (eyes, nose tip,
mouth corners), and the crops are aligned on ArcFace's template like every other detector's.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from helpers.core.files import sha256_file
from helpers.core.sources import ModelFile, ResourceUnavailable
from helpers.data.faces import Detector

MTCNN = "mtcnn"
PACKAGE = "facenet_pytorch"
INSTALL_HINT = "pip install --no-deps facenet-pytorch==2.6.0"
WEIGHTS = {
    "pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}
STAGE_THRESHOLDS = (0.6, 0.7, 0.7)
MIN_FACE_SIZE = 20


def mtcnn_model() -> ModelFile:
    """The three weight files shipped in facenet-pytorch, each checked against its sha256; one digest names them together."""
    try:
        folder = Path(str(resources.files(PACKAGE).joinpath("data")))
    except ModuleNotFoundError as exc:
        raise ResourceUnavailable(f"MTCNN comes from the facenet-pytorch wheel ({exc}); install it with `{INSTALL_HINT}`") from exc
    for name, expected in WEIGHTS.items():
        path = folder / name
        if not path.is_file() or (actual := sha256_file(path)) != expected:
            found = "is missing" if not path.is_file() else f"has sha256 {actual}, expected {expected}"
            raise ResourceUnavailable(f"{path} {found}; reinstall it with `{INSTALL_HINT}`")
    digest = hashlib.sha256("".join(WEIGHTS.values()).encode()).hexdigest()
    return ModelFile(MTCNN, folder, digest, f"facenet-pytorch 2.6.0 P/R/O-Net ({folder})")


class MtcnnDetector(Detector):
    """facenet-pytorch's MTCNN behind the workbench's detector interface (:class:`~helpers.data.faces.Detector`)."""

    def __init__(self, model: ModelFile, threshold: float = 0.5, device: str = "cpu", min_face_size: int = MIN_FACE_SIZE) -> None:
        from facenet_pytorch import MTCNN as Network

        self.model = model
        self.threshold = threshold
        self.input_size = None
        self.providers = [f"torch-{device}"]
        self._net = Network(keep_all=True, min_face_size=min_face_size, thresholds=list(STAGE_THRESHOLDS), post_process=False, device=device)

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every face with O-Net probability at least ``threshold``: boxes N x 5 (x1, y1, x2, y2, score), keypoints N x 5 x 2."""
        with torch.inference_mode():
            boxes, probs, points = self._net.detect(np.ascontiguousarray(image_rgb), landmarks=True)
        if boxes is None:
            return np.empty((0, 5), np.float32), np.empty((0, 5, 2), np.float32)
        keep = probs >= self.threshold
        return np.column_stack([boxes, probs])[keep].astype(np.float32), np.asarray(points)[keep].astype(np.float32)
