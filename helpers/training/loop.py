"""Notebook 03's one training entry point: fine-tune a face embedder for low-quality faces.

:func:`train` runs the whole loop: seeded data with on-the-fly degradation, a
margin head or triplet loss, optional HQ-to-LQ distillation from the frozen
pretrained model, warm-up + cosine learning rate, per-epoch validation on the
val split (people disjoint from train and test), the best epoch and early
stopping by the declared statistic at the val condition, and a checkpoint
every epoch from which a killed run resumes to the same result.
Under ``torchrun`` the same code runs with DistributedDataParallel (NCCL on
GPUs, gloo on CPU).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler

from helpers.core.files import write_csv_atomic
from helpers.core.progress import progress
from helpers.core.sources import project_path
from helpers.evaluation.reports import HISTORY
from helpers.models import checkpoints
from helpers.models.backbones import Initialisation, build_embedder
from helpers.models.losses import MarginHead, distillation_loss, triplet_semi_hard
from helpers.models.packs import ModelPack, load_pack
from helpers.training.alignment_noise import summary as noise_summary
from helpers.training.augment import AUGMENTATIONS
from helpers.training.config import TRIPLET, TrainConfig
from helpers.training.data import IdentityBatchSampler, TrainingData, TrainingFaces, load_training_data
from helpers.training.device_input import DeviceBatches
from helpers.training.distributed import Distributed, agreed, barrier, distributed, training_device
from helpers.training.lq_chain import LEVELS, drawn_ranges
from helpers.training.validation import best_epoch, selection_note, stop_early, validate

# The training run folder: per-epoch history (HISTORY, beside metrics.json), checkpoints, and rank 0's summary of a torchrun job.
CHECKPOINTS = "checkpoints"
SUMMARY = "train_summary.json"


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


def input_pipeline(config: TrainConfig, device: torch.device) -> str:
    """``host`` or ``device``: the configured input pipeline, ``auto`` resolved (batched on the device when it is a GPU
    and the crops are degraded by plain levels; the realistic chain runs on the host)."""
    if config.input_pipeline != "auto":
        return config.input_pipeline
    per_image = config.lq_chain != LEVELS or config.align_jitter or config.e2e_train_copies
    return "device" if device.type == "cuda" and not per_image else "host"


def _loader(config: TrainConfig, dataset: TrainingFaces, place: Distributed, device: torch.device) -> tuple[Iterable, Any]:
    """Batches of (images, labels, indices) in the sampler's seeded order, built on the host or on ``device``; and the sampler."""
    if config.loss == TRIPLET:
        sampler = IdentityBatchSampler(dataset.labels, config.triplet_identities, config.triplet_per_identity, config.seed, place.rank, place.world_size)
        batches = sampler
    else:
        sampler = DistributedSampler(dataset, place.world_size, place.rank, shuffle=True, seed=config.seed, drop_last=True)
        batches = BatchSampler(sampler, config.batch_size, drop_last=True)
    if input_pipeline(config, device) == "device":
        return DeviceBatches(dataset, batches, device), sampler
    return DataLoader(dataset, batch_sampler=batches, num_workers=config.workers, pin_memory=device.type == "cuda"), sampler


def _amp(config: TrainConfig, device: torch.device) -> tuple[bool, torch.dtype]:
    """Autocast on CUDA when asked: bfloat16 where supported (no loss scaling needed), else float16."""
    if not (config.amp and device.type == "cuda"):
        return False, torch.float32
    return True, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@dataclass
class Session:
    """Everything one training run holds while it runs."""

    config: TrainConfig
    place: Distributed
    device: torch.device
    amp: tuple[bool, torch.dtype]
    data: TrainingData
    model: FaceTrainer
    init: Initialisation
    dataset: TrainingFaces
    loader: Iterable
    sampler: Any
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    history: list[dict]
    start_epoch: int

    @property
    def run(self) -> Path:
        return project_path(self.config.run_dir)


def _optimiser(config: TrainConfig, model: FaceTrainer, steps_per_epoch: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """SGD with momentum (backbone and head at their own rates), linear warm-up then cosine decay per step."""
    groups = [{"params": list(model.embedder.parameters()), "lr": config.lr}]
    if model.head is not None:
        groups.append({"params": list(model.head.parameters()), "lr": config.head_lr})
    optimiser = torch.optim.SGD(groups, momentum=0.9, weight_decay=config.weight_decay)
    steps = config.epochs * steps_per_epoch
    warmup = max(1, round(config.warmup_epochs * steps_per_epoch))
    return optimiser, torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(step, warmup, steps))


