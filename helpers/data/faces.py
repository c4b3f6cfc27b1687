"""Face detection (SCRFD with 5 keypoints, through InsightFace) and 5-point alignment to 112x112."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from insightface.model_zoo.scrfd import SCRFD
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform

from helpers.core.devices import inference_session, select_providers
from helpers.core.sources import ModelFile

CROP_SIZE = 112
DETECTOR_INPUT = (640, 640)
# Tightly cropped faces (Extended Yale B, ORL) fill the whole image, and SCRFD needs context around a
# face: when nothing is found, detection is retried once on the image framed by a black border this
# many times its longer side wide.
RETRY_BORDER = 1.0


@dataclass(frozen=True)
class Face:
    """The face chosen in an image: box, confidence, five keypoints, and how many faces were seen."""

    bbox: tuple[float, float, float, float]
    score: float
    kps: tuple[float, ...]
    n_faces: int
    padded: bool = False


class FaceDetector:
    """SCRFD on ONNX Runtime with an explicitly chosen execution provider."""

    def __init__(self, model: ModelFile, threshold: float = 0.5, providers: list[str] | None = None) -> None:
        self.model = model
        self.threshold = threshold
        session = inference_session(model.path, providers or select_providers())
        self.providers = session.get_providers()
        self._scrfd = SCRFD(model_file=str(model.path), session=session)
        self._scrfd.prepare(ctx_id=0 if "CUDAExecutionProvider" in self.providers else -1, input_size=DETECTOR_INPUT, det_thresh=threshold)

    def cache_key(self) -> str:
        """What determines this detector's output: weights, input size, threshold and retry rule."""
        return f"{self.model.sha256[:16]}:{DETECTOR_INPUT[0]}:{self.threshold}:border{RETRY_BORDER}"

    def detect(self, image_rgb: np.ndarray) -> Face | None:
        """The primary face (large and central, InsightFace's criterion), or ``None``.

        When no face is found, one retry runs on the image inside a black border
        (see :data:`RETRY_BORDER`); the returned box and keypoints are always in
        the original image's coordinates, and ``padded`` says the retry was needed.
        """
        face = self._detect(image_rgb)
        if face is not None:
            return face
        border = round(RETRY_BORDER * max(image_rgb.shape[:2]))
        framed = cv2.copyMakeBorder(image_rgb, border, border, border, border, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        face = self._detect(framed)
        if face is None:
            return None
        shift = np.tile([border, border], 5)
        return Face(
            bbox=tuple(float(v) for v in np.asarray(face.bbox) - border),
            score=face.score,
            kps=tuple(float(v) for v in np.asarray(face.kps) - shift),
            n_faces=face.n_faces,
            padded=True,
        )

    def _detect(self, image_rgb: np.ndarray) -> Face | None:
        boxes, keypoints = self._scrfd.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if boxes.shape[0] == 0 or keypoints is None:
            return None
        best = int(np.argmax(_centrality(boxes, image_rgb.shape)))
        return Face(
            bbox=tuple(float(v) for v in boxes[best, :4]),
            score=float(boxes[best, 4]),
            kps=tuple(float(v) for v in keypoints[best].ravel()),
            n_faces=int(boxes.shape[0]),
        )


def _centrality(boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Box area minus twice the squared distance of its centre from the image centre."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    dx = (boxes[:, 0] + boxes[:, 2]) / 2 - shape[1] / 2
    dy = (boxes[:, 1] + boxes[:, 3]) / 2 - shape[0] / 2
    return area - 2.0 * (dx**2 + dy**2)


def align(image_rgb: np.ndarray, kps: tuple[float, ...]) -> np.ndarray:
    """Similarity-warp the five keypoints onto InsightFace's ArcFace 112x112 template."""
    transform = SimilarityTransform.from_estimate(np.asarray(kps, dtype=np.float64).reshape(5, 2), arcface_dst)
    return cv2.warpAffine(image_rgb, transform.params[:2], (CROP_SIZE, CROP_SIZE), borderValue=0.0)


def centre_crop(image_rgb: np.ndarray, fraction: float = 0.6) -> np.ndarray:
    """A square of ``fraction`` of the shorter side around the image centre, resized to 112x112.

    The fallback for images where no face was found (a flagged, unaligned crop):
    right for datasets such as LFW whose faces are roughly centred.
    """
    height, width = image_rgb.shape[:2]
    side = max(1, round(min(height, width) * fraction))
    top, left = (height - side) // 2, (width - side) // 2
    square = image_rgb[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > CROP_SIZE else cv2.INTER_CUBIC
    return cv2.resize(square, (CROP_SIZE, CROP_SIZE), interpolation=interpolation)
