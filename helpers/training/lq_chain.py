"""A randomized second-order degradation chain for fine-tuning (``TrainConfig.lq_chain="realistic"``).

In the spirit of BSRGAN (Zhang et al., 2021: the steps in random order) and Real-ESRGAN (Wang et al., 2021:
two orders of degradation): each order draws its steps (blur, resampling, noise, JPEG; the first order
also low light), each with its own probability, and runs them in an order shuffled per image. The first
order resamples to a size a random 20-80% of the way (geometrically) from the crop to the target face
resolution, the second to the target; the result is brought back to the crop's size with bicubic
interpolation, as :func:`helpers.data.degrade.degrade` does. Strengths are drawn in 112-px-crop pixels
and converted to the scale of the image at the step they run at, so the declared ranges
(:data:`CHAIN_RANGES`) are in the units of :data:`helpers.data.degrade.TRAIN_RANGES`.

Its draws differ on purpose from notebook 01's evaluation preset ``realistic`` (:mod:`helpers.data.chains`),
so that preset stays a test of conditions training never drew as such:

==========================  ==================================  ==================================
draw                        this training chain (order 1 / 2)   evaluation ``realistic`` (1 / 2)
==========================  ==================================  ==================================
order of steps              shuffled per image and order        fixed: blur, resize, noise, JPEG
step probability            blur 0.7 / 0.5, noise 0.6 / 0.5,    blur 1.0 / 0.8, noise and JPEG 1
                            JPEG 0.5 / 0.7, light 0.15 / -
units of sizes and sigmas   112-px-crop pixels at every step    pixels of the image at that step
blur kernel mix             Gaussian 0.45, anisotropic 0.35,    Gaussian 0.40, anisotropic 0.30,
                            linear motion 0.20                  motion 0.15, defocus 0.15
Gaussian sigma (each axis)  0.3-2.4 / 0.3-1.6 px                0.2-2.0 / 0.2-1.2 px
anisotropic shape beta      0.5-3                               0.5-4
motion length               2-8 / 2-6 px (fractional lengths)   kernel 3-9 / 3-7 px (odd sizes)
interpolation               area, bilinear, bicubic, Lanczos    area, bilinear, bicubic
first-order size            20-80% of the way                   30-70% of the way
noise                       Gaussian 0.5-12 / 0.5-8 grey        Gaussian 1-15 / 1-10 grey, or
                            levels, grey half the time          Poisson, each half the time
JPEG quality                40-90 / 25-85                       30-95 / 30-95
low light (brightness)      x 0.4-0.9 (first order)             none
==========================  ==================================  ==================================

A step runs only when its family is among those asked for (``TrainConfig.lq_families``), motion
kernels only when ``motion_blur`` is, like :func:`helpers.data.degrade.random_degradation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np

from helpers.data.chains import GREY
from helpers.data.degrade import FAMILIES, TRAIN_RANGES, motion_kernel, target_size

LEVELS, REALISTIC = "levels", "realistic"
LQ_CHAINS = (LEVELS, REALISTIC)
"""``TrainConfig.lq_chain``: one plain level per crop (:func:`helpers.data.degrade.random_degradation`) or this chain."""
Size = tuple[int, int]
Op = Callable[[np.ndarray, float], np.ndarray]
"""A step's work: (image, image pixels per crop pixel) -> image."""


@dataclass(frozen=True)
class Order:
    """The draws of one order: per step its probability and range (sigmas and lengths in 112-px-crop pixels)."""

    blur_p: float
    sigma: tuple[float, float]
    motion_length: tuple[float, float]
    noise_p: float
    noise_std: tuple[float, float]
    jpeg_p: float
    jpeg_quality: tuple[int, int]
    light_p: float = 0.0


FIRST = Order(blur_p=0.7, sigma=(0.3, 2.4), motion_length=(2.0, 8.0), noise_p=0.6, noise_std=(0.5, 12.0), jpeg_p=0.5, jpeg_quality=(40, 90), light_p=0.15)
SECOND = Order(blur_p=0.5, sigma=(0.3, 1.6), motion_length=(2.0, 6.0), noise_p=0.5, noise_std=(0.5, 8.0), jpeg_p=0.7, jpeg_quality=(25, 85))
ORDERS = (FIRST, SECOND)
KERNELS = {"gaussian": ("blur", 0.45), "anisotropic": ("blur", 0.35), "motion": ("motion_blur", 0.20)}
"""Blur kernel kinds: the family each belongs to and its share of blur steps (renormalised over the families asked for)."""
BETA = (0.5, 3.0)
"""Shape of the anisotropic generalised Gaussian kernel (1 = Gaussian; below, heavier tails; above, a plateau)."""
INTERPOLATIONS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
MIDDLE_WAY = (0.2, 0.8)
"""How far (geometrically) from the crop's size to the target the first order resamples to."""
LIGHT = (0.4, 0.9)
"""Low light: the brightness factor of a light step."""
MIN_SIGMA = 0.1
"""Image pixels: a blur converted to a smaller scale never goes below this (no blur at all, to the eye)."""


