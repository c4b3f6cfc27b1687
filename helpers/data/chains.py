"""Realistic degradation chains (presets) built from albumentations: ``realistic`` and ``surveillance``.

A preset is a random chain of corruptions whose parameters are drawn per image
from fixed ranges, deterministically from one integer seed. Sizes and sigmas are
in pixels of the image the chain is applied to, which :func:`helpers.data.degrade.degrade_image`
has already brought to the 112-px aligned-crop scale; the chain ends at the
target (low) resolution and the caller scales the result back up.

``realistic`` is a second-order chain in the spirit of BSRGAN (Zhang et al., 2021)
and Real-ESRGAN (Wang et al., 2021), ranges scaled from their 256-px training
patches to a 112-px face. Each order: blur (isotropic Gaussian 0.40,
anisotropic generalised Gaussian 0.30, linear motion 0.15, defocus disc 0.15),
resize with area, bilinear or bicubic interpolation (equally likely), noise
(Gaussian or Poisson, equally likely; Gaussian grey rather than per-channel 40%
of the time), JPEG. The first order resizes to a size between the input and the
target (geometrically, a random 30-70% of the way), the second ends exactly at
the target; the second order blurs with probability 0.8 (as Real-ESRGAN).

========================  ==========================  ==========================
draw                      first order                 second order
========================  ==========================  ==========================
isotropic Gaussian sigma  0.2-2.0 px                  0.2-1.2 px
anisotropic sigma x, y    0.2-2.0 px, kernel 7-13 px  0.2-1.2 px, kernel 5-9 px
  shape beta, rotation    0.5-4, -90..90 degrees      0.5-4, -90..90 degrees
motion kernel length      3-9 px                      3-7 px
defocus radius            1-3 px (alias blur 0.1-0.5) 1-2 px (alias blur 0.1-0.5)
Gaussian noise std        1-15 grey levels            1-10 grey levels
Poisson noise scale       0.0005-0.006 (~3-10 grey    0.0005-0.004 (~3-8 grey
                          levels at mid grey)         levels at mid grey)
JPEG quality              30-95                       30-95
========================  ==========================  ==========================

``surveillance`` models a dim, moving scene on a cheap camera: motion blur
(kernel 5-11 px), area resize to the target, low light (gamma 1.2-2.0, then
brightness x 0.2-0.5), sensor noise (shot noise, scale 0.001-0.005, then
Gaussian read noise, std 2-8 grey levels) and strong JPEG (quality 8-30).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never look for a newer release on import
import albumentations as A

CHAIN_LIBRARY = f"albumentations {A.__version__}"
"""The library (and version) the presets are built from, for run records."""

Size = tuple[int, int]
Builder = Callable[[Size, Size, np.random.Generator], list[A.BasicTransform]]
GREY = 1 / 255
"""One grey level as a fraction of the uint8 range (albumentations' noise unit)."""
INTERPOLATIONS = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)


@dataclass(frozen=True)
class Order:
    """The parameter ranges of one order of the realistic chain (see the module docstring)."""

    sigma: tuple[float, float]
    aniso_kernel: tuple[int, int]
    motion_kernel: tuple[int, int]
    defocus_radius: tuple[int, int]
    noise_std: tuple[float, float]
    poisson_scale: tuple[float, float]
    blur_p: float


FIRST = Order(sigma=(0.2, 2.0), aniso_kernel=(7, 13), motion_kernel=(3, 9), defocus_radius=(1, 3), noise_std=(1, 15), poisson_scale=(0.0005, 0.006), blur_p=1.0)
SECOND = Order(sigma=(0.2, 1.2), aniso_kernel=(5, 9), motion_kernel=(3, 7), defocus_radius=(1, 2), noise_std=(1, 10), poisson_scale=(0.0005, 0.004), blur_p=0.8)
JPEG_QUALITY = (30, 95)


