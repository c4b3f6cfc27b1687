"""Embeddings of N images at HQ and every LQ level, two ways, on the same images and models.

(a) the InsightFace user's way: ``FaceAnalysis.get()`` on every image variant, one call each
    (each LQ variant is the whole photo degraded, so detection runs on every variant);
(b) the workbench's way: scan, detect and align once, derive the LQ crops, batched recognition
    (notebook 01 and 02's own functions), first cold, then re-run with warm caches (median of 3).

Prints images/s of each, their ratios, and how well (a) and (b) agree where they embed the same HQ face.
Run: ``make bench`` or ``python benchmarks/embedding_throughput.py --images 100``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from insightface.app import FaceAnalysis

from helpers.core.devices import select_providers
from helpers.data.crops import detect_and_align
from helpers.data.datasets import lfw_images
from helpers.data.degrade import HQ, RESOLUTION_LADDER, degrade
from helpers.data.faces import FaceDetector
from helpers.data.manifest import split_images
from helpers.data.split import split_manifest
from helpers.evaluation.embeddings import embed_images, embedding_store, image_keys
from helpers.models.packs import ModelPack, load_pack
from helpers.models.recognisers import Recogniser
from helpers.steps import prepare

LEVELS = list(RESOLUTION_LADDER)
WARM_REPEATS = 3  # the warm re-run takes well under a second; report the median of a few


def sample_images(count: int) -> list[Path]:
    """The first image of the first ``count`` LFW people (sorted), so every run uses the same set."""
    people = sorted(p for p in lfw_images().iterdir() if p.is_dir())[:count]
    return [sorted(person.iterdir())[0] for person in people]


def insightface_folder(pack: ModelPack, where: Path) -> Path:
    """A pack folder FaceAnalysis can load: links to exactly this pack's detector and recogniser."""
    folder = where / f"{pack.name}-pack"
    folder.mkdir(parents=True, exist_ok=True)
    for model in (pack.detector, pack.recogniser):
        link = folder / (model.path.name if model.path.name.endswith(".onnx") else f"{model.name}.onnx")
        if not link.exists():
            link.symlink_to(model.path.resolve())
    return folder


def central_embedding(faces: list, shape: tuple[int, ...]) -> np.ndarray | None:
    """The normed embedding of the largest, most central face (the workbench's choice), or None."""
    if not faces:
        return None
    boxes = np.array([f.bbox for f in faces])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    offset = ((boxes[:, 0] + boxes[:, 2]) / 2 - shape[1] / 2) ** 2 + ((boxes[:, 1] + boxes[:, 3]) / 2 - shape[0] / 2) ** 2
    return faces[int(np.argmax(area - 2.0 * offset))].normed_embedding


def run_insightface(paths: list[Path], pack: ModelPack, where: Path) -> tuple[float, dict[str, np.ndarray], dict]:
    """(a): FaceAnalysis.get() on the HQ photo and on each degraded photo, one by one."""
    app = FaceAnalysis(name=str(insightface_folder(pack, where)), allowed_modules=["detection", "recognition"], providers=select_providers())
    app.prepare(ctx_id=-1 if select_providers() == ["CPUExecutionProvider"] else 0, det_size=(640, 640))
    rec = app.models["recognition"]
    setup = {"insightface_guessed_input_mean": rec.input_mean, "insightface_guessed_input_std": rec.input_std}
    # InsightFace guesses normalisation from the graph; a careful user sets the pack's documented values.
    rec.input_mean, rec.input_std = pack.preprocess.mean, pack.preprocess.std
    hq, misses = {}, 0
    start = time.perf_counter()
    for path in paths:
        image = cv2.imread(str(path))
        for level in [HQ, *LEVELS]:
            variant = image if level.is_identity else cv2.cvtColor(degrade(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), level, 0), cv2.COLOR_RGB2BGR)
            embedding = central_embedding(app.get(variant), variant.shape)
            misses += embedding is None
            if level.is_identity and embedding is not None:
                hq[path.relative_to(path.parents[1]).as_posix()] = embedding
    return time.perf_counter() - start, hq, {**setup, "variants_without_face": misses}


