"""Synthetic low quality, deterministic per image: resolution, blur, motion blur, noise, low light, JPEG, realistic chains.

A degradation is plain data (:class:`Degradation`). :func:`degrade_photo` applies
it to any RGB image whose face scale is known and keeps the size the face was
sampled at (the end-to-end photo); :func:`degrade_image` brings the result back to
the image's own size and :func:`degrade` does so for an aligned 112x112 crop, so
every recogniser sees its usual input size. A plain level works in the order a
camera would: optical and motion blur, then sampling at the target face
resolution, then low light and sensor noise at that resolution, then JPEG
compression; a preset level runs a named random chain instead
(:mod:`helpers.data.chains`).
The same functions serve as on-the-fly training augmentation
(:func:`random_degradation`) and build per-factor sweeps (:func:`sweep_levels`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TypeVar

import cv2
import numpy as np

from helpers.data.chains import PRESETS, apply_preset
from helpers.data.faces import CROP_SIZE

FAMILIES = ("resolution", "blur", "motion_blur", "noise", "jpeg", "light")
"""The corruption families a level can contain (:attr:`Degradation.factors`)."""
TRAIN_FAMILIES = ("resolution", "blur", "noise", "jpeg", "light")
"""The families training augmentation (:func:`random_degradation`) draws from unless told otherwise."""
DEGRADE_VERSION = 2
"""Bump when what a level makes of an image changes: level folders, end-to-end outcomes and embedding keys carry it,
so an upgraded degradation never reuses old outputs (2: the end-to-end photo keeps its degraded size)."""
TRAIN_RANGES = {
    "blur": ("blur_sigma", 0.0, 1.5),
    "jpeg": ("jpeg_quality", 30, 94),
    "noise": ("noise_sigma", 0.0, 8.0),
    "light": ("light", 0.3, 1.0),
    "motion_blur": ("motion_length", 3.0, 9.0),
}
"""What training augmentation (:func:`random_degradation`) draws per family: the level field and its range."""
_T = TypeVar("_T")
_LATER_FIELDS = ("motion_length", "preset")
"""Fields added after levels were first cached: at their defaults they stay out of :func:`image_seed`, so old levels keep their seeds."""


@dataclass(frozen=True)
class Degradation:
    """One named low-quality level.

    ``resolution``: face size in pixels the crop is sampled at (112 = unchanged).
    ``blur_sigma``: Gaussian blur before sampling, in 112-px-crop pixels.
    ``jpeg_quality``: JPEG quality 1-100 at the sampled resolution (``None`` = none).
    ``noise_sigma``: Gaussian noise standard deviation in 0-255 grey levels.
    ``light``: brightness factor (< 1 darkens); ``gamma`` > 1 crushes shadows further.
    ``motion_length``: linear motion blur length in 112-px-crop pixels, direction drawn from the seed (0 = none).
    ``preset``: a named realistic chain (:data:`helpers.data.chains.PRESETS`) run instead of the
    plain factors; such a level sets only its ``resolution``.
    """

    name: str
    resolution: int = CROP_SIZE
    blur_sigma: float = 0.0
    jpeg_quality: int | None = None
    noise_sigma: float = 0.0
    light: float = 1.0
    gamma: float = 1.0
    motion_length: float = 0.0
    preset: str | None = None

    def __post_init__(self) -> None:
        if not 4 <= self.resolution <= CROP_SIZE:
            raise ValueError(f"{self.name}: resolution must be in 4..{CROP_SIZE}, got {self.resolution}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"{self.name}: jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if self.blur_sigma < 0 or self.noise_sigma < 0 or not 0 < self.light <= 1 or self.gamma <= 0:
            raise ValueError(f"{self.name}: blur/noise must be >= 0, light in (0, 1], gamma > 0")
        if self.motion_length < 0:
            raise ValueError(f"{self.name}: motion_length must be >= 0, got {self.motion_length}")
        if self.preset is not None:
            self._check_preset()

    def _check_preset(self) -> None:
        """A known preset, and nothing set besides its resolution."""
        if self.preset not in PRESETS:
            raise ValueError(f"{self.name}: unknown preset {self.preset!r}; known presets: {', '.join(PRESETS)}")
        extra = [
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name not in ("name", "resolution", "preset") and getattr(self, f.name) != f.default
        ]
        if extra:
            raise ValueError(
                f"{self.name}: preset {self.preset!r} draws its own blur, noise, JPEG and light, so it takes only a resolution; "
                f"remove {', '.join(extra)}, or drop the preset for a plain level"
            )

    @property
    def is_identity(self) -> bool:
        """True when this level leaves the crop unchanged (the HQ reference)."""
        return self == Degradation(self.name)

    @property
    def factors(self) -> frozenset[str]:
        """The corruption families this level contains (a preset's are those it declares)."""
        if self.preset is not None:
            return frozenset(f for f in PRESETS[self.preset].families if f != "resolution" or self.resolution < CROP_SIZE)
        return frozenset(self._plain_factors())

    @property
    def sweep(self) -> tuple[str, float | int] | None:
        """``(factor, value)`` when exactly one plain factor is set, e.g. ``("blur", 2.0)``: the x axis of a per-factor sweep.

        The value is the factor's own field (``light`` for the light family); ``None`` for mixes, presets and HQ.
        """
        present = self._plain_factors() if self.preset is None else {}
        return next(iter(present.items())) if len(present) == 1 else None

    def _plain_factors(self) -> dict[str, float | int]:
        """``{family: value}`` of the plain factors that are set, in :data:`FAMILIES` order."""
        values = {
            "resolution": self.resolution if self.resolution < CROP_SIZE else None,
            "blur": self.blur_sigma if self.blur_sigma > 0 else None,
            "motion_blur": self.motion_length if self.motion_length > 0 else None,
            "noise": self.noise_sigma if self.noise_sigma > 0 else None,
            "jpeg": self.jpeg_quality,
            "light": self.light if self.light < 1 or self.gamma != 1 else None,
        }
        return {family: value for family, value in values.items() if value is not None}

    @property
    def curve_point(self) -> tuple[str, float | int] | None:
        """``(curve, x)`` this level is plotted at: a preset's ``(preset, resolution)``, else :attr:`sweep`; ``None`` for mixes and HQ."""
        return (self.preset, self.resolution) if self.preset else self.sweep

    def spec(self) -> dict:
        """JSON-ready description (also the cache key of images it produced)."""
        return asdict(self)


HQ = Degradation("hq")
# The default ladder: face resolution alone, from the native 112 px down to 16 px.
RESOLUTION_LADDER = tuple(Degradation(f"px{r}", resolution=r) for r in (48, 32, 24, 16))
SWEEPS: dict[str, tuple[Degradation, ...]] = {
    "resolution": RESOLUTION_LADDER,
    "blur": tuple(Degradation(f"blur{s}", blur_sigma=float(s)) for s in (1, 2, 4)),
    "motion_blur": tuple(Degradation(f"motion{n}", motion_length=float(n)) for n in (5, 9, 15)),
    "jpeg": tuple(Degradation(f"jpeg{q}", jpeg_quality=q) for q in (50, 20, 10)),
    "noise": tuple(Degradation(f"noise{s}", noise_sigma=float(s)) for s in (5, 10, 20)),
    "light": tuple(Degradation(f"light{int(100 * v)}", light=v) for v in (0.5, 0.25, 0.125)),
    **{name: tuple(Degradation(f"{p.short}{lv.resolution}", resolution=lv.resolution, preset=name) for lv in RESOLUTION_LADDER) for name, p in PRESETS.items()},
}
"""Per-factor sweep levels: one factor (or one preset across the resolution ladder), everything else clean."""
NAMED_LEVELS: dict[str, Degradation] = {level.name: level for levels in SWEEPS.values() for level in levels}
"""Every named level of the sweeps (``px16``, ``real24``, ``blur4``, ``jpeg10``, ...): what a user can ask for by name."""


def level_named(name: str) -> Degradation:
    """One of :data:`NAMED_LEVELS` by name; the error lists them."""
    if name not in NAMED_LEVELS:
        raise ValueError(f"no quality level named {name!r}; valid: {', '.join(NAMED_LEVELS)}")
    return NAMED_LEVELS[name]


def sweep_levels(factors: Sequence[str]) -> list[Degradation]:
    """The :data:`SWEEPS` levels of each named factor or preset, in the order named (e.g. ``["blur", "realistic"]``)."""
    names = (factors,) if isinstance(factors, str) else tuple(dict.fromkeys(factors))
    unknown = [name for name in names if name not in SWEEPS]
    if unknown:
        raise ValueError(f"no sweep for {', '.join(map(repr, unknown))}; valid: {', '.join(SWEEPS)}")
    return [level for name in names for level in SWEEPS[name]]


def parse_levels(levels: dict[str, dict] | list[int]) -> list[Degradation]:
    """Levels from notebook parameters: ``{"px16": {"resolution": 16, ...}}``, ``{"real16": {"preset": "realistic", "resolution": 16}}`` or ``[48, 32, 24, 16]``."""
    if isinstance(levels, dict):
        return [Degradation(name, **params) for name, params in levels.items()]
    return [Degradation(f"px{r}", resolution=int(r)) for r in levels]


def image_seed(content_sha256: str, level: Degradation, seed: int) -> int:
    """Per-image, per-level seed: the same input always gets the same degradation."""
    defaults = {f.name: f.default for f in fields(level) if f.name in _LATER_FIELDS}
    spec = {k: v for k, v in level.spec().items() if k not in defaults or v != defaults[k]}
    text = f"{seed}:{content_sha256}:{sorted(spec.items())}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def degrade(crop_rgb: np.ndarray, level: Degradation, seed: int) -> np.ndarray:
    """Apply ``level`` to an RGB uint8 aligned crop; randomness comes from ``seed`` only."""
    return degrade_image(crop_rgb, level, seed, 1.0)


def degrade_image(image_rgb: np.ndarray, level: Degradation, seed: int, scale: float = 1.0) -> np.ndarray:
    """Apply ``level`` to any RGB uint8 image whose face has ``scale`` crop pixels per image pixel; same shape back.

    :func:`degrade_photo`, brought back to the image's own shape with bicubic
    interpolation. ``scale`` is 1.0 for the aligned crop itself.
    """
    height, width = image_rgb.shape[:2]
    small = degrade_photo(image_rgb, level, seed, scale)
    if small.shape[:2] != (height, width):
        small = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return small


def degrade_photo(image_rgb: np.ndarray, level: Degradation, seed: int, scale: float = 1.0) -> np.ndarray:
    """Apply ``level`` to an RGB uint8 image whose face has ``scale`` crop pixels per image pixel, at the size it was sampled at.

    The image is resampled so one pixel is one crop pixel (area when shrinking,
    bicubic when enlarging) and degraded there, which samples it at the level's
    face resolution; the result keeps that size, or the image's own size when the
    sampled one would be larger (a level never enlarges a photo). This is the
    photo a camera at that distance would have taken: nothing brings it back up.
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if level.is_identity:
        return image_rgb.copy()
    height, width = image_rgb.shape[:2]
    work = image_rgb if scale == 1 else _rescale(image_rgb, scale)
    target = target_size(work.shape[:2], level.resolution)
    small = apply_preset(work, level.preset, target, seed) if level.preset is not None else _plain(work, level, target, seed)
    if small.shape[0] * small.shape[1] > height * width:
        small = cv2.resize(small, (width, height), interpolation=cv2.INTER_AREA)
    return small


def _rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """Resample by ``scale`` (at least 1 px a side): area when shrinking, bicubic when enlarging."""
    width, height = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def target_size(size_hw: tuple[int, int], resolution: int) -> tuple[int, int]:
    """The size a level samples an image of ``size_hw`` (at crop scale) at: ``resolution``/112 of it."""
    if resolution >= CROP_SIZE:
        return size_hw[0], size_hw[1]
    return max(1, round(resolution * size_hw[0] / CROP_SIZE)), max(1, round(resolution * size_hw[1] / CROP_SIZE))


def _plain(image_rgb: np.ndarray, level: Degradation, target_hw: tuple[int, int], seed: int) -> np.ndarray:
    """Blur, motion blur, sample at ``target_hw`` (area), light, noise, JPEG; randomness (direction, noise) from ``seed``."""
    rng = np.random.default_rng(seed)
    image = image_rgb.astype(np.float32)
    if level.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), level.blur_sigma)
    if level.motion_length > 0:
        image = cv2.filter2D(image, -1, motion_kernel(level.motion_length, rng.uniform(0, math.pi)))
    if target_hw != image.shape[:2]:
        image = cv2.resize(image, (target_hw[1], target_hw[0]), interpolation=cv2.INTER_AREA)
    if level.light < 1 or level.gamma != 1:
        image = 255.0 * level.light * np.power(image / 255.0, level.gamma)
    if level.noise_sigma > 0:
        image = image + rng.normal(0.0, level.noise_sigma, image.shape).astype(np.float32)
    small = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if level.jpeg_quality is not None:
        small = _jpeg_roundtrip(small, level.jpeg_quality)
    return small


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised linear motion kernel: a centred line ``length`` px long at ``angle`` radians, anti-aliased.

    Points every 1/8 px along the line are splatted bilinearly into an odd-sized
    kernel, so fractional lengths are exact (albumentations' MotionBlur only takes
    odd integer kernel sizes) and the kernel never shifts the image.
    """
    radius = math.ceil(length / 2)
    size = 2 * radius + 1
    steps = np.linspace(-length / 2, length / 2, max(2, math.ceil(8 * length) + 1))
    xs = np.clip(radius + steps * math.cos(angle), 0, size - 1)
    ys = np.clip(radius + steps * math.sin(angle), 0, size - 1)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    kernel = np.zeros((size + 1, size + 1), np.float64)
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    kernel = kernel[:size, :size]
    return (kernel / kernel.sum()).astype(np.float32)


def _jpeg_roundtrip(image_rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG (OpenCV's codec works in BGR order)."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode an image")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def random_degradation(
    rng: np.random.Generator, resolutions: tuple[int, ...] = (112, 64, 48, 32, 24, 16), families: Sequence[str] = TRAIN_FAMILIES
) -> Degradation:
    """A random level for training augmentation drawing only from ``families``: a resolution plus, at random, the others.

    Blur (p 0.3, sigma 0-1.5), JPEG (p 0.3, quality 30-94), noise (p 0.3, sigma 0-8),
    light (p 0.2, 0.3-1.0) and motion blur (p 0.3, length 3-9 px, only when named): :data:`TRAIN_RANGES`.
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown degradation families {unknown}; known: {', '.join(FAMILIES)}")

    def maybe(family: str, p: float, draw: Callable[[], _T], off: _T) -> _T:
        return draw() if family in families and rng.random() < p else off

    def uniform(family: str) -> float:
        return float(rng.uniform(*TRAIN_RANGES[family][1:]))

    low_quality, high_quality = TRAIN_RANGES["jpeg"][1:]
    return Degradation(
        "random",
        resolution=int(rng.choice(resolutions)) if "resolution" in families else CROP_SIZE,
        blur_sigma=maybe("blur", 0.3, lambda: uniform("blur"), 0.0),
        jpeg_quality=maybe("jpeg", 0.3, lambda: int(rng.integers(low_quality, high_quality + 1)), None),
        noise_sigma=maybe("noise", 0.3, lambda: uniform("noise"), 0.0),
        light=maybe("light", 0.2, lambda: uniform("light"), 1.0),
        motion_length=maybe("motion_blur", 0.3, lambda: uniform("motion_blur"), 0.0),
    )


def high_frequency_energy(image_rgb: np.ndarray, cutoff: float = 0.1) -> float:
    """Share of spectral energy above ``cutoff`` x Nyquist in the grey image: falls as resolution falls."""
    grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    fy = np.fft.fftshift(np.fft.fftfreq(grey.shape[0]))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(grey.shape[1]))[None, :]
    radius = np.sqrt(fx**2 + fy**2) / 0.5
    total = spectrum.sum()
    return float(spectrum[radius > cutoff].sum() / total) if total > 0 else 0.0


def jpeg_blocking_energy(image_rgb: np.ndarray) -> float:
    """JPEG blockiness: mean absolute grey step across 8-px block boundaries over the mean step inside blocks.

    About 1 for an image without blocking (and for a flat one); grows as JPEG's
    8x8 blocks show. Needs at least 9 px a side.
    """
    grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    if min(grey.shape) < 9:
        raise ValueError(f"need at least 9x9 px to see 8-px blocks, got {grey.shape}")
    steps = (np.abs(np.diff(grey, axis=0)), np.abs(np.diff(grey, axis=1)).T)  # rows of steps between pixel rows, then columns
    on = np.concatenate([s[np.arange(len(s)) % 8 == 7].ravel() for s in steps])
    off = np.concatenate([s[np.arange(len(s)) % 8 != 7].ravel() for s in steps])
    return float((on.mean() + 1e-6) / (off.mean() + 1e-6))