def _session(config: TrainConfig, place: Distributed) -> Session:
    """Data, model, optimiser and (when the run folder holds one) the last checkpoint of this config."""
    device = training_device(place)
    pack = load_pack(config.pack) if config.backbone == "pack" else None
    data = load_training_data(config, pack)
    model, init = build_trainer(config, data, pack)
    use_amp, amp_dtype = _amp(config, device)
    model = model.to(device, memory_format=torch.channels_last if use_amp else torch.contiguous_format)
    if config.compile:
        model.compile()
    dataset = TrainingFaces(
        data.crops,
        data.labels,
        config.seed,
        config.lq_prob,
        config.lq_resolutions,
        config.lq_families,
        augmentation=AUGMENTATIONS[config.augment],
        lq_chain=config.lq_chain,
        alignment_noise=data.alignment_noise,
        acquired=None if data.acquired is None else data.acquired.crops,
    )
    loader, sampler = _loader(config, dataset, place, device)
    optimiser, scheduler = _optimiser(config, model, len(loader))
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    state = _resume_state(project_path(config.run_dir) / CHECKPOINTS, config, model, optimiser, scheduler, scaler)
    return Session(
        config,
        place,
        device,
        (use_amp, amp_dtype),
        data,
        model,
        init,
        dataset,
        loader,
        sampler,
        optimiser,
        scheduler,
        scaler,
        history=state["history"] if state else [],
        start_epoch=state["epoch"] + 1 if state else 1,
    )


def _announce(session: Session) -> None:
    """Say where and on what the run trains; a fresh run validates its starting point as epoch 0."""
    device, data = session.device, session.data
    use_amp, amp_dtype = session.amp
    where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "CPU (no CUDA device: this is slow)"
    print(f"training on {where}, {session.place.world_size} process(es), amp={use_amp} {amp_dtype if use_amp else ''}")
    print(f"initialisation: {session.init.describe()}")
    print(f"input pipeline: {input_pipeline(session.config, device)}; torch.compile: {'on' if session.config.compile else 'off'}")
    pairs = data.val_pairs
    print(
        f"{len(data.train)} train images of {len(data.classes)} people; val: {pairs.n_genuine:,} genuine + {pairs.n_impostor:,} impostor pairs "
        f"of {pairs.images['identity'].nunique()} people at HQ-HQ and {data.selection.condition.name}; best epoch by {data.selection.describe()}"
    )
    if session.start_epoch == 1:
        session.history.append({"epoch": 0, **validate(session.model.embedder, data, device)})
        checkpoints.save_weights(session.model.embedder, session.run / checkpoints.BEST)


def _finish_epoch(session: Session, epoch: int, losses: dict[str, float]) -> None:
    """Validate, keep the best weights, checkpoint, and write the history (rank 0)."""
    model, run = session.model, session.run
    session.history.append({"epoch": epoch, **losses, **validate(model.embedder, session.data, session.device), "lr": session.scheduler.get_last_lr()[0]})
    if best_epoch(session.history, session.data.selection.statistic) == epoch:
        checkpoints.save_weights(model.embedder, run / checkpoints.BEST)
    extra = {"history": session.history, "config": session.config.to_dict(), "initialisation": dataclasses.asdict(session.init)}
    checkpoints.save_checkpoint(run / CHECKPOINTS, epoch, model, session.optimiser, session.scheduler, session.scaler, extra)
    write_csv_atomic(run / HISTORY, history_frame(session.history))
    print(_epoch_line(session.history[-1], session.data))


def _fit(session: Session) -> None:
    """The epochs from where the run stands to the last one, or until early stopping."""
    config, place = session.config, session.place
    wrapped = DistributedDataParallel(session.model) if place.world_size > 1 else session.model
    teacher = torch.from_numpy(session.data.teacher) if session.data.teacher is not None else None
    for epoch in range(session.start_epoch, config.epochs + 1):
        if agreed(place, place.main and stop_early(session.history, session.data.selection.statistic, config.patience)):
            break
        session.dataset.set_epoch(epoch)
        session.sampler.set_epoch(epoch)
        losses = _run_epoch(wrapped, session, teacher, f"epoch {epoch}/{config.epochs}")
        if place.main:
            _finish_epoch(session, epoch, losses)
        barrier(place)


def _summary(session: Session) -> dict[str, Any]:
    """The run's summary: history, best epoch and what it was selected on, initialisation, device and data sizes,
    and per corruption family the strengths the augmentation could draw (``lq_ranges``: evaluation reads them)."""
    selection = session.data.selection
    return {
        "history": session.history,
        "best_epoch": best_epoch(session.history, selection.statistic),
        "selected_on": selection.to_json(),
        "initialisation": dataclasses.asdict(session.init),
        "device": str(session.device),
        "world_size": session.place.world_size,
        "amp": session.amp[0],
        "input_pipeline": input_pipeline(session.config, session.device),
        "compiled": session.config.compile,
        "protocol": session.data.protocol,
        "train_images": len(session.data.train),
        "train_identities": len(session.data.classes),
        "lq_ranges": drawn_ranges(session.config.lq_chain, session.config.lq_families),
        "alignment_noise": None if session.data.alignment_noise is None else noise_summary(session.data.alignment_noise).to_dict(orient="records"),
        "acquired_crops": None if session.data.acquired is None else session.data.acquired.summary(),
        "best_weights": str(session.run / checkpoints.BEST),
        "selection_warning": selection_note(session.history, selection),
    }


