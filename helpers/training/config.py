"""The training configuration: plain, self-validating data (a notebook's parameters or a JSON file)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from helpers.data.degrade import FAMILIES, TRAIN_FAMILIES
from helpers.evaluation.statistics import TABLE
from helpers.models.backbones import BACKBONES, FALLBACKS
from helpers.models.losses import HEADS
from helpers.training.augment import AUGMENTATIONS
from helpers.training.lq_chain import LEVELS, LQ_CHAINS, REALISTIC

TRIPLET = "triplet"
INPUT_PIPELINES = ("auto", "host", "device")
LOSSES = (*HEADS, TRIPLET)
SELECT_STATISTICS = tuple(statistic.key for statistic in TABLE)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; two runs with equal configs give equal weights."""

    processed_dir: str
    run_dir: str
    backbone: str = "resnet50"  # resnet50 | mobilenet_v2 | pack | inception_resnet_v1 (FaceNet) | seresnet50
    pack: str = "auto"  # model pack for the pack arm and the distillation teacher
    fallback: str | None = None  # pretrained weights unreachable: None (stop) | random | mobilenet_v2 (resnet50 only)
    embedding_size: int = 512  # ImageNet backbones' embedding head (the pack keeps its own size)
    loss: str = "arcface"  # arcface | cosface | adaface | softmax | triplet
    scale: float = 64.0
    margin: float | None = None  # None: the loss's usual margin
    triplet_margin: float = 0.2
    triplet_identities: int = 16  # triplet batches: identities x images per identity
    triplet_per_identity: int = 4
    distill_weight: float = 0.0  # pack arm: weight of the HQ-teacher -> LQ-student cosine loss
    lq_prob: float = 0.5  # share of training images degraded on the fly
    lq_resolutions: tuple[int, ...] = (48, 32, 24, 16)
    lq_families: tuple[str, ...] = TRAIN_FAMILIES  # corruption families of the augmentation; evaluation labels each condition seen / unseen by them
    lq_chain: str = LEVELS  # how a crop is degraded: levels (one plain level: helpers.data.degrade.random_degradation) | realistic (a shuffled second-order chain: helpers.training.lq_chain; host input pipeline only); both draw only the lq_families
    align_jitter: bool = False  # re-align each degraded crop by a landmark error measured at its face resolution (notebook 01's end-to-end detector on degraded train photos: helpers.training.alignment_noise); host input pipeline only
    align_jitter_sample: int = 200  # train photos the alignment noise is measured on (seeded, cached)
    e2e_train_copies: int = 0  # > 0: a degraded sample is one of this many crops acquired end to end from its train photo, degraded whole at seeded training levels (helpers.training.acquired_crops); the alternative to align_jitter; plain levels and the host input pipeline only
    augment: str = "none"  # preset of helpers.training.augment applied to the HQ crop before degradation: none | seed
    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.01  # backbone learning rate (SGD, momentum 0.9)
    head_lr: float = 0.1
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.5
    val_condition: str = "px16-px16"  # validation condition, as notebook 01's levels name them: HQ-px16, px24-px24, ...
    select_statistic: str = "tar@1e-3"  # picks the best epoch at val_condition: auc | eer | tar@1e-2 | tar@1e-3 | tar@1e-4
    val_genuine_per_identity: int = 10  # val pairs: at most this many genuine pairs per person
    val_max_impostors: int = 2_000_000  # val pairs: every impostor pair up to this many
    val_pair_seed: int = 0
    patience: int = 3  # early stopping: epochs without a better select_statistic
    max_train_images: int | None = None  # cap (seeded) for quick runs
    seed: int = 0
    workers: int = 0
    amp: bool = True  # CUDA only: bfloat16 (or float16 with loss scaling) autocast, channels_last
    input_pipeline: str = "auto"  # host (per image: numpy + OpenCV, in `workers` DataLoader processes) | device (batched tensor ops where the model trains) | auto (device on CUDA with lq_chain levels, else host)
    compile: bool = False  # torch.compile the model (forward and backward); off until measured to win on the GPU at hand

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, not {self.backbone!r}")
        if self.fallback not in (None, *FALLBACKS):
            raise ValueError(f"fallback must be None or one of {FALLBACKS}, not {self.fallback!r}")
        if self.distill_weight and self.backbone != "pack":
            raise ValueError("distillation needs the pack backbone (the teacher is the pack's recogniser); set distill_weight=0")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch_size >= 2 (batch norm needs batches of two or more)")
        if self.select_statistic not in SELECT_STATISTICS:
            raise ValueError(f"select_statistic must be one of {SELECT_STATISTICS}, not {self.select_statistic!r}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of the presets {tuple(AUGMENTATIONS)}, not {self.augment!r}")
        if self.input_pipeline not in INPUT_PIPELINES:
            raise ValueError(f"input_pipeline must be one of {INPUT_PIPELINES}, not {self.input_pipeline!r}")
        if self.lq_chain not in LQ_CHAINS:
            raise ValueError(f"lq_chain must be one of {LQ_CHAINS}, not {self.lq_chain!r}")
        if self.lq_chain == REALISTIC and self.input_pipeline == "device":
            raise ValueError(
                "lq_chain 'realistic' runs albumentations per image on the host, which the device input pipeline cannot: "
                "set input_pipeline to 'host' or 'auto' (auto picks host for it), or lq_chain to 'levels'"
            )
        if self.align_jitter and self.input_pipeline == "device":
            raise ValueError(
                "align_jitter re-aligns crops per image on the host, which the device input pipeline cannot: set input_pipeline to 'host' or 'auto'"
            )
        if self.e2e_train_copies < 0:
            raise ValueError(f"e2e_train_copies must be >= 0 acquisitions a train photo (0: off), not {self.e2e_train_copies}")
        if self.e2e_train_copies and self.align_jitter:
            raise ValueError("e2e_train_copies and align_jitter are two ways of training on end-to-end misalignment: set one of them")
        if self.e2e_train_copies and (self.lq_chain != LEVELS or self.input_pipeline == "device" or self.lq_prob == 0):
            raise ValueError(
                "e2e_train_copies acquires train photos degraded at plain levels and reads the crops per image on the host: "
                "it needs lq_chain 'levels', input_pipeline 'host' or 'auto', and lq_prob > 0"
            )
        if self.align_jitter_sample < 1:
            raise ValueError(f"align_jitter_sample must be >= 1 train photos, not {self.align_jitter_sample}")
        if unknown := sorted(set(self.lq_families) - set(FAMILIES)):
            raise ValueError(f"lq_families {unknown} are not corruption families; valid: {list(FAMILIES)}")
        if self.val_genuine_per_identity < 1 or self.val_max_impostors < 1:
            raise ValueError(f"val_genuine_per_identity and val_max_impostors must be >= 1, got {self.val_genuine_per_identity} and {self.val_max_impostors}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := set(values) - names:
            raise ValueError(f"unknown training settings {sorted(unknown)}; valid: {sorted(names)}")
        values = {**values, **{key: tuple(values[key]) for key in ("lq_resolutions", "lq_families") if key in values}}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "lq_resolutions": list(self.lq_resolutions), "lq_families": list(self.lq_families)}
