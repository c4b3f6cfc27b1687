"""The try-it commands (``lqface verify|identify``, also ``python -m helpers``) on LFW photos from the mirror, with notebook 02's run as the model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.cli import main
from helpers.core.files import write_png_atomic
from helpers.data.degrade import NAMED_LEVELS
from helpers.quality.images import LABELS
from helpers.tryit import cli
from helpers.tryit.identify import enrolled_gallery
from helpers.tryit.models import load_model
from helpers.tryit.quality import NO_GATE, gate_of, latest_gate
from helpers.tryit.thresholds import latest_operating, shipped_operating
from tests.notebooks.conftest import ROOT


@pytest.fixture(scope="module")
def lfw(mirror: Path) -> Path:
    return mirror / "datasets" / "lfw" / "lfw-deepfunneled"


def photo(lfw: Path, person: str, number: int) -> str:
    return str(lfw / person / f"{person}_{number:04d}.jpg")


@pytest.fixture(scope="module")
def model_dir(nb02_run: dict) -> str:
    return str(nb02_run["step"])


def test_same_person_matches_at_the_runs_threshold(lfw: Path, model_dir: str, nb02_run: dict, capsys: pytest.CaptureFixture) -> None:
    code = main(["verify", photo(lfw, "George_W_Bush", 1), photo(lfw, "George_W_Bush", 2), "--model", model_dir])
    out = capsys.readouterr().out
    threshold = nb02_run["metrics"]["protocol"]["operating"]["threshold"]
    score = float(out.split("score: ")[1].split()[0])
    assert code == cli.MATCH and score >= threshold and "decision: match" in out
    operating = nb02_run["metrics"]["protocol"]["operating"]  # the FMR val supports: 0.01 moved up (tests/notebooks/conftest.py)
    run = Path(model_dir).parent.name
    assert f"threshold: {threshold:.4f} at FMR {operating['fmr']:g} (val of run {run}, {operating['val_people']} people)" in out
    assert "\n  photo A quality: " in out and "\n  photo B quality: " in out and "detector confidence" in out and "eye distance (px)" in out
    gate = gate_of(Path(model_dir))  # notebook 02 (quality=True, the default) chose one on val unless its measures were undefined there
    if gate is None:
        assert NO_GATE in out and "quality gate:" not in out
    else:
        assert f"quality gate: {gate.describe()}" in out and "\n  photo B quality gate: " in out and LABELS.get(gate.gate.measure, gate.gate.measure) in out
        assert ("fails the quality gate" in out) == ("photo B quality gate: rejected" in out or "photo A quality gate: rejected" in out)


def test_different_people_do_not_match(lfw: Path, model_dir: str, capsys: pytest.CaptureFixture) -> None:
    code = main(["verify", photo(lfw, "George_W_Bush", 1), photo(lfw, "Serena_Williams", 1), "--model", model_dir])
    assert code == cli.NO_MATCH and "decision: no match" in capsys.readouterr().out


def test_degrading_the_probe_runs_the_detector_on_the_degraded_photo(lfw: Path, model_dir: str, capsys: pytest.CaptureFixture) -> None:
    main(["verify", photo(lfw, "Tony_Blair", 1), photo(lfw, "Tony_Blair", 2), "--model", model_dir])
    clean = capsys.readouterr().out
    main(["verify", photo(lfw, "Tony_Blair", 1), photo(lfw, "Tony_Blair", 2), "--model", model_dir, "--degrade", "px24"])
    degraded = capsys.readouterr().out
    assert "Tony_Blair_0002.jpg at px24: face at" in degraded and degraded.split("score: ")[1] != clean.split("score: ")[1]
    assert main(["verify", photo(lfw, "Tony_Blair", 1), photo(lfw, "Tony_Blair", 2), "--model", model_dir, "--degrade", "px7"]) == cli.ERROR
    assert "--degrade px7: no quality level of that name" in capsys.readouterr().err and {"px16", "real24", "jpeg10"} <= set(NAMED_LEVELS)


def test_unreadable_and_faceless_photos_exit_2_naming_the_file(lfw: Path, model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(photo(lfw, "Tony_Blair", 1)).read_bytes()[:2000])
    assert main(["verify", photo(lfw, "Tony_Blair", 1), str(broken), "--model", model_dir]) == cli.ERROR
    assert f"error: {broken}: cannot be read as a photo" in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    write_png_atomic(blank, np.full((160, 160, 3), 128, dtype=np.uint8))
    assert main(["verify", str(blank), photo(lfw, "Tony_Blair", 1), "--model", model_dir]) == cli.ERROR
    assert f"error: {blank}: no face found" in capsys.readouterr().err


def test_identify_finds_the_person_and_lists_skipped_files(lfw: Path, model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for person in ("George_W_Bush", "Colin_Powell", "Tony_Blair", "Serena_Williams"):
        (tmp_path / person).mkdir()
        for number in (1, 2):
            shutil.copy(photo(lfw, person, number), tmp_path / person)
    (tmp_path / "Tony_Blair" / "broken.jpg").write_bytes(b"not a photo")
    code = main(["identify", photo(lfw, "Colin_Powell", 5), "--gallery", str(tmp_path), "--top", "3", "--model", model_dir])
    captured = capsys.readouterr()
    assert code == cli.MATCH and "  1. Colin_Powell  " in captured.out and "decision: Colin_Powell" in captured.out
    assert "gallery: 4 people, 8 photos" in captured.out and f"skipped {tmp_path / 'Tony_Blair' / 'broken.jpg'}" in captured.err
    assert main(["identify", photo(lfw, "Colin_Powell", 5), "--gallery", str(tmp_path / "missing"), "--model", model_dir]) == cli.ERROR


def test_the_app_enrols_a_gallery_once_until_its_photos_change(lfw: Path, model_dir: str, tmp_path: Path) -> None:
    model = load_model(model_dir)
    for person in ("Colin_Powell", "Tony_Blair"):
        (tmp_path / person).mkdir()
        shutil.copy(photo(lfw, person, 1), tmp_path / person)
    first = enrolled_gallery(model, tmp_path)
    assert enrolled_gallery(model, tmp_path) is first and first.images == 2
    shutil.copy(photo(lfw, "Colin_Powell", 2), tmp_path / "Colin_Powell")
    second = enrolled_gallery(model, tmp_path)
    assert second is not first and second.images == 3 and enrolled_gallery(model, tmp_path) is second


def test_a_pack_takes_the_newest_runs_threshold_else_the_shipped_one(nb02_run: dict, tmp_path: Path) -> None:
    results = nb02_run["step"].parents[1]  # <results>/<run>/02_baseline
    model = load_model("offline", results=tmp_path)  # no run yet: a fresh clone's first verify
    assert model.operating == shipped_operating(model.recogniser.sha256) and model.name == "offline" and model.gate is None
    assert latest_gate(model.recogniser.sha256, results) == gate_of(nb02_run["step"])  # the run's notebook 02 step, found by sha256
    assert model.operating.source.startswith("shipped, measured on lfw-deepfunneled val") and model.operating.fmr <= 0.01
    found = latest_operating(model.recogniser.sha256, results)
    assert found is not None and found.threshold == nb02_run["metrics"]["protocol"]["operating"]["threshold"]
    assert load_model("offline", threshold=0.42, results=tmp_path).operating.threshold == 0.42


def test_python_m_helpers_exit_code(lfw: Path, model_dir: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "helpers", "verify", photo(lfw, "Colin_Powell", 1), photo(lfw, "Colin_Powell", 2), "--model", model_dir],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == cli.MATCH and "decision: match" in run.stdout


@pytest.fixture(scope="module")
def own_photos(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """26 people with two photos each: 325 pairs of people, enough for FMR 0.1 by the rule of 30 (300)."""
    folder = tmp_path_factory.mktemp("own") / "people"
    people = [p for p in sorted(lfw.iterdir()) if len(list(p.glob("*.jpg"))) >= 2][:26]
    for person in people:
        (folder / person.name).mkdir(parents=True)
        for image in sorted(person.glob("*.jpg"))[:2]:
            shutil.copy(image, folder / person.name)
    return folder


def test_calibrate_on_my_photos_then_verify_with_it(own_photos: Path, lfw: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["calibrate", str(own_photos), "--fmr", "0.01", "--model", "offline"]) == cli.MATCH  # 325 pairs of people: 0.01 needs 3,000
    moved = capsys.readouterr()
    assert "26 people form 325 pairs of people, fewer than the 3,000 that FMR 0.01 needs" in moved.err and "at FMR 0.1;" in moved.out
    target = own_photos.with_name("people-calibration.json")
    assert main(["calibrate", str(own_photos), "--fmr", "0.1", "--model", "offline", "--out", str(target)]) == cli.MATCH
    out = capsys.readouterr().out
    assert "26 people, 52 photos: 1,300 different-person and 26 same-person pairs" in out and f"--calibration {target}" in out
    saved = json.loads(target.read_text())
    assert main(["verify", photo(lfw, "Colin_Powell", 1), photo(lfw, "Colin_Powell", 2), "--model", "offline", "--calibration", str(target)]) in (0, 1)
    assert f"threshold: {saved['threshold']:.4f} at FMR 0.1 (calibrated on {own_photos}, 26 people" in capsys.readouterr().out


def test_batch_mode_gives_the_single_pair_scores(model_dir: str, lfw: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pairs = [(photo(lfw, "Colin_Powell", 1), photo(lfw, "Colin_Powell", 2), 1), (photo(lfw, "Colin_Powell", 1), photo(lfw, "Tony_Blair", 1), 0)]
    pd.DataFrame(pairs, columns=["a", "b", "same"]).to_csv(tmp_path / "pairs.csv", index=False)
    assert main(["verify", "--pairs", str(tmp_path / "pairs.csv"), "--model", model_dir]) == cli.MATCH
    assert "2 pairs -> " in capsys.readouterr().out
    scores = pd.read_csv(tmp_path / "pairs-scores.csv")
    for (a, b, _), score in zip(pairs, scores["score"], strict=True):
        main(["verify", a, b, "--model", model_dir])
        assert f"score: {score:.4f}" in capsys.readouterr().out
    assert scores["decision"].tolist() == ["match", "no match"]
