"""Training data: notebook 01's aligned crops, degraded on the fly, in seeded and resumable order, and the val set.

Every random choice (flip or augmentation, degradation level, noise) comes from a generator
seeded by (seed, epoch, image index), so an epoch yields the same images
whether it runs in one process, several DataLoader workers, or after a
resume from a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from helpers.core.files import read_png_rgb
from helpers.core.progress import progress
from helpers.core.sources import project_path
from helpers.data.acquire import load_acquisition
from helpers.data.degrade import HQ, TRAIN_FAMILIES, Degradation, degrade, image_seed, random_degradation
from helpers.data.detectors import open_detector
from helpers.data.faces import CROP_SIZE, Detector
from helpers.data.levels import load_levels
from helpers.data.manifest import load_manifest, load_source, protocol_of, split_images
from helpers.evaluation.conditions import MODES, ORACLE, Condition, conditions
from helpers.evaluation.embeddings import View, embed_images, embedding_store, image_keys, view_items, view_of
from helpers.evaluation.pairs import PairSet
from helpers.evaluation.reports import PairSettings
from helpers.evaluation.statistics import BY_KEY, Statistic, first_estimable
from helpers.evaluation.verification import split_pairs
from helpers.models.packs import ModelPack, load_pack
from helpers.training import alignment_noise
from helpers.training.acquired_crops import AcquiredCrops, acquire_train_crops
from helpers.training.alignment_noise import AlignmentNoise, jitter_crop
from helpers.training.augment import AUGMENTATIONS, Augmentation, apply_augmentation, draw
from helpers.training.config import TrainConfig
from helpers.training.lq_chain import LEVELS, LQ_CHAINS, REALISTIC, degrade_chain


def load_crops(processed_dir: Path, images: pd.DataFrame) -> np.ndarray:
    """The aligned HQ crops of ``images`` (rows with ``crop_path``) as one N x 112 x 112 x 3 uint8 array."""
    paths = [Path(processed_dir) / crop for crop in images["crop_path"]]
    return np.stack([read_png_rgb(path) for path in progress(paths, "load crops", total=len(paths))])


def identity_labels(identities: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Integer class labels 0..K-1 (in sorted identity order) and the identity of each class."""
    classes = sorted(set(identities))
    index = {name: label for label, name in enumerate(classes)}
    return np.array([index[name] for name in identities], dtype=np.int64), classes


@dataclass(frozen=True)
class SamplePlan:
    """One training crop's random choices for one epoch: augmentation parameters (or a plain flip), then a degradation.

    ``level``: the plain level of the ``levels`` chain; ``chain_resolution``: the face resolution the ``realistic``
    chain ends at (:mod:`helpers.training.lq_chain`); both ``None`` for a crop kept HQ. ``degrade_seed`` seeds the
    degradation's own randomness (motion direction, noise; every draw of the realistic chain).
    """

    augmentation: dict[str, float] | None
    flip: bool
    level: Degradation | None
    degrade_seed: int
    chain_resolution: int | None = None
    alignment_error: np.ndarray | None = None  # 5 x 2 landmark error (crop px) the crop is re-aligned by, or None
    acquired_copy: int | None = None  # the photo's acquired end-to-end crop used instead of its degraded HQ crop, or None


