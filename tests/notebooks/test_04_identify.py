"""Notebook 04 under papermill with tiny parameters, on notebook 02's offline-pack run of the small LFW subset."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers.core.files import sha256_file
from helpers.identification import closedset
from helpers.identification import report as identification
from helpers.identification.storage import load_classifier
from helpers.tryit.models import load_model
from tests.notebooks.conftest import PRIMARY_CONDITION, ROOT, run_notebook

VIEWS = ["HQ", *(f"{prefix}{level}" for prefix in ("", "e2e:") for level in ("px32", "px16", "jpeg50", "jpeg20", "jpeg10"))]
SHOWN = ["HQ", "px16", "e2e:px16"]
CLASSIFIERS = ["linear_svm", "rbf_svm", "nearest_mean"]
N_BOOT = 50


@pytest.fixture(scope="module")
def nb04_step(nb02_run: dict, nb01_run: dict) -> Path:
    step = nb01_run["run"] / "04_identify"
    run_notebook(
        "04_identify.ipynb",
        nb01_run["run"] / "05.ipynb",
        processed_dir=str(nb01_run["processed"]),
        model_dir=str(nb02_run["step"]),
        run_dir=str(step),
        min_images=3,  # at most 3 photos a person (notebook 01's default): 2 enrolment images and 1 probe
        target_fpir=0.1,
        primary_condition=PRIMARY_CONDITION,
        n_boot=N_BOOT,
    )
    return step


@pytest.fixture(scope="module")
def report(nb04_step: Path) -> dict:
    return json.loads((nb04_step / "metrics.json").read_text())


@pytest.fixture(scope="module")
def manifest(nb01_run: dict) -> pd.DataFrame:
    table = pd.read_csv(nb01_run["processed"] / "manifest.csv", dtype=str, keep_default_na=False)
    return table[table["status"] == "ok"]


def test_every_output_is_written(nb04_step: Path) -> None:
    figures = [f"accuracy_{name}.png" for name in CLASSIFIERS] + ["cmc.png", "dir_fpir.png", "open_set_by_factor.png"]
    figures += [f"confusion_{regime}_{name}_{view.replace(':', '-')}.png" for regime in ("hq", "mixed") for name in CLASSIFIERS for view in SHOWN]
    tables = [f"{name}.csv" for name in ("closed_set", "per_person", "top_confusions", "open_set", "cmc", "dir_fpir")]
    for name in ["metrics.json", "summary.md", *tables, *figures]:
        assert (nb04_step / name).stat().st_size > 0, name


def test_closed_set_covers_every_regime_classifier_and_view(report: dict, nb04_step: Path) -> None:
    rows = pd.DataFrame(report["closed_set"]["results"])
    assert len(rows) == 2 * len(CLASSIFIERS) * len(VIEWS)
    assert set(zip(rows["regime"], rows["classifier"], rows["view"], strict=True)) == {
        (regime, name, view) for regime in ("hq", "mixed") for name in CLASSIFIERS for view in VIEWS
    }
    assert rows["accuracy"].between(0, 1).all() and (rows["accuracy_ci_low"] <= rows["accuracy"]).all() and (rows["accuracy"] <= rows["accuracy_ci_high"]).all()
    assert rows["probes"].eq(report["closed_set"]["split"]["eval_images"]).all()
    assert rows.loc[~rows["view"].str.startswith("e2e:"), "not_acquired"].eq(0).all()
    chance = 1 / report["closed_set"]["split"]["people"]
    hq = rows[(rows["view"] == "HQ") & (rows["regime"] == "hq")]
    assert (hq["accuracy"] > 2 * chance).all()  # the pack tells a handful of people apart from HQ crops
    assert pd.read_csv(nb04_step / "closed_set.csv").shape[0] == len(rows)


def test_only_test_people_are_identified_and_eval_images_are_held_out(report: dict, nb04_step: Path, manifest: pd.DataFrame) -> None:
    test_people = set(manifest.loc[manifest["split"] == "test", "identity"])
    per_person = pd.read_csv(nb04_step / "per_person.csv", keep_default_na=False)
    assert set(per_person["person"]) <= test_people
    split = report["closed_set"]["split"]
    counts = manifest[manifest["split"] == "test"]["identity"].value_counts()
    assert split["people"] == (counts >= 3).sum() and split["train_images"] + split["eval_images"] == counts[counts >= 3].sum()


def test_classifiers_are_saved_with_their_sha256_and_load_back(report: dict, nb04_step: Path) -> None:
    saved = report["closed_set"]["classifiers"]
    assert sorted(saved) == sorted(f"{regime}/{name}" for regime in ("hq", "mixed") for name in CLASSIFIERS)
    for entry in saved.values():
        path = nb04_step / entry["file"]
        assert path.suffix == ".skops" and sha256_file(path) == entry["sha256"]
        model = load_classifier(path, entry["sha256"])
        assert len(model.classes_) == report["closed_set"]["split"]["people"]
    assert saved["mixed/linear_svm"]["training_samples"] > saved["hq/linear_svm"]["training_samples"]
    with pytest.raises(ValueError, match="sha256"):
        load_classifier(nb04_step / saved["hq/linear_svm"]["file"], "0" * 64)


def test_open_set_rows_cmc_and_threshold(report: dict, nb04_step: Path, manifest: pd.DataFrame) -> None:
    rows = pd.DataFrame(report["open_set"]["results"]).set_index("view")
    assert sorted(rows.index) == sorted(VIEWS) and rows.index[0] == "HQ" and report["open_set"]["target_fpir"] == 0.1
    sizes = report["open_set"]["sizes"]
    val = manifest[manifest["split"] == "val"]
    assert sizes["calibration_probes"] == len(val) and sizes["calibration_people"] == val["identity"].nunique()
    assert report["settings"]["calibration_weights"] == "person"
    assert rows["val_alarm_budget"].to_numpy() == pytest.approx(0.1 * sizes["calibration_people"])  # each val person counts once
    assert sizes["known_probes"] + sizes["unknown_probes"] + sizes["gallery_images"] == (manifest["split"] == "test").sum()
    assert (rows["threshold_fixed"] == rows.loc["HQ", "threshold_matched"]).all()
    calibrated = [view for view in VIEWS if not view.startswith("e2e:") or view == "e2e:px16"]  # val is acquired at the primary's level only
    assert rows.loc[calibrated, "threshold_matched"].notna().all() and (rows.loc[calibrated, "val_probes"] == len(val)).all()
    assert rows.drop(index=calibrated)[["threshold_matched", "dir_matched", "fpir_matched"]].isna().all().all()
    for k_low, k_high in ((1, 5), (5, 10), (10, 20)):
        assert (rows[f"rank{k_low}"] <= rows[f"rank{k_high}"]).all()
    assert (rows["dir_fixed"] <= rows["rank1"] + 1e-12).all()  # identified and accepted is a subset of identified
    cmc = pd.read_csv(nb04_step / "cmc.csv")
    for view, curve in cmc.groupby("view"):
        assert np.all(np.diff(curve["identification_rate"].to_numpy()) >= 0), view
        assert curve["identification_rate"].iloc[0] == pytest.approx(rows.loc[view, "rank1"])


def test_summary_states_the_headline_from_metrics(report: dict, nb04_step: Path) -> None:
    text = (nb04_step / "summary.md").read_text()
    rows = pd.DataFrame(report["closed_set"]["results"])
    hq = rows[(rows["regime"] == "hq") & (rows["classifier"] == "linear_svm") & (rows["view"] == "HQ")].iloc[0]
    assert report["headline_view"] == "e2e:px16" and f"HQ probes: {hq['accuracy']:.3f}" in text
    opened = pd.DataFrame(report["open_set"]["results"]).set_index("view")
    assert f"FPIR on unknown test people {opened.loc['HQ', 'fpir_fixed']:.4f}" in text


def test_the_mixed_regime_trains_on_degraded_copies_of_training_images_only(report: dict) -> None:
    assert set(report["settings"]["mixed_levels"]) == {"px32", "px16", "jpeg50", "jpeg20", "jpeg10"}
    people = report["closed_set"]["split"]["people"]
    copies = report["settings"]["mixed_copies"]
    train = report["closed_set"]["split"]["train_images"]
    assert report["closed_set"]["classifiers"]["mixed/nearest_mean"]["training_samples"] == train * (1 + copies) and people > 1
    assert closedset.MIXED == "mixed"


def test_notebook_04_reads_this_runs_headline(report: dict, nb04_step: Path) -> None:
    (row,) = identification.headline([identification.read_identification(nb04_step)]).to_dict("records")
    closed = pd.DataFrame(report["closed_set"]["results"]).set_index(["regime", "classifier", "view"])["accuracy"]
    opened = pd.DataFrame(report["open_set"]["results"]).set_index("view")
    assert row["accuracy (mixed-trained)"] == closed[("mixed", "linear_svm", "e2e:px16")]
    assert row["rank-1"] == opened.loc["e2e:px16", "rank1"] and row["FPIR HQ"] == opened.loc["HQ", "fpir_fixed"]
    with pytest.raises(FileNotFoundError, match="notebook 04"):
        identification.read_identification(nb04_step / "missing")


def test_notebook_is_committed_clean_with_one_parameters_cell() -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "04_identify.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    (tagged,) = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    names = [target.id for node in ast.parse(tagged.source).body for target in node.targets]
    assert names[:3] == ["processed_dir", "model_dir", "run_dir"] and {"target_fpir", "mixed_copies", "classifiers", "benchmarks", "seed"} <= set(names)


def test_identify_on_the_runs_model_decides_at_this_notebooks_open_set_threshold(nb04_step: Path, nb02_run: dict, report: dict) -> None:
    hq = next(row for row in report["open_set"]["results"] if row["view"] == "HQ")
    model = load_model(str(nb02_run["step"]))
    assert hq["threshold_fixed"] is not None and model.open_set is not None
    assert model.open_set.threshold == hq["threshold_fixed"] and model.open_set.target_fpir == 0.1
    assert model.open_set.gallery_people == report["open_set"]["sizes"]["gallery_people"]
