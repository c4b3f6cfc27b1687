"""Notebook 03's one training entry point: fine-tune a face embedder for low-quality faces.

:class:`TrainConfig` is plain data (a notebook's parameters, or a JSON file for
``torchrun -m helpers.train``). :func:`train` runs the whole loop: seeded
data with on-the-fly degradation, a margin head or triplet loss, optional
HQ-to-LQ distillation from the frozen pretrained model, warm-up + cosine
learning rate, per-epoch validation on the val split (people disjoint from
train and test), early stopping, and a checkpoint every epoch from which a
killed run resumes to the same result. Under ``torchrun`` the same code runs
with DistributedDataParallel (NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from helpers import baseline, checkpoints, metrics
from helpers.backbones import Initialisation, build_embedder
from helpers.degrade import HQ, Degradation, degrade, image_seed
from helpers.embeddings import image_keys
from helpers.facedata import IdentityBatchSampler, TrainingFaces, identity_labels, load_crops
from helpers.files import write_csv_atomic
from helpers.losses import HEADS, MarginHead, distillation_loss, triplet_semi_hard
from helpers.packs import ModelPack, load_pack
from helpers.prepare import load_levels, load_manifest
from helpers.progress import progress
from helpers.recognition import Recogniser
from helpers.sources import project_path
from helpers.verification import split_images, split_pairs

TRIPLET = "triplet"
HISTORY = "history.csv"
CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; two runs with equal configs give equal weights."""

    processed_dir: str
    run_dir: str
    backbone: str = "resnet50"          # resnet50 | mobilenet_v2 | pack
    pack: str = "auto"                  # model pack for the pack arm and the distillation teacher
    fallback: str | None = None         # resnet50 without ImageNet weights: None (stop) | random | mobilenet_v2
    embedding_size: int = 512           # ImageNet backbones' embedding head (the pack keeps its own size)
    loss: str = "arcface"               # arcface | cosface | adaface | softmax | triplet
    scale: float = 64.0
    margin: float | None = None         # None: the loss's usual margin
    triplet_margin: float = 0.2
    triplet_identities: int = 16        # triplet batches: identities x images per identity
    triplet_per_identity: int = 4
    distill_weight: float = 0.0         # pack arm: weight of the HQ-teacher -> LQ-student cosine loss
    lq_prob: float = 0.5                # share of training images degraded on the fly
    lq_resolutions: tuple[int, ...] = (48, 32, 24, 16)
    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.01                    # backbone learning rate (SGD, momentum 0.9)
    head_lr: float = 0.1
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.5
    val_level: str = "px16"             # validation condition: HQ gallery vs this level's probes
    val_impostors: int = 20000
    patience: int = 3                   # early stopping: epochs without a better val AUC
    max_train_images: int | None = None  # cap (seeded) for quick runs
    seed: int = 0
    workers: int = 0
    amp: bool = True                    # CUDA only: bfloat16 (or float16 with loss scaling) autocast, channels_last

    def __post_init__(self) -> None:
        if self.loss not in (*HEADS, TRIPLET):
            raise ValueError(f"loss must be one of {(*HEADS, TRIPLET)}, not {self.loss!r}")
        if self.distill_weight and self.backbone != "pack":
            raise ValueError("distillation needs the pack backbone (the teacher is the pack's recogniser); set distill_weight=0")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch_size >= 2 (batch norm needs batches of two or more)")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := set(values) - names:
            raise ValueError(f"unknown training settings {sorted(unknown)}; valid: {sorted(names)}")
        if "lq_resolutions" in values:
            values = {**values, "lq_resolutions": tuple(values["lq_resolutions"])}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "lq_resolutions": list(self.lq_resolutions)}


@dataclass
class Distributed:
    """This process's place in a ``torchrun`` job (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


@contextmanager
def distributed(device_type: str) -> Iterator[Distributed]:
    """Join the ``torchrun`` process group when launched by it (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield Distributed()
        return
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    try:
        yield Distributed(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))
    finally:
        dist.destroy_process_group()


def training_device(place: Distributed) -> torch.device:
    """CUDA (this rank's GPU) when available, else CPU."""
    if torch.cuda.is_available():
        torch.cuda.set_device(place.local_rank)
        return torch.device("cuda", place.local_rank)
    return torch.device("cpu")