class TrainingFaces(Dataset):
    """Crops with labels, each returned as a uint8 CHW tensor after a seeded flip or augmentation and optional degradation.

    ``augmentation`` (:mod:`helpers.training.augment`) transforms the HQ crop before any degradation; when it
    does anything, its own flip probability replaces the coin flip of ``flip``, so no crop is flipped twice
    (``flip=False`` turns the augmentation's flip off too). ``lq_prob``: share of images degraded (the rest stay HQ)
    at one of ``lq_resolutions``, with corruptions of ``lq_families`` only, by ``lq_chain``: ``levels``
    (:func:`helpers.data.degrade.random_degradation`) or ``realistic`` (:func:`helpers.training.lq_chain.degrade_chain`).
    With ``alignment_noise``, a degraded crop is first re-aligned by a landmark error measured at its face
    resolution (:mod:`helpers.training.alignment_noise`). With ``acquired`` (per crop, the crops acquired end to end
    from its photo: :mod:`helpers.training.acquired_crops`), a degraded sample is one of them, drawn at random, and
    a crop whose photo has none is degraded on the fly. Call :meth:`set_epoch` before each epoch.
    """

    def __init__(
        self,
        crops: np.ndarray,
        labels: np.ndarray,
        seed: int,
        lq_prob: float = 0.0,
        lq_resolutions: Sequence[int] = (48, 32, 24, 16),
        lq_families: Sequence[str] = TRAIN_FAMILIES,
        flip: bool = True,
        augmentation: Augmentation = AUGMENTATIONS["none"],
        lq_chain: str = LEVELS,
        alignment_noise: AlignmentNoise | None = None,
        acquired: Sequence[np.ndarray] | None = None,
    ) -> None:
        if len(crops) != len(labels) or (acquired is not None and len(acquired) != len(crops)):
            raise ValueError(f"{len(crops)} crops but {len(labels)} labels" + ("" if acquired is None else f" and {len(acquired)} acquired sets"))
        if not 0.0 <= lq_prob <= 1.0:
            raise ValueError(f"lq_prob must be in [0, 1], not {lq_prob}")
        if lq_chain not in LQ_CHAINS:
            raise ValueError(f"lq_chain must be one of {LQ_CHAINS}, not {lq_chain!r}")
        self.crops, self.labels, self.lq_chain, self.alignment_noise, self.acquired = crops, labels, lq_chain, alignment_noise, acquired
        self.seed, self.lq_prob, self.lq_resolutions, self.lq_families, self.flip = seed, lq_prob, tuple(lq_resolutions), tuple(lq_families), flip
        self.augmentation = augmentation if flip else replace(augmentation, flip=0.0)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.crops)

    def plan(self, index: int) -> SamplePlan:
        """What happens to crop ``index`` this epoch, drawn from its generator seeded by (seed, epoch, index)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        augmentation, flip = None, False
        if not self.augmentation.identity:
            augmentation = draw(self.augmentation, rng)
        elif self.flip:
            flip = bool(rng.random() < 0.5)
        if rng.random() >= self.lq_prob:
            return SamplePlan(augmentation, flip, None, 0)
        if self.acquired is not None and len(self.acquired[index]):
            return SamplePlan(augmentation, flip, None, 0, acquired_copy=int(rng.integers(len(self.acquired[index]))))
        if self.lq_chain == REALISTIC:
            resolution = int(rng.choice(self.lq_resolutions)) if "resolution" in self.lq_families else CROP_SIZE
            return SamplePlan(augmentation, flip, None, int(rng.integers(2**63)), resolution, self._misalignment(resolution, rng))
        level = random_degradation(rng, self.lq_resolutions, self.lq_families)
        return SamplePlan(augmentation, flip, level, int(rng.integers(2**63)), alignment_error=self._misalignment(level.resolution, rng))

    def _misalignment(self, resolution: int, rng: np.random.Generator) -> np.ndarray | None:
        """A measured landmark error at ``resolution`` (drawn last, so streams without alignment noise are unchanged), or None."""
        return None if self.alignment_noise is None else alignment_noise.draw(self.alignment_noise, resolution, rng)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        """(image uint8 3 x 112 x 112, label, index), transformed on the CPU as :meth:`plan` says."""
        plan = self.plan(index)
        image = self.crops[index] if plan.acquired_copy is None else self.acquired[index][plan.acquired_copy]
        if plan.augmentation is not None:
            image = apply_augmentation(image, plan.augmentation)
        elif plan.flip:
            image = image[:, ::-1]
        if plan.alignment_error is not None:
            image = jitter_crop(np.ascontiguousarray(image), plan.alignment_error)
        if plan.level is not None:
            image = degrade(np.ascontiguousarray(image), plan.level, plan.degrade_seed)
        elif plan.chain_resolution is not None:
            image, _ = degrade_chain(image, plan.chain_resolution, self.lq_families, plan.degrade_seed)
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), int(self.labels[index]), index


class IdentityBatchSampler(Sampler[list[int]]):
    """Batches of ``identities`` people x ``per_identity`` images each (for triplet mining), seeded per epoch.

    With ``world_size`` > 1 each rank takes every ``world_size``-th batch, so ranks see disjoint batches.
    Identities with fewer images than ``per_identity`` are sampled with replacement.
    """

    def __init__(self, labels: np.ndarray, identities: int, per_identity: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if per_identity < 2:
            raise ValueError("per_identity must be at least 2: a triplet needs two images of one person")
        self.by_label = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        if identities > len(self.by_label):
            raise ValueError(f"a batch of {identities} identities needs that many classes; the training set has {len(self.by_label)}")
        self.identities, self.per_identity, self.seed = identities, per_identity, seed
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.by_label) // self.identities // self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.by_label))
        batches = []
        for start in range(0, len(self) * self.identities * self.world_size, self.identities):
            batch = []
            for label in order[start : start + self.identities]:
                members = self.by_label[label]
                batch += rng.choice(members, self.per_identity, replace=len(members) < self.per_identity).tolist()
            batches.append(batch)
        return iter(batches[self.rank :: self.world_size])


@dataclass(frozen=True)
class Selection:
    """What picks the best epoch: ``statistic`` at the val ``condition``, or the first estimable stand-in for ``requested``."""

    condition: Condition
    statistic: Statistic
    requested: str
    val_people_pairs: float

    @classmethod
    def of(cls, condition: Condition, requested: str, val_people_pairs: float) -> Selection:
        """``requested`` if val impostor pairs resting on ``val_people_pairs`` effective pairs of people can estimate it
        (the rule of 30), else its first estimable fallback."""
        return cls(condition, first_estimable(requested, val_people_pairs), requested, val_people_pairs)

    @property
    def stands_in(self) -> bool:
        """Whether the statistic used stands in for the requested one (too few val impostors for it)."""
        return self.statistic.key != self.requested

    def describe(self) -> str:
        """E.g. ``AUC at px16-px16 (standing in for TAR@FAR=1e-3: 375 val impostor pairs are too few)``."""
        used = f"{self.statistic.label} at {self.condition.name}"
        if not self.stands_in:
            return used
        return f"{used} (standing in for {BY_KEY[self.requested].label}: {self.val_people_pairs:,.0f} effective pairs of val people are too few)"

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.condition.name, "statistic": self.statistic.key, "requested": self.requested, "val_people_pairs": self.val_people_pairs}


@dataclass
class TrainingData:
    """Train crops and labels, teacher embeddings, and the validation set (pairs, crops per level, what selects the best epoch)."""

    train: pd.DataFrame
    crops: np.ndarray
    labels: np.ndarray
    classes: list[str]
    teacher: np.ndarray | None
    val_pairs: PairSet
    val_crops: dict[View, np.ndarray]  # HQ and both sides of the val condition, rows in ``val_pairs.images`` order
    val_acquired: dict[View, np.ndarray]  # per view: whether each image's face was acquired (always, for oracle views)
    selection: Selection
    protocol: str
    alignment_noise: AlignmentNoise | None = None
    acquired: AcquiredCrops | None = None
    notes: list[str] = field(default_factory=list)


def teacher_embeddings(processed: Path, pack: ModelPack, images: pd.DataFrame, level_seed: int) -> np.ndarray:
    """The frozen pretrained recogniser's flip-test HQ embeddings of ``images`` (notebook 02's cached path)."""
    recogniser = pack.face_recogniser()
    store = embedding_store(processed, recogniser, flip=True)
    embed_images(images, [], level_seed, processed, recogniser, store, flip=True)
    return store.get(image_keys(images, HQ, level_seed))


def named_condition(name: str, levels: Sequence[Degradation]) -> Condition:
    """The condition called ``name`` among those of ``levels`` (HQ-HQ, HQ-<level>, <level>-<level>, and their ``e2e:`` forms)."""
    by_name = {condition.name: condition for condition in conditions(levels, MODES)}
    if name not in by_name:
        raise ValueError(f"val_condition {name!r} is not a condition of notebook 01's levels; valid: {list(by_name)}")
    return by_name[name]


def train_images(config: TrainConfig, manifest: pd.DataFrame, processed: Path) -> pd.DataFrame:
    """The train split's usable images, capped (seeded) at ``max_train_images``."""
    train = split_images(manifest, "train")
    if config.max_train_images and len(train) > config.max_train_images:
        train = train.sample(config.max_train_images, random_state=config.seed).sort_values("path")
    if train.empty:
        raise ValueError(f"{processed}: the train split has no usable images; rerun notebook 01 with a train fraction > 0")
    return train


