"""Real low-quality face benchmarks (TinyFace, SCface, QMUL-SurvFace): find a local copy and score a recogniser on it.

All three sets are for research use only and cannot be downloaded by the workbench:
their owners distribute them under their own terms (see ``docs/real_lq_benchmarks.md``),
and publish no checksums. A copy is looked for, in this order, at an explicit path,
at ``$LQFACE_MIRROR/datasets/<name>/`` and at ``$LQFACE_CACHE/datasets/<name>/``
(default ``~/.cache/lqface``); instead of a checksum its layout is verified.

The images are face crops already (tiny, not aligned). Each one is used as provided:
decoded with the scan's robust decoder, resized to 112x112 with bicubic interpolation
and embedded, with no detection and no alignment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import scipy.io

from helpers.core.progress import progress
from helpers.core.sources import MIRROR_ENV, cache_root, in_mirror, mirror_root, project_path
from helpers.data.scan import UndecodableImage, load_rgb
from helpers.evaluation.metrics import auc_of, estimable, roc, tar_of
from helpers.identification.search import Gallery, cmc, true_ranks
from helpers.models.recognisers import CROP_SHAPE

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
TINYFACE_RANKS = (1, 5, 10, 20)
SCFACE_DISTANCES_M = {1: 4.20, 2: 2.60, 3: 1.00}
"""SCface's three capture distances, in metres (distance 1 is the farthest)."""
SCFACE_VISIBLE_CAMERAS = frozenset(range(1, 6))
"""Cameras 1-5 record visible light; 6 and 7 (also under the distance folders) are infrared and left out."""
SURVFACE_FARS = (0.3, 0.1, 0.01, 0.001)


