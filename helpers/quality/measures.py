"""Image-based face quality measures, each a number per image where larger means better quality (so that EDC curves
discard from the lowest upward): inter-eye distance, sharpness, exposure, contrast, and the absence of JPEG blocking.

Each takes the 112 x 112 aligned crop (RGB uint8) or the five landmarks in the photo the detector saw.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

BLOCK = 8
"""JPEG's block size in pixels."""


def inter_eye_distance(keypoints: npt.ArrayLike) -> float:
    """The distance in pixels between the two eye landmarks (the first two of the five) in the photo the detector saw."""
    points = np.asarray(keypoints, dtype=float).reshape(5, 2)
    return float(np.linalg.norm(points[1] - points[0]))


def _grey(crop: np.ndarray) -> np.ndarray:
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
        raise ValueError(f"a quality measure takes an RGB uint8 crop, got shape {crop.shape} and dtype {crop.dtype}")
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float64)


def sharpness(crop: np.ndarray) -> float:
    """The variance of the Laplacian of the grey crop: blur lowers it."""
    return float(cv2.Laplacian(_grey(crop), cv2.CV_64F).var())


def exposure(crop: np.ndarray) -> float:
    """The mean grey level of the crop, 0 to 255: a darker photo lowers it (overexposure raises it: read it with contrast)."""
    return float(_grey(crop).mean())


def contrast(crop: np.ndarray) -> float:
    """The standard deviation of the crop's grey levels: dim, washed-out or flat light lowers it."""
    return float(_grey(crop).std())


def unblockiness(crop: np.ndarray) -> float:
    """Minus JPEG blockiness: the mean absolute step across the 8-pixel block boundaries over the mean step elsewhere,
    negated so that larger is better (about -1 for an image without blocking, lower as blocks show)."""
    grey = _grey(crop)
    steps_x, steps_y = np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0))
    boundary_x = (np.arange(steps_x.shape[1]) % BLOCK) == BLOCK - 1
    boundary_y = (np.arange(steps_y.shape[0]) % BLOCK) == BLOCK - 1
    across = np.concatenate([steps_x[:, boundary_x].ravel(), steps_y[boundary_y].ravel()]).mean()
    within = np.concatenate([steps_x[:, ~boundary_x].ravel(), steps_y[~boundary_y].ravel()]).mean()
    return -float(across / max(within, 1e-9))


CROP_MEASURES = {"sharpness": sharpness, "exposure": exposure, "contrast": contrast, "unblockiness": unblockiness}
"""The measures computed on the aligned crop, by name."""
