"""Notebook runs shared by the end-to-end tests: notebook 01 once on a small LFW subset, then later notebooks on its output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from tests.code.test_quality_models import write_card, write_quality_onnx
from tests.conftest import tree_checksums

ROOT = Path(__file__).resolve().parents[2]
PRIMARY_CONDITION, PRIMARY_STATISTIC = "e2e:HQ-px16", "tar@1e-3"
"""The primary endpoint notebook 02 locks in these tests, and notebooks 03 and 04 declare."""
PEOPLE = [
    "Abel_Pacheco",
    "Colin_Powell",
    "George_W_Bush",
    "Gloria_Macapagal_Arroyo",
    "Jacques_Chirac",
    "Serena_Williams",
    "Tony_Blair",
    "Vladimir_Putin",
    "Ariel_Sharon",
    "Hugo_Chavez",
    "Jean_Chretien",
    "John_Ashcroft",
    "Junichiro_Koizumi",
    "Laura_Bush",
    "Lleyton_Hewitt",
    "Luiz_Inacio_Lula_da_Silva",
    "Gerhard_Schroeder",
    "Donald_Rumsfeld",
    "Aaron_Eckhart",
]

VAL_PEOPLE = [
    "Aaron_Peirsol",
    "Abdullah",
    "Adolfo_Rodriguez_Saa",
    "Adrian_Nastase",
    "Ahmad_Masood",
    "Akbar_Hashemi_Rafsanjani",
    "Al_Davis",
    "Alan_Ball",
    "Alejandro_Avila",
    "Alejandro_Toledo",
    "Alex_Barros",
    "Alexander_Losyukov",
    "Ali_Abbas",
    "Ali_Khamenei",
    "Alicia_Silverstone",
    "Alimzhan_Tokhtakhounov",
    "Alison_Lohman",
    "Alvaro_Silva_Calderon",
    "Alvaro_Uribe",
    "Amanda_Beard",
    "Amanda_Bynes",
    "Amber_Tamblyn",
    "Amram_Mitzna",
    "Ana_Guevara",
]
"""Two photos each, people whose seeded split (seed 0, the fixture's fractions) is val: with PEOPLE's 5 val people, 29
val people form 406 pairs of people (325 if three lost a photo to the detector), enough to set an operating threshold at FMR 0.1 (the rule of 30), the
largest FMR the workbench calls an operating point (:data:`helpers.evaluation.thresholds.MAX_FMR`)."""


def run_notebook(name: str, output: Path, **parameters) -> Path:
    """Execute ``notebooks/<name>`` with papermill into ``output`` (its folder is created)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(ROOT / "notebooks" / name, output, parameters=parameters, cwd=str(ROOT / "notebooks"), progress_bar=False)
    return output


@pytest.fixture(scope="session")
def nb01_run(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> dict:
    """A small LFW copy with two planted bad files, prepared by notebook 01."""
    lfw = mirror / "datasets" / "lfw" / "lfw-deepfunneled"
    base = tmp_path_factory.mktemp("nb01")
    dataset = base / "dataset"
    for person, photos in [(person, 6) for person in PEOPLE] + [(person, 2) for person in VAL_PEOPLE]:
        (dataset / person).mkdir(parents=True)
        for image in sorted((lfw / person).iterdir())[:photos]:
            (dataset / person / image.name).write_bytes(image.read_bytes())
    (dataset / "Tony_Blair" / "broken.jpg").write_bytes((lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes()[:3000])
    (dataset / "Tony_Blair" / "Thumbs.db").write_bytes(b"\x00junk")
    before = tree_checksums(dataset)
    run = {"dataset": dataset, "processed": base / "processed", "run": base / "run"}
    run_notebook(
        "01_prepare_dataset.ipynb",
        run["run"] / "01.ipynb",
        dataset=str(dataset),
        processed_dir=str(run["processed"]),
        run_dir=str(run["run"] / "01_prepare_dataset"),
        split_fractions={"train": 0.3, "val": 0.3, "test": 0.4},
        levels=[32, 16],
        sweeps=["jpeg"],  # three full-resolution JPEG levels beside the resolution ladder; end to end as well (the default)
        primary_condition=PRIMARY_CONDITION,  # val is acquired end to end at px16 only
    )
    run["checksums_unchanged"] = tree_checksums(dataset) == before
    return run


def scored_step(nb01_run: dict, name: str, **parameters) -> dict:
    """Notebook 02 with the offline pack and tiny parameters on notebook 01's subset, into step folder ``name``."""
    step = nb01_run["run"] / name
    run_notebook(
        "02_baseline.ipynb",
        nb01_run["run"] / f"{name}.ipynb",
        processed_dir=str(nb01_run["processed"]),
        run_dir=str(step),
        pack="offline",
        operating_fmr=0.01,
        n_boot=50,
        lfw_view2=False,
        **parameters,
    )
    return {"step": step, "metrics": json.loads((step / "metrics.json").read_text()), "scores": pd.read_parquet(step / "scores.parquet")}


@pytest.fixture(scope="session")
def nb02_run(nb01_run: dict) -> dict:
    """Notebook 02 with the offline pack's own recogniser (SFace), locking the endpoint notebooks 03 and 04 are tested with."""
    cards = nb01_run["run"] / "quality_cards"  # an ONNX quality model through its card: the tiny graph's mean brightness
    cards.mkdir(exist_ok=True)
    card = write_card(cards, write_quality_onnx(cards / "tiny.onnx"), output_index=1)
    return scored_step(nb01_run, "02_baseline", primary_condition=PRIMARY_CONDITION, primary_statistic=PRIMARY_STATISTIC, quality_models=[str(card)])


@pytest.fixture(scope="session")
def nb02_dlib_run(nb01_run: dict) -> dict:
    """Notebook 02 scoring dlib's ResNet (a second offline family) on the same subset, pairs and levels as :func:`nb02_run`."""
    return scored_step(nb01_run, "02_baseline_dlib", recogniser="dlib")