class Embedder(Protocol):
    """Anything that embeds N x 112 x 112 x 3 uint8 RGB crops as L2-normalised rows (:class:`Recogniser` does)."""

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: where it comes from, its terms, the layout its folder must have, and published results.

    ``required`` paths are relative to the folder (a trailing ``/`` marks a folder);
    ``archive_folder`` is the top-level folder of the owners' archive, accepted one level down.
    ``published`` maps a method to its metrics, as fractions.
    """

    title: str
    url: str
    licence: str
    access: str
    required: tuple[str, ...]
    archive_folder: str
    published: dict[str, dict[str, float]] = field(default_factory=dict)


BENCHMARKS: dict[str, Benchmark] = {
    "tinyface": Benchmark(
        title="TinyFace (Cheng, Zhu & Gong, ACCV 2018)",
        url="https://qmul-tinyface.github.io/",
        licence="research use only, under the terms on the official page",
        access="accept the terms and use the download links on the official page",
        required=("Testing_Set/Probe/", "Testing_Set/Gallery_Match/", "Testing_Set/Gallery_Distractor/"),
        archive_folder="tinyface",
        published={
            "AdaFace R100 MS1MV2 (CVPR 2022)": {"rank1": 0.6821, "rank5": 0.7154},
            "AdaFace R100 WebFace4M (CVPR 2022)": {"rank1": 0.7202, "rank5": 0.7452},
            "AdaFace R100 WebFace12M (CVPR 2022)": {"rank1": 0.7229, "rank5": 0.7497},
        },
    ),
    "scface": Benchmark(
        title="SCface (Grgic, Delac & Grgic, Multimedia Tools and Applications 2011)",
        url="https://www.scface.org/",
        licence="research use only, under the SCface licence agreement",
        access="request it from its authors (a signed licence agreement) through the procedure on the official page",
        required=(
            "mugshot_frontal_cropped_all/",
            "surveillance_cameras_distance_1/",
            "surveillance_cameras_distance_2/",
            "surveillance_cameras_distance_3/",
        ),
        archive_folder="SCface_database",
    ),
    "qmul_survface": Benchmark(
        title="QMUL-SurvFace (Cheng, Zhu & Gong, arXiv:1804.09691, 2018)",
        url="https://qmul-survface.github.io/",
        licence="academic research only; the images come from person re-identification datasets and stay their owners' copyright",
        access="accept the terms and use the download links on the official page",
        required=(
            "Face_Verification_Test_Set/verification_images/",
            "Face_Verification_Test_Set/positive_pairs_names.mat",
            "Face_Verification_Test_Set/negative_pairs_names.mat",
        ),
        archive_folder="QMUL-SurvFace",
        published={
            "CentreFace (SurvFace benchmark)": {"tar@0.3": 0.954, "tar@0.1": 0.858, "tar@0.01": 0.624, "tar@0.001": 0.407, "auc": 0.949},
            "FaceNet (SurvFace benchmark)": {"tar@0.3": 0.945, "tar@0.1": 0.808, "tar@0.01": 0.482, "tar@0.001": 0.208, "auc": 0.937},
            "DeepID2 (SurvFace benchmark)": {"tar@0.3": 0.804, "tar@0.1": 0.634, "tar@0.01": 0.366, "tar@0.001": 0.229, "auc": 0.846},
            "SphereFace (SurvFace benchmark)": {"tar@0.3": 0.789, "tar@0.1": 0.648, "tar@0.01": 0.390, "tar@0.001": 0.225, "auc": 0.835},
            "VggFace (SurvFace benchmark)": {"tar@0.3": 0.647, "tar@0.1": 0.424, "tar@0.01": 0.150, "tar@0.001": 0.044, "auc": 0.742},
        },
    ),
}


class BenchmarkMissing(FileNotFoundError):
    """A benchmark has no complete local copy; the message says which folder to create, what goes in it, and where to get the data."""


def _benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def _missing_items(folder: Path, required: Sequence[str]) -> list[str]:
    """The ``required`` entries that ``folder`` lacks (a trailing ``/`` must be a folder, anything else a file)."""
    return [item for item in required if not ((folder / item).is_dir() if item.endswith("/") else (folder / item).is_file())]


def _how_to_get(benchmark: Benchmark) -> str:
    listing = "".join(f"\n  {item}" for item in benchmark.required)
    return (
        f"It must hold:{listing}\n(the contents of the owners' archive, also accepted inside a {benchmark.archive_folder}/ sub-folder). "
        f"The workbench cannot download it: {benchmark.access} at {benchmark.url}. Terms: {benchmark.licence}."
    )


def _complete(name: str, folder: Path) -> Path:
    """The folder holding ``name``'s layout: ``folder`` itself or its archive sub-folder; else :class:`BenchmarkMissing`."""
    benchmark = _benchmark(name)
    if not folder.is_dir():
        raise BenchmarkMissing(f"{benchmark.title}: {folder} is not a folder. Create it or pass the folder that holds the data. {_how_to_get(benchmark)}")
    for root in (folder, folder / benchmark.archive_folder):
        if not _missing_items(root, benchmark.required):
            return root
    missing = ", ".join(_missing_items(folder, benchmark.required))
    raise BenchmarkMissing(f"{benchmark.title}: the copy at {folder} is incomplete (missing {missing}). {_how_to_get(benchmark)}")


def locate(name: str, path: str | Path | None = None) -> Path:
    """The folder of benchmark ``name``: ``path`` if given, else the mirror's ``datasets/<name>/``, else the cache's.

    A folder that is found but lacks part of the layout is an error, not skipped.
    Raises :class:`BenchmarkMissing` naming the folder to create.
    """
    benchmark = _benchmark(name)
    if path is not None:
        return _complete(name, project_path(path))
    relative = f"datasets/{name}"
    cached = cache_root() / relative
    for folder in (in_mirror(relative), cached):
        if folder is not None and folder.is_dir():
            return _complete(name, folder)
    root = mirror_root()
    target = root / relative if root is not None else cached
    alternatives = f"{cached}, or pass its path" if root is not None else f"${MIRROR_ENV}/{relative} with {MIRROR_ENV} set, or pass its path"
    raise BenchmarkMissing(f"{benchmark.title} was not found. Create the folder {target} (or {alternatives}). {_how_to_get(benchmark)}")