def _reach(draw: str) -> tuple[float, float]:
    """The lowest low and the highest high of the range ``draw`` over both orders."""
    return min(getattr(order, draw)[0] for order in ORDERS), max(getattr(order, draw)[1] for order in ORDERS)


CHAIN_RANGES = {
    "blur": ("blur_sigma", *_reach("sigma")),
    "jpeg": ("jpeg_quality", *_reach("jpeg_quality")),
    "noise": ("noise_sigma", *_reach("noise_std")),
    "light": ("light", *LIGHT),
    "motion_blur": ("motion_length", *_reach("motion_length")),
}
"""What the chain can draw per family, as :data:`helpers.data.degrade.TRAIN_RANGES` states it: the level field and its range."""
CHAIN_FAMILIES = ("resolution", *CHAIN_RANGES)
"""The corruption families the chain can draw (names of :data:`helpers.data.degrade.FAMILIES`)."""


@dataclass(frozen=True)
class Step:
    """One step the chain ran: its order (1 or 2), family, kind (``resize``, ``gaussian blur``, ``jpeg``, ...) and strengths."""

    order: int
    family: str
    kind: str
    detail: str


@dataclass(frozen=True)
class ChainRecord:
    """What one run of the chain drew: its steps in the order they ran."""

    steps: tuple[Step, ...]

    @property
    def families(self) -> frozenset[str]:
        """The corruption families the chain applied."""
        return frozenset(step.family for step in self.steps)


def drawn_ranges(chain: str, families: Collection[str]) -> dict[str, tuple[str, float, float]]:
    """Per family of ``families`` that ``chain`` draws a strength for: the level field and its range (the run record exposure reads)."""
    ranges = CHAIN_RANGES if chain == REALISTIC else TRAIN_RANGES
    return {family: ranges[family] for family in families if family in ranges}


def degrade_chain(image_rgb: np.ndarray, resolution: int, families: Collection[str], seed: int) -> tuple[np.ndarray, ChainRecord]:
    """Run the chain on an RGB uint8 crop (112-px scale), ending at face ``resolution`` (112: no resampling), then back to its size.

    Only steps of the other ``families`` run (the caller passes 112 when ``resolution`` is not among them, as
    :func:`~helpers.data.degrade.random_degradation` does); deterministic per ``seed``. Returns the image and what was drawn.
    """
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}")
    if unknown := sorted(set(families) - set(FAMILIES)):
        raise ValueError(f"families {unknown} are not corruption families; valid: {list(FAMILIES)}")
    rng = np.random.default_rng(seed)
    source = (image_rgb.shape[0], image_rgb.shape[1])
    target = target_size(source, resolution)
    middle, end = (None, None) if target == source else (_middle(source, target, rng), target)
    steps = _order(FIRST, 1, families, middle, rng) + _order(SECOND, 2, families, end, rng)
    image = np.ascontiguousarray(image_rgb)
    for _, op in steps:
        image = op(image, image.shape[0] / source[0])
    if image.shape[:2] != source:
        image = cv2.resize(image, (source[1], source[0]), interpolation=cv2.INTER_CUBIC)
    return image, ChainRecord(tuple(step for step, _ in steps))


def _middle(source: Size, target: Size, rng: np.random.Generator) -> Size:
    """The first order's size: a random way (geometrically) from ``source`` to ``target``."""
    way = rng.uniform(*MIDDLE_WAY)
    return tuple(max(t, round(s * (t / s) ** way)) for s, t in zip(source, target))


