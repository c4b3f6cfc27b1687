"""Face detection (SCRFD with 5 keypoints, through InsightFace; MTCNN in :mod:`helpers.data.mtcnn`) and 5-point alignment to 112x112.

SCRFD is fully convolutional, so it can run at any input size that is a multiple of 32. The
standalone SCRFD files declare a fixed 640x640 input; for any other size the detector runs a copy
whose input height and width are symbolic (:func:`dynamic_input_model`), written once to the cache
and checked against the original. The source file is never modified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
from insightface.model_zoo.scrfd import SCRFD
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform

from helpers.core.devices import CPU, inference_session, select_providers
from helpers.core.files import atomic_path
from helpers.core.sources import ModelFile, cache_root

CROP_SIZE = 112
DETECTOR_INPUT = 640
"""Default detector input: a 640x640 square (SCRFD's training size)."""
INPUT_STRIDE = 32
MIN_INPUT = 64
NATIVE = "native"
"""Native detection (``input_size=None``): the image as it is, padded to the stride (:func:`native_input`)."""
NATIVE_MAX_SIDE = 1920
"""Native detection's cap: a photo whose longer side exceeds this is shrunk to it first (area), so memory stays bounded
on any photo (SCRFD at 1920x1920 peaks at about 1.4 GB of process memory here; an 8000x8000 input took 22 GB)."""
# Tightly cropped faces (Extended Yale B, ORL) fill the whole image, and SCRFD needs context around a
# face: when nothing is found, detection is retried once on the image framed by a black border this
# many times its longer side wide.
RETRY_BORDER = 1.0
# Bump when the dynamic-input rewrite changes, so cached copies are redone.
DYNAMIC_VERSION = 1
# Largest difference allowed between the outputs of a dynamic-input copy and its original, at the original's size.
DYNAMIC_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Face:
    """The face chosen in an image: box, confidence, five keypoints, and how many faces were seen."""

    bbox: tuple[float, float, float, float]
    score: float
    kps: tuple[float, ...]
    n_faces: int
    padded: bool = False


def check_input_size(input_size: int | None) -> int | None:
    """``input_size`` when valid: ``None`` (sized to the image) or a multiple of 32 of at least 64."""
    valid = isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool) and input_size >= MIN_INPUT and input_size % INPUT_STRIDE == 0
    if input_size is not None and not valid:
        raise ValueError(f"input_size must be None (sized to the image) or a multiple of {INPUT_STRIDE} of at least {MIN_INPUT}, got {input_size!r}")
    return None if input_size is None else int(input_size)


def native_input(shape: tuple[int, ...]) -> tuple[float, int]:
    """How native detection (``input_size=None``) sees an image of ``shape``: the factor it is shrunk by (1 unless its
    longer side exceeds :data:`NATIVE_MAX_SIDE`) and the side of the black square it is padded into, the shrunk longer
    side rounded up to a multiple of 32, at least 64. The image is never enlarged."""
    factor = min(1.0, NATIVE_MAX_SIDE / max(shape[:2]))
    return factor, max(MIN_INPUT, math.ceil(round(max(shape[:2]) * factor) / INPUT_STRIDE) * INPUT_STRIDE)


