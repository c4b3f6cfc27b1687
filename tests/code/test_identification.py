"""Identification: gallery search, open-set thresholds, closed-set classifiers and their storage, on hand-worked and synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.identification import closedset, openset, storage
from helpers.identification.intervals import person_rate
from helpers.identification.report import headline_view
from helpers.identification.search import NO_FACE_SCORE, Gallery, cmc, search, true_ranks


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def hand_gallery() -> Gallery:
    """Three people on the axes of 3-D space; bob has two images, one of them off-axis."""
    vectors = [[1, 0, 0], [0, 1, 0], unit(np.array([0.6, 0.8, 0.0])), [0, 0, 1]]
    return Gallery.of(vectors, ["ann", "bob", "bob", "cat"])


def test_search_takes_each_persons_best_image_and_ranks_people() -> None:
    probes = unit(np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 1.0]]))
    found = search(hand_gallery(), probes, top_k=2)
    assert found.people.tolist() == [["ann", "bob"], ["cat", "bob"]]
    assert found.scores[0, 1] == pytest.approx(probes[0] @ unit(np.array([0.6, 0.8, 0.0])), abs=1e-6)  # bob's best image


def test_true_ranks_and_cmc_on_a_hand_worked_example() -> None:
    probes = unit(np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0], [0.1, 0.1, 1.0], [0.0, 0.0, 1.0]]))
    ranks = true_ranks(hand_gallery(), probes, ["ann", "bob", "ann", "cat"], acquired=[True, True, True, False])
    # probe 2 (bob): ann 0.994, bob 0.781; probe 3 (ann): cat 0.990, bob 0.139 (his off-axis image), ann 0.099
    assert ranks.tolist() == [1, 2, 3, np.inf]
    curve = cmc(ranks, 3)
    assert curve.tolist() == [0.25, 0.5, 0.75]
    assert np.all(np.diff(curve) >= 0)


def test_ties_rank_pessimistically_and_unknown_labels_are_refused() -> None:
    gallery = Gallery.of([[1.0, 0.0], [1.0, 0.0]], ["a", "b"])
    assert true_ranks(gallery, [[1.0, 0.0]], ["a"]).tolist() == [2]
    with pytest.raises(ValueError, match="not in the gallery"):
        true_ranks(gallery, [[1.0, 0.0]], ["zed"])


def test_a_probe_without_a_face_is_never_accepted() -> None:
    found = search(hand_gallery(), [[1.0, 0.0, 0.0]], acquired=[False], top_k=1)
    assert found.scores[0, 0] == NO_FACE_SCORE


def test_cmc_is_monotone_on_random_searches() -> None:
    rng = np.random.default_rng(3)
    gallery = Gallery.of(unit(rng.normal(size=(200, 16))), np.arange(200) % 50)
    labels = rng.integers(0, 50, 300)
    probes = unit(gallery.vectors[np.searchsorted(gallery.people, labels) * 4] + rng.normal(size=(300, 16)))
    curve = cmc(true_ranks(gallery, probes, labels), 50)
    assert np.all(np.diff(curve) >= 0) and curve[-1] == 1.0


def test_threshold_at_fpir_admits_at_most_the_target_share() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    threshold = openset.threshold_at_fpir(scores, 0.2)
    assert openset.fpir(scores, threshold) == 0.2 and 0.7 < threshold <= 0.7 + 1e-12  # just above the third-best score
    assert openset.fpir(scores, openset.threshold_at_fpir(scores, 0.01)) == 0.0


def test_a_threshold_set_on_val_people_gives_the_target_fpir_on_test_people() -> None:
    rng = np.random.default_rng(0)
    gallery = Gallery.of(unit(rng.normal(size=(300, 64))), np.arange(300))
    unknown = lambda n: openset.Probes(unit(rng.normal(size=(n, 64))), np.arange(n), np.ones(n, dtype=bool))
    threshold = openset.threshold_at_fpir(openset.best_scores(gallery, unknown(20_000)), 1e-2)
    measured = openset.fpir(openset.best_scores(gallery, unknown(20_000)), threshold)
    assert 0.5e-2 <= measured <= 2e-2  # within a factor of two; the binomial spread alone is about 0.07e-2


def test_person_weights_count_each_val_person_once() -> None:
    weights = openset.calibration_weights(["a", "a", "a", "a", "b", "c", "c"], "person")
    np.testing.assert_allclose(weights, [0.25, 0.25, 0.25, 0.25, 1.0, 0.5, 0.5])
    assert openset.calibration_weights(["a", "a", "b"], "image").tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="calibration_weights"):
        openset.calibration_weights(["a"], "subject")


def test_a_weighted_threshold_on_a_hand_worked_example() -> None:
    # ann's four probes weigh 1/4 each, bob's one probe 1; a 2-person budget at FPIR 0.5 admits ann's top three and
    # not bob: 3/4 of a person, where the next score (bob's) would make it 7/4
    scores, people = [0.9, 0.8, 0.7, 0.6, 0.5], ["ann", "ann", "ann", "bob", "ann"]
    threshold = openset.threshold_at_fpir(scores, 0.5, openset.calibration_weights(people, "person"))
    assert 0.6 < threshold <= 0.6 + 1e-12
    assert openset.threshold_at_fpir(scores, 0.5) == openset.threshold_at_fpir(scores, 0.5, np.ones(5))  # two of five either way
    assert openset.threshold_at_fpir([0.3, 0.7, 0.7, 0.2], 0.25) == np.nextafter(0.7, 1)  # tied scores pass or fail together


def test_counting_each_val_person_once_stops_one_person_setting_the_threshold() -> None:
    """LFW's case: one val person with thousands of images resembles an enrolled relative and would set the threshold alone."""
    rng = np.random.default_rng(0)
    relative = unit(rng.normal(size=64))
    gallery = Gallery.of(np.vstack([unit(rng.normal(size=(300, 64))), relative]), np.arange(301))
    ordinary, lookalike = unit(rng.normal(size=(5000, 64))), unit(relative + rng.normal(size=(2000, 64)) / 16)  # cosine ~0.9
    val = np.vstack([ordinary, lookalike])
    val_people = np.concatenate([np.arange(5000) // 5, np.full(2000, -1)])  # 1,000 people with 5 images, one with 2,000
    val_scores = openset.best_scores(gallery, openset.Probes(val, val_people, np.ones(len(val), dtype=bool)))
    test = unit(rng.normal(size=(5000, 64)))
    test_scores = openset.best_scores(gallery, openset.Probes(test, np.arange(5000) // 5, np.ones(len(test), dtype=bool)))

    def test_fpir(weights: str) -> float:
        return openset.fpir(test_scores, openset.threshold_at_fpir(val_scores, 0.05, openset.calibration_weights(val_people, weights)))

    assert test_fpir("image") == 0.0  # every allowed val false alarm is the lookalike's
    assert 0.05 / 2 <= test_fpir("person") <= 0.05 * 2  # within a factor of two of the target


def test_dir_counts_only_probes_identified_first_and_accepted() -> None:
    gallery = hand_gallery()
    known = openset.Probes(unit(np.array([[1.0, 0.05, 0.0], [0.0, 0.05, 1.0], [0.9, 0.1, 0.0]])), np.array(["ann", "cat", "bob"]), np.array([True, True, True]))
    nobody = openset.Probes(unit(np.array([[0.5, 0.5, 0.5]])), np.array(["dan"]), np.array([True]))
    searched = openset.run_search(gallery, known, nobody)
    assert openset.dir_at(searched, 0.99).tolist() == [True, True, False]  # bob ranks second for his probe
    curve = openset.dir_fpir_curve(searched)
    assert curve["fpir"].is_monotonic_increasing and curve["dir"].is_monotonic_increasing


def test_enrolment_is_seeded_and_keeps_every_enrolled_person_a_probe() -> None:
    images = pd.DataFrame({"identity": np.repeat([f"p{i}" for i in range(40)], 3), "sha256": [f"s{i}" for i in range(120)]})
    roles = openset.enrol(images, 0.5, 2, seed=1)
    assert roles.equals(openset.enrol(images, 0.5, 2, seed=1))
    enrolled = roles[roles["role"] != openset.UNKNOWN].groupby("identity")["role"].value_counts().unstack()
    assert (enrolled[openset.GALLERY] == 2).all() and (enrolled[openset.KNOWN] == 1).all()
    assert enrolled.shape[0] == 20  # half of 40 people, exactly
    few = images[images["identity"].isin(["p0", "p1", "p2"])]
    for seed in range(20):  # a split of three people still gives gallery, known and unknown probes
        assert set(openset.enrol(few, 0.5, 1, seed)["role"]) == {openset.GALLERY, openset.KNOWN, openset.UNKNOWN}


def synthetic(seed: int = 0, people: int = 30, shots: int = 6, dim: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered HQ embeddings, and LQ ones: the same points through a fixed distortion of the space plus more noise."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(people, dim)))
    labels = np.repeat(np.arange(people), shots).astype(str)
    hq = unit(centres[np.repeat(np.arange(people), shots)] + 0.12 * rng.normal(size=(people * shots, dim)))
    lq = unit(hq + hq @ (0.35 * rng.normal(size=(dim, dim))) + 0.25 * rng.normal(size=hq.shape))
    return hq, lq, labels


@pytest.mark.parametrize("name", list(closedset.CLASSIFIERS))
def test_training_on_mixed_quality_beats_hq_only_on_degraded_probes(name: str) -> None:
    hq, lq, labels = synthetic()
    train = np.tile(np.arange(6) < 3, 30)
    sources = np.arange(len(labels))
    classifier, everyone = closedset.CLASSIFIERS[name], np.ones((~train).sum(), dtype=bool)
    only_hq, _ = closedset.fit_classifier(classifier, hq[train], labels[train], sources[train], seed=0)
    x = np.concatenate([hq[train], lq[train]])
    mixed, _ = closedset.fit_classifier(classifier, x, np.tile(labels[train], 2), np.tile(sources[train], 2), seed=0)
    people = np.unique(labels)
    accuracy = {
        regime: closedset.scores(labels[~train], closedset.predict(model, lq[~train], everyone), people)["accuracy"]
        for regime, model in (("hq", only_hq), ("mixed", mixed))
    }
    assert accuracy["mixed"] > accuracy["hq"] + 0.15
    assert closedset.scores(labels[~train], closedset.predict(only_hq, hq[~train], everyone), people)["accuracy"] > 0.9


def test_a_probe_without_a_face_is_a_wrong_answer_and_has_its_own_confusion_column() -> None:
    truth = np.array(["a", "a", "b", "b"])
    predicted = closedset.predict(
        closedset.CosineCentroids().fit([[1.0, 0.0], [0.0, 1.0]], ["a", "b"]),
        np.array([[1.0, 0], [0, 1.0], [0, 1.0], [1.0, 0]]),
        np.array([True, True, False, True]),
    )
    assert predicted.tolist() == ["a", "b", closedset.NO_FACE, "a"]
    assert closedset.scores(truth, predicted, ["a", "b"])["accuracy"] == 0.25
    matrix = closedset.confusion(truth, predicted, ["a", "b"])
    assert matrix.loc["b", closedset.NO_FACE] == 0.5 and matrix.loc["a", "b"] == 0.5
    assert closedset.top_confusions(truth, predicted, 5)["count"].tolist() == [1, 1, 1]


def test_split_by_image_holds_out_images_of_every_kept_person() -> None:
    images = pd.DataFrame({"identity": ["a"] * 5 + ["b"] * 4 + ["c"] * 2, "sha256": [f"s{i}" for i in range(11)]})
    split = closedset.split_by_image(images, 4, 0.5, seed=0)
    assert set(split["identity"]) == {"a", "b"}
    assert split.groupby("identity")["role"].value_counts().unstack().loc[:, closedset.EVAL].tolist() == [2, 2]
    with pytest.raises(ValueError, match="min_images"):
        closedset.split_by_image(images, 6, 0.5, seed=0)


def test_classifiers_round_trip_through_skops_and_refuse_a_changed_file(tmp_path: Path) -> None:
    hq, _, labels = synthetic(people=5, shots=4)
    model = closedset.CosineCentroids().fit(hq, labels)
    digest = storage.save_classifier(model, tmp_path / "model.skops")
    assert (storage.load_classifier(tmp_path / "model.skops", digest).predict(hq) == model.predict(hq)).all()
    with pytest.raises(ValueError, match="not the recorded"):
        storage.load_classifier(tmp_path / "model.skops", "0" * 64)


def test_person_rate_resamples_people_not_images() -> None:
    hits, people = np.array([1, 1, 1, 1, 0]), np.array(["a", "a", "a", "a", "b"])
    rate = person_rate(hits, people, 500, seed=0)
    assert rate["value"] == 0.8 and rate["people"] == 2 and rate["resampled"] == "people"
    assert rate["ci_low"] == 0.0 and rate["ci_high"] == 1.0  # drawing b twice gives 0, a twice gives 1


def test_headline_view_is_the_probe_side_of_the_condition() -> None:
    assert [headline_view(c) for c in ("e2e:HQ-real24", "px16-px16", "HQ-HQ", "HQ-blur2")] == ["e2e:real24", "px16", "HQ", "blur2"]
