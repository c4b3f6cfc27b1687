"""Notebook 01's pipeline on tiny synthetic data with a stand-in detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.core.files import read_png_rgb
from helpers.core.sources import ModelFile
from helpers.data.crops import detect_and_align, detector_tag
from helpers.data.degrade import parse_levels
from helpers.data.levels import LEVELS, LevelSet, load_levels, synthesise_lq
from helpers.data.manifest import CENTRE_CROP, NO_FACE, OK, load_manifest, save_manifest
from helpers.data.split import split_manifest
from helpers.steps import prepare
from tests.conftest import FakeDetector, face_like, save, tree_checksums

FRACTIONS = {"train": 0.5, "val": 0.25, "test": 0.25}


@pytest.fixture
def dataset(good_dataset: Path) -> Path:
    save(good_dataset / "person_0" / "black.png", np.zeros((64, 64, 3), np.uint8))  # no face to find
    save(good_dataset / "..sneaky" / "b.jpg", face_like(91))
    save(good_dataset / "solo" / "only.jpg", face_like(92))
    return good_dataset


def _run(dataset: Path, processed: Path, detector: FakeDetector, policy: str = "exclude"):
    manifest = split_manifest(prepare.scan(dataset, processed), FRACTIONS, seed=0, min_images=2)
    manifest = detect_and_align(manifest, dataset, processed, detector, policy)
    lq = synthesise_lq(manifest, processed, LevelSet(tuple(parse_levels([32, 16])), 0), splits=("train", "val", "test"))
    save_manifest(manifest, processed)
    return manifest, lq


def test_every_file_is_accounted_for_and_no_face_is_recorded(dataset: Path, tmp_path: Path) -> None:
    manifest, _ = _run(dataset, tmp_path / "processed", FakeDetector())
    assert len(manifest) == len([p for p in dataset.rglob("*") if p.is_file()])
    black = manifest.set_index("path").loc["person_0/black.png"]
    assert black["status"] == NO_FACE and "threshold" in black["reason"]
    assert manifest.set_index("path").loc["solo/only.jpg", "status"] == "too_few_images"
    assert prepare.status_counts(manifest).loc["total", "total"] == len(manifest)
    reloaded = load_manifest(tmp_path / "processed")
    assert list(reloaded["path"]) == list(manifest["path"])


def test_centre_crop_policy_keeps_the_image_flagged(dataset: Path, tmp_path: Path) -> None:
    manifest, _ = _run(dataset, tmp_path / "processed", FakeDetector(), policy="centre_crop")
    black = manifest.set_index("path").loc["person_0/black.png"]
    assert black["status"] == OK and black["crop_method"] == CENTRE_CROP and "centre crop" in black["reason"]
    assert read_png_rgb(tmp_path / "processed" / black["crop_path"]).shape == (112, 112, 3)


def test_outputs_stay_inside_processed_and_dataset_is_untouched(dataset: Path, tmp_path: Path) -> None:
    before = tree_checksums(dataset)
    processed = tmp_path / "processed"
    _run(dataset, processed, FakeDetector())
    assert tree_checksums(dataset) == before
    written = [p.resolve() for p in tmp_path.rglob("*") if p.is_file() and not p.resolve().is_relative_to(dataset.resolve())]
    assert written and all(p.is_relative_to(processed.resolve()) for p in written)


def test_rerun_reuses_everything_and_is_identical(dataset: Path, tmp_path: Path) -> None:
    processed = tmp_path / "processed"
    first, lq_first = _run(dataset, processed, FakeDetector())
    crops = {p: p.read_bytes() for p in processed.rglob("*.png")}
    again = FakeDetector()
    second, lq_second = _run(dataset, processed, again)
    assert again.calls == 0
    assert first.equals(second) and lq_first.equals(lq_second)
    assert {p: p.read_bytes() for p in processed.rglob("*.png")} == crops


def test_resume_after_interruption_detects_only_what_is_missing(dataset: Path, tmp_path: Path) -> None:
    processed = tmp_path / "processed"
    manifest = split_manifest(prepare.scan(dataset, processed), FRACTIONS, seed=0)
    detect_and_align(manifest.iloc[:5], dataset, processed, FakeDetector())  # a run killed early
    resumed = FakeDetector()
    detect_and_align(manifest, dataset, processed, resumed)
    selected = int(((manifest["status"] == OK) & (manifest["split"] != "")).sum())
    done_before = int(((manifest.iloc[:5]["status"] == OK) & (manifest.iloc[:5]["split"] != "")).sum())
    assert resumed.calls == selected - done_before


def test_lq_images_match_their_level(dataset: Path, tmp_path: Path) -> None:
    _, lq = _run(dataset, tmp_path / "processed", FakeDetector())
    assert set(lq["level"]) == {"px32", "px16"}
    assert all((tmp_path / "processed" / p).is_file() for p in lq["lq_path"])
    assert (tmp_path / "processed" / LEVELS).is_file()
    assert load_levels(tmp_path / "processed").specs() == LevelSet(tuple(parse_levels([32, 16])), 0).specs()


def test_detector_tag_keeps_the_sha_and_threshold_of_a_long_pack_path() -> None:
    detector = FakeDetector()
    detector.model = ModelFile("/" + "x" * 300 + "/buffalo_l/det_10g.onnx", Path("det_10g.onnx"), "ab" * 32, "test")
    assert detector_tag(detector) == "det_10g-abababab-t0.5"


def test_montages_split_the_levels_and_mark_faces_not_acquired(tmp_path: Path) -> None:
    levels = LevelSet(tuple(parse_levels({"px16": {"resolution": 16}, "jpeg10": {"jpeg_quality": 10}})), seed=0)
    assert prepare.montage_groups(levels) == {"montage": ["px16"], "montage_sweeps": ["jpeg10"]}
    crop = face_like(3, size=112)
    save(tmp_path / "aligned" / "a.png", crop)
    save(tmp_path / "lq-e2e" / "a.png", crop[::-1])
    manifest = pd.DataFrame({"path": ["p/a.jpg"], "crop_path": ["aligned/a.png"]})
    table = pd.DataFrame({"path": ["p/a.jpg"] * 2, "level": ["px16", "jpeg10"], "lq_path": ["lq-e2e/a.png", ""]})
    titles, grid = prepare.montage_rows(manifest, tmp_path, table, ["px16", "jpeg10"], n=6)
    assert titles == ["HQ (112 px)", "px16", "jpeg10"] and len(grid) == 1
    hq, found, lost = grid[0]
    assert np.array_equal(hq, crop) and np.array_equal(found, crop[::-1])
    assert (lost == prepare.NOT_ACQUIRED_RGB).all()  # the face of jpeg10 was not acquired: a red tile, not a dark face


def test_montages_show_only_images_acquired_at_every_level_shown(tmp_path: Path) -> None:
    crop = face_like(4, size=112)
    for name in ("a", "b"):
        save(tmp_path / "aligned" / f"{name}.png", crop)
        save(tmp_path / "lq-e2e" / f"{name}.png", crop[::-1])
    manifest = pd.DataFrame({"path": ["p/a.jpg", "p/b.jpg"], "crop_path": ["aligned/a.png", "aligned/b.png"]})
    # b is a val photo: acquired end to end at the primary's level (real24) alone
    table = pd.DataFrame(
        {"path": ["p/a.jpg", "p/a.jpg", "p/b.jpg"], "level": ["real32", "real24", "real24"], "lq_path": ["lq-e2e/a.png"] * 2 + ["lq-e2e/b.png"]}
    )
    titles, grid = prepare.montage_rows(manifest, tmp_path, table, ["real32", "real24"], n=6)
    assert titles == ["HQ (112 px)", "real32", "real24"] and len(grid) == 1 and len(grid[0]) == 3