def _blur(order: Order, rng: np.random.Generator) -> A.BasicTransform:
    """One blur kernel of ``order``: isotropic Gaussian, anisotropic Gaussian, motion or defocus."""
    kind = rng.choice(4, p=(0.40, 0.30, 0.15, 0.15))
    if kind == 0:
        return A.GaussianBlur(sigma_limit=order.sigma, p=order.blur_p)
    if kind == 1:
        return A.AdvancedBlur(blur_limit=order.aniso_kernel, sigma_x_limit=order.sigma, sigma_y_limit=order.sigma, beta_limit=(0.5, 4.0), p=order.blur_p)
    if kind == 2:
        return A.MotionBlur(blur_limit=order.motion_kernel, allow_shifted=False, p=order.blur_p)
    return A.Defocus(radius=order.defocus_radius, alias_blur=(0.1, 0.5), p=order.blur_p)


def _noise(order: Order, rng: np.random.Generator) -> A.BasicTransform:
    """Gaussian (grey 40% of the time) or Poisson noise of ``order``."""
    if rng.random() < 0.5:
        low, high = order.noise_std
        return A.GaussNoise(std_range=(low * GREY, high * GREY), per_channel=bool(rng.random() >= 0.4), p=1)
    return A.ShotNoise(scale_range=order.poisson_scale, p=1)


def _resize(size: Size, rng: np.random.Generator) -> A.BasicTransform:
    return A.Resize(*size, interpolation=int(rng.choice(INTERPOLATIONS)), p=1)


def _realistic(source: Size, target: Size, rng: np.random.Generator) -> list[A.BasicTransform]:
    """Two orders of blur, resize, noise, JPEG; the first stops between ``source`` and ``target``."""
    way = rng.uniform(0.3, 0.7)
    middle = tuple(max(t, round(s * (t / s) ** way)) for s, t in zip(source, target))
    transforms = []
    for order, size in ((FIRST, middle), (SECOND, target)):
        transforms += [_blur(order, rng), _resize(size, rng), _noise(order, rng), A.ImageCompression(quality_range=JPEG_QUALITY, p=1)]
    return transforms


def _surveillance(source: Size, target: Size, rng: np.random.Generator) -> list[A.BasicTransform]:
    """Motion blur, sensor sampling, low light, shot and read noise, strong JPEG."""
    return [
        A.MotionBlur(blur_limit=(5, 11), allow_shifted=False, p=1),
        A.Resize(*target, interpolation=cv2.INTER_AREA, p=1),
        A.RandomGamma(gamma_limit=(120, 200), p=1),
        A.MultiplicativeNoise(multiplier=(0.2, 0.5), per_channel=False, elementwise=False, p=1),
        A.ShotNoise(scale_range=(0.001, 0.005), p=1),
        A.GaussNoise(std_range=(2 * GREY, 8 * GREY), p=1),
        A.ImageCompression(quality_range=(8, 30), p=1),
    ]


@dataclass(frozen=True)
class Preset:
    """A named chain: the corruption families it draws from, the prefix of its sweep level names, its builder."""

    families: tuple[str, ...]
    short: str
    build: Builder


PRESETS: dict[str, Preset] = {
    "realistic": Preset(("resolution", "blur", "motion_blur", "noise", "jpeg"), "real", _realistic),
    "surveillance": Preset(("resolution", "motion_blur", "noise", "jpeg", "light"), "surv", _surveillance),
}
"""The presets by name (family names are those of :data:`helpers.data.degrade.FAMILIES`)."""


def apply_preset(image_rgb: np.ndarray, preset: str, target_hw: Size, seed: int) -> np.ndarray:
    """Run ``preset`` on an RGB uint8 image (at crop scale); a uint8 RGB image of exactly ``target_hw``, deterministic per ``seed``."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known presets: {', '.join(PRESETS)}")
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}")
    target = (int(target_hw[0]), int(target_hw[1]))
    if min(target) < 1:
        raise ValueError(f"target size must be positive, got {target_hw}")
    rng = np.random.default_rng(seed)
    pipeline = A.Compose(PRESETS[preset].build(image_rgb.shape[:2], target, rng), seed=int(rng.integers(2**63)))
    # Compose hands its one seed to every transform, so two of a kind would draw alike: give each its own.
    for transform in pipeline.transforms:
        transform.set_random_seed(int(rng.integers(2**63)))
    out = pipeline(image=np.ascontiguousarray(image_rgb))["image"]
    return np.ascontiguousarray(out, dtype=np.uint8)
