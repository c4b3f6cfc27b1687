"""Face image quality: EDC and pAUC-EDC against a hand-worked example and the theoretical best; each image measure
on hand-made images (a sharp and a blurred copy, a darker copy, a JPEG-compressed copy, landmarks at a known scale)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers.quality.edc import best_edc, edc, pair_quality, pauc_edc
from helpers.quality.measures import contrast, exposure, inter_eye_distance, sharpness, unblockiness

# Five mated pairs at a threshold of 0.5: qualities 1..5, scores 0.1 (error), 0.9, 0.2 (error), 0.8, 0.7.
QUALITY = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
ERRORS = np.array([True, False, True, False, False])


def test_edc_by_hand() -> None:
    """No discard: FNMR 2/5; without q1: 1/4; without q1, q2: 1/3; without q1..q3: 0/2; without q1..q4: 0/1."""
    curve = edc(QUALITY, ERRORS)
    assert curve.discarded.tolist() == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert curve.error == pytest.approx([2 / 5, 1 / 4, 1 / 3, 0, 0])
    # up to 0.6: 0.2 * (2/5 + 1/4 + 1/3); the best discards both errors first: 0.2 * (2/5 + 1/4 + 0)
    assert curve.area(0.6) == pytest.approx(0.2 * (2 / 5 + 1 / 4 + 1 / 3))
    assert best_edc(ERRORS).error == pytest.approx([2 / 5, 1 / 4, 0, 0, 0])
    assert pauc_edc(QUALITY, ERRORS, limit=0.6) == pytest.approx(0.2 / 3)
    assert pauc_edc(QUALITY, ERRORS, limit=0.3) == pytest.approx(0.0)  # up to 0.3 this measure discards like the best


def test_a_perfect_measure_reaches_the_best_and_a_reversed_one_does_worse() -> None:
    rng = np.random.default_rng(0)
    errors = rng.random(500) < 0.1
    perfect = np.where(errors, 0.0, 1.0) + rng.random(500) * 0.1  # every error below every correct pair
    assert pauc_edc(perfect, errors, 0.2) == pytest.approx(0.0, abs=1e-12)
    assert pauc_edc(-perfect, errors, 0.2) > pauc_edc(rng.random(500), errors, 0.2) > 0


def test_pairs_of_equal_quality_are_discarded_together_and_a_pair_takes_its_lower_quality() -> None:
    curve = edc([1.0, 1.0, 2.0, 2.0], [True, False, False, False])
    assert curve.discarded.tolist() == [0.0, 0.5] and curve.error.tolist() == [0.25, 0.0]
    assert pair_quality([3.0, 1.0], [2.0, 5.0]).tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="give failures to acquire the lowest quality"):
        edc([1.0, np.nan], [True, False])


def test_a_weight_counts_a_pair_that_many_times() -> None:
    """A bootstrap resample's weights: weight 2 is the pair twice, weight 0 leaves it out, for the curve and the best alike."""
    weights = np.array([2.0, 0.0, 1.0, 1.0, 3.0])
    repeated = np.repeat(np.arange(5), weights.astype(int))
    for limit in (0.2, 0.6):
        assert pauc_edc(QUALITY, ERRORS, limit, weights) == pytest.approx(pauc_edc(QUALITY[repeated], ERRORS[repeated], limit))
        assert best_edc(ERRORS, weights).area(limit) == pytest.approx(best_edc(ERRORS[repeated]).area(limit))
    with pytest.raises(ValueError, match="non-negative weight per pair"):
        edc(QUALITY, ERRORS, np.zeros(5))
    with pytest.raises(ValueError, match="whole numbers"):
        best_edc(ERRORS, np.full(5, 0.5))


def face_like(seed: int = 0) -> np.ndarray:
    """A 112 x 112 crop with fine detail: smoothed noise plus a few edges."""
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.uniform(40, 215, (112, 112)), (0, 0), 1.0)
    grey[30:40, 20:90] = 30
    grey[70:75, 35:80] = 200
    return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)


def test_each_measure_ranks_a_degraded_copy_below_the_original() -> None:
    crop = face_like()
    blurred = cv2.GaussianBlur(crop, (0, 0), 2.0)
    darker = (crop * 0.4).astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 10])
    compressed = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    assert sharpness(blurred) < sharpness(crop)
    assert exposure(darker) < exposure(crop) and contrast(darker) < contrast(crop)
    assert unblockiness(compressed) < unblockiness(crop)
    noise = cv2.GaussianBlur(np.random.default_rng(1).uniform(0, 255, (112, 112)), (0, 0), 1.0).astype(np.uint8)
    assert abs(unblockiness(np.dstack([noise] * 3)) + 1) < 0.1  # no blocking: steps at block boundaries like any other


def test_inter_eye_distance_follows_the_landmarks_scale() -> None:
    template = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]])
    assert inter_eye_distance(template * 2) == pytest.approx(2 * inter_eye_distance(template))
    assert inter_eye_distance(template) == pytest.approx(np.hypot(73.5 - 38.3, 51.5 - 51.7))
    with pytest.raises(ValueError, match="RGB uint8 crop"):
        sharpness(np.zeros((112, 112)))