def _order(order: Order, number: int, families: Collection[str], size: Size | None, rng: np.random.Generator) -> list[tuple[Step, Op]]:
    """The steps of one order that its coins turn up (resampling to ``size`` always, unless None), shuffled."""
    kinds = {kind: share for kind, (family, share) in KERNELS.items() if family in families}
    steps = []
    if kinds and rng.random() < order.blur_p:
        steps.append(_blur(order, number, kinds, rng))
    if size is not None:
        steps.append(_resize(number, size, rng))
    if "noise" in families and rng.random() < order.noise_p:
        steps.append(_noise(order, number, rng))
    if "jpeg" in families and rng.random() < order.jpeg_p:
        steps.append(_jpeg(order, number, rng))
    if "light" in families and rng.random() < order.light_p:
        steps.append(_light(number, rng))
    return [steps[i] for i in rng.permutation(len(steps))]


def _blur(order: Order, number: int, kinds: dict[str, float], rng: np.random.Generator) -> tuple[Step, Op]:
    """A blur of one kernel kind of ``kinds``, its strength in crop pixels."""
    kind = str(rng.choice(list(kinds), p=np.array(list(kinds.values())) / sum(kinds.values())))
    if kind == "motion":
        length, angle = rng.uniform(*order.motion_length), rng.uniform(0, math.pi)
        step = Step(number, "motion_blur", f"{kind} blur", f"length {length:.2f} px, angle {math.degrees(angle):.0f} deg")
        return step, lambda image, scale: cv2.filter2D(image, -1, motion_kernel(length * scale, angle))
    if kind == "gaussian":
        sigma = rng.uniform(*order.sigma)
        step = Step(number, "blur", f"{kind} blur", f"sigma {sigma:.2f} px")
        return step, lambda image, scale: cv2.GaussianBlur(image, (0, 0), max(MIN_SIGMA, sigma * scale))
    sigma_x, sigma_y, seed = rng.uniform(*order.sigma), rng.uniform(*order.sigma), int(rng.integers(2**63))

    def anisotropic(image: np.ndarray, scale: float) -> np.ndarray:
        sx, sy = max(MIN_SIGMA, sigma_x * scale), max(MIN_SIGMA, sigma_y * scale)
        kernel = 2 * math.ceil(3 * max(sx, sy)) + 1
        transform = A.AdvancedBlur(blur_limit=(kernel, kernel), sigma_x_limit=(sx, sx), sigma_y_limit=(sy, sy), beta_limit=BETA, p=1)
        return _run(transform, image, seed)

    return Step(number, "blur", f"{kind} blur", f"sigma {sigma_x:.2f} x {sigma_y:.2f} px"), anisotropic


def _resize(number: int, size: Size, rng: np.random.Generator) -> tuple[Step, Op]:
    """Resampling to ``size`` with a random interpolation."""
    name = str(rng.choice(list(INTERPOLATIONS)))
    step = Step(number, "resolution", "resize", f"{size[0]}x{size[1]} {name}")
    return step, lambda image, _: cv2.resize(image, (size[1], size[0]), interpolation=INTERPOLATIONS[name])


def _noise(order: Order, number: int, rng: np.random.Generator) -> tuple[Step, Op]:
    """Gaussian noise in grey levels, colour or grey (each half the time)."""
    std, colour, seed = rng.uniform(*order.noise_std), bool(rng.random() < 0.5), int(rng.integers(2**63))
    transform = A.GaussNoise(std_range=(std * GREY, std * GREY), per_channel=colour, p=1)
    step = Step(number, "noise", "gaussian noise", f"std {std:.2f} grey, {'colour' if colour else 'grey'}")
    return step, lambda image, _: _run(transform, image, seed)


def _jpeg(order: Order, number: int, rng: np.random.Generator) -> tuple[Step, Op]:
    """JPEG compression at a random quality."""
    quality = int(rng.integers(order.jpeg_quality[0], order.jpeg_quality[1] + 1))
    transform = A.ImageCompression(quality_range=(quality, quality), p=1)
    return Step(number, "jpeg", "jpeg", f"quality {quality}"), lambda image, _: transform(image=image)["image"]


def _light(number: int, rng: np.random.Generator) -> tuple[Step, Op]:
    """Low light: every pixel times a random brightness factor."""
    factor = rng.uniform(*LIGHT)
    return Step(number, "light", "light", f"brightness x {factor:.2f}"), lambda image, _: cv2.convertScaleAbs(image, alpha=factor)


def _run(transform: A.BasicTransform, image: np.ndarray, seed: int) -> np.ndarray:
    """``transform`` applied with its own ``seed``, so it draws the same every time."""
    transform.set_random_seed(seed)
    return transform(image=image)["image"]
