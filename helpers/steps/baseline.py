"""Notebook 02's step: a pretrained model pack on the test people, and the LFW View 2 sanity check.

Scoring itself is :func:`helpers.evaluation.verification.score_model`, the path
every model takes; this module adds what only the pretrained baseline does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.files import write_csv_atomic
from helpers.data.crops import detect_and_align
from helpers.data.datasets import lfw_files
from helpers.data.faces import Detector, FaceDetector
from helpers.data.manifest import CENTRE_CROP, NO_FACE, NOT_SELECTED, OK, TOO_FEW_IMAGES, Source, split_images
from helpers.evaluation.embeddings import embed_images, embedding_store
from helpers.evaluation.pairs import read_lfw_pairs
from helpers.evaluation.verification import lfw_view2_accuracy
from helpers.models.packs import ModelPack
from helpers.models.recognisers import FaceRecogniser
from helpers.models.zoo import PACK_RECOGNISER, PRETRAINED, availability, label, load_recogniser

LFW_VIEW2 = "lfw_view2"
ZOO_CSV = "zoo.csv"
# Scan statuses that say nothing against the image itself: it can still be aligned for LFW View 2.
_ALIGNABLE = (OK, TOO_FEW_IMAGES, NOT_SELECTED, NO_FACE)


def pretrained_model(pack: ModelPack, choice: str, flip: bool, batch_size: int) -> tuple[FaceRecogniser, dict[str, Any]]:
    """The recogniser to score (``choice``: ``""`` for the pack's own, a zoo name or a model card) and what ``metrics.json`` records of it."""
    if choice == PACK_RECOGNISER:
        recogniser: FaceRecogniser = pack.face_recogniser(batch_size)
        name, note, zoo_entry = pack.name, pack.note, {}
    else:
        recogniser, name, note = load_recogniser(choice, batch_size)
        zoo_entry = {"zoo": choice}
    shown = f"{label(name)}, {PRETRAINED}"
    description = {"name": name, "label": shown, "pack": pack.name, "note": note, **zoo_entry, "recogniser": recogniser.name, "sha256": recogniser.sha256}
    return recogniser, description | {"preprocess": recogniser.preprocess.key(), "providers": recogniser.providers, "flip": flip}


def lfw_view2_images(manifest: pd.DataFrame, dataset_root: Path, processed_dir: Path, detector: Detector) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The official View 2 pairs and their aligned images (no-face images kept as flagged centre crops)."""
    pairs = read_lfw_pairs(lfw_files().pairs)
    needed = set(pairs["path_a"]) | set(pairs["path_b"])
    rows = manifest[manifest["path"].isin(needed) & manifest["status"].isin(_ALIGNABLE)]
    if missing := needed - set(rows["path"]):
        raise ValueError(f"{len(missing)} LFW View 2 images are missing from the manifest (e.g. {sorted(missing)[0]}): run notebook 01 on lfw first")
    rows = rows.assign(status=OK, reason="", split=LFW_VIEW2)
    aligned = detect_and_align(rows, dataset_root, processed_dir, detector, no_face_policy=CENTRE_CROP)
    return pairs, split_images(aligned, LFW_VIEW2)


def lfw_view2(
    manifest: pd.DataFrame,
    source: Source,
    processed_dir: Path,
    pack: ModelPack,
    recogniser: FaceRecogniser,
    flip: bool,
    level_seed: int,
    published: float | None,
) -> dict[str, Any]:
    """LFW View 2 with this pack's detector and recogniser: mean and std accuracy over the official folds, faces not found, published figure."""
    pairs, images = lfw_view2_images(manifest, Path(source.root), processed_dir, FaceDetector(pack.detector))
    store = embedding_store(processed_dir, recogniser, flip)
    embed_images(images, [], level_seed, processed_dir, recogniser, store, flip)
    result = lfw_view2_accuracy(pairs, images, store, level_seed)
    return result | {"no_face_centre_crops": int((images["crop_method"] == CENTRE_CROP).sum()), "published": published}


def model_zoo(run: Path) -> pd.DataFrame:
    """Every zoo model's availability here (with why not), written to ``zoo.csv`` in the step folder."""
    table = availability()
    write_csv_atomic(run / ZOO_CSV, table.reset_index())
    return table
