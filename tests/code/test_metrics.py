"""Verification metrics: hand-checked cases, thresholds from training folds only, honest intervals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from helpers.evaluation.metrics import (
    auc,
    best_threshold,
    eer,
    identity_bootstrap,
    kfold_accuracy,
    min_impostors,
    paired_identity_bootstrap,
    roc,
    tar_at_far,
    verification_report,
)

# Three genuine pairs and two impostors, worked by hand: 5 of the 6 genuine-impostor
# comparisons are ordered right, and FAR meets FRR at 1/3 on the ROC segment
# from (FAR 0, TAR 2/3) to (FAR 1/2, TAR 2/3).
HAND_SCORES = [0.9, 0.8, 0.3, 0.5, 0.1]
HAND_SAME = [1, 1, 1, 0, 0]


def clustered_scores(rng: np.random.Generator, n_people: int = 40) -> tuple[np.ndarray, ...]:
    """Per person 4 genuine and 12 impostor pairs, correlated through two person effects.

    One effect moves the person's genuine scores (some people are hard to match),
    another their impostor scores (some are easy to confuse). Scores are
    ``genuine + effect + 0.5 * noise``, so the population AUC is Phi(1 / sqrt(2.5)).
    """
    person = np.repeat(np.arange(n_people), 16)
    same = np.tile(np.arange(16) < 4, n_people)
    effect = np.where(same, rng.normal(size=n_people)[person], rng.normal(size=n_people)[person])
    scores = same + effect + 0.5 * rng.normal(size=person.size)
    other = (person + rng.integers(1, n_people, person.size)) % n_people
    return scores, same, person, np.where(same, person, other)


def test_perfect_separation() -> None:
    scores, same = [0.9, 0.8, 0.7, 0.2, 0.1, 0.0], [1, 1, 1, 0, 0, 0]
    assert auc(scores, same) == 1.0 and eer(scores, same) == 0.0
    assert 0.2 < best_threshold(scores, same) < 0.7


def test_hand_case() -> None:
    far, tar, _ = roc(HAND_SCORES, HAND_SAME)
    assert np.allclose(far, [0, 0, 0, 0.5, 0.5, 1]) and np.allclose(tar, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1])
    assert auc(HAND_SCORES, HAND_SAME) == pytest.approx(5 / 6)
    assert eer(HAND_SCORES, HAND_SAME) == pytest.approx(1 / 3)


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    same = rng.random(500) < 0.3
    scores = np.round(same + rng.normal(size=500), 1)
    assert auc(scores, same) == pytest.approx(roc_auc_score(same, scores), abs=1e-12)


def test_undefined_metrics_are_nan() -> None:
    assert math.isnan(auc([0.1, 0.2], [1, 1])) and math.isnan(eer([0.1, 0.2], [0, 0]))
    with pytest.raises(ValueError, match="0/1"):
        auc([0.1, 0.2], [1, 2])


def test_tar_at_far_is_conservative() -> None:
    # Impostors score 0..39, so FAR moves in steps of 1/40; a pair is accepted when score >= threshold.
    scores = np.r_[9.5, 19.5, 20.5, 45.0, np.arange(40.0)]
    same = np.arange(44) < 4
    assert tar_at_far(scores, same, 0.5) == 0.75  # threshold 19.5 accepts 20 impostors and 3 genuine pairs
    assert tar_at_far(scores, same, 0.49) == 0.5  # FAR 20/40 would exceed it: threshold 20.5, no interpolation


def test_tar_at_far_needs_ten_over_far_impostors() -> None:
    assert (min_impostors(1e-1), min_impostors(1e-3), min_impostors(1e-4)) == (100, 10_000, 100_000)
    rng = np.random.default_rng(2)
    for n_impostor, estimable in ((9_999, False), (10_000, True)):
        same = np.arange(n_impostor + 50) < 50
        scores = same + rng.normal(size=same.size)
        assert math.isnan(tar_at_far(scores, same, 1e-3)) != estimable


def test_kfold_thresholds_come_from_training_folds_only() -> None:
    # Fold 0 alone would pick 0.25 and be perfect; fold 1 puts the threshold at 0.55, which rejects its genuine 0.3.
    scores = [0.3, 0.9, 0.1, 0.2, 0.6, 0.7, 0.4, 0.5]
    same = [1, 1, 0, 0, 1, 1, 0, 0]
    result = kfold_accuracy(scores, same, folds=[0, 0, 0, 0, 1, 1, 1, 1])
    assert result.thresholds == pytest.approx([0.55, 0.25])
    assert result.accuracies == pytest.approx([0.75, 0.5])
    assert result.mean == pytest.approx(0.625) and result.std == pytest.approx(np.std([0.75, 0.5], ddof=1))


def test_kfold_without_folds_is_stratified_and_seeded() -> None:
    rng = np.random.default_rng(3)
    same = rng.random(1000) < 0.5
    scores = 3 * same + rng.normal(size=1000)
    result = kfold_accuracy(scores, same, n_folds=10, seed=7)
    assert len(result.accuracies) == 10 and result == kfold_accuracy(scores, same, n_folds=10, seed=7)
    assert result.mean == pytest.approx(norm.cdf(1.5), abs=0.03)  # the best threshold sits midway between the means


def test_identity_bootstrap_covers_the_population_auc_where_a_pair_bootstrap_does_not() -> None:
    rng = np.random.default_rng(4)
    truth = norm.cdf(1 / np.sqrt(2.5))
    by_identity, by_pair = [], []
    for seed in range(25):
        scores, same, identity_a, identity_b = clustered_scores(rng)
        pair = np.arange(same.size)  # every pair its own cluster: the naive bootstrap, blind to people
        for covered, (low, high) in (
            (by_identity, identity_bootstrap(scores, same, identity_a, identity_b, auc, n_boot=50, seed=seed)),
            (by_pair, identity_bootstrap(scores, same, pair, np.where(same, pair, -1 - pair), auc, n_boot=50, seed=seed)),
        ):
            covered.append(low <= truth <= high)
    assert np.mean(by_identity) >= 0.8 > np.mean(by_pair)


def test_bootstrap_rejects_labels_that_contradict_identities() -> None:
    with pytest.raises(ValueError, match="identity_a equals identity_b"):
        identity_bootstrap([0.9, 0.1], [1, 0], ["ann", "ann"], ["ann", "ann"], auc, n_boot=10)


def test_paired_bootstrap() -> None:
    scores, same, identity_a, identity_b = clustered_scores(np.random.default_rng(5))
    identical = paired_identity_bootstrap(scores, scores, same, identity_a, identity_b, auc, n_boot=50)
    assert identical == {"diff": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}
    better = paired_identity_bootstrap(scores, scores + 1.5 * same, same, identity_a, identity_b, auc, n_boot=100)
    assert 0 < better["low"] <= better["diff"] <= better["high"] and better["p_value"] == pytest.approx(2 / 101)  # no resample crossed zero


def test_report_is_json_ready_and_marks_unestimable_targets() -> None:
    scores, same, identity_a, identity_b = clustered_scores(np.random.default_rng(6), n_people=100)
    report = verification_report(scores, same, identity_a, identity_b, n_boot=100)
    json.dumps(report, allow_nan=False)
    assert (report["n_pairs"], report["n_genuine"], report["n_impostor"]) == (1600, 400, 1200)
    assert report["auc"]["value"] == pytest.approx(auc(scores, same))
    low, high = report["eer"]["ci"]
    assert low <= report["eer"]["value"] <= high and report["eer"]["value"] == pytest.approx(eer(scores, same))
    assert list(report["tar_at_far"]) == ["1e-01", "1e-02", "1e-03", "1e-04"]
    assert report["tar_at_far"]["1e-01"]["value"] == pytest.approx(tar_at_far(scores, same, 0.1))
    assert report["tar_at_far"]["1e-03"] == {"value": None, "ci": None, "estimable": False, "min_impostors": 10_000}
