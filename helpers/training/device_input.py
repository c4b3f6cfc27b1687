"""Training input on the training device: crops held once as a uint8 tensor, every batch flipped, augmented and degraded there.

The random choices are exactly those of :class:`~helpers.training.data.TrainingFaces` (its
:meth:`~helpers.training.data.TrainingFaces.plan`: one numpy generator per (seed, epoch, image)); only the
arithmetic moves to batched tensor ops on whatever device trains:

=====================  ====================================  =========================================
step                   CPU path (per image)                  device path (per batch)
=====================  ====================================  =========================================
augmentation warp      ``cv2.warpAffine``, reflect-101       kornia ``warp_affine``, reflection about
                                                             the edge pixel centres (same border)
colour jitter          numpy                                 the same formula on tensors
Gaussian / motion blur ``cv2.GaussianBlur`` / ``filter2D``   kornia ``gaussian_blur2d`` / ``filter2d``
                                                             (the same motion kernels)
sampling at the level  ``cv2.resize`` INTER_AREA             the same box average as two matrix products
light, noise           numpy generator                       torch generator seeded by the image's
                                                             degradation seed (other draws, same law)
JPEG                   OpenCV's libjpeg                      torchvision's codec (nvJPEG on CUDA)
back to 112 px         ``cv2.resize`` INTER_CUBIC            ``interpolate(mode="bicubic")``
=====================  ====================================  =========================================

So a batch is bitwise reproducible per seed on one device, and matches the CPU path image by image
except for the noise draws and the JPEG codec (``tests/model/test_device_input.py`` measures how closely).
Presets (``realistic``, ``surveillance``) are albumentations chains and stay on the CPU path; so do the
realistic training chain (``TrainConfig.lq_chain="realistic"``), alignment jitter (``align_jitter``) and crops
acquired end to end (``e2e_train_copies``), which :class:`DeviceBatches` refuses: the device path draws plain levels only (:func:`helpers.data.degrade.random_degradation`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import filter2d, gaussian_blur2d
from kornia.geometry.transform import warp_affine
from torchvision.io import decode_jpeg, encode_jpeg

from helpers.data.degrade import Degradation, motion_kernel, target_size
from helpers.training.augment import affine_matrix
from helpers.training.data import SamplePlan, TrainingFaces
from helpers.training.lq_chain import LEVELS

GREY_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights, as :func:`helpers.training.augment.jitter` uses."""


def crops_tensor(crops: np.ndarray, device: torch.device) -> torch.Tensor:
    """N x H x W x 3 uint8 crops as one N x 3 x H x W uint8 host tensor, pinned when it feeds a GPU."""
    tensor = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).contiguous()
    return tensor.pin_memory() if device.type == "cuda" else tensor


def to_uint8_range(images: torch.Tensor) -> torch.Tensor:
    """Rounded and clipped to 0..255 (still floating point), as a uint8 image would hold it."""
    return images.round().clamp(0, 255)


