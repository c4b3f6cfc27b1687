"""Where detection breaks: faces found on a crowd photo as it is downscaled, per detector and input size.

A photo of many small real faces (the mirror's ``samples/crowd_selfie.jpg``: hundreds of faces, no
identities) is shrunk step by step (``INTER_AREA``), and each detector setting counts the faces it still
finds (:func:`helpers.data.detection_sweep.faces_vs_scale`): the offline pack's SCRFD at ``--input``, twice
it, and native (the photo as it is, padded); then each ``--others`` detector at the photo's size. The scale where a count
collapses is where the detector, not the recogniser, limits low-quality recognition. It says nothing about
a user's dataset, so it runs here and not in notebook 01.

Writes ``faces_vs_scale.csv`` (one row per detector setting and scale, with the wall time of each
detection), ``faces_vs_scale.png`` and ``detector_sweep.json`` (settings, machine, minutes) to ``--out``.
Run: ``make bench-detectors`` (MTCNN takes about 3 of its minutes on 2 cores), or
``python benchmarks/detector_sweep.py --others yunet --out results/bench/detector_sweep``.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.files import write_csv_atomic, write_json_atomic
from helpers.core.sources import in_mirror, project_path
from helpers.data.detection_sweep import faces_vs_scale
from helpers.data.mtcnn import MTCNN
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, load_rgb
from helpers.data.yunet import YUNET
from helpers.evaluation import plots
from helpers.models.packs import OFFLINE_PACK, resolve_detector

CROWD_PHOTO = "samples/crowd_selfie.jpg"
SCALES = (1.0, 0.75, 0.5, 0.35, 0.25, 0.18, 0.125)
"""Photo scales of the sweep (each a downscale of the whole crowd photo)."""


def crowd_photo(name: str) -> np.ndarray:
    """The photo named ``name`` (a project path, or a path inside the mirror) as RGB; the error says where it was looked for."""
    path = project_path(name)
    found = path if path.is_file() else in_mirror(name)
    if found is None:
        raise SystemExit(f"{name}: no such photo in the project ({path}) or the mirror (LQFACE_MIRROR); pass --photo PATH")
    return load_rgb(found, DEFAULT_MAX_MEGAPIXELS)


def sweep(detector: str, photo: np.ndarray, input_size: int, threshold: float, others: Sequence[str]) -> pd.DataFrame:
    """``detector`` at ``input_size``, twice it and native; then each of ``others`` at the photo's size."""
    own = faces_vs_scale(resolve_detector(detector)[0], photo, SCALES, (input_size, 2 * input_size, None), threshold)
    more = [faces_vs_scale(resolve_detector(name)[0], photo, SCALES, (None,), threshold) for name in others]
    return pd.concat([own, *more], ignore_index=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=CROWD_PHOTO, help="a photo of many faces, project or mirror path (default: %(default)s)")
    parser.add_argument("--detector", default=OFFLINE_PACK, help="the detector swept over input sizes: a pack or a detector name (default: %(default)s)")
    parser.add_argument("--input", type=int, default=640, help="its input size in px, a multiple of 32 (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.5, help="detection score threshold (default: %(default)s)")
    parser.add_argument("--others", nargs="*", default=[YUNET, MTCNN], help="more detectors, each at the photo's size (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("results/bench/detector_sweep"), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    out = project_path(args.out)
    began = time.perf_counter()
    table = sweep(args.detector, crowd_photo(args.photo), args.input, args.threshold, args.others)
    minutes = (time.perf_counter() - began) / 60
    write_csv_atomic(out / "faces_vs_scale.csv", table)
    plots.save_figure(plots.faces_vs_scale(table, f"faces found vs photo scale ({', '.join(dict.fromkeys(table['detector']))})"), out / "faces_vs_scale.png")
    settings = vars(args) | {"out": str(out), "minutes": round(minutes, 2), "machine": platform.processor() or platform.machine()}
    write_json_atomic(out / "detector_sweep.json", settings)
    print(table.pivot_table(index=["detector", "input_size"], columns="scale", values="faces", sort=False).to_string())
    print(f"{minutes:.1f} min; written to {out}")


if __name__ == "__main__":
    main()