class FaceTrainer(nn.Module):
    """Embedder + objective: margin head or triplet loss, plus optional distillation towards teacher embeddings."""

    def __init__(self, embedder: nn.Module, head: MarginHead | None, triplet_margin: float, distill_weight: float) -> None:
        super().__init__()
        self.embedder, self.head = embedder, head
        self.triplet_margin, self.distill_weight = triplet_margin, distill_weight

    def forward(self, images: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        features = self.embedder(images)
        parts = {"id_loss": self.head(features, labels) if self.head is not None else triplet_semi_hard(features, labels, self.triplet_margin)}
        if teacher is not None and self.distill_weight:
            parts["distill_loss"] = distillation_loss(features.float(), teacher)
        loss = parts["id_loss"] + self.distill_weight * parts.get("distill_loss", 0.0)
        return loss, parts


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress_ = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress_)))


@dataclass
class TrainingData:
    """Train crops and labels, teacher embeddings, and the validation set (HQ and LQ crops, pairs)."""

    train: pd.DataFrame
    crops: np.ndarray
    labels: np.ndarray
    classes: list[str]
    teacher: np.ndarray | None
    val_pairs: pd.DataFrame
    val_index: dict[str, int]
    val_hq: np.ndarray
    val_lq: np.ndarray
    val_level: Degradation
    protocol: str
    notes: list[str] = field(default_factory=list)


def teacher_embeddings(processed: Path, pack: ModelPack, images: pd.DataFrame, level_seed: int) -> np.ndarray:
    """The frozen pretrained recogniser's flip-test HQ embeddings of ``images`` (notebook 02's cached path)."""
    recogniser = Recogniser(pack.recogniser.path, pack.preprocess)
    store = baseline.embedding_store(processed, recogniser, flip=True)
    baseline.embed_images(images, [], level_seed, processed, recogniser, store, flip=True)
    return store.get(image_keys(images, HQ, level_seed))


def load_training_data(config: TrainConfig, pack: ModelPack | None) -> TrainingData:
    """Everything the loop reads, from notebook 01's processed folder (and the pack, for the teacher)."""
    processed = project_path(config.processed_dir)
    manifest = load_manifest(processed)
    levels, level_seed = load_levels(processed)
    by_name = {lv.name: lv for lv in levels}
    if config.val_level not in by_name:
        raise ValueError(f"val_level {config.val_level!r} is not one of notebook 01's levels {sorted(by_name)}")
    train = split_images(manifest, "train")
    if config.max_train_images and len(train) > config.max_train_images:
        train = train.sample(config.max_train_images, random_state=config.seed).sort_values("path")
    if train.empty:
        raise ValueError(f"{processed}: the train split has no usable images; rerun notebook 01 with a train fraction > 0")
    labels, classes = identity_labels(train["identity"].tolist())
    val = split_images(manifest, "val").reset_index(drop=True)
    level = by_name[config.val_level]
    val_hq = load_crops(processed, val)
    val_lq = np.stack([degrade(c, level, image_seed(sha, level, level_seed)) for c, sha in zip(val_hq, val["sha256"])])
    teacher = teacher_embeddings(processed, pack, train, level_seed) if pack is not None else None
    return TrainingData(
        train=train, crops=load_crops(processed, train), labels=labels, classes=classes, teacher=teacher,
        val_pairs=split_pairs(manifest, "val", config.val_impostors, config.seed),
        val_index={path: i for i, path in enumerate(val["path"])}, val_hq=val_hq, val_lq=val_lq, val_level=level,
        protocol=manifest["protocol"].iloc[0],
    )


