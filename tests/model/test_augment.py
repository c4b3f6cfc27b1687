"""The augmentation presets: seeded per (seed, epoch, image), within their ranges, never a double flip, and trainable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.training import TrainConfig, train
from helpers.training.augment import AUGMENTATIONS, Augmentation, augment, montage_rows
from helpers.training.data import TrainingFaces
from tests.model.test_training import config

SEED = AUGMENTATIONS["seed"]


def crops(count: int = 4) -> np.ndarray:
    """Random 112 x 112 RGB crops (no symmetry, so any flip or warp shows)."""
    return np.random.default_rng(7).integers(0, 256, (count, 112, 112, 3), dtype=np.uint8)


def dataset(augmentation: Augmentation, flip: bool = True) -> TrainingFaces:
    images = crops()
    return TrainingFaces(images, np.arange(len(images)), seed=3, lq_prob=0.0, flip=flip, augmentation=augmentation)


def image_at(faces: TrainingFaces, epoch: int, index: int) -> np.ndarray:
    faces.set_epoch(epoch)
    return faces[index][0].numpy().transpose(1, 2, 0)


def test_the_same_seed_gives_the_same_bytes_and_another_epoch_others() -> None:
    first, again = dataset(SEED), dataset(SEED)
    assert image_at(first, 1, 2).tobytes() == image_at(again, 1, 2).tobytes()
    assert not np.array_equal(image_at(first, 1, 2), image_at(first, 2, 2))
    out, _ = augment(crops()[0], SEED, np.random.default_rng([3, 1, 0]))
    assert out.shape == (112, 112, 3) and out.dtype == np.uint8


def test_every_drawn_parameter_lies_within_the_seed_ranges() -> None:
    drawn = pd.DataFrame([augment(crops(1)[0], SEED, np.random.default_rng([0, epoch, 0]))[1] for epoch in range(200)])
    assert drawn["rotation"].abs().max() <= SEED.rotation and drawn["shear"].abs().max() <= SEED.shear
    assert drawn[["shift_x", "shift_y"]].abs().max().max() <= SEED.shift
    assert drawn["zoom"].between(*SEED.zoom).all()
    for name in ("brightness", "contrast", "saturation"):
        assert drawn[name].between(1 - getattr(SEED, name), 1 + getattr(SEED, name)).all(), name
    assert set(drawn["flip"]) == {0.0, 1.0} and 0.35 < drawn["flip"].mean() < 0.65
    assert drawn.drop(columns="flip").std().gt(0).all()  # every range is actually used


def test_none_is_the_identity_and_keeps_todays_coin_flip() -> None:
    crop = crops(1)[0]
    assert np.array_equal(augment(crop, AUGMENTATIONS["none"], np.random.default_rng(0))[0], crop)
    faces = dataset(AUGMENTATIONS["none"])
    for index in range(4):
        flipped = np.random.default_rng([3, 1, index]).random() < 0.5  # the generator's first draw, as before augmentation existed
        assert np.array_equal(image_at(faces, 1, index), faces.crops[index][:, ::-1] if flipped else faces.crops[index])


def test_a_preset_flip_replaces_the_coin_flip_so_no_crop_flips_twice() -> None:
    always = Augmentation(flip=1.0)
    assert all(np.array_equal(image_at(dataset(always), 1, i), crops()[i][:, ::-1]) for i in range(4))
    assert all(np.array_equal(image_at(dataset(always, flip=False), 1, i), crops()[i]) for i in range(4))


def test_the_montage_shows_what_the_dataset_feeds() -> None:
    titles, rows = montage_rows(crops(), SEED, seed=3, epochs=(1, 2))
    assert titles == ["HQ crop", "epoch 1", "epoch 2"]
    faces = dataset(SEED)
    assert all(np.array_equal(rows[i][1 + k], image_at(faces, epoch, i)) for i in range(4) for k, epoch in enumerate((1, 2)))


@pytest.mark.parametrize(
    ("values", "message"),
    [({"rotation": -1.0}, "rotation"), ({"shift": 0.5}, "shift"), ({"zoom": (1.1, 0.9)}, "zoom"), ({"flip": 2.0}, "flip"), ({"contrast": 1.0}, "contrast")],
)
def test_bad_ranges_are_refused_by_name(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Augmentation(**values)


def test_an_unknown_preset_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"augment must be one of the presets \('none', 'seed'\), not 'bogus'"):
        TrainConfig(processed_dir="p", run_dir="r", augment="bogus")


def test_training_with_the_seed_preset_completes(synthetic_processed: Path, tmp_path: Path) -> None:
    summary = train(config(synthetic_processed, tmp_path, epochs=2, augment="seed"))
    history = pd.DataFrame(summary["history"])
    assert list(history["epoch"]) == [0, 1, 2]
    assert np.isfinite(history["loss"].iloc[1:]).all() and np.isfinite(history[["val_auc_hq", "val_auc_lq"]]).all().all()