def run_workbench(paths: list[Path], pack: ModelPack, where: Path, recogniser: Recogniser) -> tuple[float, int, dict[str, np.ndarray]]:
    """(b): notebook 01 + 02's path on a throwaway processed folder; returns time, embeddings computed, HQ embeddings."""
    dataset = where / "dataset"
    for path in paths:
        link = dataset / path.parent.name / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(path)
    processed = where / "processed"
    start = time.perf_counter()
    manifest = split_manifest(prepare.scan(dataset, processed), {"train": 0.0, "val": 0.0, "test": 1.0}, seed=0, min_images=1)
    manifest = detect_and_align(manifest, dataset, processed, FaceDetector(pack.detector), "exclude")
    images = split_images(manifest, "test")
    store = embedding_store(processed, recogniser, flip=False)
    computed = embed_images(images, LEVELS, 0, processed, recogniser, store, flip=False)
    keys = image_keys(images, HQ, 0)
    elapsed = time.perf_counter() - start
    return elapsed, computed, dict(zip(images["path"], store.get(keys)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100, help="number of LFW images (one per person)")
    parser.add_argument("--pack", default="auto", help="model pack (auto, offline, buffalo_l, folder)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here too")
    args = parser.parse_args()

    pack = load_pack(args.pack)
    recogniser = Recogniser(pack.recogniser.path, pack.preprocess)
    paths = sample_images(args.images)
    variants = len(paths) * (1 + len(LEVELS))
    print(pack.note)
    print(f"{len(paths)} images x {1 + len(LEVELS)} variants (HQ + {[lv.name for lv in LEVELS]}) = {variants} embeddings each way")
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        t_a, hq_a, setup = run_insightface(paths, pack, where)
        t_b, computed_b, hq_b = run_workbench(paths, pack, where, recogniser)
        warm = [run_workbench(paths, pack, where, recogniser)[:2] for _ in range(WARM_REPEATS)]
    t_warm, computed_warm = float(np.median([t for t, _ in warm])), max(n for _, n in warm)
    shared = sorted(set(hq_a) & set(hq_b))
    cosines = np.array([float(np.dot(hq_a[k], hq_b[k])) for k in shared])
    figures = {
        "device": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "providers": recogniser.providers,
        "images": len(paths),
        "embeddings_per_way": variants,
        "a_insightface_per_variant_img_s": variants / t_a,
        "b_workbench_cold_img_s": variants / t_b,
        "b_workbench_warm_img_s": variants / t_warm,
        "ratio_b_over_a": t_a / t_b,
        "ratio_warm_over_cold": t_b / t_warm,
        "warm_embeddings_computed": computed_warm,
        "cold_embeddings_computed": computed_b,
        "hq_faces_compared": len(shared),
        "hq_cosine_min": float(cosines.min()) if len(cosines) else None,
        "hq_cosine_median": float(np.median(cosines)) if len(cosines) else None,
        **setup,
    }
    print(f"(a) InsightFace FaceAnalysis.get() per variant : {figures['a_insightface_per_variant_img_s']:8.1f} img/s  ({t_a:.1f} s)")
    print(f"(b) workbench, cold caches                     : {figures['b_workbench_cold_img_s']:8.1f} img/s  ({t_b:.1f} s)")
    print(
        f"(b) workbench, warm caches (median of re-runs) : {figures['b_workbench_warm_img_s']:8.1f} img/s  ({t_warm:.2f} s, {computed_warm} embeddings computed)"
    )
    print(f"ratio (b)/(a): {figures['ratio_b_over_a']:.1f}x   warm/cold: {figures['ratio_warm_over_cold']:.0f}x")
    print(f"HQ agreement on {len(shared)} faces: cosine min {figures['hq_cosine_min']:.5f}, median {figures['hq_cosine_median']:.5f}")
    print(
        f"InsightFace guessed mean {setup['insightface_guessed_input_mean']}, std {setup['insightface_guessed_input_std']} for this recogniser; "
        f"(a) ran with the pack's own {pack.preprocess.key()} (channel order is RGB in both)"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
