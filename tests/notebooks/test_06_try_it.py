"""Notebook 06 under papermill: two LFW photos verified with notebook 02's run, photo B degraded before detection."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from helpers.data.degrade import level_named
from helpers.tryit import widgets
from helpers.tryit.faces import degrade_photo, find_face, read_photo
from helpers.tryit.figures import annotate
from helpers.tryit.models import load_model
from helpers.tryit.verify import verify
from tests.notebooks.conftest import ROOT, run_notebook


@pytest.fixture(scope="module")
def nb06_step(nb02_run: dict, mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lfw = mirror / "datasets" / "lfw" / "lfw-deepfunneled" / "Colin_Powell"
    step = tmp_path_factory.mktemp("nb06") / "06_try_it"
    run_notebook(
        "06_try_it.ipynb",
        step.parent / "06.ipynb",
        photo_a=str(lfw / "Colin_Powell_0001.jpg"),
        photo_b=str(lfw / "Colin_Powell_0002.jpg"),
        model=str(nb02_run["step"]),
        level="px32",
        results=str(nb02_run["step"].parents[1]),
        run_dir=str(step),
    )
    return step


def test_the_verification_is_saved_with_the_runs_threshold(nb06_step: Path, nb02_run: dict) -> None:
    record = json.loads((nb06_step / "verification.json").read_text())
    operating = nb02_run["metrics"]["protocol"]["operating"]
    assert (record["model"], record["level"]) == ("offline", "px32")
    assert record["threshold"] == operating["threshold"] and record["threshold_fmr"] == operating["fmr"]
    assert -1 <= record["score"] <= 1 and record["match"] == (record["score"] >= record["threshold"]) and len(record["faces"]) == 2
    for name in ("pair.png", "score_vs_resolution.png"):
        assert (nb06_step / name).stat().st_size > 0, name


def test_the_executed_notebook_shows_the_panel(nb06_step: Path) -> None:
    executed = nbformat.read(nb06_step.parent / "06.ipynb", as_version=4)
    shown = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in shown)


def test_the_pair_figure_shows_photo_b_as_the_detector_saw_it(mirror: Path, tmp_path: Path) -> None:
    lfw = mirror / "datasets" / "lfw" / "lfw-deepfunneled" / "Colin_Powell"
    model, level = load_model("offline", results=tmp_path), level_named("real24")
    photo_a, photo_b = (read_photo(lfw / f"Colin_Powell_000{i}.jpg") for i in (1, 2))
    result = verify(model, photo_a, photo_b, ("photo A", "photo B"), level)
    degraded = degrade_photo(photo_b, find_face(photo_b, model.detector, "photo B"), level)
    figure = widgets.pair_figure(photo_a, result)
    shown_b = np.asarray(figure.axes[1].get_images()[0].get_array())
    plt.close(figure)
    assert np.array_equal(find_face(degraded, model.detector, "photo B").crop, result.faces[1].crop)  # the face drawn was found on it
    assert np.array_equal(shown_b, annotate(degraded, result.faces[1])) and not np.array_equal(shown_b, annotate(photo_b, result.faces[1]))


def test_notebook_is_committed_clean() -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "06_try_it.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert [cell for cell in code if "parameters" in cell.metadata.get("tags", [])] == [code[0]]
