"""Measured alignment noise: the jitter's geometry, resampling that keeps the measured spread, and a measurement whose coordinate mapping is exact."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from skimage.transform import SimilarityTransform

from helpers.core.files import sha256_file, write_png_atomic
from helpers.data.degrade import Degradation
from helpers.data.faces import Detector
from helpers.evaluation.conditions import END_TO_END
from helpers.evaluation.exposure import SEEN, UNSEEN, exposure, trained_on
from helpers.training.alignment_noise import TEMPLATE, AlignmentNoise, draw, jitter_crop, measure, source_resolution, summary
from helpers.training.config import TrainConfig
from helpers.training.data import TrainingFaces
from helpers.training.loop import input_pipeline

SIDE = 224  # synthetic photos: square, the face twice the crop's size, so a level at r px makes an r x r photo
FACE = SimilarityTransform(scale=2.0, rotation=np.deg2rad(10.0), translation=(60.0, 40.0))
"""Template (crop frame) -> HQ photo: the faces are rotated, so the mapping back must undo rotation as well as scale."""
BLIND = 12
"""The fake detector finds nothing at this resolution."""


def dots(points: np.ndarray, sigma: float = 1.2) -> np.ndarray:
    """A dark 112 x 112 RGB crop with a small bright Gaussian dot at each point."""
    yy, xx = np.mgrid[0:112, 0:112].astype(np.float64)
    grey = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in points)
    return np.repeat((255 * np.clip(grey, 0, 1)).astype(np.uint8)[..., None], 3, axis=2)


def centroid(image: np.ndarray, near: np.ndarray, radius: int = 6) -> np.ndarray:
    """Intensity-weighted centre of the window of ``radius`` around ``near``, and nothing else."""
    x0, y0 = np.rint(near).astype(int)
    window = image[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1, 0].astype(np.float64)
    assert window.sum() > 0.5 * 255 * 2 * np.pi * 1.2**2, f"no dot near {near}"
    yy, xx = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(xx * window).sum(), (yy * window).sum()]) / window.sum()


def test_a_translation_error_moves_every_landmark_the_other_way() -> None:
    crop = dots(TEMPLATE)
    error = np.tile([3.0, -2.0], (5, 1))  # the detector saw every landmark 3 px right and 2 px up of where it is
    moved = jitter_crop(crop, error)
    for point in TEMPLATE:  # the deployed alignment puts what it found onto the template, so the true landmark lands at p - e
        np.testing.assert_allclose(centroid(moved, point - error[0]), point - error[0], atol=1.0)


def test_a_scale_and_rotation_error_is_undone_by_the_inverse_similarity() -> None:
    crop = dots(TEMPLATE)
    centre = TEMPLATE.mean(axis=0)
    seen = SimilarityTransform(translation=-centre) + SimilarityTransform(scale=1.1, rotation=np.deg2rad(6.0)) + SimilarityTransform(translation=centre)
    moved = jitter_crop(crop, seen(TEMPLATE) - TEMPLATE)
    for expected in seen.inverse(TEMPLATE):
        np.testing.assert_allclose(centroid(moved, expected), expected, atol=1.0)


def test_zero_error_leaves_the_crop_unchanged_and_bad_errors_name_the_fix() -> None:
    crop = np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    assert np.abs(jitter_crop(crop, np.zeros((5, 2))).astype(int) - crop).max() <= 1
    with pytest.raises(ValueError, match="5 x 2"):
        jitter_crop(crop, np.zeros(10))
    with pytest.raises(ValueError, match="collapses"):
        jitter_crop(crop, TEMPLATE.mean(axis=0) - TEMPLATE)


def synthetic_noise(mean: tuple[float, float], std: tuple[float, float], count: int = 400) -> AlignmentNoise:
    """Normal errors at 32 and 16 px, every image a failure at 12 px."""
    rng = np.random.default_rng(1)
    errors = {32: rng.normal(mean, std, (count, 5, 2)), 16: 3 * rng.normal(mean, std, (count, 5, 2)), 12: np.zeros((0, 5, 2))}
    return AlignmentNoise(errors, {32: 0, 16: 0, 12: count - 10}, {32: 0, 16: 0, 12: 10}, count, "fake", 0)


def test_draw_resamples_the_measured_errors_with_their_mean_and_spread() -> None:
    noise = synthetic_noise((1.0, -0.5), (2.0, 1.0))
    drawn = np.stack([draw(noise, 32, np.random.default_rng([5, i])) for i in range(4000)])
    source = noise.errors[32].reshape(-1, 2)
    # 4000 draws of 5 landmarks: the mean's standard error is under 0.02 px, the std's under 2 %
    np.testing.assert_allclose(drawn.reshape(-1, 2).mean(axis=0), source.mean(axis=0), atol=0.15)
    np.testing.assert_allclose(drawn.reshape(-1, 2).std(axis=0), source.std(axis=0), rtol=0.1)
    assert all(any(np.array_equal(d, e) for e in noise.errors[32]) for d in drawn[:20])  # each draw is one measured vector
    assert np.array_equal(draw(noise, 32, np.random.default_rng(9)), draw(noise, 32, np.random.default_rng(9)))
    assert not np.array_equal(draw(noise, 32, np.random.default_rng(9)), draw(noise, 32, np.random.default_rng(10)))


def test_draw_takes_the_nearest_resolution_with_a_face_found() -> None:
    noise = synthetic_noise((0.0, 0.0), (1.0, 1.0))
    assert [source_resolution(noise, r) for r in (112, 32, 28, 24, 20, 16, 12, 8)] == [32, 32, 32, 16, 16, 16, 16, 16]
    assert any(np.array_equal(draw(noise, 12, np.random.default_rng(0)), e) for e in noise.errors[16])  # 12 px: failures only
    empty = AlignmentNoise({16: np.zeros((0, 5, 2))}, {16: 3}, {16: 0}, 3, "fake", 0)
    with pytest.raises(ValueError, match="no face was found"):
        draw(empty, 16, np.random.default_rng(0))
    table = summary(noise)
    assert list(table["resolution"]) == [32, 16, 12] and list(table["n"]) == [400, 400, 0] and table.loc[2, "no_face"] == 390
    assert table.loc[0, "std_dx"] == pytest.approx(1.0, rel=0.1) and np.isnan(table.loc[2, "nme_median"])
    again = AlignmentNoise.from_json(noise.to_json())
    assert again.resolutions == noise.resolutions and np.allclose(again.errors[16], noise.errors[16], atol=1e-4)


def known_error(resolution: int) -> np.ndarray:
    """The crop-frame error the fake detector makes at ``resolution``: larger on smaller faces, different per landmark."""
    return (32 / resolution) * np.array([[1.0, -0.5], [0.5, 0.5], [-1.0, 0.0], [0.0, 1.0], [0.25, -0.25]])


class Offset(Detector):
    """A fake detector that knows the synthetic faces' geometry: their true landmarks, moved by :func:`known_error`
    (mapped from the crop frame into the photo it is given), and nothing at :data:`BLIND` px."""

    def __init__(self) -> None:
        self.model = SimpleNamespace(sha256="f" * 64, name="offset")
        self.threshold, self.input_size, self.providers = 0.5, None, ["fake"]
        self.calls = 0

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        resolution = image_rgb.shape[1]  # the degraded photo is r x r (a retry's framed one is 3r and finds nothing either)
        if resolution not in (32, 24, 16):
            return np.zeros((0, 5)), np.zeros((0, 5, 2))
        shrink = resolution / SIDE
        kps = FACE(TEMPLATE + known_error(resolution)) * shrink
        corners = FACE(np.array([[0.0, 0.0], [112.0, 112.0]])) * shrink
        return np.array([[*corners.min(axis=0), *corners.max(axis=0), 0.9]]), kps[None]


def photo_row(root: Path, name: str, split: str, seed: int, path: str | None = None) -> dict[str, str]:
    """Write a noise photo with the synthetic face geometry; its manifest row (``path`` overrides where the row points)."""
    write_png_atomic(root / name, np.random.default_rng(seed).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8))
    corners = FACE(np.array([[0.0, 0.0], [112.0, 112.0]]))
    return {
        "path": path or name,
        "sha256": sha256_file(root / name),
        "status": "ok",
        "split": split,
        "crop_method": "landmarks",
        "bbox": " ".join(f"{v:.2f}" for v in (*corners.min(axis=0), *corners.max(axis=0))),
        "kps": " ".join(f"{v:.4f}" for v in FACE(TEMPLATE).ravel()),
    }


def test_measure_maps_found_landmarks_into_the_crop_frame_counts_failures_and_caches(tmp_path: Path) -> None:
    dataset, processed = tmp_path / "dataset", tmp_path / "processed"
    rows = [photo_row(dataset, f"p{i}.png", "train", i) for i in range(3)]
    rows += [photo_row(dataset, "v.png", split, 9, path=f"missing-{split}.png") for split in ("val", "test")]  # would raise if read
    rows.append({**photo_row(dataset, "c.png", "train", 8, path="missing-centre.png"), "crop_method": "centre_crop"})
    manifest = pd.DataFrame(rows)
    detector = Offset()
    noise = measure(manifest, dataset, processed, detector, resolutions=(32, 24, 16, BLIND), sample_size=10)
    assert noise.sample_size == 3 and noise.resolutions == (32, 24, 16, BLIND) and noise.detector == detector.cache_key()
    for r in (32, 24, 16):
        assert noise.errors[r].shape == (3, 5, 2) and noise.no_face[r] == 0 and noise.wrong_face[r] == 0
        np.testing.assert_allclose(noise.errors[r], np.broadcast_to(known_error(r), (3, 5, 2)), atol=1e-3)
    assert noise.errors[BLIND].shape == (0, 5, 2) and noise.no_face[BLIND] == 3
    table = summary(noise)
    assert list(table["n"]) == [3, 3, 3, 0] and list(table["no_face"]) == [0, 0, 0, 3]

    calls = detector.calls
    again = measure(manifest, dataset, processed, detector, resolutions=(12, 16, 24, 32), sample_size=10)
    assert detector.calls == calls and np.allclose(again.errors[16], noise.errors[16])  # the whole result is cached
    (summary_file,) = processed.glob(".cache/alignment-noise-*.json")
    summary_file.unlink()
    resumed = measure(manifest, dataset, processed, detector, resolutions=(32, 24, 16, BLIND), sample_size=10)
    assert detector.calls == calls and resumed.no_face == noise.no_face  # every (image, level) outcome is cached too
    measure(manifest, dataset, processed, detector, resolutions=(32, 24, 16, BLIND), sample_size=10, seed=1)
    assert detector.calls > calls  # another seed degrades otherwise: measured anew


def test_measure_samples_reproducibly_and_names_what_is_missing(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    manifest = pd.DataFrame([photo_row(dataset, f"p{i}.png", "train", i) for i in range(6)])
    first = measure(manifest, dataset, tmp_path / "a", Offset(), resolutions=(16,), sample_size=2, seed=3)
    detector = Offset()
    again = measure(manifest.sample(frac=1.0, random_state=0), dataset, tmp_path / "a", detector, resolutions=(16,), sample_size=2, seed=3)
    assert first.sample_size == again.sample_size == 2 and detector.calls == 0  # the same sample (cache key) whatever the row order
    with pytest.raises(ValueError, match="no usable train images"):
        measure(manifest.assign(split="val"), dataset, tmp_path / "b", Offset())
    with pytest.raises(ValueError, match="resolutions must be"):
        measure(manifest, dataset, tmp_path / "b", Offset(), resolutions=(200,))


def noise_at(resolutions: tuple[int, ...], shift: float) -> AlignmentNoise:
    """Every measured error a pure translation of ``shift`` px along x, at each of ``resolutions``."""
    errors = {r: np.tile([shift, 0.0], (4, 5, 1)) for r in resolutions}
    zeros = dict.fromkeys(resolutions, 0)
    return AlignmentNoise(errors, zeros, zeros, 4, "fake", 0)


def test_training_faces_jitter_degraded_crops_and_leave_other_streams_unchanged() -> None:
    crops = np.stack([dots(TEMPLATE)] * 6)
    labels = np.arange(6)
    plain = TrainingFaces(crops, labels, seed=3, lq_prob=1.0, lq_resolutions=(24,), lq_families=("resolution",), flip=False)
    jittered = TrainingFaces(
        crops, labels, seed=3, lq_prob=1.0, lq_resolutions=(24,), lq_families=("resolution",), flip=False, alignment_noise=noise_at((24,), 4.0)
    )
    for index in range(6):
        with_noise, without = jittered.plan(index), plain.plan(index)
        assert without.alignment_error is None
        np.testing.assert_array_equal(with_noise.alignment_error, np.tile([4.0, 0.0], (5, 1)))
        assert with_noise.level == without.level and with_noise.degrade_seed == without.degrade_seed  # the draw comes last
    undegraded = TrainingFaces(crops, labels, seed=3, lq_prob=0.0, flip=False, alignment_noise=noise_at((24,), 4.0))
    assert undegraded.plan(0).alignment_error is None  # an HQ crop keeps its HQ alignment
    shifted = jittered[0][0].numpy().transpose(1, 2, 0)
    left_eye = TEMPLATE[0] - [4.0, 0.0]  # the landmarks land 4 px left, then the crop is degraded at 24 px
    assert centroid(shifted, left_eye, radius=8)[0] < TEMPLATE[0][0] - 2


def test_alignment_jitter_makes_end_to_end_misalignment_a_trained_family() -> None:
    config = {"lq_prob": 0.7, "lq_families": ["resolution"], "lq_resolutions": [16], "align_jitter": True}
    run = SimpleNamespace(report=SimpleNamespace(training={"config": config}))
    level = Degradation("px16", resolution=16)
    assert exposure(level, END_TO_END, trained_on(run)) == SEEN
    assert exposure(level, END_TO_END, trained_on(SimpleNamespace(report=SimpleNamespace(training={"config": config | {"align_jitter": False}})))) == UNSEEN


def test_the_config_keeps_alignment_jitter_on_the_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="align_jitter re-aligns crops per image on the host"):
        TrainConfig(processed_dir=str(tmp_path), run_dir=str(tmp_path), align_jitter=True, input_pipeline="device")
    assert input_pipeline(TrainConfig(processed_dir=str(tmp_path), run_dir=str(tmp_path), align_jitter=True), torch.device("cuda")) == "host"
