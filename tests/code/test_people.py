"""The person as the unit of analysis: pair weights, the people behind a rate, and a threshold one person cannot set."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation.metrics import threshold_at_fmr
from helpers.evaluation.people import pair_weights, people_behind, person_pair_weights
from helpers.evaluation.thresholds import operating_point


def test_each_pair_of_people_weighs_one_by_hand() -> None:
    weights = person_pair_weights(["A", "B", "A", "C"], ["B", "A", "C", "B"])
    assert weights.tolist() == [0.5, 0.5, 1.0, 1.0]  # A-B twice (either order), A-C once, C-B once
    assert pair_weights(["A", "B"], ["B", "C"], "pair").tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="person"):
        pair_weights(["A"], ["B"], "image")


def test_people_behind_a_rate_by_hand() -> None:
    genuine = people_behind(["A", "A", "B"], ["A", "A", "B"], genuine=True)
    assert genuine == {"people": 2, "largest_share": pytest.approx(2 / 3), "largest_person": "A", "effective_people": pytest.approx(9 / 5)}
    impostor = people_behind(["A", "A", "B"], ["B", "C", "C"], genuine=False)  # A in 2 of 3 pairs, B 2, C 2: evenly spread
    assert impostor["largest_share"] == pytest.approx(2 / 3) and impostor["effective_people"] == pytest.approx(3.0)


def _impostor_frame(images: dict[str, int], score: dict[frozenset, tuple[float, float]], seed: int) -> pd.DataFrame:
    """Every impostor image pair of ``images`` (person -> image count), HQ-HQ scores normal(0, 0.1) unless ``score`` names the people."""
    rng = np.random.default_rng(seed)
    rows = []
    for first, second in combinations(images, 2):
        mean, sd = score.get(frozenset((first, second)), (0.0, 0.1))
        n = images[first] * images[second]
        rows.append(pd.DataFrame({"identity_a": first, "identity_b": second, "same": False, "HQ-HQ": rng.normal(mean, sd, n)}))
    genuine = pd.DataFrame({"identity_a": list(images), "identity_b": list(images), "same": True, "HQ-HQ": 0.9})
    return pd.concat([*rows, genuine], ignore_index=True)


def test_one_dominant_person_cannot_set_the_threshold() -> None:
    """Val: one person with 200 images who resembles a relative (George W. Bush and Jeb Bush on LFW), 78 others with 5.
    Counting image pairs, the dominant person's 2,000 pairs with the relative set the threshold, and on balanced test
    people the FMR reached is far below the target; counting each pair of people once, it lands near the target.
    """
    val_people = {"dominant": 200, "relative": 10} | {f"val_{k:02d}": 5 for k in range(78)}
    val = _impostor_frame(val_people, {frozenset(("dominant", "relative")): (0.5, 0.05)}, seed=0)
    test = _impostor_frame({f"test_{k:02d}": 5 for k in range(40)}, {}, seed=1)
    impostor = test.loc[~test["same"], "HQ-HQ"].to_numpy()
    target = 0.01
    by_pair = threshold_at_fmr(val["HQ-HQ"].to_numpy(), val["same"].to_numpy(), target)
    by_person = operating_point(val, target, "person")
    assert by_person["support"] == "supported" and by_person["val_fmr"] <= target
    assert np.mean(impostor >= by_pair) < target / 5  # the dominant person's relative set it: far too strict
    assert target / 2 <= np.mean(impostor >= by_person["threshold"]) <= 2 * target
    assert by_person["val_people_pairs"] == 80 * 79 // 2 and by_person["weighting"] == "person"