def val_pairs(config: TrainConfig, manifest: pd.DataFrame, processed: Path) -> tuple[PairSet, pd.DataFrame]:
    """The val pairs and the val images in their order (``PairSet.a`` and ``.b`` are positions into it)."""
    val = split_images(manifest, "val")
    if val.empty:
        raise ValueError(f"{processed}: the val split has no usable images; rerun notebook 01 with a val fraction > 0")
    pairs = split_pairs(manifest, "val", PairSettings(config.val_genuine_per_identity, config.val_max_impostors, config.val_pair_seed))
    return pairs, val.set_index("image_id").loc[pairs.images["image_id"]].reset_index()


def degraded(crops: np.ndarray, sha256: Sequence[str], level: Degradation, level_seed: int) -> np.ndarray:
    """``crops`` at ``level``, each with its image's own seed (as notebook 02 degrades them)."""
    return np.stack([degrade(crop, level, image_seed(sha, level, level_seed)) for crop, sha in zip(crops, sha256)])


def view_crops(
    processed: Path, images: pd.DataFrame, hq: np.ndarray, view: View, level_seed: int, acquisition: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """The crops of ``images`` at one view (black where an end-to-end face was not acquired) and the acquired mask."""
    level, mode = view
    if mode == ORACLE:
        return degraded(hq, images["sha256"], level, level_seed), np.ones(len(images), dtype=bool)
    items = view_items(images, view, level_seed, acquisition)
    acquired = items["acquired"].to_numpy(dtype=bool)
    crops = np.zeros_like(hq)
    if acquired.any():
        crops[acquired] = load_crops(processed, items[acquired])
    return crops, acquired


def val_crops(
    processed: Path, images: pd.DataFrame, condition: Condition, level_seed: int, acquisition: pd.DataFrame | None
) -> tuple[dict[View, np.ndarray], dict[View, np.ndarray]]:
    """The crops of ``images`` at HQ and at each side of ``condition``, and per view the acquired mask."""
    hq = load_crops(processed, images)
    crops, acquired = {view_of(HQ, ORACLE): hq}, {view_of(HQ, ORACLE): np.ones(len(images), dtype=bool)}
    for level in {condition.level_a, condition.level_b} - {HQ}:
        view = view_of(level, condition.mode)
        crops[view], acquired[view] = view_crops(processed, images, hq, view, level_seed, acquisition)
    return crops, acquired


def end_to_end_detector(processed: Path, settings: dict[str, Any] | None, pack: ModelPack) -> Detector:
    """The detector notebook 01 acquired end to end with (its ``acquisition.json`` ``settings``): ``pack``'s, opened
    with the recorded threshold and policy, checked by its cache key."""
    if settings is None:
        raise ValueError(
            f"{processed}: align_jitter and e2e_train_copies train on the end-to-end detector's misalignment, but notebook 01 acquired nothing end to end; run it with end_to_end=True"
        )
    detector = open_detector(pack.detector, threshold=settings["threshold"], input_size=settings["input_size"])
    if detector.cache_key() != settings["detector"]:
        raise ValueError(
            f"align_jitter and e2e_train_copies detect with the detector notebook 01 acquired end to end with ({settings['detector']}), but pack {pack.note!r} "
            f"gives {detector.cache_key()}: set pack to the one notebook 01 used"
        )
    return detector


def measured_noise(
    config: TrainConfig, manifest: pd.DataFrame, processed: Path, settings: dict[str, Any] | None, pack: ModelPack | None, level_seed: int
) -> AlignmentNoise:
    """The end-to-end detector's landmark errors at each training resolution, on a seeded sample of train photos (cached)."""
    detector = end_to_end_detector(processed, settings, pack or load_pack(config.pack))
    resolutions = tuple(sorted({r for r in config.lq_resolutions if r < CROP_SIZE}, reverse=True)) or (CROP_SIZE // 2,)
    root = Path(load_source(processed).root)
    return alignment_noise.measure(manifest, root, processed, detector, resolutions, config.align_jitter_sample, level_seed)


def acquired_crops(
    config: TrainConfig, train: pd.DataFrame, processed: Path, settings: dict[str, Any] | None, pack: ModelPack | None, level_seed: int
) -> AcquiredCrops:
    """Every training image acquired end to end ``e2e_train_copies`` times by notebook 01's detector (cached)."""
    detector = end_to_end_detector(processed, settings, pack or load_pack(config.pack))
    root = Path(load_source(processed).root)
    return acquire_train_crops(train, root, processed, detector, config.e2e_train_copies, config.lq_resolutions, config.lq_families, level_seed)


def load_training_data(config: TrainConfig, pack: ModelPack | None) -> TrainingData:
    """Everything the loop reads, from notebook 01's processed folder (and the pack, for the teacher)."""
    processed = project_path(config.processed_dir)
    manifest = load_manifest(processed)
    level_set = load_levels(processed)
    acquisition, settings = load_acquisition(processed) or (None, None)
    condition = named_condition(config.val_condition, level_set.levels)
    train = train_images(config, manifest, processed)
    labels, classes = identity_labels(train["identity"].tolist())
    pairs, val = val_pairs(config, manifest, processed)
    crops, acquired = val_crops(processed, val, condition, level_set.seed, acquisition)
    teacher = teacher_embeddings(processed, pack, train, level_set.seed) if pack is not None else None
    return TrainingData(
        train=train,
        crops=load_crops(processed, train),
        labels=labels,
        classes=classes,
        teacher=teacher,
        val_pairs=pairs,
        val_crops=crops,
        val_acquired=acquired,
        selection=Selection.of(condition, config.select_statistic, pairs.people().impostor_units()),
        protocol=protocol_of(manifest),
        alignment_noise=measured_noise(config, manifest, processed, settings, pack, level_set.seed) if config.align_jitter else None,
        acquired=acquired_crops(config, train, processed, settings, pack, level_set.seed) if config.e2e_train_copies else None,
    )
