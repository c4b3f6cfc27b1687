"""End-to-end acquisition: degrade the photo, detect on it alone, score whatever face is picked; failures counted, never dropped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from insightface.utils.face_align import arcface_dst

from helpers.core.devices import CPU
from helpers.data.acquire import (
    ACQUIRED,
    NO_FACE,
    NO_REFERENCE,
    acquire,
    acquire_levels,
    box_iou,
    face_scale,
    failure_counts,
    load_acquisition,
    parse_policy,
)
from helpers.data.crops import detect_and_align
from helpers.data.degrade import HQ, Degradation, degrade_photo, image_seed
from helpers.data.faces import Detector, Face, FaceDetector
from helpers.data.levels import LevelSet
from helpers.data.manifest import CENTRE_CROP
from helpers.data.scan import load_rgb
from helpers.data.split import split_manifest
from helpers.evaluation.conditions import END_TO_END, MODES, ORACLE, conditions
from helpers.evaluation.exposure import BEYOND, MISALIGNMENT, SEEN, UNSEEN, Training, exposure, held_out
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


def test_seen_beyond_and_unseen_follow_the_training_families_and_strengths() -> None:
    config = TrainConfig.from_dict({"processed_dir": "p", "run_dir": "r", "lq_families": ["resolution", "blur", "noise"], "lq_resolutions": [32, 16, 12]})
    trained = Training(config.lq_families, config.lq_resolutions)
    assert exposure(Degradation("px16", resolution=16), ORACLE, trained) == SEEN
    assert exposure(Degradation("b", resolution=24, blur_sigma=1.0, noise_sigma=3.0), ORACLE, trained) == SEEN
    assert exposure(Degradation("blur4", blur_sigma=4.0), ORACLE, trained) == BEYOND  # trained sigma <= 1.5
    assert exposure(Degradation("px8", resolution=8), ORACLE, trained) == BEYOND  # smallest trained resolution: 12
    assert exposure(Degradation("noise10", noise_sigma=10.0), ORACLE, trained) == BEYOND  # trained sigma <= 8
    assert exposure(Degradation("px16", resolution=16), END_TO_END, trained) == UNSEEN  # misalignment: never drawn in training
    assert exposure(Degradation("jpeg20", jpeg_quality=20), ORACLE, trained) == UNSEEN
    assert exposure(Degradation("light25", light=0.25), ORACLE, trained) == UNSEEN
    assert exposure(Degradation("motion9", motion_length=9), ORACLE, trained) == UNSEEN
    assert exposure(Degradation("real24", resolution=24, preset="realistic"), ORACLE, trained) == UNSEEN  # JPEG and motion blur in the chain
    every = Training(("resolution", "blur", "motion_blur", "noise", "jpeg", "light"), (16,))
    assert exposure(Degradation("real24", resolution=24, preset="realistic"), ORACLE, every) == BEYOND  # a chain's strengths were never drawn
    assert exposure(Degradation("jpeg20", jpeg_quality=20), ORACLE, every) == BEYOND and exposure(Degradation("j50", jpeg_quality=50), ORACLE, every) == SEEN
    assert exposure(HQ, ORACLE, trained) == "" and exposure(PX24, ORACLE, None) == ""  # HQ, and a model not trained here
    with pytest.raises(ValueError, match="lq_families"):
        TrainConfig.from_dict({"processed_dir": "p", "run_dir": "r", "lq_families": ["rain"]})


def test_held_out_names_the_families_of_a_condition_that_training_never_drew() -> None:
    no_light = Training(("resolution", "blur", "motion_blur", "noise", "jpeg", MISALIGNMENT), (32, 24, 16, 12))
    assert held_out(Degradation("light25", light=0.25), ORACLE, no_light) == ("light",)
    assert held_out(Degradation("light25", light=0.25), END_TO_END, no_light) == ("light",)  # trained with alignment jitter
    assert held_out(Degradation("px16", resolution=16, light=0.5), END_TO_END, Training(("resolution",), (16,))) == ("light", MISALIGNMENT)
    assert held_out(Degradation("jpeg20", jpeg_quality=20), ORACLE, no_light) == ()  # trained, though beyond its strengths
    assert held_out(HQ, END_TO_END, no_light) == () and held_out(PX24, ORACLE, None) == ()


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
    hq_eyes = np.array(face.kps).reshape(5, 2)[:2]
    assert found.score == pytest.approx(face.score, abs=0.05) and found.eye_distance == pytest.approx(np.linalg.norm(np.diff(hq_eyes, axis=0)), rel=0.05)
    low = acquire(photo, np.array(face.bbox), np.array(face.kps), PX24, 0, detector)
    assert low.status in (ACQUIRED, NO_FACE)  # whatever the detector makes of it, it is an outcome


def test_a_photo_with_the_face_removed_fails_to_acquire(mirror: Path, detector: FaceDetector) -> None:
    photo, face = _hq(mirror, detector)
    blank = photo.copy()
    x1, y1, x2, y2 = (round(v) for v in face.bbox)
    blank[max(0, y1 - 10) : y2 + 10, max(0, x1 - 10) : x2 + 10] = blank[:20, :20].mean(axis=(0, 1)).astype(np.uint8)
    found = acquire(blank, np.array(face.bbox), np.array(face.kps), HQ, 0, detector)
    assert found.status == NO_FACE or found.wrong_face


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
    assert len(table) == 6 * 2 and set(table["status"]) <= {ACQUIRED, NO_FACE, NO_REFERENCE}
    assert (table.loc[table["path"] == "Tony_Blair/Tony_Blair_0002.jpg", "status"] == NO_REFERENCE).all()
    clean = table[(table["level"] == "hq") & (table["status"] != NO_REFERENCE)]
    assert (clean["status"] == ACQUIRED).all() and (clean["iou"] > 0.8).all() and not clean["wrong_face"].any()
    assert all((processed / p).is_file() for p in table.loc[table["status"] == ACQUIRED, "lq_path"])
    counts = failure_counts(table)
    assert counts.loc["hq", "images"] == 6 and counts.loc["hq", NO_REFERENCE] == 1 and counts.loc["hq", "fta_rate"] == pytest.approx(1 / 6)
    saved, settings = load_acquisition(processed)
    assert saved[["path", "level", "status", "lq_path"]].equals(table[["path", "level", "status", "lq_path"]])
    acquired = saved["status"] == ACQUIRED  # the detector's confidence and eye distance of every acquired face, none of the rest
    assert saved.loc[acquired, ["det_score", "eye_distance"]].gt(0).all().all() and saved.loc[~acquired, ["det_score", "eye_distance"]].isna().all().all()
    assert settings["policy"] == "native" and settings["input_size"] is None and settings["chain_library"].startswith("albumentations")
    assert settings["hq_information"].startswith("none") and settings["wrong_face_iou"] == 0.5
    calls = []

    class Counting(FaceDetector):
        def detect(self, image_rgb: np.ndarray):
            calls.append(1)
            return super().detect(image_rgb)

    again = acquire_levels(manifest, dataset, processed, levels, Counting(detector.model, providers=[CPU], input_size=None), ("test",))
    assert again.equals(table) and calls == []  # a re-run reads every outcome from the cache
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before  # the dataset is only read


def test_detector_policies_parse_and_bad_ones_name_the_fix() -> None:
    assert parse_policy("native") is None and parse_policy("fit:640") == 640 and parse_policy("fit:320") == 320
    for bad in ("fit", "fit:600", "fit:32", "native:640", "sized", ""):
        with pytest.raises(ValueError, match=r"'native'.*fit:640"):
            parse_policy(bad)


class Recording(Detector):
    """A fake detector: records every image it is given and answers with one face at a fixed place of it."""

    def __init__(self, model: object, box: tuple[float, float, float, float]) -> None:
        self.model, self.threshold, self.input_size, self.providers = model, 0.5, None, ["fake"]
        self.box, self.seen = box, []

    def detect(self, image_rgb: np.ndarray) -> Face | None:
        self.seen.append(image_rgb.copy())
        height, width = image_rgb.shape[:2]
        x1, y1, x2, y2 = (v * s for v, s in zip(self.box, (width, height, width, height)))
        eyes, mouth = y1 + 0.4 * (y2 - y1), y1 + 0.8 * (y2 - y1)
        kps = (
            x1 + 0.3 * (x2 - x1),
            eyes,
            x1 + 0.7 * (x2 - x1),
            eyes,
            (x1 + x2) / 2,
            (eyes + mouth) / 2,
            x1 + 0.35 * (x2 - x1),
            mouth,
            x1 + 0.65 * (x2 - x1),
            mouth,
        )
        return Face(bbox=(x1, y1, x2, y2), score=0.9, kps=kps, n_faces=1)


def test_no_end_to_end_call_sees_the_photo_at_its_hq_size_or_any_hq_geometry(mirror: Path, detector: FaceDetector) -> None:
    photo, face = _hq(mirror, detector)
    fake = Recording(detector.model, (0.25, 0.2, 0.75, 0.8))
    for level in (PX24, Degradation("px16", resolution=16), Degradation("real24", resolution=24, preset="realistic")):
        seed = image_seed("0" * 64, level, 0)
        found = acquire(photo, np.array(face.bbox), np.array(face.kps), level, seed, fake)
        given = fake.seen[-1]
        # the detector gets exactly the degraded photo at its degraded size, far smaller than the HQ photo, and nothing else
        np.testing.assert_array_equal(given, degrade_photo(photo, level, seed, face_scale(np.array(face.kps))))
        assert given.shape[0] < photo.shape[0] / 2 and given.shape[1] < photo.shape[1] / 2
        assert found.status == ACQUIRED and found.crop.shape == (112, 112, 3)


def test_a_wrong_face_pick_is_scored_and_counted(mirror: Path, detector: FaceDetector) -> None:
    photo, face = _hq(mirror, detector)
    corner = Recording(detector.model, (0.0, 0.0, 0.2, 0.2))  # the top-left corner: not the HQ face
    found = acquire(photo, np.array(face.bbox), np.array(face.kps), PX24, 0, corner)
    assert found.status == ACQUIRED and found.crop is not None and found.wrong_face and found.iou < 0.5
    centre = Recording(detector.model, tuple(np.array(face.bbox) / np.tile(photo.shape[1::-1], 2)))  # the HQ box, in relative terms
    same = acquire(photo, np.array(face.bbox), np.array(face.kps), PX24, 0, centre)
    assert same.status == ACQUIRED and not same.wrong_face and same.iou > 0.9


def test_a_48_megapixel_photo_goes_through_notebook_01_under_4_gb(mirror: Path) -> None:
    """An 8000x6000 phone photo: scan, HQ detection, and end to end at three levels under both detector policies, in a fresh
    process (peak resident memory)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "large_photo_memory.py"
    run = subprocess.run([sys.executable, str(script), "--one", "--megapixels", "48"], check=True, capture_output=True, text=True)
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert (
        found["size"] == "8000x6000"
        and found["hq_face_found"]
        and all(per_level == {"real24": 1, "px16": 1, "blur2": 1} for per_level in found["acquired"].values())
    )
    assert found["peak_gb"] < 4.0
