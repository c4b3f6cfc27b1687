"""The operating threshold: what val supports (the rule of 30 in pairs of people), the ORL case, and its resampled values."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation.bootstrap import People, Thresholds
from helpers.evaluation.metrics import estimable
from helpers.evaluation.summary import support_lines
from helpers.evaluation.thresholds import MAX_FMR, min_val_people, operating_point, resampled_thresholds, round_up, supported_fmr
from helpers.evaluation.verification import condition_report


def val_frame(people: int, images: int, seed: int = 0) -> pd.DataFrame:
    """Every pair of ``people`` x ``images`` val images: genuine pairs score about 0.7, impostor pairs normal(0, 0.1)."""
    rng = np.random.default_rng(seed)
    owners = np.repeat([f"p{k:03d}" for k in range(people)], images)
    a, b = (np.array(side) for side in zip(*combinations(range(owners.size), 2)))
    same = owners[a] == owners[b]
    return pd.DataFrame({"identity_a": owners[a], "identity_b": owners[b], "same": same, "HQ-HQ": np.where(same, 0.7, 0.0) + rng.normal(0, 0.1, a.size)})


def test_val_support_by_hand() -> None:
    assert supported_fmr(0.01, 3160) == (0.01, "supported")  # 80 people: 3,160 pairs of people, 31.6 false matches expected
    assert supported_fmr(0.01, 630) == (0.05, "moved")  # 36 people: 30 / 630 = 0.048, rounded up to one digit
    assert supported_fmr(0.01, 153) == (None, "unavailable")  # 18 people: 0.2 would be needed, beyond MAX_FMR
    assert supported_fmr(0.001, 0) == (None, "unavailable")
    assert (round_up(0.0476), round_up(0.2), round_up(0.03)) == (0.05, 0.2, 0.03)
    assert min_val_people() == 25 and 25 * 24 / 2 * MAX_FMR >= 30 > 24 * 23 / 2 * MAX_FMR


def test_estimable_counts_pairs_of_people_not_image_pairs() -> None:
    """A FAR target needs 30 / FAR (effective) pairs of people, whatever the image-pair count says."""
    assert estimable(1_293_117, 1e-4) and not estimable(58_996, 1e-4) and estimable(58_996, 1e-3)
    people = People.of([0, 0, 0, 0, 1], ["A", "A", "A", "A", "A"], ["B", "B", "B", "C", "A"])  # A-B thrice, A-C once
    assert people.impostor_units() == pytest.approx(16 / 10)  # Kish over A-B (3 image pairs) and A-C (1): (3 + 1)^2 / (9 + 1)
    assert people.genuine_units() == 1.0


def test_orl_like_val_gives_no_threshold_and_says_how_to_fix_it() -> None:
    """Two val people (ORL through the template): one pair of people cannot set any FMR up to 0.1."""
    val = val_frame(2, 10)
    operating = operating_point(val, 1e-3)
    assert operating["threshold"] is None and operating["fmr"] is None and operating["support"] == "unavailable"
    assert "split_fractions" in operating["advice"] and "closed_set=True" in operating["advice"] and "25 people" in operating["advice"]
    same = val["same"].to_numpy()
    report = condition_report(val["HQ-HQ"].to_numpy(), same, People.of(same, val["identity_a"], val["identity_b"]), Thresholds.fixed(math.nan, 5), None, 0)
    assert report["operating"]["threshold"] is None and all(report["operating"][k]["value"] is None for k in ("fmr", "fnmr", "frr"))
    assert report["auc"]["value"] is not None  # the threshold-free statistics stay
    lines = support_lines({"model_order": ["m"], "models": {"m": {"operating": operating}}})
    assert lines[0].startswith("**Operating threshold: val's 2 people form 1 pairs of people")


def test_moved_threshold_is_recorded_and_set_at_the_fmr_val_supports() -> None:
    operating = operating_point(val_frame(36, 3), 1e-2)  # 630 pairs of people
    assert (operating["support"], operating["fmr"], operating["fmr_target"]) == ("moved", 0.05, 0.01)
    assert operating["val_fmr"] <= 0.05 and "FMR 0.05 instead" in operating["advice"]


def test_resampled_thresholds_carry_val_noise_and_repeat_for_one_seed() -> None:
    val = val_frame(40, 3)
    operating = operating_point(val, 0.05)
    first, again = (resampled_thresholds(val, operating, 200, seed=3) for _ in range(2))
    assert operating["support"] == "supported" and first.point == operating["threshold"]
    assert np.array_equal(first.resampled, again.resampled) and np.unique(first.resampled).size > 50
    low, high = np.quantile(first.resampled, [0.05, 0.95])
    assert low < first.point < high  # the point threshold sits inside its own resampling spread
    assert np.isnan(resampled_thresholds(val_frame(2, 10), operating_point(val_frame(2, 10), 1e-3), 5, 0).resampled).all()
