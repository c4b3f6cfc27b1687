"""The thresholds try-it decides at: shipped, from a run, calibrated on the user's photos, open-set for search; the
quality gate's verdict beside each decision; batch verification; every bad argument of verify, identify and calibrate
answered with exit 2 and one line, before any model library loads. Faces and embeddings are synthetic: a photo's grey
level names the embedding its face gets."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.cli import main
from helpers.core.files import write_json_atomic, write_png_atomic
from helpers.data.faces import Detector
from helpers.evaluation.thresholds import operating_point
from helpers.identification.search import Gallery
from helpers.quality.gate import Gate
from helpers.tryit import cli
from helpers.tryit.batch import verify_pairs
from helpers.tryit.calibration import CalibrationMismatch, calibrate, pair_scores, read_calibration, write_calibration
from helpers.tryit.faces import find_face
from helpers.tryit.identify import enrol_folder, identify
from helpers.tryit.models import TryModel
from helpers.tryit.quality import NO_GATE, FaceQuality, FoundGate, gate_caveat, gate_measure, gate_of, latest_gate, quality_lines, quality_of
from helpers.tryit.shipped import mismatches, record_of, ship
from helpers.tryit.thresholds import (
    SHIPPED_FILE,
    OpenSet,
    Operating,
    drift_warning,
    latest_open_set,
    latest_operating,
    shipped_open_set,
    shipped_operating,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])
SHA = "f" * 64


class GreyDetector(Detector):
    """One face in the middle of any photo that is not black; none in a black one."""

    threshold, input_size, providers = 0.5, None, ["CPUExecutionProvider"]

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not image_rgb.any():
            return np.zeros((0, 5)), np.zeros((0, 5, 2))
        return np.array([[44.0, 44.0, 156.0, 156.0, 0.9]]), (TEMPLATE + 44)[None]


class GreyRecogniser:
    """The embedding of a crop is row ``grey level`` of a fixed table."""

    sha256 = SHA

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def embed(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        return self.table[crops[:, 56, 56, 0].astype(int)]


def unit(*weights: float) -> np.ndarray:
    vector = np.zeros(8)
    vector[: len(weights)] = weights
    return vector / np.linalg.norm(vector)


def fake_model(table: np.ndarray, operating: Operating | None, open_set: OpenSet | None = None) -> TryModel:
    return TryModel("fake", GreyRecogniser(table), False, GreyDetector(), operating, "synthetic", open_set)  # type: ignore[arg-type]


def grey_photo(path: Path, level: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png_atomic(path, np.full((200, 200, 3), level, dtype=np.uint8))
    return path


# ---- open-set decisions -------------------------------------------------------------------------------------------


def test_an_unenrolled_face_that_passes_the_1to1_threshold_is_unknown_at_the_open_set_threshold(tmp_path: Path) -> None:
    table = np.zeros((256, 8))
    table[10], table[20], table[30] = unit(1), unit(0, 1), unit(0, 0, 1)
    table[99] = unit(0.40, 0, 0, np.sqrt(1 - 0.40**2))  # a stranger: cosine 0.40 with the person of grey 10
    for person, level in (("Ann", 10), ("Bob", 20), ("Cy", 30)):
        grey_photo(tmp_path / "gallery" / person / "1.png", level)
    probe = np.full((200, 200, 3), 99, dtype=np.uint8)
    one_to_one = Operating(0.35, 0.01, "val")
    model = fake_model(table, one_to_one, OpenSet(0.45, 0.01, 3, "val of run r"))
    found = identify(model, enrol_folder(model, tmp_path / "gallery"), probe, top=2)
    assert one_to_one.accepts(found.scores[0]) and found.people[0] == "Ann" and abs(found.scores[0] - 0.40) < 1e-6
    assert found.verdict == "unknown" and found.describe_threshold(3).startswith("open-set 0.4500 at FPIR 0.01 for a gallery of 3 people")
    uncalibrated = identify(fake_model(table, one_to_one), enrol_folder(model, tmp_path / "gallery"), probe)
    assert uncalibrated.verdict == "Ann" and "uncalibrated for search" in uncalibrated.describe_threshold(3)
    assert "expect more false alarms" in OpenSet(0.45, 0.01, 3, "r").describe(searched_people=100)


# ---- thresholds from runs and shipped ---------------------------------------------------------------------------------


def step(results: Path, run: str, name: str, metrics: dict) -> Path:
    folder = results / run / name
    write_json_atomic(folder / "metrics.json", metrics)
    return folder


def test_the_newest_run_of_the_same_model_gives_both_thresholds(tmp_path: Path) -> None:
    operating = {"threshold": 0.3, "fmr": 0.01, "val_people": 40}
    step(tmp_path, "20260101-000000-demo", "02_baseline", {"model": {"sha256": SHA}, "protocol": {"operating": operating}})
    step(tmp_path, "20260102-000000-demo", "02_baseline", {"model": {"sha256": SHA}, "protocol": {"operating": operating | {"threshold": 0.31}}})
    step(tmp_path, "20260103-000000-demo", "02_baseline", {"model": {"sha256": "0" * 64}, "protocol": {"operating": operating | {"threshold": 0.9}}})
    open_set = {"target_fpir": 0.05, "sizes": {"gallery_people": 47, "calibration_people": 38}, "results": [{"view": "HQ", "threshold_fixed": 0.37}]}
    step(tmp_path, "20260102-000000-demo", "04_identify_baseline", {"model": {"sha256": SHA}, "open_set": open_set})
    found = latest_operating(SHA, tmp_path)
    assert found is not None and found.threshold == 0.31 and found.source == "val of run 20260102-000000-demo, 40 people"
    searched = latest_open_set(SHA, tmp_path.glob("*/"))
    assert searched == OpenSet(0.37, 0.05, 47, "val of run 20260102-000000-demo, 38 people")
    assert latest_operating("1" * 64, tmp_path) is None and latest_open_set("1" * 64, tmp_path.glob("*/")) is None


def fake_run(tmp_path: Path) -> Path:
    """A completed run folder with what a shipped record is made from."""
    run = tmp_path / "20260101-000000-full_pack"
    write_json_atomic(
        run / "pipeline.json",
        {
            "config_file": "/x/configs/full_pack.yaml",
            "steps": [{"name": "02_baseline", "status": "completed", "attempt": 2, "ended": "2026-01-01T05:00:00+00:00"}],
        },
    )
    write_json_atomic(run / "versions.attempt-2.json", {"workbench": {"git_commit": "abc123"}})
    settings = {"dataset": "/m/lfw-deepfunneled", "seed": 0, "split_fractions": {"train": 0.7, "val": 0.1, "test": 0.2}, "min_images": 2, "closed_set": False}
    write_json_atomic(run / "01_prepare_dataset" / "prepare_summary.json", {"settings": settings, "people_per_split": {"train": 7, "val": 3, "test": 2}})
    keys = ("threshold", "fmr", "fmr_target", "set_on", "weighting", "val_people", "val_impostors")
    operating = dict(zip(keys, (0.35, 0.002, 0.001, "val HQ-HQ impostor pairs", "person", 3, 4), strict=True))
    step(
        tmp_path,
        run.name,
        "02_baseline",
        {"model": {"sha256": SHA, "name": "offline", "pack": "offline", "label": "SFace"}, "protocol": {"operating": operating}},
    )
    val = pd.DataFrame(
        {"same": [False, False, False, False, True], "HQ-HQ": [0.1, 0.2, 0.3, 0.4, 0.9], "identity_a": list("aabbc"), "identity_b": list("bccac")}
    )
    val.to_parquet(run / "02_baseline" / "val_scores.parquet")
    return run


def test_a_shipped_record_is_made_from_a_run_and_checked_against_it(tmp_path: Path) -> None:
    run, shipped = fake_run(tmp_path), tmp_path / "shipped.json"
    assert ship(run, shipped) == "offline"
    record = json.loads(shipped.read_text())["offline"]
    assert record["provenance"] | {"split": None} == {
        "run": run.name, "config": "configs/full_pack.yaml", "step": "02_baseline", "dataset": "lfw-deepfunneled", "split": None, "commit": "abc123", "date": "2026-01-01"
    }  # fmt: skip
    assert record["verification"]["impostors"]["median"] == pytest.approx(0.25) and mismatches(record, run) == []
    operating = shipped_operating(SHA, shipped)
    assert operating is not None and operating.threshold == 0.35 and operating.source.startswith("shipped, measured on lfw-deepfunneled val, run")
    assert shipped_open_set(SHA, shipped) is None and shipped_operating("0" * 64, shipped) is None
    assert mismatches(record | {"verification": record["verification"] | {"threshold": 0.4}}, run) == ["verification"]


def test_the_shipped_file_names_a_run_and_matches_it_where_that_run_is_here() -> None:
    """Every shipped record carries its provenance; where its run folder exists (the machine that made it), it matches exactly."""
    packs = json.loads(SHIPPED_FILE.read_text(encoding="utf-8"))
    assert "offline" in packs
    for record in packs.values():
        where = record["provenance"]
        assert {"run", "config", "dataset", "split", "commit", "date"} <= set(where) and 0 < record["verification"]["fmr"] <= 0.1
        assert record["verification"]["set_on"] == "val HQ-HQ impostor pairs" and where["split"]["people"]["val"] == record["verification"]["val_people"]
        run = ROOT / "results" / where["run"]
        if run.is_dir():
            assert record_of(run)[1]["recogniser_sha256"] == record["recogniser_sha256"] and mismatches(record, run) == []


# ---- calibration on the user's photos ------------------------------------------------------------------------------------


def synthetic_gallery(people: int, per_person: int, seed: int = 0) -> Gallery:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 16))
    vectors = np.repeat(centres, per_person, axis=0) + 0.8 * rng.normal(size=(people * per_person, 16))
    return Gallery.of(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.repeat([f"p{i:02d}" for i in range(people)], per_person))


def test_calibration_scores_every_pair_once_and_sets_notebook_02s_threshold(tmp_path: Path) -> None:
    gallery = synthetic_gallery(people=30, per_person=3)
    pairs = pair_scores(gallery)
    assert len(pairs) == 90 * 89 // 2 and pairs["same"].sum() == 30 * 3
    found = calibrate(gallery, 0.1, "mine", "fake", SHA)  # 435 pairs of people support FMR 0.1 (300 needed)
    assert found.threshold == operating_point(pairs, 0.1)["threshold"] and found.support == "supported" and found.warning() == ""
    assert found.people == 30 and found.impostor_pairs == len(pairs) - 90 and 0 <= found.fnmr <= 1
    target = write_calibration(found, tmp_path / "mine-calibration.json")
    assert read_calibration(target, SHA) == found and read_calibration(target, SHA).operating().source.startswith("calibrated on mine, 30 people")
    with pytest.raises(CalibrationMismatch, match="made with model fake, not this one"):
        read_calibration(target, "0" * 64)


def test_too_few_people_move_the_fmr_and_say_the_rule_of_30() -> None:
    found = calibrate(synthetic_gallery(people=12, per_person=2), 0.01, "mine", "fake", SHA)  # 66 pairs of people: FMR 0.5 would be needed
    assert found.threshold is None and "12 people form 66 pairs of people, fewer than the 3,000 that FMR 0.01 needs" in found.warning()
    moved = calibrate(synthetic_gallery(people=40, per_person=2), 0.01, "mine", "fake", SHA)  # 780 pairs of people: FMR 0.04
    assert moved.fmr == 0.04 and "the threshold is set at FMR 0.04 instead" in moved.warning()


# ---- batch verification and drift -------------------------------------------------------------------------------------


def test_batch_mode_scores_each_pair_and_fails_only_the_pairs_of_a_faceless_photo(tmp_path: Path) -> None:
    table = np.zeros((256, 8))
    table[10], table[11], table[20] = unit(1), unit(0.9, np.sqrt(0.19)), unit(0, 1)
    for name, level in (("a1", 10), ("a2", 11), ("b1", 20), ("black", 0)):
        grey_photo(tmp_path / f"{name}.png", level)
    pd.DataFrame({"a": ["a1.png", "a1.png", "a1.png"], "b": ["a2.png", "b1.png", "black.png"], "same": [1, 0, 0]}).to_csv(tmp_path / "pairs.csv", index=False)
    outcome = verify_pairs(
        fake_model(table, Operating(0.5, 0.01, "val", {"median": 0.1, "q90": 0.2, "q99": 0.3})), tmp_path / "pairs.csv", tmp_path / "out.csv"
    )
    out = pd.read_csv(tmp_path / "out.csv").fillna({"decision": "", "error": ""})
    assert out["decision"].tolist() == ["match", "no match", ""] and out["score"].iloc[0] == pytest.approx(0.9) and "no face found" in out["error"].iloc[2]
    assert (outcome.pairs, outcome.matches, outcome.failed, outcome.warning) == (3, 1, 1, "")


def test_drift_is_flagged_when_impostors_score_above_the_calibration_ones() -> None:
    operating = Operating(0.35, 0.002, "shipped", {"median": 0.11, "q90": 0.23, "q99": 0.31})
    assert drift_warning([0.1, 0.12, 0.2], operating) == "" and drift_warning([0.5], Operating(0.35, 0.002, "x")) == ""
    assert "sit above 90% of those the threshold was set on (0.230)" in drift_warning([0.25, 0.3, 0.4], operating)


# ---- the quality gate beside each decision ------------------------------------------------------------------------------


def gate_record(measure: str = "det_score", threshold: float = 0.6) -> dict:
    return {"measure": measure, "threshold": threshold, "rejection": 0.05, "condition": "e2e:HQ-px16", "val_probes": 40, "val_rejected": 2, "val_pauc": {}}


def gated_step(results: Path, run: str, name: str, sha: str, gate: dict | None, age: int) -> Path:
    """A notebook 02 step folder that scored ``sha``, with ``quality.json`` holding ``gate`` (none for None), ``age`` seconds old."""
    folder = step(results, run, name, {"model": {"sha256": sha}})
    if gate is not None:
        write_json_atomic(folder / "quality.json", {"gate": gate})
    os.utime(folder / "metrics.json", (1e9 - age, 1e9 - age))
    return folder


def test_the_newest_notebook_02_step_of_the_same_recogniser_gives_the_gate(tmp_path: Path) -> None:
    gated_step(tmp_path, "20260101-000000-demo", "02_baseline", SHA, gate_record(threshold=0.5), age=30)
    chosen = gated_step(tmp_path, "20260102-000000-demo", "02_baseline", SHA, gate_record(threshold=0.6), age=20)
    gated_step(tmp_path, "20260103-000000-demo", "02_baseline", SHA, None, age=10)  # quality=False: no quality.json
    gated_step(tmp_path, "20260103-000000-demo", "03_finetune_pack", SHA, gate_record(threshold=0.9), age=0)  # notebook 03 sets none
    gated_step(tmp_path, "20260104-000000-demo", "02_baseline", "0" * 64, gate_record(threshold=0.99), age=0)
    found = latest_gate(SHA, tmp_path)
    assert found is not None and found.folder == chosen and found.gate.threshold == 0.6 and found.gate.measure == "det_score"
    gate, folder = found  # also a (gate, folder) pair
    assert gate is found.gate and folder == chosen and "det_score >= 0.6, set on val of run 20260102-000000-demo" in found.describe()
    assert latest_gate("1" * 64, tmp_path) is None and latest_gate(SHA, tmp_path / "none") is None
    (chosen / "quality.json").write_text("{not json")
    assert gate_of(chosen) is None and latest_gate(SHA, tmp_path).gate.threshold == 0.5


def test_the_verdict_says_whether_a_face_passes_the_gate() -> None:
    gate = Gate.from_json(gate_record())
    above, below = FaceQuality({"det_score": 0.8, "sharpness": 12.5}, gate), FaceQuality({"det_score": 0.4, "sharpness": 12.5}, gate)
    assert (above.status, below.status) == ("passes", "rejected")
    assert quality_lines("photo A", above) == [
        "photo A quality: detector confidence 0.8, sharpness (Laplacian variance) 12.5",
        "photo A quality gate: passes (det_score 0.8, gate 0.6, set on val to reject 5% of e2e:HQ-px16 probes)",
    ]
    assert quality_lines("photo B", below)[1].startswith("photo B quality gate: rejected: too low a quality to trust a decision (det_score 0.4")
    assert FaceQuality({"sharpness": 1.0}, gate).status == "not judged" and "not judged" in FaceQuality({}, gate).verdict()
    assert quality_lines("probe", FaceQuality({"det_score": 0.4}, None)) == ["probe quality: detector confidence 0.4"]
    assert gate_caveat(["photo A", "photo B"], [above, below]) == " — but photo B's face fails the quality gate, so this decision is not to be trusted"
    assert "photo A's and photo B's faces fail" in gate_caveat(["photo A", "photo B"], [below, below])
    assert gate_caveat(["photo A", "photo B"], [above, FaceQuality({}, None)]) == ""


class ScoredDetector(GreyDetector):
    """:class:`GreyDetector` whose confidence is 0.5 plus a hundredth of the photo's grey level."""

    def detect_all(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, keypoints = super().detect_all(image_rgb)
        boxes[:, 4] = 0.5 + image_rgb.mean() / 100
        return boxes, keypoints


def gated_model(table: np.ndarray, gate: dict | None) -> TryModel:
    found = None if gate is None else FoundGate(Gate.from_json(gate), Path("results/20260102-000000-demo/02_baseline"))
    return TryModel("fake", GreyRecogniser(table), False, ScoredDetector(), Operating(0.5, 0.01, "val"), "synthetic", None, found)  # type: ignore[arg-type]


def test_verify_prints_each_faces_quality_and_a_rejected_face_beside_an_unchanged_decision(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = np.zeros((256, 8))
    table[10], table[11] = unit(1), unit(0.9, np.sqrt(0.19))
    args = argparse.Namespace(photo_a=str(grey_photo(tmp_path / "a.png", 11)), photo_b=str(grey_photo(tmp_path / "b.png", 10)), degrade=None, seed=0)
    assert cli.run_verify(gated_model(table, gate_record("det_score", 0.605)), args) == cli.MATCH  # A: confidence 0.61 passes; B: 0.60 does not
    out = capsys.readouterr().out
    assert "  photo A quality: detector confidence 0.61, eye distance (px) 35.24, sharpness (Laplacian variance) 0, flip agreement 1" in out
    assert "  photo A quality gate: passes (det_score 0.61, gate 0.605" in out and "  photo B quality gate: rejected: too low a quality" in out
    assert "quality gate: det_score >= 0.605, set on val of run 20260102-000000-demo" in out
    assert out.rstrip().endswith("decision: match — but photo B's face fails the quality gate, so this decision is not to be trusted")
    assert cli.run_verify(gated_model(table, None), args) == cli.MATCH
    out = capsys.readouterr().out
    assert "  photo B quality: detector confidence 0.6, " in out and "quality gate:" not in out and NO_GATE in out
    assert out.rstrip().endswith("decision: match")


def test_identify_prints_the_probes_quality_and_the_gates_verdict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = np.zeros((256, 8))
    table[10], table[20] = unit(1), unit(0, 1)
    grey_photo(tmp_path / "gallery" / "Ann" / "1.png", 10)
    grey_photo(tmp_path / "gallery" / "Bob" / "1.png", 20)
    args = argparse.Namespace(probe=str(grey_photo(tmp_path / "probe.png", 10)), gallery=str(tmp_path / "gallery"), top=2)
    assert cli.run_identify(gated_model(table, gate_record("sharpness", 5.0)), args) == cli.MATCH  # a flat grey photo has no sharpness
    out = capsys.readouterr().out
    assert "  probe quality: sharpness (Laplacian variance) 0, detector confidence 0.6" in out and "  probe quality gate: rejected" in out
    assert "decision: Ann — but the probe's face fails the quality gate, so this decision is not to be trusted" in out


@pytest.mark.parametrize(
    "measure", ["det_score", "eye_distance", "sharpness", "unblockiness", "flip_agreement", "shift_agreement", "embedding_norm", "cr_fiqa"]
)
def test_batch_modes_single_measure_is_the_one_verify_shows(measure: str) -> None:
    """Batch mode computes only the gate's measure; it is the value verify computes among all of them (none where the
    recogniser cannot give it, or for a measure try-it does not compute, such as an ONNX quality model's)."""
    table = np.zeros((256, 8))
    table[:, 0] = 1
    model = gated_model(table, gate_record(measure, 0.5))
    found = find_face(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8), model.detector, "noise")
    alone, every = gate_measure(model, found), quality_of(model, found).values
    assert alone == ({measure: every[measure]} if measure in every else {}) and (measure in every) == (measure not in ("embedding_norm", "cr_fiqa"))


def test_batch_mode_adds_the_gates_verdict_on_each_face(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = np.zeros((256, 8))
    table[10], table[11], table[20] = unit(1), unit(0.9, np.sqrt(0.19)), unit(0, 1)
    for name, level in (("a1", 11), ("a2", 10), ("b1", 20), ("black", 0)):
        grey_photo(tmp_path / f"{name}.png", level)
    pd.DataFrame({"a": ["a1.png", "a1.png", "a1.png"], "b": ["a2.png", "b1.png", "black.png"]}).to_csv(tmp_path / "pairs.csv", index=False)
    outcome = verify_pairs(gated_model(table, gate_record("det_score", 0.605)), tmp_path / "pairs.csv", tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == ["a", "b", "score", "error", "decision", "threshold", "gate_a", "gate_b"]
    assert out["decision"].tolist() == ["match", "no match", ""] and out["gate_a"].tolist() == ["passes"] * 3
    assert out["gate_b"].tolist() == ["rejected", "passes", ""] and outcome.gated == 1
    verify_pairs(gated_model(table, None), tmp_path / "pairs.csv", tmp_path / "plain.csv")
    plain = pd.read_csv(tmp_path / "plain.csv", keep_default_na=False)
    assert plain["gate_a"].tolist() == plain["gate_b"].tolist() == ["", "", ""] and plain["decision"].tolist() == out["decision"].tolist()


# ---- the command line: bad arguments, exit 2, one line, no model library ---------------------------------------------------------


@pytest.fixture()
def photos(tmp_path: Path) -> dict[str, str]:
    a = grey_photo(tmp_path / "a.png", 10)
    grey_photo(tmp_path / "gallery" / "Ann" / "1.png", 10)
    grey_photo(tmp_path / "gallery" / "loose.png", 10)
    step(tmp_path, "run", "02_baseline", {"model": {}})
    return {"a": str(a), "dir": str(tmp_path), "gallery": str(tmp_path / "gallery"), "run": str(tmp_path / "run")}


CASES = {
    "missing photo": (["verify", "{dir}/nope.jpg", "{a}"], "photo_a {dir}/nope.jpg does not exist"),
    "a folder as photo": (["verify", "{a}", "{dir}"], "photo_b {dir} is a folder: give the path of one photo"),
    "missing model": (["verify", "{a}", "{a}", "--model", "{dir}/nothing"], "--model {dir}/nothing does not exist"),
    "run folder as model": (["verify", "{a}", "{a}", "--model", "{dir}"], "--model {dir} holds neither a scored step"),
    "run folder with steps": (["verify", "{a}", "{a}", "--model", "{run}"], "is a run folder: give one of its step folders"),
    "threshold above 1": (["verify", "{a}", "{a}", "--threshold", "2"], "--threshold 2 is not a cosine score"),
    "threshold and calibration": (["verify", "{a}", "{a}", "--threshold", "0.3", "--calibration", "{a}"], "both set the 1:1 threshold"),
    "missing calibration": (["verify", "{a}", "{a}", "--calibration", "{dir}/c.json"], "--calibration {dir}/c.json does not exist"),
    "pairs and photos": (["verify", "{a}", "{a}", "--pairs", "{a}"], "give either two photos or --pairs"),
    "missing pairs": (["verify", "--pairs", "{dir}/p.csv"], "--pairs {dir}/p.csv does not exist"),
    "out without pairs": (["verify", "{a}", "{a}", "--out", "{dir}/o.csv"], "--out is the output of --pairs"),
    "top 0": (["identify", "{a}", "--gallery", "{gallery}", "--top", "0"], "--top 0: give how many people to list, at least 1"),
    "missing gallery": (["identify", "{a}", "--gallery", "{dir}/none"], "--gallery {dir}/none is not a folder"),
    "gallery without people": (["identify", "{a}", "--gallery", "{gallery}/Ann"], "has 0 person folders with photos"),
    "calibrate one person": (["calibrate", "{gallery}"], "has 1 person folders with photos, fewer than 2"),
}


@pytest.mark.parametrize("case", CASES)
def test_every_bad_argument_exits_2_with_one_line_naming_it(case: str, photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    argv, message = CASES[case]
    assert main([arg.format(**photos) for arg in argv]) == cli.ERROR
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("note:")]
    assert len(err) == 1 and err[0].startswith("error: ") and message.format(**photos) in err[0], err


def test_loose_gallery_photos_are_named_and_a_bad_fmr_refused(photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    assert main(["identify", photos["a"], "--gallery", photos["gallery"], "--threshold", "-3"]) == cli.ERROR
    err = capsys.readouterr().err
    assert "note: 1 photos at the top of" in err and "loose.png" in err and "--threshold -3 is not a cosine score" in err
    (Path(photos["gallery"]) / "Bob").mkdir()
    grey_photo(Path(photos["gallery"]) / "Bob" / "1.png", 20)
    assert main(["calibrate", photos["gallery"], "--fmr", "0.5"]) == cli.ERROR
    assert "--fmr 0.5: give a false match rate in (0, 0.1]" in capsys.readouterr().err


def test_a_bad_argument_is_answered_before_any_model_library_loads(photos: dict[str, str]) -> None:
    code = (
        "import sys; from helpers.cli import main; code = main(sys.argv[1:4]); "
        "print(code, ' '.join(m for m in ('torch', 'onnxruntime', 'insightface', 'papermill', 'cv2') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code, "verify", photos["a"], photos["dir"] + "/nope.jpg"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "2"


def test_the_argument_checks_know_every_pack_the_loader_knows() -> None:
    """``arguments.PACK_NAMES`` is written out so that checking ``--model`` imports no model code; it must stay the loader's list."""
    from helpers.models.packs import DOWNLOADABLE_PACKS, OFFLINE_PACK
    from helpers.tryit.arguments import PACK_NAMES

    assert set(PACK_NAMES) == {"auto", OFFLINE_PACK, *DOWNLOADABLE_PACKS}


def test_calibrate_refuses_a_folder_too_large_to_score_every_pair_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from helpers.tryit import arguments

    for person, count in (("Ann", 3), ("Bob", 2)):
        for index in range(count):
            grey_photo(tmp_path / "mine" / person / f"{index}.png", 10)
    monkeypatch.setattr(arguments, "MAX_CALIBRATION_PHOTOS", 4)  # a project constant, so the test needs five photos, not 3,001
    assert main(["calibrate", str(tmp_path / "mine")]) == cli.ERROR
    assert f"folder {tmp_path / 'mine'} has 5 photos; calibrate scores every pair of them at once, so at most 4" in capsys.readouterr().err
