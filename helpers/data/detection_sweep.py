"""How many faces a detector setting finds as a photo is downscaled: where detection breaks.

One photo with many faces (a crowd) is shrunk step by step (``INTER_AREA``, as a camera or a
thumbnail would) and every detector setting counts the faces it still finds; the median height
of the boxes found says how small those faces were.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd

from helpers.core.progress import progress
from helpers.core.sources import ModelFile
from helpers.data.detectors import open_detector
from helpers.data.faces import NATIVE


def input_label(input_size: int | None) -> str:
    """How a detector input size reads in tables and legends: ``"640"``, or ``"native"`` (the photo as it is, padded)."""
    return NATIVE if input_size is None else str(input_size)


def downscale(image_rgb: np.ndarray, scale: float) -> np.ndarray:
    """``image_rgb`` shrunk by ``scale`` (0 < scale <= 1) with area averaging; ``scale`` 1 returns it as is."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    if scale == 1:
        return image_rgb
    height, width = image_rgb.shape[:2]
    return cv2.resize(image_rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def faces_vs_scale(
    detector_model: ModelFile,
    image_rgb: np.ndarray,
    scales: Sequence[float],
    input_sizes: Sequence[int | None],
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Faces found in ``image_rgb`` at each downscaling ``scale``, for each detector ``input_size``.

    One row per (input size, scale): ``detector``, ``input_size`` (label), ``scale``, ``width`` and
    ``height`` of the downscaled photo, ``faces`` found, ``median_face_px`` (median box height in the
    downscaled photo's pixels; NaN when none) and ``ms`` (wall time of that one detection; the first at
    a new input size includes ONNX Runtime's set-up).
    """
    photos = {scale: downscale(image_rgb, scale) for scale in scales}
    detectors = {size: open_detector(detector_model, threshold, input_size=size) for size in input_sizes}
    rows = []
    steps = itertools.product(input_sizes, scales)
    for size, scale in progress(steps, f"faces vs scale ({detector_model.name})", total=len(input_sizes) * len(scales)):
        photo = photos[scale]
        start = time.perf_counter()
        boxes, _ = detectors[size].detect_all(photo)
        elapsed = time.perf_counter() - start
        heights = boxes[:, 3] - boxes[:, 1]
        rows.append(
            {
                "detector": detector_model.name,
                "input_size": input_label(size),
                "scale": scale,
                "width": photo.shape[1],
                "height": photo.shape[0],
                "faces": len(boxes),
                "median_face_px": float(np.median(heights)) if len(boxes) else np.nan,
                "ms": 1000 * elapsed,
            }
        )
    return pd.DataFrame(rows)
