"""The quality layer on a synthetic split: pair quality per condition, pAUC-EDC with identity-bootstrap intervals, and the
val-chosen gate (its val rejection lands on the declared share; on test a rejected face counts like a failure to acquire)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from helpers.data.degrade import HQ, Degradation
from helpers.evaluation.bootstrap import Thresholds
from helpers.evaluation.conditions import ORACLE, Condition
from helpers.evaluation.metrics import FAILED_SCORE
from helpers.evaluation.scores import people_of
from helpers.quality.gate import choose_gate, gate_threshold, gated_scores
from helpers.quality.images import TABLE_COLUMNS, Quality
from helpers.quality.ranking import condition_quality, pauc_table, ranking

PX16 = Degradation("px16", resolution=16)
HQ_HQ, HQ_PX16 = Condition("HQ-HQ", HQ, HQ), Condition("HQ-px16", HQ, PX16)
THRESHOLD = 0.5


def split(name: str, people: int = 12, images: int = 3, seed: int = 0) -> tuple[Quality, pd.DataFrame]:
    """A split of ``people`` x ``images`` faces: at 16 px each face has a quality; a genuine pair fails exactly when its
    probe's quality is below 0.3 (``telling``), while ``noise`` is unrelated to errors. Every pair at HQ is correct."""
    rng = np.random.default_rng(seed)
    paths = [f"{name}/p{p}/{i}.jpg" for p in range(people) for i in range(images)]
    identity = [path.split("/")[1] for path in paths]
    telling = rng.uniform(0, 1, len(paths))
    rows = [
        pd.DataFrame({"split": name, "path": paths, "identity": identity, "level": level.name, "mode": ORACLE, "acquired": True}).assign(
            telling=telling if not level.is_identity else 1.0, noise=rng.uniform(0, 1, len(paths))
        )
        for level in (HQ, PX16)
    ]
    quality = Quality(pd.concat(rows, ignore_index=True), {})
    pairs = pd.DataFrame(list(itertools.combinations(range(len(paths)), 2)), columns=["a", "b"])
    frame = pd.DataFrame({"path_a": np.array(paths)[pairs["a"]], "path_b": np.array(paths)[pairs["b"]]})
    frame["identity_a"], frame["identity_b"] = np.array(identity)[pairs["a"]], np.array(identity)[pairs["b"]]
    frame["same"] = frame["identity_a"] == frame["identity_b"]
    probe_quality = telling[pairs["b"]]
    frame["HQ-HQ"] = np.where(frame["same"], 0.9, 0.1)
    frame["HQ-px16"] = np.where(frame["same"], np.where(probe_quality < 0.3, 0.2, 0.8), np.where(probe_quality < 0.1, 0.6, 0.1))
    assert set(TABLE_COLUMNS) <= set(quality.table.columns)
    return quality, frame


def test_a_pair_takes_its_lower_face_and_an_undefined_side_leaves_the_measure_out() -> None:
    quality, scores = split("test")
    pair = condition_quality(quality, scores, HQ_PX16, "telling")
    assert np.array_equal(pair, np.minimum(1.0, quality.values("test", (PX16, ORACLE), "telling", scores["path_b"].to_numpy())))
    quality.table.loc[quality.table["level"] == "px16", "noise"] = np.nan
    assert condition_quality(quality, scores, HQ_PX16, "noise") is None


def test_pauc_ranks_the_telling_measure_first_and_no_resample_beats_its_best() -> None:
    quality, scores = split("test", people=30)
    people = people_of(scores)
    table = pauc_table(quality, scores, [HQ_HQ, HQ_PX16], ["telling", "noise"], people, Thresholds.fixed(THRESHOLD, 200), seed=0)
    frr = ranking(table, "HQ-px16", "frr", 0.2)
    assert frr["measure"].tolist() == ["telling", "noise"]
    # it discards the errors first, only a probe's pairs together (one quality): near the theoretical best, far from noise
    assert 0 <= frr.loc[0, "pauc"] < 0.2 * frr.loc[1, "pauc"]
    assert (frr["ci_low"] >= 0).all() and (frr["ci_low"] < frr["ci_high"]).all()  # no resample beats its own best
    hq = table[(table["condition"] == "HQ-HQ") & (table["error"] == "frr")]
    assert (hq["errors"] == 0).all() and np.allclose(hq["pauc"], 0.0)  # no error to discard: every measure is the best


def test_the_gate_is_chosen_on_val_and_rejects_the_declared_share_of_val_probes() -> None:
    val, val_scores = split("val", people=20, seed=1)
    gate = choose_gate(val, val_scores, HQ_PX16, THRESHOLD, ["noise", "telling"], rejection=0.1)
    assert gate.measure == "telling" and gate.val_pauc["telling"] < gate.val_pauc["noise"]
    assert gate.val_rejected == round(0.1 * gate.val_probes)
    assert gate_threshold(np.array([3.0, np.nan, 1.0, 2.0]), 0.25) == 1.0  # a face without a value is the lowest
    with pytest.raises(ValueError, match="gate_rejection"):
        gate_threshold(np.ones(3), 1.0)


def test_a_rejected_face_becomes_a_failure_to_acquire_and_is_counted() -> None:
    val, val_scores = split("val", people=20, seed=1)
    gate = choose_gate(val, val_scores, HQ_PX16, THRESHOLD, ["telling"], rejection=0.1)
    quality, scores = split("test", seed=2)
    values, counts = gated_scores(gate, quality, scores, HQ_PX16)
    probe = quality.values("test", (PX16, ORACLE), "telling", scores["path_b"].to_numpy())
    rejected = probe < gate.threshold
    assert np.array_equal(values == FAILED_SCORE, rejected)
    assert np.array_equal(values[~rejected], scores["HQ-px16"].to_numpy()[~rejected])
    probes = np.unique(scores["path_b"])
    expected = int((quality.values("test", (PX16, ORACLE), "telling", probes) < gate.threshold).sum())
    assert counts["probe"]["rejected"] == expected and counts["gallery"]["rejected"] == 0
    assert counts["pairs_rejected"]["genuine"] + counts["pairs_rejected"]["impostor"] == int(rejected.sum())
