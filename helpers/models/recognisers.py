"""Face recognisers on ONNX Runtime: 112x112 RGB crops in, L2-normalised embeddings out, in batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform

from helpers.core.devices import CUDA, inference_session, select_providers
from helpers.core.files import sha256_file

__all__ = [
    "ARCFACE",
    "CROP_SHAPE",
    "SFACE",
    "ChipTemplate",
    "FaceRecogniser",
    "Preprocess",
    "RawFeatures",
    "Recogniser",
    "check_crops",
    "l2_normalise",
    "select_providers",
]

CROP_SHAPE = (112, 112, 3)


@dataclass(frozen=True)
class Preprocess:
    """What a recogniser expects: channels in ``channel_order``, ``(x - mean) / std``, NCHW float32."""

    channel_order: Literal["RGB", "BGR"]
    mean: float
    std: float

    def __post_init__(self) -> None:
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', not {self.channel_order!r}")

    def key(self) -> str:
        """A short string naming this preprocessing, for cache keys."""
        return f"{self.channel_order}-mean{self.mean:g}-std{self.std:g}-nchw"

    def apply(self, crops_rgb: np.ndarray) -> np.ndarray:
        """The model input for N x H x W x 3 uint8 RGB crops."""
        ordered = crops_rgb if self.channel_order == "RGB" else crops_rgb[..., ::-1]
        scaled = (ordered.astype(np.float32) - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))


# InsightFace's ArcFace models: RGB, (x - 127.5) / 127.5.
ARCFACE = Preprocess("RGB", 127.5, 127.5)
# OpenCV Zoo's SFace: RGB in 0..255; the graph normalises by itself (see helpers.models.sface).
SFACE = Preprocess("RGB", 0.0, 1.0)


@dataclass(frozen=True)
class ChipTemplate:
    """A recogniser's own face alignment: where the five detector keypoints land in its ``size`` x ``size`` input.

    The workbench's crops are aligned to ArcFace's 112 px template, and both templates place the same
    five points, so one fixed similarity takes a 112 px crop to this template (:meth:`from_arcface`);
    any part of the chip outside the 112 px crop is black, as outside a photo.
    """

    name: str
    size: int
    points: tuple[tuple[float, float], ...]

    def key(self) -> str:
        """A short string naming this alignment, for cache keys."""
        return f"{self.name}{self.size}"

    def from_arcface(self, crops_rgb: np.ndarray) -> np.ndarray:
        """N x size x size x 3 chips from N x 112 x 112 x 3 ArcFace-aligned crops."""
        matrix = SimilarityTransform.from_estimate(arcface_dst, np.asarray(self.points, np.float64)).params[:2]
        chips = [cv2.warpAffine(crop, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR, borderValue=0.0) for crop in crops_rgb]
        return np.stack(chips) if chips else np.empty((0, self.size, self.size, 3), np.uint8)


class FaceRecogniser(Protocol):
    """What scoring needs of a recogniser: identity (name, weights sha256, preprocessing), where it runs, and ``embed``."""

    name: str
    sha256: str
    providers: list[str]
    embedding_size: int

    @property
    def preprocess(self) -> Preprocess | ChipTemplate: ...

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray: ...


@runtime_checkable
class RawFeatures(Protocol):
    """A recogniser that also gives its raw features: ``embed(crops)`` is ``l2_normalise(features(crops))``."""

    def features(self, crops_rgb: np.ndarray) -> np.ndarray: ...


def check_crops(crops_rgb: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``crops_rgb`` is an N x 112 x 112 x 3 uint8 array."""
    if not isinstance(crops_rgb, np.ndarray) or crops_rgb.dtype != np.uint8 or crops_rgb.shape[1:] != CROP_SHAPE:
        found = f"{crops_rgb.dtype} {crops_rgb.shape}" if isinstance(crops_rgb, np.ndarray) else type(crops_rgb).__name__
        raise ValueError(f"expected uint8 crops of shape (N, 112, 112, 3), got {found}")


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows of ``features`` scaled to unit length, as float32."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


class Recogniser:
    """An ONNX face recogniser with a single N x 3 x 112 x 112 input, run batch by batch.

    A model whose batch dimension is fixed at 1 is run one crop at a time.
    """

    def __init__(self, model_path: Path, preprocess: Preprocess, providers: list[str] | None = None, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model_path = Path(model_path)
        self.name = self.model_path.stem
        self.sha256 = sha256_file(self.model_path)
        self.preprocess = preprocess
        requested = providers if providers is not None else select_providers()
        self._session = inference_session(self.model_path, requested)
        self.providers: list[str] = self._session.get_providers()
        if CUDA in requested and CUDA not in self.providers:
            raise RuntimeError(f"{CUDA} was requested but ONNX Runtime fell back to {self.providers}; check the CUDA/cuDNN install")
        self._input, fixed_batch = self._input_spec()
        self.batch_size = batch_size if fixed_batch is None else fixed_batch
        self.embedding_size = int(self._session.get_outputs()[0].shape[-1])

    def _input_spec(self) -> tuple[str, int | None]:
        """The input's name and its fixed batch size (``None`` when dynamic)."""
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, *CROP_SHAPE[:2]]:
            raise ValueError(f"{self.model_path}: expected one N x 3 x 112 x 112 input, got {[(i.name, i.shape) for i in inputs]}")
        batch = inputs[0].shape[0]
        fixed = batch if isinstance(batch, int) else None
        if fixed not in (None, 1):
            raise ValueError(f"{self.model_path}: a fixed batch size of {fixed} is not supported (only dynamic or 1)")
        return inputs[0].name, fixed

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray:
        """N x D float32 L2-normalised embeddings of N x 112 x 112 x 3 uint8 RGB crops.

        With ``flip``, each crop's features are summed with those of its
        horizontal mirror before normalising (the usual flip test).
        """
        features = self.features(crops_rgb)
        if flip:
            features = features + self.features(crops_rgb[:, :, ::-1])
        return l2_normalise(features)

    def features(self, crops_rgb: np.ndarray) -> np.ndarray:
        """Raw model outputs, before normalisation, for N x 112 x 112 x 3 uint8 RGB crops, ``batch_size`` at a time."""
        check_crops(crops_rgb)
        batches = [
            self._session.run(None, {self._input: self.preprocess.apply(crops_rgb[start : start + self.batch_size])})[0]
            for start in range(0, len(crops_rgb), self.batch_size)
        ]
        if not batches:
            return np.empty((0, self.embedding_size), np.float32)
        return np.concatenate(batches).astype(np.float32)
