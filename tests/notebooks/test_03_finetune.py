"""Notebook 03 under papermill with tiny parameters: the pack arm with LQ training and distillation."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from helpers.evaluation.scores import SCORE_COLUMNS
from tests.notebooks.conftest import run_notebook

OUTPUTS = (
    "history.csv",
    "metrics.json",
    "scores.csv",
    "model.onnx",
    "best.safetensors",
    "checkpoints/state.json",
    "training_curves.png",
    "roc_hq_vs_lq.png",
    "auc_vs_resolution.png",
    "difference_auc.png",
    "difference_tar_at_1e-3.png",
    "differences.csv",
    "train_config.json",
)


@pytest.fixture(scope="module")
def nb03_run(nb01_run: dict, nb02_run: dict) -> dict:
    step = nb01_run["run"] / "03_finetune"
    run_notebook(
        "03_finetune.ipynb",
        nb01_run["run"] / "03.ipynb",
        processed_dir=str(nb01_run["processed"]),
        run_dir=str(step),
        baseline_dir=str(nb02_run["step"]),
        backbone="pack",
        pack="offline",
        distill_weight=1.0,
        lq_prob=0.8,
        epochs=2,
        batch_size=8,
        lr=0.001,
        val_level="px16",
        n_boot=50,  # the pairs (n_impostor, n_impostor_val, pair seed) come from the baseline
    )
    return {
        "step": step,
        "metrics": json.loads((step / "metrics.json").read_text()),
        "scores": pd.read_csv(step / "scores.csv"),
        "baseline": nb02_run["scores"],
        "baseline_metrics": nb02_run["metrics"],
    }


def test_every_output_is_written(nb03_run: dict) -> None:
    for name in OUTPUTS:
        assert (nb03_run["step"] / name).stat().st_size > 0, name
    history = pd.read_csv(nb03_run["step"] / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2] and history["loss"].iloc[1:].notna().all()


def test_scores_use_notebook_02s_pairs_and_format(nb03_run: dict) -> None:
    scores, baseline = nb03_run["scores"], nb03_run["baseline"]
    pair_keys = ("n_impostor", "n_impostor_val", "seed")
    assert [nb03_run["metrics"]["protocol"][k] for k in pair_keys] == [nb03_run["baseline_metrics"]["protocol"][k] for k in pair_keys] == [2000, 500, 0]
    assert nb03_run["metrics"]["training"]["config"]["val_impostors"] == 500
    assert list(scores.columns) == SCORE_COLUMNS
    key = ["condition", "path_a", "path_b", "same"]
    assert scores[key].sort_values(key).reset_index(drop=True).equals(baseline[key].sort_values(key).reset_index(drop=True))


def test_metrics_record_the_model_and_training_and_differences_the_comparison(nb03_run: dict) -> None:
    metrics = nb03_run["metrics"]
    assert metrics["model"]["export_max_error"] < 1e-4
    assert metrics["training"]["initialisation"]["backbone"] == "pack"
    assert metrics["training"]["config"]["distill_weight"] == 1.0
    for name, entry in metrics["conditions"].items():
        assert math.isfinite(entry["auc"]["value"]) and 0.5 <= entry["auc"]["value"] <= 1.0, name
    rows = pd.read_csv(nb03_run["step"] / "differences.csv")
    assert set(rows["condition"]) == set(metrics["conditions"])
    assert (rows["pairs"] == nb03_run["scores"].groupby("condition").size()[rows["condition"]].to_numpy()).all()
    auc = rows[rows["statistic"] == "auc"]
    assert ((auc["low"] <= auc["diff"]) & (auc["diff"] <= auc["high"])).all()