def available_benchmarks(path_by_name: dict[str, str | Path] | None = None) -> dict[str, Path | str]:
    """Each benchmark's folder when a complete copy is there, else the message saying where to put one."""
    paths = path_by_name or {}
    unknown = set(paths) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"path_by_name names unknown benchmarks {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    found: dict[str, Path | str] = {}
    for name in BENCHMARKS:
        try:
            found[name] = locate(name, paths.get(name))
        except BenchmarkMissing as missing:
            found[name] = str(missing)
    return found


def images_in(folder: Path) -> list[Path]:
    """Every image file below ``folder`` (by suffix), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_crop(path: Path) -> np.ndarray:
    """An image file as a 112x112 RGB crop: decoded robustly, resized with bicubic interpolation, not aligned."""
    try:
        image = load_rgb(path)
    except UndecodableImage as error:
        raise ValueError(f"{path}: {error}; the benchmark copy is damaged: extract this file again from the owners' archive") from error
    return cv2.resize(image, (CROP_SHAPE[1], CROP_SHAPE[0]), interpolation=cv2.INTER_CUBIC)


def embed_files(paths: Sequence[Path], recogniser: Embedder, flip: bool = False, batch_size: int = 256, desc: str = "embed") -> np.ndarray:
    """One embedding row per file, ``batch_size`` crops decoded and embedded at a time, with a progress bar."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if not paths:
        raise ValueError("embed_files needs at least one image")
    starts = range(0, len(paths), batch_size)
    chunks = [
        np.asarray(recogniser.embed(np.stack([load_crop(p) for p in paths[start : start + batch_size]]), flip=flip), dtype=np.float32)
        for start in progress(starts, desc=desc, total=len(starts))
    ]
    return np.concatenate(chunks)


def _nonempty(folder: Path, what: str) -> list[Path]:
    images = images_in(folder)
    if not images:
        raise ValueError(f"{folder} holds no images ({what}); the benchmark copy is incomplete: extract it again")
    return images


def tinyface_identity(path: Path) -> str:
    """A TinyFace Probe or Gallery_Match image's person: its file name up to the first ``_``."""
    identity, underscore, _ = path.name.partition("_")
    if not underscore or not identity:
        raise ValueError(f"{path}: a TinyFace Probe or Gallery_Match file name must start with '<identity>_'")
    return identity


def evaluate_tinyface(root: Path, recogniser: Embedder, flip: bool = False, batch_size: int = 256) -> dict[str, Any]:
    """Every probe searched among Gallery_Match people plus one person per distractor image: rank-1/5/10/20 and the CMC to 20."""
    testing = root / "Testing_Set"
    probes = _nonempty(testing / "Probe", "probes")
    matches = _nonempty(testing / "Gallery_Match", "gallery matches")
    distractors = _nonempty(testing / "Gallery_Distractor", "distractors")
    probe_labels = np.array([tinyface_identity(p) for p in probes])
    match_labels = [tinyface_identity(p) for p in matches]
    people = set(match_labels)
    unmatched = [str(p) for p, label in zip(probes, probe_labels) if label not in people]
    if unmatched:
        raise ValueError(
            f"{len(unmatched)} TinyFace probe(s) have no Gallery_Match image of their identity, e.g. {unmatched[0]}; "
            f"the copy at {root} is incomplete or not the official Testing_Set: extract it again"
        )
    # A file name cannot hold '/', so these labels never collide with an identity: each distractor is its own person.
    distractor_labels = [f"Gallery_Distractor/{p.relative_to(testing / 'Gallery_Distractor').as_posix()}" for p in distractors]
    vectors = embed_files([*probes, *matches, *distractors], recogniser, flip, batch_size, desc="TinyFace: embedding")
    gallery = Gallery.of(vectors[len(probes) :], np.array([*match_labels, *distractor_labels]))
    # 256 probes per matrix product: against TinyFace's ~157,000 gallery images that is ~160 MB at a time.
    curve = cmc(true_ranks(gallery, vectors[: len(probes)], probe_labels), max(TINYFACE_RANKS))
    return {
        "probes": len(probes),
        "gallery_people": len(people),
        "distractors": len(distractors),
        "rank": {str(k): float(curve[k - 1]) for k in TINYFACE_RANKS},
        "cmc": [float(x) for x in curve],
        "published_rank1": {method: values["rank1"] for method, values in BENCHMARKS["tinyface"].published.items()},
    }