@torch.no_grad()
def embed_crops(embedder: nn.Module, crops: np.ndarray, device: torch.device, batch_size: int = 128) -> np.ndarray:
    """L2-normalised embeddings of N x 112 x 112 x 3 uint8 crops with ``embedder`` in eval mode."""
    was_training = embedder.training
    embedder.eval()
    out = []
    for start in progress(range(0, len(crops), batch_size), "val embeddings", total=-(-len(crops) // batch_size)):
        batch = torch.from_numpy(crops[start : start + batch_size]).permute(0, 3, 1, 2).to(device, torch.float32)
        out.append(nn.functional.normalize(embedder(batch).float(), dim=1).cpu().numpy())
    embedder.train(was_training)
    return np.concatenate(out)


def validate(embedder: nn.Module, data: TrainingData, device: torch.device) -> dict[str, float]:
    """Val AUC and TAR@FAR=1e-3 for HQ-HQ and HQ gallery vs ``val_level`` probes."""
    hq, lq = embed_crops(embedder, data.val_hq, device), embed_crops(embedder, data.val_lq, device)
    a = data.val_pairs["image_a"].map(data.val_index).to_numpy()
    b = data.val_pairs["image_b"].map(data.val_index).to_numpy()
    same = data.val_pairs["same"].to_numpy()
    result = {}
    for name, probe in (("hq", hq), ("lq", lq)):
        scores = np.einsum("ij,ij->i", hq[a], probe[b])
        result[f"val_auc_{name}"] = metrics.auc(scores, same)
        result[f"val_tar_{name}"] = metrics.tar_at_far(scores, same, 1e-3)
    return result


def build_trainer(config: TrainConfig, data: TrainingData, pack: ModelPack | None) -> tuple[FaceTrainer, Initialisation]:
    """The embedder (as configured, weights as reachable) and its objective."""
    embedder, init = build_embedder(config.backbone, config.embedding_size, pack=pack, fallback=config.fallback)
    head = None
    if config.loss != TRIPLET:
        head = MarginHead(embedder.embedding_size, len(data.classes), config.loss, config.scale, config.margin)
        if data.teacher is not None and data.teacher.shape[1] == embedder.embedding_size:
            centres = np.stack([data.teacher[data.labels == k].mean(axis=0) for k in range(len(data.classes))])
            head.init_centres(torch.from_numpy(centres))
    return FaceTrainer(embedder, head, config.triplet_margin, config.distill_weight), init


def _loader(config: TrainConfig, dataset: TrainingFaces, place: Distributed) -> tuple[DataLoader, Any]:
    if config.loss == TRIPLET:
        sampler = IdentityBatchSampler(dataset.labels, config.triplet_identities, config.triplet_per_identity, config.seed, place.rank, place.world_size)
        return DataLoader(dataset, batch_sampler=sampler, num_workers=config.workers), sampler
    sampler = DistributedSampler(dataset, place.world_size, place.rank, shuffle=True, seed=config.seed, drop_last=True)
    return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True, num_workers=config.workers), sampler


def _amp(config: TrainConfig, device: torch.device) -> tuple[bool, torch.dtype]:
    """Autocast on CUDA when asked: bfloat16 where supported (no loss scaling needed), else float16."""
    if not (config.amp and device.type == "cuda"):
        return False, torch.float32
    return True, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def train(config: TrainConfig) -> dict[str, Any]:
    """Train (or resume) as ``config`` says; returns the run's summary (also in ``state.json``)."""
    torch.manual_seed(config.seed)
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    with distributed(device_type) as place:
        device = training_device(place)
        pack = load_pack(config.pack) if config.backbone == "pack" else None
        data = load_training_data(config, pack)
        model, init = build_trainer(config, data, pack)
        use_amp, amp_dtype = _amp(config, device)
        model = model.to(device, memory_format=torch.channels_last if use_amp else torch.contiguous_format)
        dataset = TrainingFaces(data.crops, data.labels, config.seed, config.lq_prob, config.lq_resolutions)
        loader, sampler = _loader(config, dataset, place)
        groups = [{"params": list(model.embedder.parameters()), "lr": config.lr}]
        if model.head is not None:
            groups.append({"params": list(model.head.parameters()), "lr": config.head_lr})
        optimiser = torch.optim.SGD(groups, momentum=0.9, weight_decay=config.weight_decay)
        steps = config.epochs * len(loader)
        warmup = max(1, round(config.warmup_epochs * len(loader)))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(step, warmup, steps))
        scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
        run = project_path(config.run_dir)
        folder = run / CHECKPOINTS
        state = _resume_state(folder, config, model, optimiser, scheduler, scaler)
        wrapped = DistributedDataParallel(model) if place.world_size > 1 else model
        teacher = torch.from_numpy(data.teacher) if data.teacher is not None else None
        history = state["history"] if state else []
        if place.main:
            where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "CPU (no CUDA device: this is slow)"
            print(f"training on {where}, {place.world_size} process(es), amp={use_amp} {amp_dtype if use_amp else ''}")
            print(f"initialisation: {init.describe()}")
            print(f"{len(data.train)} train images of {len(data.classes)} people; val: {len(data.val_pairs)} pairs at HQ and {data.val_level.name}")
            if not state:
                history.append({"epoch": 0, **validate(model.embedder, data, device)})
                checkpoints.save_weights(model.embedder, run / checkpoints.BEST)
        start = state["epoch"] + 1 if state else 1
        for epoch in range(start, config.epochs + 1):
            if _agreed(place, place.main and _stop_early(history, config.patience)):
                break
            dataset.set_epoch(epoch)
            sampler.set_epoch(epoch)
            losses = _run_epoch(wrapped, loader, optimiser, scheduler, scaler, teacher, device, (use_amp, amp_dtype), f"epoch {epoch}/{config.epochs}", place.main)
            if place.main:
                history.append({"epoch": epoch, **losses, **validate(model.embedder, data, device), "lr": scheduler.get_last_lr()[0]})
                if _best_epoch(history) == epoch:
                    checkpoints.save_weights(model.embedder, run / checkpoints.BEST)
                extra = {"history": history, "config": config.to_dict(), "initialisation": dataclasses.asdict(init)}
                checkpoints.save_checkpoint(folder, epoch, model, optimiser, scheduler, scaler, extra)
                write_csv_atomic(run / HISTORY, history_frame(history))
                print(_epoch_line(history[-1]))
            if place.world_size > 1:
                dist.barrier()
        if not place.main:
            return {"rank": place.rank}
        write_csv_atomic(run / HISTORY, history_frame(history))
        return {
            "history": history, "best_epoch": _best_epoch(history), "initialisation": dataclasses.asdict(init),
            "device": str(device), "world_size": place.world_size, "amp": use_amp, "protocol": data.protocol,
            "train_images": len(data.train), "train_identities": len(data.classes), "best_weights": str(run / checkpoints.BEST),
        }


