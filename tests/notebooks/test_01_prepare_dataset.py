"""Notebook 01 end to end under papermill, on a small LFW subset from the mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from tests.conftest import tree_checksums

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import os

    mirror = os.environ.get("LQFACE_MIRROR")
    lfw = Path(mirror or "/nonexistent") / "datasets" / "lfw" / "lfw-deepfunneled"
    if not lfw.is_dir():
        pytest.skip("LQFACE_MIRROR with datasets/lfw is needed")
    base = tmp_path_factory.mktemp("nb01")
    dataset = base / "dataset"
    for person in ["Abel_Pacheco", "Colin_Powell", "George_W_Bush", "Gloria_Macapagal_Arroyo", "Jacques_Chirac", "Serena_Williams",
                   "Tony_Blair", "Vladimir_Putin", "Ariel_Sharon", "Hugo_Chavez", "Aaron_Eckhart"]:
        target = dataset / person
        target.mkdir(parents=True)
        for image in sorted((lfw / person).iterdir())[:6]:
            (target / image.name).write_bytes(image.read_bytes())
    (dataset / "Tony_Blair" / "broken.jpg").write_bytes((lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes()[:3000])
    (dataset / "Tony_Blair" / "Thumbs.db").write_bytes(b"\x00junk")
    before = tree_checksums(dataset)
    paths = {"dataset": dataset, "processed": base / "processed", "run": base / "run", "notebook": base / "run" / "01.ipynb"}
    paths["run"].mkdir()
    pm.execute_notebook(
        ROOT / "notebooks" / "01_prepare_dataset.ipynb",
        paths["notebook"],
        parameters={"dataset": str(dataset), "processed_dir": str(paths["processed"]), "run_dir": str(paths["run"]),
                    "split_fractions": {"train": 0.4, "val": 0.2, "test": 0.4}, "levels": [32, 16]},
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
    )
    paths["checksums_unchanged"] = tree_checksums(dataset) == before
    return paths


def test_dataset_is_untouched(run: dict) -> None:
    assert run["checksums_unchanged"]


def test_manifest_accounts_for_every_file(run: dict) -> None:
    manifest = pd.read_csv(run["processed"] / "manifest.csv", dtype=str, keep_default_na=False)
    files = [p for p in run["dataset"].rglob("*") if p.is_file()]
    assert len(manifest) == len(files)
    assert manifest.set_index("path").loc["Tony_Blair/broken.jpg", "status"] == "corrupt"
    assert manifest.set_index("path").loc["Tony_Blair/Thumbs.db", "status"] == "not_image"
    ok = manifest[manifest["status"] == "ok"]
    assert set(ok["split"]) <= {"train", "val", "test"} and len(ok) > 30
    assert ok.groupby("identity")["split"].nunique().max() == 1
    assert (ok["crop_method"] == "landmarks").mean() > 0.9
    assert all((run["processed"] / p).is_file() for p in ok["crop_path"])


def test_lq_levels_and_figures_were_written(run: dict) -> None:
    levels = json.loads((run["processed"] / "levels.json").read_text())
    assert set(levels["levels"]) == {"px32", "px16"}
    for spec in levels["levels"].values():
        assert any((run["processed"] / spec["folder"]).rglob("*.png"))
    for name in ("montage.png", "status_counts.png", "status_counts.csv", "split_summary.csv", "prepare_summary.json"):
        assert (run["run"] / name).stat().st_size > 0, name
    summary = json.loads((run["run"] / "prepare_summary.json").read_text())
    assert summary["files"] == sum(summary["by_status"].values())
    assert "identity-disjoint" in summary["protocol"]
