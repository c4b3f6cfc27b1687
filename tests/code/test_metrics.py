"""Verification metrics: hand-checked cases, scikit-learn agreement, thresholds from training data only."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

from helpers.evaluation.bootstrap import People, Thresholds
from helpers.evaluation.metrics import (
    FAILED_SCORE,
    RankedScores,
    auc,
    auc_of,
    best_threshold,
    eer,
    eer_of,
    fmr_of,
    fnmr_acquired_of,
    fnmr_of,
    kfold_accuracy,
    min_units,
    person_kfold_accuracy,
    roc,
    system_pairs,
    tar_at_far,
    tar_of,
    threshold_at_fmr,
)
from helpers.evaluation.verification import condition_report

# Three genuine pairs and two impostors, worked by hand: 5 of the 6 genuine-impostor
# comparisons are ordered right, and FAR meets FRR at 1/3 on the ROC segment
# from (FAR 0, TAR 2/3) to (FAR 1/2, TAR 2/3).
HAND_SCORES = [0.9, 0.8, 0.3, 0.5, 0.1]
HAND_SAME = [1, 1, 1, 0, 0]


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
    curve = roc(scores, same)
    assert tar_of(curve, 0.5) == 0.75  # threshold 19.5 accepts 20 impostors and 3 genuine pairs
    assert tar_of(curve, 0.49) == 0.5  # FAR 20/40 would exceed it: threshold 20.5, no interpolation
    assert math.isnan(tar_at_far(scores, same, 0.5))  # but 40 impostors cannot promise 30 false accepts at FAR 0.5


def test_tar_at_far_follows_the_rule_of_30() -> None:
    assert (min_units(1e-2), min_units(1e-3), min_units(1e-4)) == (3_000, 30_000, 300_000)
    rng = np.random.default_rng(2)
    for n_impostor, estimable in ((29_999, False), (30_000, True)):
        same = np.arange(n_impostor + 50) < 50
        scores = same + rng.normal(size=same.size)
        assert math.isnan(tar_at_far(scores, same, 1e-3)) != estimable


def test_roc_is_sklearns_and_weights_count_pairs() -> None:
    rng = np.random.default_rng(8)
    same = rng.random(3000) < 0.1
    scores = np.round(same + rng.normal(size=3000), 2).astype(np.float32)  # ties, float32 as scores.parquet stores them
    ours, theirs = roc(scores, same), roc_curve(same, scores, drop_intermediate=False)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    weights = rng.integers(0, 4, same.size)
    repeated = np.repeat(np.arange(same.size), weights)  # a resample that draws pair k weights[k] times
    weighted, copied = RankedScores(scores, same).roc(weights), roc(scores[repeated], same[repeated])
    for statistic in (auc_of, eer_of, lambda curve: tar_of(curve, 0.01), lambda curve: fnmr_of(curve, 0.5)):
        assert statistic(weighted) == pytest.approx(statistic(copied), abs=1e-12)


def test_rates_at_a_threshold_count_score_at_or_above_as_accepted() -> None:
    curve = roc(HAND_SCORES, HAND_SAME)  # genuine 0.9 0.8 0.3, impostor 0.5 0.1
    assert (fmr_of(curve, 0.5), fnmr_of(curve, 0.5)) == (0.5, pytest.approx(1 / 3))
    assert (fmr_of(curve, 0.51), fnmr_of(curve, 0.51)) == (0.0, pytest.approx(1 / 3))
    assert (fmr_of(curve, 2.0), fnmr_of(curve, 2.0)) == (0.0, 1.0) and (fmr_of(curve, -1.0), fnmr_of(curve, -1.0)) == (1.0, 0.0)


def test_threshold_at_fmr_meets_its_target_on_the_pairs_it_was_set_on() -> None:
    rng = np.random.default_rng(9)
    for n_impostor in (9_999, 30_000, 123_457):
        same = np.arange(n_impostor + 500) < 500
        scores = (2 * same + rng.normal(size=same.size)).astype(np.float32)
        threshold = threshold_at_fmr(scores, same, 1e-3)
        false_matches = int((scores[~same] >= threshold).sum())
        allowed = math.floor(1e-3 * n_impostor)
        # At most the target, and within the binomial 95% interval of it: ties aside, exactly floor(target x impostors).
        assert false_matches <= allowed and false_matches >= allowed - 1.96 * math.sqrt(allowed) and false_matches == allowed
        assert np.float32(threshold) == threshold  # in the scores' own precision: comparisons on reloaded float32 scores agree
    assert threshold_at_fmr([0.9, 0.5, 0.5, 0.1], [1, 0, 0, 0], 0.5) == pytest.approx(0.5, abs=1e-6)  # a tie at the edge is rejected together


def test_kfold_thresholds_come_from_training_folds_only() -> None:
    # Fold 0 alone would pick 0.25 and be perfect; fold 1 puts the threshold at 0.55, which rejects its genuine 0.3.
    scores = [0.3, 0.9, 0.1, 0.2, 0.6, 0.7, 0.4, 0.5]
    same = [1, 1, 0, 0, 1, 1, 0, 0]
    result = kfold_accuracy(scores, same, folds=[0, 0, 0, 0, 1, 1, 1, 1])
    assert result.thresholds == pytest.approx([0.55, 0.25])
    assert result.accuracies == pytest.approx([0.75, 0.5])
    assert result.mean == pytest.approx(0.625) and result.std == pytest.approx(np.std([0.75, 0.5], ddof=1))


def test_person_folds_keep_held_out_people_out_of_the_threshold() -> None:
    rng = np.random.default_rng(3)
    n_people, n = 50, 6000
    person_a = rng.integers(0, n_people, n)
    same = rng.random(n) < 0.2
    person_b = np.where(same, person_a, (person_a + rng.integers(1, n_people, n)) % n_people)
    scores = 3 * same + rng.normal(size=n)
    result = person_kfold_accuracy(scores, same, person_a, person_b, n_folds=5, seed=7)
    assert len(result.accuracies) == 5 and result == person_kfold_accuracy(scores, same, person_a, person_b, n_folds=5, seed=7)
    assert result.mean == pytest.approx(norm.cdf(1.5), abs=0.03)  # balanced accuracy: the threshold sits midway between the means


def test_algorithm_and_system_levels_by_hand() -> None:
    """Four genuine pairs (two failed to acquire), three impostor pairs (one failed), threshold 0.5, worked by hand:
    FMR = FAR = 1/2 (the failed impostor pair left out, not a free correct rejection), FNMR = 1/2 over the two acquired
    genuine pairs, FRR = 3/4 with the two failures counted as rejections."""
    values = np.array([0.9, 0.4, FAILED_SCORE, FAILED_SCORE, 0.8, 0.1, FAILED_SCORE])
    same = np.array([True, True, True, True, False, False, False])
    a = np.array(["p1", "p2", "p3", "p4", "p1", "p2", "p3"])
    b = np.array(["p1", "p2", "p3", "p4", "p2", "p3", "p4"])
    assert system_pairs(values, same).tolist() == [True] * 6 + [False]
    report = condition_report(values, same, People.of(same, a, b), Thresholds.fixed(0.5, 10), 0.5, seed=0)
    operating = report["operating"]
    assert operating["fmr"]["value"] == 0.5 and (operating["fmr"]["false_matches"], operating["fmr"]["impostor_pairs"]) == (1, 2)
    assert operating["fnmr"]["value"] == 0.5 and (operating["fnmr"]["false_non_matches"], operating["fnmr"]["genuine_pairs"]) == (1, 2)
    assert operating["frr"]["value"] == 0.75 and (operating["frr"]["false_rejections"], operating["frr"]["genuine_pairs"]) == (3, 4)
    assert report["impostor_pairs_left_out"] == 1 and report["n_impostor"] == 2 and report["n_genuine"] == 4
    # The rule of 30 in people: 2 pairs of people (p1-p2, p2-p3) behind FMR, 4 people behind FNMR and FRR; none supports 30 errors.
    assert (report["people_pairs"], report["genuine_people"]) == (2, 4)
    assert not any(operating[key]["estimable"] for key in ("fmr", "fnmr", "frr"))
    curve = roc(values[:6], same[:6])
    assert fnmr_acquired_of(curve, 0.5) == 0.5 and fnmr_of(curve, 0.5) == 0.75 and fmr_of(curve, 0.5) == 0.5
