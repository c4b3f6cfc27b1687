"""The model a try-it session uses: a pack or a scored step folder, its detector, and the operating threshold a run calibrated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from helpers.core.sources import project_path
from helpers.data.detectors import open_detector
from helpers.data.faces import Detector
from helpers.evaluation.model_runs import run_recogniser
from helpers.evaluation.reports import METRICS, read_report
from helpers.models.packs import load_pack, resolve_detector
from helpers.models.recognisers import Recogniser
from helpers.pipeline.folders import RESULTS


@dataclass(frozen=True)
class Operating:
    """A verification threshold, the FMR it was set at on val impostor pairs, and where it was read."""

    threshold: float
    fmr: float | None
    source: str

    def accepts(self, score: float) -> bool:
        """A score at or above the threshold: the same person."""
        return score >= self.threshold


@dataclass(frozen=True)
class TryModel:
    """Everything verify and identify need: the recogniser, its flip setting, a detector, and the operating threshold if known."""

    name: str
    recogniser: Recogniser
    flip: bool
    detector: Detector
    operating: Operating | None
    source: str


def operating_of(folder: Path) -> Operating | None:
    """The operating threshold a notebook 02 / 03 step folder fixed on val (``protocol.operating`` of its ``metrics.json``),
    at the FMR val supported; None when val supported none."""
    operating = read_report(folder).protocol.operating
    if operating.get("threshold") is None:
        return None
    return Operating(float(operating["threshold"]), operating.get("fmr"), str(folder / METRICS))


def latest_operating(sha256: str, results: Path) -> Operating | None:
    """The operating threshold of the newest step folder under ``results`` that scored the recogniser with ``sha256``."""
    for path in sorted(results.glob(f"*/*/{METRICS}"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            model = json.loads(path.read_text(encoding="utf-8")).get("model", {})
            found = operating_of(path.parent) if isinstance(model, dict) and model.get("sha256") == sha256 else None
        except (OSError, ValueError):  # unreadable, or another notebook's metrics.json (04, 05)
            continue
        if found is not None:
            return found
    return None


def load_model(spec: str = "auto", threshold: float | None = None, results: str | Path = RESULTS) -> TryModel:
    """``spec``: a step folder of notebook 02 or 03 (its recogniser and threshold), or a pack (``auto``, ``offline``, a name
    or folder), whose threshold is taken from the newest run under ``results`` that scored it. ``threshold`` overrides both."""
    folder = project_path(spec)
    if (folder / METRICS).is_file():
        model, recogniser, flip = run_recogniser(folder, batch_size=16)
        name, operating, source = model["name"], operating_of(folder), f"step folder {folder}"
        detector_file, _ = resolve_detector(model.get("pack", "auto"))
    else:
        pack = load_pack(spec)
        recogniser, flip, name, source = pack.face_recogniser(batch_size=16), False, pack.name, pack.note
        operating, detector_file = latest_operating(recogniser.sha256, project_path(results)), pack.detector
    if threshold is not None:
        operating = Operating(float(threshold), None, "--threshold")
    return TryModel(name, recogniser, flip, open_detector(detector_file, input_size=None), operating, source)


@lru_cache(maxsize=4)
def cached_model(spec: str, results: str = RESULTS) -> TryModel:
    """:func:`load_model` once per process and model, for the app and notebook 06's panel (no threshold override)."""
    return load_model(spec, results=results)
