"""Training throughput: the input paths, the workbench's step, and a plain ResNet-50 reference step, in one run.

(input_host)          notebook 03's per-image input (crops -> seeded flip / augmentation and degradation in
                      numpy + OpenCV -> DataLoader), no model;
(input_device)        the same draws as batched tensor ops on the training device (helpers.training.device_input);
(pure_step)           :func:`helpers.training.loop.train_step` on batches already on the device;
(full_loop_host)      input_host feeding that step;
(full_loop_device)    input_device feeding that step;
(reference_eager)     a plain torchvision ResNet-50 (random init) with the same margin head, same batch, same step;
(reference_compiled)  the same under ``torch.compile``.

Each is measured in ``--repeats`` rounds (alternating order) and the median reported, with the ratios the
GPU targets are stated in: full loop / pure step (>= 0.9) and pure step / compiled reference (>= 0.8).
Uses CUDA (bf16 autocast, channels_last) when present, so the same command gives the GPU figures.

Run: ``make bench-train`` or
``python benchmarks/training_throughput.py --processed processed_dataset/lfw --backbone pack --steps 6``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
import torchvision
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from helpers.core.files import write_json_atomic
from helpers.core.sources import project_path
from helpers.data.manifest import load_manifest, split_images
from helpers.models.backbones import build_embedder
from helpers.models.losses import MarginHead
from helpers.models.packs import load_pack
from helpers.pipeline import provenance
from helpers.training.augment import AUGMENTATIONS
from helpers.training.data import TrainingFaces, identity_labels, load_crops
from helpers.training.device_input import DeviceBatches
from helpers.training.loop import FaceTrainer, train_step

TARGETS = {"full_over_pure": 0.9, "pure_over_compiled_reference": 0.8}
"""The GPU targets of the training-speed issue, as ratios of these measurements."""


class Step:
    """One model's training step (as notebook 03 builds it: margin head, SGD, constant rate) on ``device``."""

    def __init__(self, embedder: torch.nn.Module, classes: int, device: torch.device, amp: bool, compiled: bool = False) -> None:
        head = MarginHead(embedder.embedding_size, classes, "arcface", 64.0, None)
        self.model = FaceTrainer(embedder, head, 0.2, 0.0).to(device, memory_format=torch.channels_last if amp else torch.contiguous_format).train()
        if compiled:
            self.model.compile()
        self.optimiser = torch.optim.SGD(self.model.parameters(), lr=1e-4, momentum=0.9)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimiser, lambda step: 1.0)
        self.scaler = torch.amp.GradScaler(device.type, enabled=False)
        self.device, self.amp = device, (amp, torch.bfloat16)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        train_step(self.model, images, labels, None, self.optimiser, self.scheduler, self.scaler, self.device, self.amp)


class ResNet50Embedder(torch.nn.Module):
    """torchvision's ResNet-50 (random initialisation) with a 512-d embedding layer: the reference model."""

    embedding_size = 512

    def __init__(self) -> None:
        super().__init__()
        self.net = torchvision.models.resnet50(num_classes=self.embedding_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - 127.5) / 128.0)


def cycle(batches: Iterable) -> Iterator:
    """``batches`` over and over (a fresh pass each time one ends)."""
    while True:
        yield from batches


def timed(run: Callable[[], None], steps: int, batch_size: int, device: torch.device) -> float:
    """Images per second of ``run()`` over ``steps`` calls, after one untimed warm-up call."""
    run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processed", default="processed_dataset/lfw", help="notebook 01's output folder")
    parser.add_argument(
        "--backbone", default="pack", help="pack | resnet50 | mobilenet_v2 | inception_resnet_v1 | seresnet50 (random init where weights are unreachable)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per measurement")
    parser.add_argument("--lq-prob", type=float, default=0.7)
    parser.add_argument("--augment", default="none", choices=sorted(AUGMENTATIONS), help="augmentation preset before degradation")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the measurements; the median is reported")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the host path (0: in the training process)")
    parser.add_argument("--compile", action="store_true", help="also compile the workbench's step (TrainConfig.compile) for pure_step_compiled")
    parser.add_argument("--out", type=Path, default=Path("results/bench/training_throughput.json"))
    return parser.parse_args()


def main() -> None:
    args = arguments()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda"
    processed = project_path(args.processed)
    images = split_images(load_manifest(processed), "train").head(args.batch_size * (args.steps + 1))
    labels, classes = identity_labels(images["identity"].tolist())
    faces = TrainingFaces(load_crops(processed, images), labels, seed=0, lq_prob=args.lq_prob, augmentation=AUGMENTATIONS[args.augment])
    host = DataLoader(faces, batch_size=args.batch_size, shuffle=False, drop_last=True, num_workers=args.workers, pin_memory=amp)
    on_device = DeviceBatches(faces, BatchSampler(SequentialSampler(faces), args.batch_size, drop_last=True), device)
    resident = [(batch.to(device), target.to(device)) for batch, target, _ in host]

    pack = load_pack("auto") if args.backbone == "pack" else None
    embedder, init = build_embedder(args.backbone, 512, pack=pack, fallback="random")
    step = Step(embedder, len(classes), device, amp)
    reference = {"reference_eager": Step(ResNet50Embedder(), len(classes), device, amp)}
    reference["reference_compiled"] = Step(ResNet50Embedder(), len(classes), device, amp, compiled=True)
    if args.compile:
        reference["pure_step_compiled"] = Step(build_embedder(args.backbone, 512, pack=pack, fallback="random")[0], len(classes), device, amp, compiled=True)
    host_batches, device_batches, resident_batches = cycle(host), cycle(on_device), cycle(resident)

    def full(batches: Iterator, run: Step) -> Callable[[], None]:
        def go() -> None:
            batch, target, *_ = next(batches)
            run(batch, target)

        return go

    modes: dict[str, Callable[[], None]] = {
        "input_host": lambda: next(host_batches),
        "input_device": lambda: next(device_batches),
        "pure_step": full(resident_batches, step),
        "full_loop_host": full(host_batches, step),
        "full_loop_device": full(device_batches, step),
        **{name: full(resident_batches, run) for name, run in reference.items()},
    }
    orders = [list(modes), list(modes)[::-1]]  # alternate the order so warm-up drift favours no measurement
    rounds = []
    for i in range(args.repeats):
        rounds.append({name: timed(modes[name], args.steps, args.batch_size, device) for name in orders[i % 2]})
        print(f"round {i + 1}/{args.repeats}: " + ", ".join(f"{name} {rate:,.1f}" for name, rate in rounds[-1].items()), flush=True)
    rates = {name: statistics.median(r[name] for r in rounds) for name in modes}
    result = {
        "images_per_s": rates,
        "ratios": {
            "full_over_pure": rates["full_loop_device"] / rates["pure_step"],
            "full_over_pure_host_path": rates["full_loop_host"] / rates["pure_step"],
            "pure_over_compiled_reference": rates["pure_step"] / rates["reference_compiled"],
            "device_over_host_input": rates["input_device"] / rates["input_host"],
        },
        "gpu_targets": TARGETS,
        "rounds": rounds,
        "backbone": args.backbone,
        "initialisation": init.describe(),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "lq_prob": args.lq_prob,
        "augment": args.augment,
        "workers": args.workers,
        "device": torch.cuda.get_device_name(device) if amp else provenance.cpu_model() or platform.machine(),
        "amp": amp,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
