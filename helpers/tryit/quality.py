"""The quality of each face try-it uses, and the verdict of the quality gate notebook 02 chose on val for the same recogniser.

The gate comes from the notebook 02 step folder given as the model (its ``quality.json``), else from the newest
notebook 02 step under ``results/`` that scored the same recogniser (matched by sha256); a fine-tuned model
(notebook 03) has none unless notebook 02 scored it. A face the gate rejects never changes a decision: the decision
is shown as before, with the verdict beside it saying it is not to be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from helpers.quality.availability import QualityUnavailable
from helpers.quality.face import face_quality, gate_verdict, load_gate
from helpers.quality.gate import Gate
from helpers.quality.images import LABELS
from helpers.quality.measures import CROP_MEASURES, inter_eye_distance
from helpers.quality.model_measures import MODEL_MEASURES
from helpers.tryit.faces import FoundFace
from helpers.tryit.thresholds import METRICS, newest_steps

if TYPE_CHECKING:
    from helpers.tryit.models import TryModel

SHOWN = ("det_score", "eye_distance", "sharpness", "flip_agreement")
"""The measures every quality line shows, after the gate's own measure."""
NO_GATE = "no quality gate measured for this recogniser: run notebook 02 (quality=True) on it"
PASSES, REJECTED, NOT_JUDGED = "passes", "rejected", "not judged"


class FoundGate(NamedTuple):
    """A quality gate and the notebook 02 step folder that chose it."""

    gate: Gate
    folder: Path

    def describe(self) -> str:
        """The gate's rule and where it was set, in one line."""
        gate = self.gate
        return f"{gate.measure} >= {gate.threshold:.4g}, set on val of run {self.folder.parent.name} ({self.folder})"


def gate_of(folder: Path) -> FoundGate | None:
    """The gate in a notebook 02 step folder's ``quality.json``; None when it has none or the file cannot be read."""
    try:
        gate = load_gate(folder)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None if gate is None else FoundGate(gate, Path(folder))


def latest_gate(sha256: str, results: Path) -> FoundGate | None:
    """The gate of the newest notebook 02 step folder under ``results`` that scored the recogniser ``sha256`` and chose one."""
    steps = newest_steps(Path(results).glob(f"*/02_*/{METRICS}"), sha256)
    return next((found for folder in steps if (found := gate_of(folder))), None)


def gate_status(gate: Gate, values: dict[str, float]) -> str:
    """:data:`PASSES`, :data:`REJECTED`, or :data:`NOT_JUDGED` when the gate's measure is not in ``values``."""
    if gate.measure not in values:
        return NOT_JUDGED
    return PASSES if gate.passes(np.array([values[gate.measure]]))[0] else REJECTED


@dataclass(frozen=True)
class FaceQuality:
    """One face's measures, and the gate's verdict on it (None without a gate)."""

    values: dict[str, float]
    gate: Gate | None

    @property
    def status(self) -> str:
        """:data:`PASSES`, :data:`REJECTED` or :data:`NOT_JUDGED`; empty without a gate."""
        return "" if self.gate is None else gate_status(self.gate, self.values)

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    def measures(self) -> str:
        """The gate's measure, then :data:`SHOWN`, each in words with its value."""
        first = () if self.gate is None else (self.gate.measure,)
        names = [name for name in dict.fromkeys((*first, *SHOWN)) if name in self.values]
        return ", ".join(f"{LABELS.get(name, name)} {number(self.values[name])}" for name in names)

    def verdict(self) -> str:
        """The gate's verdict in words (:func:`helpers.quality.face.gate_verdict`), or :data:`NO_GATE`."""
        return NO_GATE if self.gate is None else gate_verdict(self.gate, self.values)


def number(value: float) -> str:
    """A measure's value: four significant digits, a large one without an exponent."""
    return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def quality_of(model: TryModel, found: FoundFace) -> FaceQuality:
    """Every built-in measure of the face ``found`` (its detection's confidence, and its eye distance in the pixels of
    the photo the detector saw), judged by the model's gate."""
    values = face_quality(found.crop, model.recogniser, found.face.score, np.asarray(found.face.kps))
    return FaceQuality(values, None if model.gate is None else model.gate.gate)


def gate_measure(model: TryModel, found: FoundFace) -> dict[str, float]:
    """Only the gate's measure of ``found`` (empty without a gate, or when it is not a built-in measure): at most one or
    two model passes, for batch mode."""
    if model.gate is None:
        return {}
    name, crop = model.gate.gate.measure, found.crop
    if name == "det_score":
        return {name: float(found.face.score)}
    if name == "eye_distance":
        return {name: inter_eye_distance(found.face.kps)}
    if name in CROP_MEASURES:
        return {name: CROP_MEASURES[name](crop)}
    if name in MODEL_MEASURES:
        try:
            return {name: float(MODEL_MEASURES[name](model.recogniser, crop[None])[0])}
        except QualityUnavailable:
            return {}
    return {}


def quality_lines(label: str, quality: FaceQuality) -> list[str]:
    """A face's measures and, with a gate, its verdict: ``label quality: ...`` and ``label quality gate: ...``."""
    lines = [f"{label} quality: {quality.measures()}"]
    return lines if quality.gate is None else [*lines, f"{label} quality gate: {quality.verdict()}"]


def gate_line(model: TryModel) -> str:
    """Where the model's gate comes from, or :data:`NO_GATE`."""
    return NO_GATE if model.gate is None else f"quality gate: {model.gate.describe()}"


def gate_caveat(labels: Sequence[str], qualities: Sequence[FaceQuality]) -> str:
    """What to add beside a decision when the gate rejects a face: `` — but photo B's face fails the quality gate, ...``;
    empty when none is rejected."""
    failed = [label for label, quality in zip(labels, qualities, strict=True) if quality.rejected]
    if not failed:
        return ""
    owners = " and ".join(label + "'s" for label in failed)
    whose = f"{owners} face fails" if len(failed) == 1 else f"{owners} faces fail"
    return f" — but {whose} the quality gate, so this decision is not to be trusted"
