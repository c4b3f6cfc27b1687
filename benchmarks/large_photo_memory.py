"""Peak memory of notebook 01's path on one very large phone photo: scan, split, HQ detection and alignment, end to end.

An LFW photo is enlarged into the middle of a ``--megapixels`` canvas (4:3, e.g. 48 MP = 8000x6000,
108 MP = 12000x9000) and saved as a JPEG in a throwaway dataset; then the workbench runs on it what
notebook 01 runs on every photo: ``scan``, ``split_manifest``, ``detect_and_align`` (SCRFD at 640) and
``acquire_levels`` at real24, px16 and blur2 under each detector policy (``native``, whose cap on the
longer side is what bounds it, and the default ``fit:640``). The peak resident memory of the process
(``ru_maxrss``, building the photo included, so an upper bound) is printed and written as JSON.
Run: ``python benchmarks/large_photo_memory.py --megapixels 48 108`` (each size in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from helpers.core.files import write_json_atomic
from helpers.core.sources import in_mirror
from helpers.data.acquire import DEFAULT_POLICY, acquire_levels, failure_counts, parse_policy
from helpers.data.crops import detect_and_align
from helpers.data.degrade import level_named
from helpers.data.faces import NATIVE, FaceDetector
from helpers.data.levels import LevelSet
from helpers.data.manifest import LANDMARKS
from helpers.data.split import split_manifest
from helpers.models.packs import mirror_detector
from helpers.steps import prepare

LEVELS = ("real24", "px16", "blur2")
SOURCE = "datasets/lfw/lfw-deepfunneled/Colin_Powell/Colin_Powell_0001.jpg"
FACE_SHARE = 1 / 8
"""The LFW photo (its face about half of it) fills this share of the canvas width: a face of about 500 px at 48 MP."""


def large_photo(source: Path, megapixels: float) -> np.ndarray:
    """A 4:3 BGR canvas of ``megapixels`` with the photo at ``source`` enlarged into its middle, the rest a grey gradient."""
    width = math.ceil(math.sqrt(megapixels * 1e6 * 4 / 3))
    height = round(width * 3 / 4)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = np.linspace(60, 190, width, dtype=np.uint8)[None, :, None]
    side = round(width * FACE_SHARE)
    face = cv2.resize(cv2.imread(str(source)), (side, side), interpolation=cv2.INTER_CUBIC)
    top, left = (height - side) // 2, (width - side) // 2
    canvas[top : top + side, left : left + side] = face
    return canvas


def measure(megapixels: float, where: Path) -> dict:
    """Notebook 01's path on one photo of ``megapixels``: outcomes per level and the process's peak memory in GB."""
    source = in_mirror(SOURCE)
    if source is None:
        raise SystemExit(f"{SOURCE} is read from the mirror: set LQFACE_MIRROR to a folder holding it (e.g. ../shared)")
    dataset, processed = where / "dataset", where / "processed"
    detector = mirror_detector("scrfd_2.5g")
    (dataset / "Colin_Powell").mkdir(parents=True)
    photo = large_photo(source, megapixels)
    shape = photo.shape
    cv2.imwrite(str(dataset / "Colin_Powell" / "photo.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del photo
    manifest = split_manifest(prepare.scan(dataset, processed), {"train": 0.0, "val": 0.0, "test": 1.0}, seed=0, min_images=1)
    manifest = detect_and_align(manifest, dataset, processed, FaceDetector(detector), "exclude")
    levels = LevelSet(tuple(level_named(name) for name in LEVELS), 0)
    acquired = {}
    for policy in (NATIVE, DEFAULT_POLICY):
        table = acquire_levels(
            manifest, dataset, processed / policy.replace(":", "-"), levels, FaceDetector(detector, input_size=parse_policy(policy)), ("test",)
        )
        acquired[policy] = {level: int(row["acquired"]) for level, row in failure_counts(table).iterrows()}
    return {
        "megapixels": round(shape[0] * shape[1] / 1e6, 1),
        "size": f"{shape[1]}x{shape[0]}",
        "hq_face_found": bool((manifest["crop_method"] == LANDMARKS).any()),
        "acquired": acquired,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[48.0, 108.0])
    parser.add_argument("--one", action="store_true", help="measure the single size given in this process (used by the runs below)")
    parser.add_argument("--out", type=Path, help="JSON file for the figures")
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(args.megapixels[0], Path(tmp))))
        return
    found = []
    for megapixels in args.megapixels:
        run = subprocess.run([sys.executable, __file__, "--one", "--megapixels", str(megapixels)], check=True, capture_output=True, text=True)
        found.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(f"{found[-1]['size']} ({found[-1]['megapixels']} MP): peak {found[-1]['peak_gb']:.2f} GB; acquired per level {found[-1]['acquired']}")
    if args.out:
        write_json_atomic(args.out, {"runs": found})


if __name__ == "__main__":
    main()
