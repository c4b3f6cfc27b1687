"""Notebook 01 end to end under papermill, on a small LFW subset from the mirror (see conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.data.acquire import ACQUIRED, NO_FACE, NO_REFERENCE, load_acquisition
from helpers.data.manifest import COLUMNS
from tests.notebooks.conftest import PEOPLE, run_notebook


def test_dataset_is_untouched(nb01_run: dict) -> None:
    assert nb01_run["checksums_unchanged"]


def test_manifest_accounts_for_every_file(nb01_run: dict) -> None:
    manifest = pd.read_csv(nb01_run["processed"] / "manifest.csv", dtype=str, keep_default_na=False)
    assert list(manifest.columns) == COLUMNS
    files = [p for p in nb01_run["dataset"].rglob("*") if p.is_file()]
    assert len(manifest) == len(files)
    assert manifest.set_index("path").loc["Tony_Blair/broken.jpg", "status"] == "corrupt"
    assert manifest.set_index("path").loc["Tony_Blair/Thumbs.db", "status"] == "not_image"
    ok = manifest[manifest["status"] == "ok"]
    assert set(ok["split"]) == {"train", "val", "test"} and len(ok) > 60
    assert ok.groupby("identity")["split"].nunique().max() == 1
    assert (ok["crop_method"] == "landmarks").mean() > 0.9
    assert all((nb01_run["processed"] / p).is_file() for p in ok["crop_path"])


def test_lq_levels_and_figures_were_written(nb01_run: dict) -> None:
    processed, run = nb01_run["processed"], nb01_run["run"] / "01_prepare_dataset"
    levels = json.loads((processed / "levels.json").read_text())
    assert set(levels["levels"]) == {"px32", "px16", "jpeg50", "jpeg20", "jpeg10"}
    for spec in levels["levels"].values():
        assert any((processed / spec["folder"]).rglob("*.png"))
    for name in (
        "montage.png",
        "montage_sweeps.png",
        "montage_e2e.png",
        "montage_sweeps_e2e.png",
        "status_counts.png",
        "status_counts.csv",
        "split_summary.csv",
        "prepare_summary.json",
    ):
        assert (run / name).stat().st_size > 0, name
    summary = json.loads((run / "prepare_summary.json").read_text())
    assert summary["files"] == sum(summary["by_status"].values())
    assert "identity-disjoint" in summary["protocol"]
    people = summary["people_per_split"]
    manifest = pd.read_csv(processed / "manifest.csv", dtype=str, keep_default_na=False)
    usable = manifest[manifest["status"] == "ok"]
    assert people == usable.groupby("split")["identity"].nunique().to_dict() and min(people.values()) >= 2
    assert {w.split(" split")[0] for w in summary["warnings"]} == {"the test"}  # 8 test people are few; val has ~29 (conftest.VAL_PEOPLE)
    assert json.loads((processed / "source.json").read_text())["detector"].startswith("detector:")


def test_every_image_is_acquired_end_to_end_or_counted(nb01_run: dict) -> None:
    """One row per (test image, level) and per val image at the primary's level; a crop on disk for every acquisition,
    a reason for every failure."""
    processed = nb01_run["processed"]
    manifest = pd.read_csv(processed / "manifest.csv", dtype=str, keep_default_na=False)
    evaluated = manifest[(manifest["status"] == "ok") & manifest["split"].isin(["val", "test"])]
    table, settings = load_acquisition(processed)
    split_of = table["path"].map(evaluated.set_index("path")["split"])
    assert set(table["path"]) == set(evaluated["path"]) and len(table) == 5 * (evaluated["split"] == "test").sum() + (evaluated["split"] == "val").sum()
    expected = {"test": ["jpeg10", "jpeg20", "jpeg50", "px16", "px32"], "val": ["px16"]}  # val: conftest's primary e2e:HQ-px16 alone
    assert table.groupby(split_of)["level"].agg(lambda levels: sorted(set(levels))).to_dict() == expected
    assert {split: sorted(names) for split, names in settings["splits"].items()} == expected
    assert set(table["status"]) <= {ACQUIRED, NO_FACE, NO_REFERENCE}
    acquired = table[table["status"] == ACQUIRED]
    assert all((processed / path).is_file() for path in acquired["lq_path"]) and (table.loc[table["status"] != ACQUIRED, "lq_path"] == "").all()
    assert settings["policy"] == "fit:640" and settings["input_size"] == 640 and settings["hq_information"].startswith("none")
    assert (table["wrong_face"] == (acquired["iou"].astype(float) < settings["wrong_face_iou"]).reindex(table.index, fill_value=False)).all()
    jpeg50 = table[table["level"] == "jpeg50"]
    assert (jpeg50["status"] == ACQUIRED).mean() > 0.9  # mild compression at full resolution: the detector still finds the face


def test_mtcnn_is_a_working_detector_option(mirror: Path, tmp_path: Path) -> None:
    """Notebook 01 with ``detector="mtcnn"`` on six people: crops aligned on MTCNN's landmarks, the end-to-end mode
    detecting with MTCNN on the degraded photos, every outcome counted, and the crops filed under MTCNN's own tag."""
    dataset = tmp_path / "dataset"
    for person in PEOPLE[:6]:
        (dataset / person).mkdir(parents=True)
        for image in sorted((mirror / "datasets" / "lfw" / "lfw-deepfunneled" / person).iterdir())[:3]:
            (dataset / person / image.name).write_bytes(image.read_bytes())
    processed, step = tmp_path / "processed", tmp_path / "run" / "01_prepare_dataset"
    run_notebook(
        "01_prepare_dataset.ipynb",
        tmp_path / "run" / "01.ipynb",
        dataset=str(dataset),
        processed_dir=str(processed),
        run_dir=str(step),
        split_fractions={"train": 0.34, "val": 0.33, "test": 0.33},
        levels=[24],
        sweeps=[],
        detector="mtcnn",
        primary_condition="e2e:HQ-px24",
    )
    manifest = pd.read_csv(processed / "manifest.csv", dtype=str, keep_default_na=False)
    ok = manifest[manifest["status"] == "ok"]
    assert len(ok) == 18 and (ok["crop_method"] == "landmarks").all()
    assert all(path.startswith("aligned/mtcnn-") for path in ok["crop_path"])
    assert "mtcnn" in json.loads((processed / "source.json").read_text())["detector"]
    acquisition, settings = load_acquisition(processed)
    assert settings["detector_file"] == "mtcnn" and settings["input_size"] is None
    assert len(acquisition) == len(ok[ok["split"].isin(["val", "test"])]) and (acquisition["status"] == ACQUIRED).mean() > 0.8
