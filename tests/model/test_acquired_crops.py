"""Training crops acquired end to end: train photos only, seeded levels of the training distribution, wrong faces never
trained on, every outcome cached; and the dataset that trains on them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers.data.acquire import ACQUIRED, NO_FACE, NO_REFERENCE
from helpers.data.degrade import Degradation
from helpers.evaluation.conditions import END_TO_END
from helpers.evaluation.exposure import SEEN, exposure, trained_on
from helpers.training.acquired_crops import WRONG_FACE, acquire_train_crops, copy_level
from helpers.training.config import TrainConfig
from helpers.training.data import TrainingFaces, train_images
from tests.model.test_alignment_noise import BLIND, Offset, photo_row


def manifest(dataset: Path) -> pd.DataFrame:
    """Three train photos, a train centre crop, and val and test rows whose files do not exist (reading one would raise)."""
    rows = [photo_row(dataset, f"p{i}.png", "train", i) for i in range(3)]
    rows.append({**photo_row(dataset, "c.png", "train", 8), "crop_method": "centre_crop"})
    rows += [photo_row(dataset, "v.png", split, 9, path=f"missing-{split}.png") for split in ("val", "test")]
    return pd.DataFrame(rows).assign(crop_path=lambda frame: frame["path"].str.replace(".png", "-crop.png"))


class Elsewhere(Offset):
    """Finds a face at 24 px only, in the photo's far corner: another person's, to the HQ box."""

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        if image_rgb.shape[1] != 24:
            return np.zeros((0, 5)), np.zeros((0, 5, 2))
        kps = np.array([[20.0, 20.0], [22.0, 20.0], [21.0, 21.0], [20.0, 22.0], [22.0, 22.0]])
        return np.array([[19.0, 19.0, 23.0, 23.0, 0.9]]), kps[None]


def test_only_train_photos_are_acquired_at_seeded_training_levels_and_cached(tmp_path: Path) -> None:
    dataset, processed = tmp_path / "dataset", tmp_path / "processed"
    config = TrainConfig.from_dict({"processed_dir": str(processed), "run_dir": "r", "lq_families": ["resolution"], "lq_resolutions": [32, 16, BLIND]})
    train = train_images(config, manifest(dataset), processed)
    detector = Offset()
    found = acquire_train_crops(train, dataset, processed, detector, 3, config.lq_resolutions, config.lq_families, seed=5)
    assert len(found.crops) == len(train) == 4
    levels = [[copy_level(sha, k, config.lq_resolutions, config.lq_families, 5).resolution for k in range(3)] for sha in train["sha256"][:3]]
    for crops, resolutions in zip(found.crops[:3], levels, strict=True):
        assert len(crops) == sum(r != BLIND for r in resolutions) and crops.dtype == np.uint8 and crops.shape[1:] == (112, 112, 3)
    assert len(found.crops[3]) == 0  # the centre crop: no face geometry to degrade by
    blind = sum(r == BLIND for photo in levels for r in photo)
    assert found.counts == {ACQUIRED: 9 - blind, NO_FACE: blind, WRONG_FACE: 0, NO_REFERENCE: 3}
    assert found.summary()["photos_without_crop"] == 1 + sum(all(r == BLIND for r in photo) for photo in levels)
    assert {r for photo in levels for r in photo} <= {32, 16, BLIND} and len({tuple(photo) for photo in levels}) > 1  # drawn per photo

    calls = detector.calls
    again = acquire_train_crops(train, dataset, processed, detector, 3, config.lq_resolutions, config.lq_families, seed=5)
    assert detector.calls == calls and all(np.array_equal(a, b) for a, b in zip(again.crops, found.crops, strict=True))
    acquire_train_crops(train, dataset, processed, detector, 3, config.lq_resolutions, config.lq_families, seed=6)
    assert detector.calls > calls  # another seed draws other levels: acquired anew


def test_a_face_the_detector_picks_elsewhere_is_counted_and_never_trained_on(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    train = manifest(dataset).iloc[:3]
    found = acquire_train_crops(train, dataset, tmp_path / "processed", Elsewhere(), 1, (24,), ("resolution",))
    assert found.counts[WRONG_FACE] == 3 and found.counts[ACQUIRED] == 0 and all(len(crops) == 0 for crops in found.crops)
    with pytest.raises(ValueError, match="copies must be >= 1"):
        acquire_train_crops(train, dataset, tmp_path / "processed", Elsewhere(), 0, (24,), ("resolution",))


def test_a_degraded_sample_is_one_of_its_photos_acquired_crops_or_else_degraded_on_the_fly() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    acquired = [np.full((2, 112, 112, 3), 10 * (i + 1), dtype=np.uint8) for i in range(3)] + [np.zeros((0, 112, 112, 3), dtype=np.uint8)]
    faces = TrainingFaces(crops, np.arange(4), seed=1, lq_prob=1.0, lq_resolutions=(16,), lq_families=("resolution",), flip=False, acquired=acquired)
    for index in range(3):
        plan = faces.plan(index)
        assert plan.acquired_copy in (0, 1) and plan.level is None
        assert np.all(faces[index][0].numpy() == 10 * (index + 1))
    fallback = faces.plan(3)
    assert fallback.acquired_copy is None and fallback.level is not None and fallback.level.resolution == 16  # no crop: degraded here
    hq = TrainingFaces(crops, np.arange(4), seed=1, lq_prob=0.0, flip=False, acquired=acquired)
    assert hq.plan(0).acquired_copy is None and np.array_equal(hq[0][0].numpy().transpose(1, 2, 0), crops[0])
    with pytest.raises(ValueError, match="3 acquired sets"):
        TrainingFaces(crops, np.arange(4), seed=1, acquired=acquired[:3])


def test_the_config_takes_one_way_of_training_on_misalignment_and_records_it() -> None:
    base = {"processed_dir": "p", "run_dir": "r", "lq_prob": 0.7}
    with pytest.raises(ValueError, match="set one of them"):
        TrainConfig.from_dict(base | {"e2e_train_copies": 2, "align_jitter": True})
    with pytest.raises(ValueError, match="lq_chain 'levels'"):
        TrainConfig.from_dict(base | {"e2e_train_copies": 2, "lq_chain": "realistic"})
    with pytest.raises(ValueError, match="input_pipeline 'host' or 'auto'"):
        TrainConfig.from_dict(base | {"e2e_train_copies": 2, "input_pipeline": "device"})
    with pytest.raises(ValueError, match=">= 0"):
        TrainConfig.from_dict(base | {"e2e_train_copies": -1})
    config = {"lq_prob": 0.7, "lq_families": ["resolution"], "lq_resolutions": [16], "e2e_train_copies": 2}
    run = SimpleNamespace(report=SimpleNamespace(training={"config": config}))
    assert exposure(Degradation("px16", resolution=16), END_TO_END, trained_on(run)) == SEEN