_MUGSHOT = re.compile(r"(\d+)_frontal\.(jpe?g|png)", re.IGNORECASE)
_SURVEILLANCE = re.compile(r"(\d+)_cam(\d+)_(\d+)\.(jpe?g|png)", re.IGNORECASE)


def _parsed(path: Path, pattern: re.Pattern[str], expected: str) -> re.Match[str]:
    match = pattern.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path}: an SCface file here must be named {expected}; is this the official SCface_database layout?")
    return match


def scface_mugshots(root: Path) -> dict[str, Path]:
    """Each subject's frontal mugshot (``mugshot_frontal_cropped_all/NNN_frontal.JPG``), keyed by ``NNN``."""
    mugshots: dict[str, Path] = {}
    for path in _nonempty(root / "mugshot_frontal_cropped_all", "mugshots"):
        subject = _parsed(path, _MUGSHOT, "NNN_frontal.JPG").group(1)
        if subject in mugshots:
            raise ValueError(f"SCface subject {subject} has two mugshots, {mugshots[subject]} and {path}; keep one")
        mugshots[subject] = path
    return mugshots


def scface_probes(root: Path, distance: int) -> list[tuple[Path, str]]:
    """The visible-light surveillance images at ``distance`` (``surveillance_cameras_distance_D/cam_K/NNN_camK_D.jpg``) and their subjects."""
    probes = []
    for path in images_in(root / f"surveillance_cameras_distance_{distance}"):
        subject, camera, shot_distance = _parsed(path, _SURVEILLANCE, "NNN_camK_D.jpg").group(1, 2, 3)
        if int(shot_distance) != distance:
            raise ValueError(f"{path}: the name says distance {shot_distance} but the file is in surveillance_cameras_distance_{distance}; move it back")
        if int(camera) in SCFACE_VISIBLE_CAMERAS:
            probes.append((path, subject))
    if not probes:
        raise ValueError(f"{root / f'surveillance_cameras_distance_{distance}'} holds no visible-light images (cam_1 to cam_5); the copy is incomplete")
    return probes


def evaluate_scface(root: Path, recogniser: Embedder, flip: bool = False, batch_size: int = 256) -> dict[str, Any]:
    """All subjects enrolled with their frontal mugshot; rank-1 and rank-5 of the visible-light surveillance images, per distance."""
    mugshots = scface_mugshots(root)
    probes = {distance: scface_probes(root, distance) for distance in SCFACE_DISTANCES_M}
    unenrolled = [str(path) for shots in probes.values() for path, subject in shots if subject not in mugshots]
    if unenrolled:
        raise ValueError(
            f"{len(unenrolled)} SCface surveillance image(s) have no mugshot of their subject, e.g. {unenrolled[0]}; the mugshot folder is incomplete"
        )
    subjects = sorted(mugshots)
    probe_paths = [path for shots in probes.values() for path, _ in shots]
    vectors = embed_files([mugshots[s] for s in subjects] + probe_paths, recogniser, flip, batch_size, desc="SCface: embedding")
    gallery = Gallery.of(vectors[: len(subjects)], np.array(subjects))
    results, start = {}, len(subjects)
    for distance, shots in probes.items():
        ranks = true_ranks(gallery, vectors[start : start + len(shots)], np.array([subject for _, subject in shots]))
        curve = cmc(ranks, 5)
        results[str(distance)] = {"metres": SCFACE_DISTANCES_M[distance], "probes": len(shots), "rank1": float(curve[0]), "rank5": float(curve[4])}
        start += len(shots)
    return {"gallery_people": len(subjects), "distance": results}


