"""Geometric and colour augmentation of the HQ training crops, seeded like the degradation.

One affine warp (rotation, shift, shear, zoom, horizontal flip about the crop centre, border filled by
reflection, ``cv2.BORDER_REFLECT_101``) and then a colour jitter (brightness, contrast, saturation),
every parameter drawn from the caller's ``numpy.random.Generator``: the training Dataset passes the
one it seeds per (seed, epoch, image index), so an augmented epoch replays exactly after a resume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random augmentation; the defaults leave a crop unchanged.

    ``rotation``: degrees, uniform in [-rotation, rotation]. ``shift``: fraction of the crop side, each
    axis uniform in [-shift, shift]. ``shear``: degrees of horizontal shear, uniform in [-shear, shear].
    ``zoom``: (low, high) scale, uniform, the same on both axes (faces keep their aspect ratio).
    ``flip``: probability of a horizontal flip. ``brightness``, ``contrast``, ``saturation``: factors
    uniform in [1 - value, 1 + value], applied in that order.
    """

    rotation: float = 0.0
    shift: float = 0.0
    shear: float = 0.0
    zoom: tuple[float, float] = (1.0, 1.0)
    flip: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rotation <= 180.0 or not 0.0 <= self.shear < 90.0:
            raise ValueError(f"rotation must be in [0, 180] and shear in [0, 90) degrees, not {self.rotation} and {self.shear}")
        if not 0.0 <= self.shift < 0.5:
            raise ValueError(f"shift must be a fraction of the crop side in [0, 0.5), not {self.shift}")
        low, high = self.zoom
        if not 0.0 < low <= high:
            raise ValueError(f"zoom must be (low, high) with 0 < low <= high, not {self.zoom}")
        if not 0.0 <= self.flip <= 1.0:
            raise ValueError(f"flip is a probability in [0, 1], not {self.flip}")
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1) (factors in [1 - {name}, 1 + {name}]), not {getattr(self, name)}")

    @property
    def identity(self) -> bool:
        """Whether this augmentation leaves every crop unchanged."""
        return self == Augmentation()


# Named presets (TrainConfig.augment). "seed": moderate ranges as in the reference projects' Keras-style
# generators: rotation +-10 deg, shift +-0.05 of the side, shear +-5 deg, zoom 0.9-1.1, flip 0.5, colour +-0.2.
AUGMENTATIONS: dict[str, Augmentation] = {
    "none": Augmentation(),
    "seed": Augmentation(rotation=10.0, shift=0.05, shear=5.0, zoom=(0.9, 1.1), flip=0.5, brightness=0.2, contrast=0.2, saturation=0.2),
}


def draw(augmentation: Augmentation, rng: np.random.Generator) -> dict[str, float]:
    """One set of parameters within ``augmentation``'s ranges (always nine draws from ``rng``, in a fixed order)."""
    return {
        "rotation": rng.uniform(-augmentation.rotation, augmentation.rotation),
        "shift_x": rng.uniform(-augmentation.shift, augmentation.shift),
        "shift_y": rng.uniform(-augmentation.shift, augmentation.shift),
        "shear": rng.uniform(-augmentation.shear, augmentation.shear),
        "zoom": rng.uniform(*augmentation.zoom),
        "flip": float(rng.random() < augmentation.flip),
        "brightness": rng.uniform(1.0 - augmentation.brightness, 1.0 + augmentation.brightness),
        "contrast": rng.uniform(1.0 - augmentation.contrast, 1.0 + augmentation.contrast),
        "saturation": rng.uniform(1.0 - augmentation.saturation, 1.0 + augmentation.saturation),
    }


def affine_matrix(params: dict[str, float], size: int) -> np.ndarray:
    """The 2 x 3 warp of ``params`` about the centre of a ``size`` x ``size`` crop: flip, zoom, shear, rotation, then shift."""
    centre = (size - 1) / 2.0
    angle, shear = math.radians(params["rotation"]), math.radians(params["shear"])
    rotate = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    shear_zoom = params["zoom"] * np.array([[1.0, math.tan(shear)], [0.0, 1.0]])
    linear = rotate @ shear_zoom @ np.diag([-1.0 if params["flip"] else 1.0, 1.0])
    offset = centre + size * np.array([params["shift_x"], params["shift_y"]]) - linear @ [centre, centre]
    return np.column_stack([linear, offset])


def jitter(image: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """``image`` (float32 RGB) scaled by ``brightness``, its contrast about its mean grey and its saturation about each pixel's grey."""
    out = image * brightness
    out = (out - out.mean()) * contrast + out.mean()
    grey = out @ np.float32([0.299, 0.587, 0.114])
    return (out - grey[..., None]) * saturation + grey[..., None]


def augment(crop: np.ndarray, augmentation: Augmentation, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """``crop`` (H x W x 3 uint8 RGB) augmented with parameters drawn from ``rng``, and those parameters."""
    params = draw(augmentation, rng)
    return apply_augmentation(crop, params), params


def apply_augmentation(crop: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """``crop`` (H x W x 3 uint8 RGB) warped and colour-jittered with the drawn ``params`` (:func:`draw`)."""
    size = crop.shape[0]
    warped = cv2.warpAffine(crop, affine_matrix(params, size), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    coloured = jitter(warped.astype(np.float32), params["brightness"], params["contrast"], params["saturation"])
    return np.clip(np.rint(coloured), 0, 255).astype(np.uint8)


def montage_rows(crops: np.ndarray, augmentation: Augmentation, seed: int, epochs: Sequence[int]) -> tuple[list[str], list[list[np.ndarray]]]:
    """Column titles and one row per crop: the crop, then as each of ``epochs`` augments it (the Dataset's
    generator for image index = row, before any degradation)."""
    rows = [[crop] + [augment(crop, augmentation, np.random.default_rng([seed, epoch, index]))[0] for epoch in epochs] for index, crop in enumerate(crops)]
    return ["HQ crop", *(f"epoch {epoch}" for epoch in epochs)], rows
