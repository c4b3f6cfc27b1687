"""End-to-end acquisition: degrade the photo, detect on it, check it is the HQ face; failures counted, never dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from insightface.utils.face_align import arcface_dst

from helpers.core.devices import CPU
from helpers.data.acquire import ACQUIRED, NO_FACE, NO_REFERENCE, OTHER_FACE, acquire, acquire_levels, box_iou, face_scale, failure_counts, load_acquisition
from helpers.data.crops import detect_and_align
from helpers.data.degrade import HQ, Degradation
from helpers.data.faces import FaceDetector
from helpers.data.levels import LevelSet
from helpers.data.manifest import CENTRE_CROP
from helpers.data.scan import load_rgb
from helpers.data.split import split_manifest
from helpers.evaluation.conditions import MODES, conditions
from helpers.evaluation.exposure import SEEN, UNSEEN, exposure
from helpers.models.packs import mirror_detector
from helpers.steps import prepare
from helpers.training.config import TrainConfig

PX24 = Degradation("px24", resolution=24)


def test_box_iou_and_face_scale_by_hand() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert face_scale(arcface_dst.ravel()) == pytest.approx(1.0)  # the template itself: one crop pixel per pixel
    assert face_scale(2 * arcface_dst.ravel()) == pytest.approx(0.5)  # a face twice as large in the photo


def test_seen_and_unseen_follow_the_training_families() -> None:
    families = TrainConfig.from_dict({"processed_dir": "p", "run_dir": "r", "lq_families": ["resolution", "blur", "noise"]}).lq_families
    assert exposure(Degradation("px16", resolution=16), families) == SEEN
    assert exposure(Degradation("b", resolution=24, blur_sigma=1.0, noise_sigma=3.0), families) == SEEN
    assert exposure(Degradation("jpeg20", jpeg_quality=20), families) == UNSEEN
    assert exposure(Degradation("light25", light=0.25), families) == UNSEEN
    assert exposure(Degradation("motion9", motion_length=9), families) == UNSEEN
    assert exposure(Degradation("real24", resolution=24, preset="realistic"), families) == UNSEEN  # JPEG and motion blur in the chain
    assert exposure(HQ, families) == "" and exposure(PX24, None) == ""  # HQ, and a model not trained here
    with pytest.raises(ValueError, match="lq_families"):
        TrainConfig.from_dict({"processed_dir": "p", "run_dir": "r", "lq_families": ["rain"]})


def test_end_to_end_conditions_are_named_apart_from_oracle_ones() -> None:
    names = [c.name for c in conditions([PX24, Degradation("blur2", blur_sigma=2.0)], MODES)]
    assert names == ["HQ-HQ", "HQ-px24", "px24-px24", "HQ-blur2", "e2e:HQ-px24", "e2e:px24-px24", "e2e:HQ-blur2"]


@pytest.fixture(scope="module")
def detector(mirror: Path) -> FaceDetector:
    return FaceDetector(mirror_detector("scrfd_2.5g"), providers=[CPU], input_size=None)


def _hq(mirror: Path, detector: FaceDetector) -> tuple[np.ndarray, object]:
    photo = load_rgb(mirror / "datasets" / "lfw" / "lfw-deepfunneled" / "Colin_Powell" / "Colin_Powell_0001.jpg")
    face = FaceDetector(detector.model, providers=[CPU]).detect(photo)
    assert face is not None
    return photo, face


def test_a_clean_photo_gives_back_the_hq_face(mirror: Path, detector: FaceDetector) -> None:
    photo, face = _hq(mirror, detector)
    found = acquire(photo, np.array(face.bbox), np.array(face.kps), HQ, 0, detector)
    assert found.status == ACQUIRED and found.iou > 0.8 and found.crop.shape == (112, 112, 3)
    low = acquire(photo, np.array(face.bbox), np.array(face.kps), PX24, 0, detector)
    assert low.status in (ACQUIRED, NO_FACE, OTHER_FACE)  # whatever the detector makes of it, it is an outcome


def test_a_photo_with_the_face_removed_fails_to_acquire(mirror: Path, detector: FaceDetector) -> None:
    photo, face = _hq(mirror, detector)
    blank = photo.copy()
    x1, y1, x2, y2 = (round(v) for v in face.bbox)
    blank[max(0, y1 - 10) : y2 + 10, max(0, x1 - 10) : x2 + 10] = blank[:20, :20].mean(axis=(0, 1)).astype(np.uint8)
    found = acquire(blank, np.array(face.bbox), np.array(face.kps), HQ, 0, detector)
    assert found.status in (NO_FACE, OTHER_FACE) and found.crop is None


def test_acquire_levels_counts_every_outcome_and_resumes(mirror: Path, detector: FaceDetector, tmp_path: Path) -> None:
    """Three LFW people, HQ and 24 px, one photo with its face painted out: every (image, level) has a row."""
    dataset = tmp_path / "dataset"
    source = mirror / "datasets" / "lfw" / "lfw-deepfunneled"
    for person in ("Colin_Powell", "George_W_Bush", "Tony_Blair"):
        (dataset / person).mkdir(parents=True)
        for index in (1, 2):
            (dataset / person / f"{person}_{index:04d}.jpg").write_bytes((source / person / f"{person}_{index:04d}.jpg").read_bytes())
    processed = tmp_path / "processed"
    manifest = split_manifest(prepare.scan(dataset, processed), {"train": 0.0, "val": 0.0, "test": 1.0}, seed=0, min_images=1)
    manifest = detect_and_align(manifest, dataset, processed, FaceDetector(detector.model, providers=[CPU]), CENTRE_CROP)
    hidden = manifest.index[manifest["path"] == "Tony_Blair/Tony_Blair_0002.jpg"][0]
    manifest.loc[hidden, "crop_method"] = CENTRE_CROP  # as if the HQ detector had found nothing: no reference face
    levels = LevelSet((HQ, PX24), seed=0)
    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    table = acquire_levels(manifest, dataset, processed, levels, detector, ("test",))
    assert len(table) == 6 * 2 and set(table["status"]) <= {ACQUIRED, NO_FACE, OTHER_FACE, NO_REFERENCE}
    assert (table.loc[table["path"] == "Tony_Blair/Tony_Blair_0002.jpg", "status"] == NO_REFERENCE).all()
    clean = table[(table["level"] == "hq") & (table["status"] != NO_REFERENCE)]
    assert (clean["status"] == ACQUIRED).all() and (clean["iou"] > 0.8).all()
    assert all((processed / p).is_file() for p in table.loc[table["status"] == ACQUIRED, "lq_path"])
    counts = failure_counts(table)
    assert counts.loc["hq", "images"] == 6 and counts.loc["hq", NO_REFERENCE] == 1 and counts.loc["hq", "fta_rate"] == pytest.approx(1 / 6)
    saved, settings = load_acquisition(processed)
    assert saved[["path", "level", "status", "lq_path"]].equals(table[["path", "level", "status", "lq_path"]])
    assert settings["min_iou"] == 0.5 and settings["input_size"] is None and settings["chain_library"].startswith("albumentations")
    calls = []

    class Counting(FaceDetector):
        def detect(self, image_rgb: np.ndarray):
            calls.append(1)
            return super().detect(image_rgb)

    again = acquire_levels(manifest, dataset, processed, levels, Counting(detector.model, providers=[CPU], input_size=None), ("test",))
    assert again.equals(table) and calls == []  # a re-run reads every outcome from the cache
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before  # the dataset is only read