def survface_pairs(mat_file: Path) -> list[tuple[str, str]]:
    """The image-name pairs of a SurvFace pair list (``<stem>.mat`` holds an N x 2 cell array named ``<stem>``)."""
    variables = scipy.io.loadmat(mat_file)
    if mat_file.stem not in variables:
        found = ", ".join(k for k in variables if not k.startswith("__")) or "none"
        raise ValueError(f"{mat_file}: expected a variable named {mat_file.stem!r}, found {found}; use the pair lists from the official archive")
    cells = np.asarray(variables[mat_file.stem], dtype=object)
    if cells.ndim != 2 or cells.shape[1] != 2 or not len(cells):
        raise ValueError(f"{mat_file}: {mat_file.stem} must be an N x 2 array of image names, got shape {cells.shape}")
    pairs = []
    for row in cells:
        first, second = (_cell_name(cell) for cell in row)
        if not (_plain_name(first) and _plain_name(second)):
            raise ValueError(f"{mat_file}: pair {row.tolist()} does not hold two image file names")
        pairs.append((first, second))
    return pairs


def _cell_name(cell: Any) -> str:
    """The one string a MATLAB cell holds (loadmat gives a 1-element array), else ''."""
    values = np.asarray(cell).ravel()
    return str(values[0]) if values.size == 1 else ""


def _plain_name(name: str) -> bool:
    """Whether ``name`` is a bare file name (no folder, no '..')."""
    return bool(name) and Path(name).name == name and name not in (".", "..")


def evaluate_survface(root: Path, recogniser: Embedder, flip: bool = False, batch_size: int = 256) -> dict[str, Any]:
    """Cosine scores of the official verification pairs: AUC, and TAR at FAR 0.3/0.1/0.01/0.001 (None where too few impostor pairs)."""
    test_set = root / "Face_Verification_Test_Set"
    images = test_set / "verification_images"
    genuine = survface_pairs(test_set / "positive_pairs_names.mat")
    impostor = survface_pairs(test_set / "negative_pairs_names.mat")
    names = sorted({name for pair in genuine + impostor for name in pair})
    absent = [name for name in names if not (images / name).is_file()]
    if absent:
        raise ValueError(f"{len(absent)} image(s) named in the SurvFace pair lists are not in {images}, e.g. {absent[0]}; extract the folder again")
    vectors = embed_files([images / name for name in names], recogniser, flip, batch_size, desc="QMUL-SurvFace: embedding")
    row = {name: i for i, name in enumerate(names)}
    first, second = (np.array([row[pair[k]] for pair in genuine + impostor]) for k in (0, 1))
    scores = np.einsum("ij,ij->i", vectors[first], vectors[second])
    curve = roc(scores, np.r_[np.ones(len(genuine)), np.zeros(len(impostor))])
    return {
        "pairs": {"genuine": len(genuine), "impostor": len(impostor)},
        "auc": auc_of(curve),
        "tar": {f"{far:g}": tar_of(curve, far) if estimable(len(impostor), far) else None for far in SURVFACE_FARS},
    }


_EVALUATORS: dict[str, Callable[[Path, Embedder, bool, int], dict[str, Any]]] = {
    "tinyface": evaluate_tinyface,
    "scface": evaluate_scface,
    "qmul_survface": evaluate_survface,
}


def evaluate_benchmark(name: str, recogniser: Embedder, flip: bool = False, path: str | Path | None = None, batch_size: int = 256) -> dict[str, Any]:
    """Score ``recogniser`` on benchmark ``name`` by its protocol, from the copy :func:`locate` finds; a JSON-ready dict."""
    root = locate(name, path)
    return _EVALUATORS[name](root, recogniser, flip, batch_size)