def fixed_input_size(path: Path) -> tuple[int, int] | None:
    """The (height, width) an ONNX detector's first input fixes, or ``None`` when either is dynamic."""
    dims = onnx.load_model(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    height, width = (dim.dim_value for dim in dims[2:4])
    return (height, width) if height > 0 and width > 0 else None


def _with_dynamic_input(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of an SCRFD graph whose input height and width, and output anchor counts, are symbolic."""
    dynamic = onnx.ModelProto()
    dynamic.CopyFrom(model)
    graph = dynamic.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    del graph.value_info[:]  # inferred shapes of the fixed size; ONNX Runtime re-derives them
    for output in graph.output:
        out_dims = output.type.tensor_type.shape.dim
        out_dims[len(out_dims) - 2].dim_param = f"{output.name}_anchors"
    onnx.checker.check_model(dynamic)
    return dynamic


def _outputs(path: Path, blob: np.ndarray) -> dict[str, np.ndarray]:
    """Every output of the ONNX model at ``path`` for the input ``blob``, by name, on the CPU."""
    session = inference_session(path, [CPU])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: blob})))


def _check_same_outputs(original: Path, copy: Path, size: tuple[int, int]) -> None:
    """Raise unless ``copy`` gives the outputs (scores, boxes, keypoints) of ``original`` on a fixed test input of ``size``."""
    blob = np.random.default_rng(0).uniform(-1, 1, (1, 3, *size)).astype(np.float32)
    expected, actual = _outputs(original, blob), _outputs(copy, blob)
    worst = max(float(np.abs(expected[name] - actual[name]).max()) for name in expected)
    if worst > DYNAMIC_TOLERANCE:
        raise RuntimeError(
            f"the dynamic-input copy of {original} differs from it at {size[1]}x{size[0]} by up to {worst:g} (> {DYNAMIC_TOLERANCE:g}); not using it"
        )


def dynamic_input_model(model: ModelFile) -> Path:
    """Path of a dynamic-input copy of ``model`` (``model`` itself when its input is already dynamic).

    The copy is written once, atomically, to ``<cache>/models/scrfd/<sha256>-dynamic-v<DYNAMIC_VERSION>.onnx``
    (cache: :func:`helpers.core.sources.cache_root`), after checking that it reproduces the
    original's outputs at the original's fixed size.
    """
    size = fixed_input_size(model.path)
    if size is None:
        return model.path
    target = cache_root() / "models" / "scrfd" / f"{model.sha256}-dynamic-v{DYNAMIC_VERSION}.onnx"
    if not target.is_file():
        with atomic_path(target) as tmp:
            tmp.write_bytes(_with_dynamic_input(onnx.load_model(str(model.path))).SerializeToString())
            _check_same_outputs(model.path, tmp, size)
    return target


class Detector:
    """What every detector shares: the primary face of a photo, retried once inside a black border.

    A subclass sets ``model``, ``threshold``, ``input_size`` and ``providers`` and implements
    :meth:`detect_all`, returning boxes and keypoints in the order SCRFD gives them (left eye, right
    eye, nose tip, left and right mouth corners), so every detector feeds the same 5-point alignment.
    """

    model: ModelFile
    threshold: float
    input_size: int | None
    providers: list[str]

    def cache_key(self) -> str:
        """What determines this detector's output: weights, input size policy, threshold and retry rule."""
        policy = f"native{NATIVE_MAX_SIDE}" if self.input_size is None else self.input_size
        return f"{self.model.sha256[:16]}:{policy}:{self.threshold}:border{RETRY_BORDER}"

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every face above the threshold (no retry): boxes N x 5 (x1, y1, x2, y2, score) and keypoints N x 5 x 2."""
        raise NotImplementedError

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
        boxes, keypoints = self.detect_all(image_rgb)
        if boxes.shape[0] == 0:
            return None
        best = int(np.argmax(_centrality(boxes, image_rgb.shape)))
        return Face(
            bbox=tuple(float(v) for v in boxes[best, :4]),
            score=float(boxes[best, 4]),
            kps=tuple(float(v) for v in keypoints[best].ravel()),
            n_faces=int(boxes.shape[0]),
        )


class FaceDetector(Detector):
    """SCRFD on ONNX Runtime with an explicitly chosen execution provider and input size.

    ``input_size`` is the side of the square the image is resized into (keeping its aspect ratio,
    padded with black, InsightFace's ``det_size``): an int, or ``None`` for native detection, the
    image as it is padded into a square of a multiple of 32 (:func:`native_input`), so that small
    photos are not upscaled to 640 and large ones are not shrunk below :data:`NATIVE_MAX_SIDE`. A model
    file whose fixed input is that square is run as is; any other size runs its :func:`dynamic_input_model` copy.
    """

    def __init__(self, model: ModelFile, threshold: float = 0.5, providers: list[str] | None = None, input_size: int | None = DETECTOR_INPUT) -> None:
        self.model = model
        self.threshold = threshold
        self.input_size = check_input_size(input_size)
        path = model.path if fixed_input_size(model.path) == (self.input_size, self.input_size) else dynamic_input_model(model)
        session = inference_session(path, providers or select_providers())
        self.providers = session.get_providers()
        # A fixed size needs one session; sized to the image, one session of dynamic shape serves every size
        # (InsightFace would otherwise keep one session, with its memory, per size met).
        self._scrfd = SCRFD(model_file=str(path), session=session, static_shape_sessions=self.input_size is not None)
        if not self._scrfd.use_kps:
            raise ValueError(f"{model.name} has no keypoint outputs; FaceDetector needs an SCRFD model with 5 keypoints (*_kps)")
        self._scrfd.prepare(ctx_id=0 if "CUDAExecutionProvider" in self.providers else -1, det_thresh=threshold)

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every face above the threshold (no retry): boxes N x 5 (x1, y1, x2, y2, score) and keypoints N x 5 x 2."""
        if self.input_size is not None:
            return self._scrfd.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), input_size=(self.input_size, self.input_size))
        factor, side = native_input(image_rgb.shape)
        image = image_rgb
        if factor < 1:
            size = (max(1, round(image_rgb.shape[1] * factor)), max(1, round(image_rgb.shape[0] * factor)))
            image = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
        square = cv2.copyMakeBorder(image, 0, side - image.shape[0], 0, side - image.shape[1], cv2.BORDER_CONSTANT, value=(0, 0, 0))
        boxes, keypoints = self._scrfd.detect(cv2.cvtColor(square, cv2.COLOR_RGB2BGR), input_size=(side, side))
        if factor < 1:
            boxes[:, :4] /= factor
            keypoints /= factor
        return boxes, keypoints


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
