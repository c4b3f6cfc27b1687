"""Named datasets (LFW, Extended Yale B, ORL) and user folders, resolved to local paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers.core.files import safe_component
from helpers.core.sources import MIRROR_ENV, Remote, ResourceUnavailable, fetch, fetch_and_extract, in_mirror, project_path

_FIGSHARE = "https://ndownloader.figshare.com/files/"

# scikit-learn's figshare copies of the official LFW files (same bytes as the UMass originals).
LFW_FUNNELED = Remote(
    "lfw-funneled.tgz",
    (_FIGSHARE + "5976015", "http://vis-www.cs.umass.edu/lfw/lfw-funneled.tgz"),
    "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a",
    "datasets/lfw/lfw-funneled.tgz",
)
LFW_PAIRS = {
    "pairs": Remote("pairs.txt", (_FIGSHARE + "5976006",), "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592", "datasets/lfw/pairs.txt"),
    "dev_train": Remote(
        "pairsDevTrain.txt", (_FIGSHARE + "5976012",), "1d454dada7dfeca0e7eab6f65dc4e97a6312d44cf142207be28d688be92aabfa", "datasets/lfw/pairsDevTrain.txt"
    ),
    "dev_test": Remote(
        "pairsDevTest.txt", (_FIGSHARE + "5976009",), "7cb06600ea8b2814ac26e946201cdb304296262aad67d046a16a7ec85d0ff87c", "datasets/lfw/pairsDevTest.txt"
    ),
}

# Mirror-only datasets: their original hosts no longer serve them reliably.
MIRROR_ONLY = {
    "yaleb": "datasets/yaleb/CroppedYale",
    "orl": "datasets/orl/att_faces",
}


DATASET_NAMES = ("lfw", *MIRROR_ONLY)


@dataclass(frozen=True)
class LfwFiles:
    """An LFW image tree (``<root>/<Person>/<Person>_NNNN.jpg``) and its pairs files."""

    images: Path
    pairs: Path
    dev_train: Path
    dev_test: Path


def lfw_images() -> Path:
    """LFW images: the mirror's deep-funneled copy, else the funneled archive (downloaded once)."""
    for variant in ("lfw-deepfunneled", "lfw-funneled", "lfw_funneled"):
        if (mirrored := in_mirror(f"datasets/lfw/{variant}")) is not None:
            return mirrored
    return fetch_and_extract(LFW_FUNNELED, "lfw_funneled")


def lfw_files() -> LfwFiles:
    """LFW images plus the official View 1 / View 2 pairs files."""
    paths = {key: fetch(remote) for key, remote in LFW_PAIRS.items()}
    return LfwFiles(images=lfw_images(), **paths)


def dataset_name(spec: str | Path) -> str:
    """A short, path-safe name for a dataset spec: the name itself, or the folder's name."""
    name = str(spec)
    return name if name in DATASET_NAMES else safe_component(project_path(name).resolve().name)


def resolve_dataset(spec: str | Path) -> Path:
    """Folder-per-identity image root for a dataset name (``lfw``, ``yaleb``, ``orl``) or a path."""
    name = str(spec)
    if name == "lfw":
        return lfw_images()
    if name in MIRROR_ONLY:
        if (mirrored := in_mirror(MIRROR_ONLY[name])) is not None:
            return mirrored
        raise ResourceUnavailable(
            f"dataset {name!r} is read from a local mirror only: set {MIRROR_ENV} to a folder holding "
            f"{MIRROR_ONLY[name]} (on the project's machines, {MIRROR_ENV}=../shared), or pass the folder's path."
        )
    path = project_path(spec)
    if path.is_file():
        raise NotADirectoryError(f"dataset {path} is a file; pass the folder that holds <identity>/<image>, or a dataset name: {', '.join(DATASET_NAMES)}")
    if not path.is_dir():
        raise FileNotFoundError(
            f"dataset folder {path} does not exist; put your images under dataset/<identity>/<image> or pass a dataset name: {', '.join(DATASET_NAMES)}"
        )
    return path
