"""Training throughput: the full loop versus a pure model step, same model, batch and step function.

(full)  notebook 03's input pipeline (crops -> seeded flip + on-the-fly degradation -> DataLoader)
        feeding :func:`helpers.training.loop.train_step`;
(pure)  the same ``train_step`` on batches already in memory as tensors;
(input) the input pipeline alone, no model.

Each is measured in ``--repeats`` rounds (alternating order) and the median reported.
The input pipeline's cost is ``1 - full / pure`` (target: <= 10% on a 2-core CPU).
Images are the first training crops of a notebook-01 folder. Uses CUDA (with AMP and
channels_last) when present, so the same command gives the GPU figure.

Run: ``make bench-train`` or
``python benchmarks/training_throughput.py --processed processed_dataset/lfw --backbone pack --steps 6``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from helpers.core.files import write_json_atomic
from helpers.core.sources import project_path
from helpers.data.manifest import load_manifest, split_images
from helpers.models.backbones import build_embedder
from helpers.models.losses import MarginHead
from helpers.models.packs import load_pack
from helpers.pipeline import provenance
from helpers.training.data import TrainingFaces, identity_labels, load_crops
from helpers.training.loop import FaceTrainer, train_step


def training_parts(backbone: str, classes: int, device: torch.device, amp: bool):
    """Model (embedder + ArcFace head), optimiser, constant scheduler and scaler as notebook 03 builds them."""
    pack = load_pack("auto") if backbone == "pack" else None
    embedder, init = build_embedder(backbone, 512, pack=pack, fallback="random")
    head = MarginHead(embedder.embedding_size, classes, "arcface", 64.0, None)
    model = FaceTrainer(embedder, head, 0.2, 0.0).to(device, memory_format=torch.channels_last if amp else torch.contiguous_format).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    return model, optimiser, scheduler, scaler, init


def timed(run, steps: int, batch_size: int, device: torch.device) -> float:
    """Images per second of ``run(step)`` over ``steps`` steps, after one untimed warm-up step."""
    run(-1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for step in range(steps):
        run(step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processed", default="processed_dataset/lfw", help="notebook 01's output folder")
    parser.add_argument("--backbone", default="pack", help="pack | resnet50 | mobilenet_v2 (resnet50 falls back to random init offline)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per measurement")
    parser.add_argument("--lq-prob", type=float, default=0.7)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the three measurements; the median is reported")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: in the training process)")
    parser.add_argument("--out", type=Path, default=Path("results/bench/training_throughput.json"))
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda"
    processed = project_path(args.processed)
    images = split_images(load_manifest(processed), "train").head(args.batch_size * (args.steps + 1))
    labels, classes = identity_labels(images["identity"].tolist())
    faces = TrainingFaces(load_crops(processed, images), labels, seed=0, lq_prob=args.lq_prob)
    loader = DataLoader(faces, batch_size=args.batch_size, shuffle=False, drop_last=True, num_workers=args.workers)
    model, optimiser, scheduler, scaler, init = training_parts(args.backbone, len(classes), device, amp)
    amp_mode = (amp, torch.bfloat16)
    in_memory = [(batch, target) for batch, target, _ in loader]

    def pure(step: int) -> None:
        batch, target = in_memory[step % len(in_memory)]
        train_step(model, batch, target, None, optimiser, scheduler, scaler, device, amp_mode)

    batches = iter(())

    def next_batch():
        nonlocal batches
        try:
            return next(batches)
        except StopIteration:
            batches = iter(loader)
            return next(batches)

    def full(step: int) -> None:
        batch, target, _ = next_batch()
        train_step(model, batch, target, None, optimiser, scheduler, scaler, device, amp_mode)

    modes = {"input_only": lambda step: next_batch(), "pure_step": pure, "full_loop": full}
    orders = [list(modes), list(modes)[::-1]]  # alternate the order so warm-up drift favours neither measurement
    rounds = [{name: timed(modes[name], args.steps, args.batch_size, device) for name in orders[i % 2]} for i in range(args.repeats)]
    rates = {name: statistics.median(r[name] for r in rounds) for name in modes}
    result = {
        "images_per_s": rates,
        "input_pipeline_cost": 1.0 - rates["full_loop"] / rates["pure_step"],
        "rounds": rounds,
        "backbone": args.backbone,
        "initialisation": init.describe(),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "lq_prob": args.lq_prob,
        "workers": args.workers,
        "device": torch.cuda.get_device_name(device) if amp else provenance.cpu_model() or platform.machine(),
        "amp": amp,
        "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
