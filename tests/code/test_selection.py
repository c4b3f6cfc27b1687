"""Choosing notebook 03's best epoch from the val history, and saying so when the val split cannot tell epochs apart."""

from __future__ import annotations

from helpers.training.validation import best_epoch, selection_note, stop_early


def history(*values: float | None) -> list[dict]:
    return [{"epoch": epoch, "val_auc_lq": value} for epoch, value in enumerate(values)]


def test_the_best_epoch_is_the_highest_val_auc_and_ties_go_to_the_earliest() -> None:
    assert best_epoch(history(0.7, 0.9, 0.8)) == 1
    assert best_epoch(history(0.7, 0.9, 0.9)) == 1
    assert best_epoch(history(None, 0.6)) == 1  # an undefined AUC never wins
    assert stop_early(history(0.7, 0.9, 0.8, 0.85), patience=2) and not stop_early(history(0.7, 0.9, 0.8), patience=2)


def test_a_saturated_val_metric_is_reported_with_the_epoch_kept() -> None:
    assert selection_note(history(0.7, 0.9, 0.8)) is None
    note = selection_note(history(1.0, 1.0, 1.0))
    assert note is not None and note.startswith("val AUC at the LQ level is 1.0000 (saturated) in epochs [0, 1, 2]")
    assert "epoch 0, was kept" in note
