"""The two-way identity bootstrap: hand-worked weights, coverage under crossed person effects, null p-values, Holm."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.evaluation.bootstrap import People, Thresholds, holm, interval, null_p, resample, resample_paired
from helpers.evaluation.metrics import RankedScores
from helpers.evaluation.simulation import THRESHOLD, crossed_scores, measure, true_values


def fixed(n_boot: int) -> tuple[Thresholds, Thresholds]:
    return (Thresholds.fixed(THRESHOLD, n_boot),) * 2


def test_weights_count_each_person_as_often_as_drawn() -> None:
    # Pairs: Ann-Ann (genuine), Ann-Bob, Bob-Cid (impostors); a resample drew Ann twice, Bob once, Cid three times.
    people = People.of([1, 0, 0], ["ann", "ann", "bob"], ["ann", "bob", "cid"])
    assert list(people.weights(np.array([2, 1, 3]))) == [2, 2 * 1, 1 * 3]
    assert list(people.weights(np.array([0, 1, 3]))) == [0, 0, 3]
    with pytest.raises(ValueError, match="identity_a equals identity_b"):
        People.of([1, 0], ["ann", "ann"], ["ann", "ann"])


def test_two_way_intervals_cover_the_true_value_under_crossed_person_effects() -> None:
    rng = np.random.default_rng(0)
    truth = true_values()
    covered = []
    for replicate in range(100):  # 120 people: with a few dozen the intervals are still ~10% too narrow (docs/protocol.md)
        scores, same, people = crossed_scores(rng, 120, 2, 6000)
        resampled = resample(RankedScores(scores, same), people, measure, Thresholds.fixed(THRESHOLD, 150), seed=replicate)
        covered.append([interval(resampled[:, k])[0] <= value <= interval(resampled[:, k])[1] for k, value in enumerate(truth.values())])
    coverage = dict(zip(truth, np.mean(covered, axis=0)))
    assert coverage["fmr"] >= 0.9 and coverage["auc"] >= 0.9, coverage  # measured 0.97 and 0.93; longer runs: benchmarks/bootstrap_coverage.py


def test_null_p_values_of_two_exchangeable_models_are_near_uniform() -> None:
    rng = np.random.default_rng(1)
    p_values = []
    for replicate in range(80):
        scores, same, people = crossed_scores(rng, 24, 3, 10**9)
        first, second = (RankedScores(scores + rng.normal(0, 0.3, scores.size), same) for _ in range(2))
        observed = measure(second.roc()) - measure(first.roc())
        p_values.append(null_p(resample_paired(first, second, people, (measure, measure), fixed(100), seed=replicate), observed))
    p = np.array(p_values)
    assert np.all((p > 0) & (p <= 1))
    assert (p < 0.05).mean() <= 0.125 and 0.35 <= p.mean() <= 0.65  # uniform: 5% below 0.05, mean 0.5


def test_identical_models_differ_by_zero_with_p_one() -> None:
    scores, same, people = crossed_scores(np.random.default_rng(2), 30, 3, 10**9)
    ranked = RankedScores(scores, same)
    resampled = resample_paired(ranked, ranked, people, (measure, measure), fixed(50), seed=0)
    assert not resampled.any() and list(null_p(resampled, np.zeros(2))) == [1.0, 1.0]


def test_holm_by_hand() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 (NaN is no test): x4 = 0.02, x3 = 0.03, x2 = 0.06, x1 = 0.04 -> kept monotone at 0.06.
    adjusted = holm([0.01, 0.04, 0.03, np.nan, 0.005])
    assert np.allclose(adjusted[[0, 1, 2, 4]], [0.03, 0.06, 0.06, 0.02]) and np.isnan(adjusted[3])
    assert list(holm([0.5, 0.9])) == [1.0, 1.0]