def _resume_state(folder: Path, config: TrainConfig, model: nn.Module, optimiser, scheduler, scaler) -> dict[str, Any] | None:
    """Restore the last checkpoint of this very config, if any (a different config in the folder is an error)."""
    saved = checkpoints.read_state(folder)
    if saved is None:
        return None
    if saved["config"] != config.to_dict():
        changed = sorted(k for k, v in config.to_dict().items() if saved["config"].get(k) != v)
        raise ValueError(f"{folder} holds a checkpoint of a different config (differs in {changed}): use a new run_dir, or delete that folder to start over")
    state = checkpoints.load_checkpoint(folder, model, optimiser, scheduler, scaler)
    print(f"resuming after epoch {state['epoch']} from {folder}")
    return state


def _run_epoch(model, loader, optimiser, scheduler, scaler, teacher, device, amp, desc: str, show: bool) -> dict[str, float]:
    """One pass over ``loader``; returns the mean of each loss part."""
    model.train()
    sums: dict[str, float] = {}
    batches = progress(loader, desc, total=len(loader)) if show else loader
    for images, labels, index in batches:
        target = teacher[index] if teacher is not None else None
        for name, value in train_step(model, images, labels, target, optimiser, scheduler, scaler, device, amp).items():
            sums[name] = sums.get(name, 0.0) + value
    return {name: total / len(loader) for name, total in sums.items()}


def train_step(model, images: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None, optimiser, scheduler, scaler,
               device: torch.device, amp: tuple[bool, torch.dtype]) -> dict[str, float]:
    """One optimisation step on a batch of uint8 NCHW ``images``; returns the loss and its parts."""
    use_amp, amp_dtype = amp
    images = images.to(device, torch.float32, non_blocking=True)
    if use_amp:
        images = images.contiguous(memory_format=torch.channels_last)
    target = teacher.to(device) if teacher is not None else None
    with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
        loss, parts = model(images, labels.to(device), target)
    optimiser.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimiser)
    scaler.update()
    scheduler.step()
    return {name: float(value.detach()) for name, value in {"loss": loss, **parts}.items()}


def _agreed(place: Distributed, decision: bool) -> bool:
    """Rank 0's decision, shared with every rank."""
    if place.world_size == 1:
        return decision
    shared = [decision]
    dist.broadcast_object_list(shared, src=0)
    return bool(shared[0])


def history_frame(history: list[dict]) -> pd.DataFrame:
    """Per-epoch history as a table with a fixed column order (epoch, then alphabetical), so resumed runs write the same file."""
    frame = pd.DataFrame(history)
    return frame[["epoch", *sorted(c for c in frame.columns if c != "epoch")]]


def _best_epoch(history: list[dict]) -> int:
    """The epoch with the highest val AUC at the LQ level (ties: the earliest; an undefined AUC never wins)."""
    def rank(row: dict) -> tuple[float, int]:
        value = row["val_auc_lq"]
        return (value if value is not None and math.isfinite(value) else -math.inf, -row["epoch"])
    return int(max(history, key=rank)["epoch"])


def _stop_early(history: list[dict], patience: int) -> bool:
    return len(history) > 1 and history[-1]["epoch"] - _best_epoch(history) >= patience


def _epoch_line(row: dict) -> str:
    return (f"epoch {row['epoch']}: loss {row['loss']:.4f} | val AUC HQ {row['val_auc_hq']:.4f}, LQ {row['val_auc_lq']:.4f} "
            f"| val TAR@1e-3 HQ {row['val_tar_hq']:.4f}, LQ {row['val_tar_lq']:.4f}")
