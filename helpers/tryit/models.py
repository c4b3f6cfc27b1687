"""The model a try-it session uses: a pack or a scored step folder, its detector, the thresholds it decides at
(:mod:`helpers.tryit.thresholds` says which, in what order) and its quality gate (:mod:`helpers.tryit.quality`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from helpers.core.sources import RESULTS, ModelFile, project_path
from helpers.data.detectors import open_detector
from helpers.data.faces import Detector
from helpers.models.packs import load_pack, resolve_detector
from helpers.models.recognisers import Recogniser
from helpers.tryit.calibration import read_calibration
from helpers.tryit.quality import FoundGate, gate_of, latest_gate
from helpers.tryit.thresholds import (
    METRICS,
    OpenSet,
    Operating,
    latest_open_set,
    latest_operating,
    operating_of,
    shipped_open_set,
    shipped_operating,
)


@dataclass(frozen=True)
class TryModel:
    """Everything verify and identify need: the recogniser, its flip setting, a detector, the thresholds and the quality
    gate if known."""

    name: str
    recogniser: Recogniser
    flip: bool
    detector: Detector
    operating: Operating | None
    source: str
    open_set: OpenSet | None = None
    gate: FoundGate | None = None
    """The quality gate notebook 02 chose on val for this recogniser, and the step folder it came from."""


def _step_model(folder: Path) -> tuple[str, Recogniser, bool, ModelFile, Operating | None, OpenSet | None, str]:
    from helpers.evaluation.model_runs import run_recogniser  # torch and torchvision: only for fine-tuned step folders

    model, recogniser, flip = run_recogniser(folder, batch_size=16)
    detector_file, _ = resolve_detector(model.get("pack", "auto"))
    operating, open_set = operating_of(folder), latest_open_set(recogniser.sha256, [folder.parent])  # its own run's notebook 04
    return model["name"], recogniser, flip, detector_file, operating, open_set, f"step folder {folder}"


def load_model(spec: str = "auto", threshold: float | None = None, results: str | Path = RESULTS, calibration: str | Path | None = None) -> TryModel:
    """``spec``: a step folder of notebook 02 or 03 (its recogniser, thresholds and run), or a pack (``auto``, ``offline``, a name
    or folder) with the newest run's thresholds under ``results``, else the ones it ships. ``calibration`` (a file of
    ``lqface calibrate``) replaces the 1:1 threshold, ``threshold`` replaces both. The quality gate is the step folder's
    own, else the newest notebook 02 run's under ``results`` that scored the same recogniser."""
    folder, results = project_path(spec), project_path(results)
    if (folder / METRICS).is_file():
        name, recogniser, flip, detector_file, operating, open_set, source = _step_model(folder)
        gate = gate_of(folder)
    else:
        pack = load_pack(spec)
        recogniser, flip, name, source, detector_file = pack.face_recogniser(batch_size=16), False, pack.name, pack.note, pack.detector
        operating = latest_operating(recogniser.sha256, results) or shipped_operating(recogniser.sha256)
        open_set, gate = None, None
    open_set = open_set or latest_open_set(recogniser.sha256, results.glob("*/")) or shipped_open_set(recogniser.sha256)
    gate = gate or latest_gate(recogniser.sha256, results)
    if calibration is not None:
        operating = read_calibration(Path(calibration), recogniser.sha256).operating()
    if threshold is not None:
        operating = Operating(float(threshold), None, "--threshold")
    return TryModel(name, recogniser, flip, open_detector(detector_file, input_size=None), operating, source, open_set, gate)


@lru_cache(maxsize=4)
def cached_model(spec: str, results: str = RESULTS) -> TryModel:
    """:func:`load_model` once per process and model, for the app and notebook 06's panel (no threshold override)."""
    return load_model(spec, results=results)
