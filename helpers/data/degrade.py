"""Synthetic low quality, deterministic per image: resolution, blur, noise, low light, JPEG.

A degradation is plain data (:class:`Degradation`), applied to an aligned
112x112 RGB crop in the order a camera would: optical blur, then sampling at
the target face resolution, then low light and sensor noise at that
resolution, then JPEG compression; finally the face is scaled back up to
112x112 so every recogniser sees its usual input size. The same functions
serve as on-the-fly training augmentation (:func:`random_degradation`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from helpers.data.faces import CROP_SIZE


@dataclass(frozen=True)
class Degradation:
    """One named low-quality level.

    ``resolution``: face size in pixels the crop is sampled at (112 = unchanged).
    ``blur_sigma``: Gaussian blur before sampling, in 112-px-crop pixels.
    ``jpeg_quality``: JPEG quality 1-100 at the sampled resolution (``None`` = none).
    ``noise_sigma``: Gaussian noise standard deviation in 0-255 grey levels.
    ``light``: brightness factor (< 1 darkens); ``gamma`` > 1 crushes shadows further.
    """

    name: str
    resolution: int = CROP_SIZE
    blur_sigma: float = 0.0
    jpeg_quality: int | None = None
    noise_sigma: float = 0.0
    light: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not 4 <= self.resolution <= CROP_SIZE:
            raise ValueError(f"{self.name}: resolution must be in 4..{CROP_SIZE}, got {self.resolution}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"{self.name}: jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if self.blur_sigma < 0 or self.noise_sigma < 0 or not 0 < self.light <= 1 or self.gamma <= 0:
            raise ValueError(f"{self.name}: blur/noise must be >= 0, light in (0, 1], gamma > 0")

    @property
    def is_identity(self) -> bool:
        """True when this level leaves the crop unchanged (the HQ reference)."""
        return self == Degradation(self.name)

    def spec(self) -> dict:
        """JSON-ready description (also the cache key of images it produced)."""
        return asdict(self)


HQ = Degradation("hq")
# The default ladder: face resolution alone, from the native 112 px down to 16 px.
RESOLUTION_LADDER = tuple(Degradation(f"px{r}", resolution=r) for r in (48, 32, 24, 16))


def parse_levels(levels: dict[str, dict] | list[int]) -> list[Degradation]:
    """Levels from notebook parameters: ``{"px16": {"resolution": 16, ...}}`` or ``[48, 32, 24, 16]``."""
    if isinstance(levels, dict):
        return [Degradation(name, **params) for name, params in levels.items()]
    return [Degradation(f"px{r}", resolution=int(r)) for r in levels]


def image_seed(content_sha256: str, level: Degradation, seed: int) -> int:
    """Per-image, per-level seed: the same input always gets the same degradation."""
    text = f"{seed}:{content_sha256}:{sorted(level.spec().items())}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def degrade(crop_rgb: np.ndarray, level: Degradation, seed: int) -> np.ndarray:
    """Apply ``level`` to an RGB uint8 crop; randomness (noise) comes from ``seed`` only."""
    if level.is_identity:
        return crop_rgb.copy()
    rng = np.random.default_rng(seed)
    size = crop_rgb.shape[1], crop_rgb.shape[0]
    image = crop_rgb.astype(np.float32)
    if level.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), level.blur_sigma)
    if level.resolution < CROP_SIZE:
        side = round(level.resolution * crop_rgb.shape[0] / CROP_SIZE)
        image = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    if level.light < 1 or level.gamma != 1:
        image = 255.0 * level.light * np.power(image / 255.0, level.gamma)
    if level.noise_sigma > 0:
        image = image + rng.normal(0.0, level.noise_sigma, image.shape).astype(np.float32)
    small = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if level.jpeg_quality is not None:
        small = _jpeg_roundtrip(small, level.jpeg_quality)
    if small.shape[:2] != crop_rgb.shape[:2]:
        small = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)
    return small


def _jpeg_roundtrip(image_rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG (OpenCV's codec works in BGR order)."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode an image")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def random_degradation(rng: np.random.Generator, resolutions: tuple[int, ...] = (112, 64, 48, 32, 24, 16)) -> Degradation:
    """A random level for training augmentation: a resolution plus, at random, blur, noise, light and JPEG."""
    return Degradation(
        "random",
        resolution=int(rng.choice(resolutions)),
        blur_sigma=float(rng.uniform(0, 1.5)) if rng.random() < 0.3 else 0.0,
        jpeg_quality=int(rng.integers(30, 95)) if rng.random() < 0.3 else None,
        noise_sigma=float(rng.uniform(0, 8)) if rng.random() < 0.3 else 0.0,
        light=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.2 else 1.0,
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
