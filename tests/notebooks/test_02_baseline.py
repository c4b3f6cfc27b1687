"""Notebook 02 under papermill with tiny parameters, on notebook 01's LFW subset output."""

from __future__ import annotations

import math

from helpers.evaluation.scores import SCORE_COLUMNS


def test_outputs_exist(nb02_run: dict) -> None:
    for name in (
        "scores.csv",
        "metrics.json",
        "roc_hq_vs_lq.png",
        "roc_lq_vs_lq.png",
        "score_histograms.png",
        "auc_vs_resolution.png",
        "tar_vs_resolution.png",
    ):
        assert (nb02_run["step"] / name).stat().st_size > 0, name


def test_scores_follow_the_protocol(nb02_run: dict) -> None:
    scores = nb02_run["scores"]
    assert list(scores.columns) == SCORE_COLUMNS
    assert set(scores["condition"]) == {"HQ-HQ", "HQ-px32", "px32-px32", "HQ-px16", "px16-px16"}
    assert not (scores["path_a"] == scores["path_b"]).any()
    assert (scores["same"] == (scores["identity_a"] == scores["identity_b"]).astype(int)).all()
    assert scores["score"].between(-1.0001, 1.0001).all()
    per_condition = scores.groupby("condition").size()
    assert per_condition.nunique() == 1  # the same pairs under every condition


def test_metrics_are_finite_in_range_and_hq_beats_16px(nb02_run: dict) -> None:
    conditions = nb02_run["metrics"]["conditions"]
    for name, entry in conditions.items():
        auc = entry["auc"]["value"]
        assert math.isfinite(auc) and 0.5 <= auc <= 1.0, name
        low, high = entry["auc"]["ci"]
        assert low <= auc <= high
        assert 0 <= entry["eer"]["value"] <= 0.5
        assert entry["tar_at_far"]["1e-03"]["estimable"] is False  # 2,000 impostors cannot support FAR 1e-3
        assert "detector_failures" in entry and "accuracy_at_val_threshold" in entry
    assert conditions["HQ-HQ"]["auc"]["value"] > conditions["px16-px16"]["auc"]["value"]
    assert nb02_run["metrics"]["model"]["pack"] == "offline"
