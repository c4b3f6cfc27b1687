"""Notebook 03 under papermill with tiny parameters: the pack arm with LQ training and distillation."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from helpers.evaluation.scores import PAIR_COLUMNS
from tests.notebooks.conftest import PRIMARY_CONDITION, PRIMARY_STATISTIC, run_notebook

OUTPUTS = (
    "history.csv",
    "metrics.json",
    "scores.parquet",
    "model.onnx",
    "best.safetensors",
    "checkpoints/state.json",
    "training_curves.png",
    "roc_hq_vs_lq.png",
    "det_hq_vs_lq.png",
    "auc_vs_resolution.png",
    "fmr_vs_resolution.png",
    "difference_auc.png",
    "difference_fnmr.png",
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
        head_lr=0.1,
        primary_condition=PRIMARY_CONDITION,  # selects the best epoch on val, on faces found end to end (the endpoint notebook 02 locked)
        primary_statistic=PRIMARY_STATISTIC,
        train_options={"lq_families": ["resolution", "blur", "noise"]},  # JPEG held out
        n_boot=50,  # the pair settings come from the baseline
    )
    return {
        "step": step,
        "metrics": json.loads((step / "metrics.json").read_text()),
        "scores": pd.read_parquet(step / "scores.parquet"),
        "baseline": nb02_run["scores"],
        "baseline_metrics": nb02_run["metrics"],
    }


def test_every_output_is_written(nb03_run: dict) -> None:
    for name in OUTPUTS:
        assert (nb03_run["step"] / name).stat().st_size > 0, name
    history = pd.read_csv(nb03_run["step"] / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2] and history["loss"].iloc[1:].notna().all()
    assert nb03_run["metrics"]["model"]["label"] == "SFace, fine-tuned for low quality"  # trained from the baseline's own recogniser


def test_scores_use_notebook_02s_pairs_and_format(nb03_run: dict) -> None:
    scores, baseline = nb03_run["scores"], nb03_run["baseline"]
    settings = nb03_run["metrics"]["protocol"]["pairs"]
    assert settings == nb03_run["baseline_metrics"]["protocol"]["pairs"] and settings["operating_fmr"] == 0.01
    config = nb03_run["metrics"]["training"]["config"]
    assert (config["val_max_impostors"], config["val_genuine_per_identity"], config["val_pair_seed"]) == (
        settings["max_impostors"],
        settings["genuine_per_identity"],
        settings["seed"],
    )
    assert nb03_run["metrics"]["training"]["selected_on"]["condition"] == "e2e:HQ-px16"
    assert list(scores.columns) == list(baseline.columns)
    assert scores[PAIR_COLUMNS].equals(baseline[PAIR_COLUMNS])  # identical pairs, in the same order


def test_metrics_record_the_model_and_training_and_differences_the_comparison(nb03_run: dict) -> None:
    metrics = nb03_run["metrics"]
    assert metrics["model"]["export_max_error"] < 1e-4
    assert metrics["training"]["initialisation"]["backbone"] == "pack"
    assert metrics["training"]["config"]["distill_weight"] == 1.0
    for name, entry in metrics["conditions"].items():
        assert math.isfinite(entry["auc"]["value"]) and 0.5 <= entry["auc"]["value"] <= 1.0, name
    rows = pd.read_csv(nb03_run["step"] / "differences.csv")
    assert set(rows["condition"]) == set(metrics["conditions"])
    assert (rows["pairs"] == len(nb03_run["scores"])).all()
    auc = rows[rows["statistic"] == "auc"]
    assert ((auc["low"] <= auc["diff"]) & (auc["diff"] <= auc["high"])).all()
    training = auc.set_index("condition")["training"].fillna("")
    assert training["HQ-HQ"] == "" and training["HQ-px16"] == "seen"
    assert training["e2e:px32-px32"] == "unseen"  # end-to-end misalignment: a family training on aligned crops never draws
    assert training["HQ-jpeg10"] == training["e2e:HQ-jpeg50"] == "unseen"  # JPEG was held out of training