def augment_batch(images: torch.Tensor, params: Sequence[dict[str, float]]) -> torch.Tensor:
    """B x 3 x S x S images (0..255) warped and colour-jittered with one drawn parameter set each (:func:`~helpers.training.augment.draw`)."""
    size = images.shape[-1]
    device = images.device
    matrices = torch.as_tensor(np.stack([affine_matrix(p, size) for p in params]), dtype=torch.float32, device=device)
    warped = to_uint8_range(warp_affine(images, matrices, (size, size), mode="bilinear", padding_mode="reflection", align_corners=True))

    def factor(name: str) -> torch.Tensor:
        return torch.tensor([p[name] for p in params], dtype=torch.float32, device=device).view(-1, 1, 1, 1)

    out = warped * factor("brightness")
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * factor("contrast") + mean
    grey = (out * torch.tensor(GREY_WEIGHTS, device=device).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return to_uint8_range((out - grey) * factor("saturation") + grey)


@cache
def area_matrix(source: int, target: int) -> np.ndarray:
    """``target`` x ``source`` weights of a box (area) resample: each output pixel averages the input it covers, fractions included.

    ``A @ image @ A.T`` equals OpenCV's INTER_AREA when shrinking (to float rounding).
    """
    edges = np.arange(target + 1) * source / target
    pixels = np.arange(source)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    return (np.clip(overlap, 0, None) * target / source).astype(np.float32)


def area_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """B x C x H x W images box-averaged down to ``size`` (height, width)."""
    rows = torch.from_numpy(area_matrix(images.shape[-2], size[0])).to(images.device)
    columns = torch.from_numpy(area_matrix(images.shape[-1], size[1])).to(images.device)
    return rows @ images @ columns.T


def gaussian_blur_batch(images: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """Each image blurred with its own sigma; the kernel spans +-4 sigma of the largest, as OpenCV sizes it for float images."""
    size = 2 * math.ceil(4 * max(sigmas)) + 1
    sigma = torch.tensor(sigmas, dtype=torch.float32, device=images.device)
    return gaussian_blur2d(images, (size, size), torch.stack([sigma, sigma], dim=1), border_type="reflect")


def motion_blur_batch(images: torch.Tensor, lengths: Sequence[float], seeds: Sequence[int]) -> torch.Tensor:
    """Each image blurred along a line of its length, in the direction its degradation seed draws (as the CPU path draws it)."""
    kernels = [motion_kernel(length, np.random.default_rng(seed).uniform(0, math.pi)) for length, seed in zip(lengths, seeds)]
    size = max(len(kernel) for kernel in kernels)
    padded = np.stack([np.pad(kernel, (size - len(kernel)) // 2) for kernel in kernels])
    return filter2d(images, torch.from_numpy(padded).to(images.device), border_type="reflect")


def gaussian_noise(shape: Sequence[int], sigma: float, seed: int, device: torch.device) -> torch.Tensor:
    """Gaussian noise of standard deviation ``sigma``, drawn on ``device`` from a generator seeded by ``seed``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return sigma * torch.randn(tuple(shape), generator=generator, device=device)


def jpeg_roundtrip_batch(images: torch.Tensor, qualities: Sequence[int]) -> torch.Tensor:
    """Each image (0..255) JPEG-encoded at its own quality and decoded, with torchvision's codec on the images' device."""
    out = images.clone()
    codes = images.to(torch.uint8)
    for quality in sorted(set(qualities)):
        members = [i for i, q in enumerate(qualities) if q == quality]
        decoded = decode_jpeg(encode_jpeg([codes[i] for i in members], quality=quality), device=images.device)
        out[members] = torch.stack(decoded).to(images.dtype)
    return out


def _at_resolution(images: torch.Tensor, levels: Sequence[Degradation], seeds: Sequence[int]) -> torch.Tensor:
    """Images sharing one target size: sampled there, then light, noise and JPEG, back as 0..255 values at that size."""
    size = images.shape[-2:]
    target = target_size((size[0], size[1]), levels[0].resolution)
    small = area_resize(images, target) if target != tuple(size) else images.clone()
    dim = [i for i, level in enumerate(levels) if level.light < 1 or level.gamma != 1]
    if dim:
        light = torch.tensor([levels[i].light for i in dim], device=images.device).view(-1, 1, 1, 1)
        gamma = torch.tensor([levels[i].gamma for i in dim], device=images.device).view(-1, 1, 1, 1)
        small[dim] = 255.0 * light * torch.pow(small[dim] / 255.0, gamma)
    noise = [i for i, level in enumerate(levels) if level.noise_sigma > 0]
    if noise:
        small[noise] += torch.stack([gaussian_noise(small.shape[1:], levels[i].noise_sigma, seeds[i], images.device) for i in noise])
    small = to_uint8_range(small)
    jpeg = [i for i, level in enumerate(levels) if level.jpeg_quality is not None]
    if jpeg:
        small[jpeg] = jpeg_roundtrip_batch(small[jpeg], [levels[i].jpeg_quality for i in jpeg])
    return small


def degrade_batch(images: torch.Tensor, levels: Sequence[Degradation], seeds: Sequence[int]) -> torch.Tensor:
    """B x 3 x 112 x 112 crops (0..255) each degraded at its plain ``level`` with its ``seed``, in the CPU path's order:
    blur, motion blur, sampling at the level's resolution, light, noise, JPEG, then bicubic back to the crop size."""
    if presets := sorted({level.preset for level in levels if level.preset is not None}):
        raise ValueError(f"presets {presets} run on the CPU path only (helpers.data.degrade.degrade); the device path takes plain levels")
    out = images.clone()
    blurred = [i for i, level in enumerate(levels) if level.blur_sigma > 0]
    if blurred:
        out[blurred] = gaussian_blur_batch(out[blurred], [levels[i].blur_sigma for i in blurred])
    moved = [i for i, level in enumerate(levels) if level.motion_length > 0]
    if moved:
        out[moved] = motion_blur_batch(out[moved], [levels[i].motion_length for i in moved], [seeds[i] for i in moved])
    for resolution in sorted({level.resolution for level in levels}):
        members = [i for i, level in enumerate(levels) if level.resolution == resolution]
        small = _at_resolution(out[members], [levels[i] for i in members], [seeds[i] for i in members])
        if small.shape[-2:] != out.shape[-2:]:
            small = to_uint8_range(F.interpolate(small, size=out.shape[-2:], mode="bicubic", align_corners=False))
        out[members] = small
    return out


def transform_batch(images: torch.Tensor, plans: Sequence[SamplePlan]) -> torch.Tensor:
    """B x 3 x 112 x 112 HQ crops (0..255) transformed as their plans say: augmentation or flip, then degradation."""
    out = images.clone()
    augmented = [i for i, plan in enumerate(plans) if plan.augmentation is not None]
    if augmented:
        out[augmented] = augment_batch(out[augmented], [plans[i].augmentation for i in augmented])
    flipped = [i for i, plan in enumerate(plans) if plan.flip]
    if flipped:
        out[flipped] = out[flipped].flip(-1)
    degraded = [i for i, plan in enumerate(plans) if plan.level is not None]
    if degraded:
        out[degraded] = degrade_batch(out[degraded], [plans[i].level for i in degraded], [plans[i].degrade_seed for i in degraded])
    return out


class DeviceBatches:
    """Training batches built on ``device``: each is indexed from the crops tensor, moved once, and transformed there.

    Iterates like a DataLoader over ``batch_sampler`` (lists of crop indices), yielding
    (float32 images 0..255 on ``device``, labels, indices); ``faces`` supplies the crops, labels and plans.
    """

    def __init__(self, faces: TrainingFaces, batch_sampler: Iterable[list[int]], device: torch.device) -> None:
        if faces.lq_chain != LEVELS or faces.alignment_noise is not None or faces.acquired is not None:
            raise ValueError(
                "the device input pipeline draws plain levels only: the realistic chain, alignment jitter and end-to-end training crops"
                " run on the host (input_pipeline='host')"
            )
        self.faces, self.batch_sampler, self.device = faces, batch_sampler, device
        self.crops = crops_tensor(faces.crops, device)
        self.labels = torch.from_numpy(faces.labels)

    def __len__(self) -> int:
        return len(self.batch_sampler)  # type: ignore[arg-type]

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One batch of the crops at ``indices`` for the faces' current epoch."""
        where = torch.as_tensor(indices, dtype=torch.long)
        images = self.crops[where].to(self.device, non_blocking=True).float()
        return transform_batch(images, [self.faces.plan(int(i)) for i in indices]), self.labels[where], where

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        for indices in self.batch_sampler:
            yield self.batch(indices)
