"""Choosing notebook 03's best epoch from the val history by the declared statistic, and saying so when the val split cannot tell epochs apart."""

from __future__ import annotations

import pytest

from helpers.data.degrade import Degradation
from helpers.evaluation.statistics import AUC, EER, TAR_1E2, TAR_1E3
from helpers.training.config import TrainConfig
from helpers.training.data import Selection, named_condition
from helpers.training.validation import best_epoch, selection_note, stop_early

PX16 = Degradation("px16", resolution=16)
LQ_BOTH = named_condition("px16-px16", [PX16])


def history(*values: float | None) -> list[dict]:
    return [{"epoch": epoch, "val_select": value} for epoch, value in enumerate(values)]


def test_the_best_epoch_is_the_best_val_select_and_ties_go_to_the_earliest() -> None:
    assert best_epoch(history(0.7, 0.9, 0.8), AUC) == 1
    assert best_epoch(history(0.7, 0.9, 0.9), AUC) == 1
    assert best_epoch(history(None, 0.6), AUC) == 1  # an undefined value never wins
    assert best_epoch(history(float("nan"), 0.6), AUC) == 1
    assert stop_early(history(0.7, 0.9, 0.8, 0.85), AUC, patience=2) and not stop_early(history(0.7, 0.9, 0.8), AUC, patience=2)


def test_a_lower_is_better_statistic_picks_the_lowest_value() -> None:
    assert best_epoch(history(0.30, 0.10, 0.20), EER) == 1
    assert best_epoch(history(None, 0.40, 0.10), EER) == 2  # undefined still never wins
    assert stop_early(history(0.3, 0.1, 0.2, 0.25), EER, patience=2)


def test_the_selection_statistic_stands_in_when_val_has_too_few_pairs_of_people() -> None:
    assert Selection.of(LQ_BOTH, "tar@1e-3", 30_000).statistic is TAR_1E3
    few = Selection.of(LQ_BOTH, "tar@1e-3", 3_000)
    assert few.statistic is TAR_1E2 and few.stands_in
    assert few.to_json() == {"condition": "px16-px16", "statistic": "tar@1e-2", "requested": "tar@1e-3", "val_people_pairs": 3000}
    last_resort = Selection.of(LQ_BOTH, "tar@1e-3", 375)
    assert last_resort.statistic is AUC and "AUC at px16-px16 (standing in for TAR@FAR=1e-3" in last_resort.describe()


def test_a_saturated_val_metric_is_reported_with_the_epoch_kept() -> None:
    selection = Selection.of(LQ_BOTH, "auc", 375)
    assert selection_note(history(0.7, 0.9, 0.8), selection) is None
    note = selection_note(history(1.0, 1.0, 1.0), selection)
    assert note is not None and note.startswith("val AUC at px16-px16 is 1.0000 (saturated) in epochs [0, 1, 2]")
    assert "epoch 0, was kept" in note
    eer_note = selection_note(history(0.2, 0.0, 0.0), Selection.of(LQ_BOTH, "eer", 375))
    assert eer_note is not None and eer_note.startswith("val EER at px16-px16 is 0.0000 (saturated) in epochs [1, 2]")
    undefined = selection_note(history(None, None), selection)
    assert undefined is not None and "undefined in every epoch" in undefined and "epoch 0 was kept" in undefined


def test_a_bad_val_condition_or_select_statistic_is_refused_with_the_valid_ones() -> None:
    assert named_condition("HQ-px16", [PX16]).level_b == PX16
    with pytest.raises(ValueError, match=r"'px24-px24'.*valid: \['HQ-HQ', 'HQ-px16', 'px16-px16', 'e2e:HQ-px16', 'e2e:px16-px16'\]"):
        named_condition("px24-px24", [PX16])
    with pytest.raises(ValueError, match="select_statistic must be one of"):
        TrainConfig(processed_dir="p", run_dir="r", select_statistic="accuracy")
    with pytest.raises(ValueError, match="val_max_impostors must be >= 1"):
        TrainConfig(processed_dir="p", run_dir="r", val_max_impostors=0)