def train(config: TrainConfig) -> dict[str, Any]:
    """Train (or resume) as ``config`` says; returns the run's summary (rank 0; other ranks get their rank)."""
    torch.manual_seed(config.seed)
    with distributed("cuda" if torch.cuda.is_available() else "cpu") as place:
        session = _session(config, place)
        if place.main:
            _announce(session)
        _fit(session)
        if not place.main:
            return {"rank": place.rank}
        write_csv_atomic(session.run / HISTORY, history_frame(session.history))
        summary = _summary(session)
        if summary["selection_warning"]:
            print("warning:", summary["selection_warning"])
        return summary


def _resume_state(folder: Path, config: TrainConfig, model: nn.Module, optimiser, scheduler, scaler) -> dict[str, Any] | None:
    """Restore the last checkpoint of this very config, if any (a different config in the folder is an error).

    A checkpoint written before a setting existed is read with that setting's default, which is today's behaviour.
    """
    saved = checkpoints.read_state(folder)
    if saved is None:
        return None
    previous = TrainConfig.from_dict(saved["config"]).to_dict()
    if previous != config.to_dict():
        changed = sorted(k for k, v in config.to_dict().items() if previous.get(k) != v)
        raise ValueError(f"{folder} holds a checkpoint of a different config (differs in {changed}): use a new run_dir, or delete that folder to start over")
    state = checkpoints.load_checkpoint(folder, model, optimiser, scheduler, scaler)
    print(f"resuming after epoch {state['epoch']} from {folder}")
    return state


def _run_epoch(model: nn.Module, session: Session, teacher: torch.Tensor | None, desc: str) -> dict[str, float]:
    """One pass over the loader; returns the mean of each loss part (summed on the device, read once at the end)."""
    model.train()
    sums: dict[str, torch.Tensor] = {}
    loader = session.loader
    batches = progress(loader, desc, total=len(loader)) if session.place.main else loader
    for images, labels, index in batches:
        target = teacher[index] if teacher is not None else None
        parts = train_step(model, images, labels, target, session.optimiser, session.scheduler, session.scaler, session.device, session.amp)
        for name, value in parts.items():
            sums[name] = sums[name] + value if name in sums else value
    return {name: float(total) / len(loader) for name, total in sums.items()}


def train_step(
    model,
    images: torch.Tensor,
    labels: torch.Tensor,
    teacher: torch.Tensor | None,
    optimiser,
    scheduler,
    scaler,
    device: torch.device,
    amp: tuple[bool, torch.dtype],
) -> dict[str, torch.Tensor]:
    """One optimisation step on a batch of NCHW ``images`` (0..255, any dtype, any device); returns the loss and its parts,
    detached and left on the device (reading them would wait for the GPU every step)."""
    use_amp, amp_dtype = amp
    images = images.to(device, torch.float32, non_blocking=True)
    if use_amp:
        images = images.contiguous(memory_format=torch.channels_last)
    target = teacher.to(device, non_blocking=True) if teacher is not None else None
    with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
        loss, parts = model(images, labels.to(device, non_blocking=True), target)
    optimiser.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimiser)
    scaler.update()
    scheduler.step()
    return {name: value.detach().float() for name, value in {"loss": loss, **parts}.items()}


def history_frame(history: list[dict]) -> pd.DataFrame:
    """Per-epoch history as a table with a fixed column order (epoch, then alphabetical), so resumed runs write the same file."""
    frame = pd.DataFrame(history)
    return frame[["epoch", *sorted(c for c in frame.columns if c != "epoch")]]


def _epoch_line(row: dict, data: TrainingData) -> str:
    """One epoch's loss and val results, naming the val condition and the selection statistic."""
    condition, statistic = data.selection.condition.name, data.selection.statistic
    return (
        f"epoch {row['epoch']}: loss {row['loss']:.4f} | val AUC HQ-HQ {row['val_auc_hq']:.4f}, {condition} {row['val_auc_lq']:.4f} "
        f"| val TAR@1e-3 HQ-HQ {row['val_tar_hq']:.4f}, {condition} {row['val_tar_lq']:.4f} "
        f"| selects on {statistic.label} at {condition}: {row['val_select']:.{statistic.digits}f}"
    )
