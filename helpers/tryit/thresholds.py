"""The thresholds a try-it decision is made at, and where each was measured.

A 1:1 decision (verify) uses, first to last: ``--threshold``; a calibration on the user's own photos
(``lqface calibrate``); the operating threshold of the notebook 02/03 step folder given as the model; the
newest run under ``results/`` that scored the model; the threshold the project ships for a pack
(``shipped_thresholds.json``, measured on LFW val, :mod:`helpers.tryit.shipped`). An open-set decision
(identify) uses notebook 04's FPIR-calibrated threshold for the model, from a run or shipped; without one it
falls back on the 1:1 threshold and says the decision is uncalibrated.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRICS = "metrics.json"
SHIPPED_FILE = Path(__file__).with_name("shipped_thresholds.json")
OPEN_SET_VIEW = "HQ"
"""Notebook 04's view whose val-calibrated ("fixed") threshold identify uses: HQ gallery, probes as they come."""
DRIFT_QUANTILE = "q90"
"""A batch whose impostor median exceeds the calibration impostors' 90th percentile is flagged as unlike them."""


@dataclass(frozen=True)
class Operating:
    """A verification threshold, the FMR it was set at, where it was measured, and its impostor score quantiles."""

    threshold: float
    fmr: float | None
    source: str
    impostors: dict[str, float] | None = None

    def accepts(self, score: float) -> bool:
        """A score at or above the threshold: the same person."""
        return score >= self.threshold

    def describe(self) -> str:
        """The threshold, the FMR it was set at and its source, in one line."""
        fmr = "" if self.fmr is None else f" at FMR {self.fmr:g}"
        return f"{self.threshold:.4f}{fmr} ({self.source})"


@dataclass(frozen=True)
class OpenSet:
    """An open-set threshold: set on val people never enrolled, at ``target_fpir``, against a gallery of ``gallery_people``."""

    threshold: float
    target_fpir: float
    gallery_people: int
    source: str

    def describe(self, searched_people: int) -> str:
        """The threshold with its target and gallery size, and a warning when the searched gallery is much larger."""
        text = f"{self.threshold:.4f} at FPIR {self.target_fpir:g} for a gallery of {self.gallery_people} people ({self.source})"
        if searched_people > 2 * self.gallery_people:
            text += f"; this gallery has {searched_people} people, so expect more false alarms than {self.target_fpir:g}"
        return text


def _read(path: Path) -> dict[str, Any] | None:
    """A JSON object, or None when the file is missing, unreadable or not an object."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _model_sha(metrics: dict[str, Any]) -> str | None:
    model = metrics.get("model")
    return model.get("sha256") if isinstance(model, dict) else None


def operating_of(folder: Path) -> Operating | None:
    """The operating threshold a notebook 02 / 03 step folder fixed on val, or None when val supported none."""
    metrics = _read(folder / METRICS) or {}
    operating = metrics.get("protocol", {}).get("operating", {}) if isinstance(metrics.get("protocol"), dict) else {}
    if not isinstance(operating, dict) or operating.get("threshold") is None:
        return None
    people = operating.get("val_people")
    where = f"val of run {folder.parent.name}" + (f", {people} people" if people else "")
    return Operating(float(operating["threshold"]), operating.get("fmr"), where)


def open_set_of(folder: Path) -> OpenSet | None:
    """Notebook 04's val-calibrated threshold at the HQ view in a step folder, or None."""
    metrics = _read(folder / METRICS) or {}
    found = metrics.get("open_set")
    if not isinstance(found, dict):
        return None
    rows = [row for row in found.get("results", []) if isinstance(row, dict) and row.get("view") == OPEN_SET_VIEW]
    if not rows or rows[0].get("threshold_fixed") is None:
        return None
    sizes = found.get("sizes", {})
    where = f"val of run {folder.parent.name}, {sizes.get('calibration_people', '?')} people"
    return OpenSet(float(rows[0]["threshold_fixed"]), float(found["target_fpir"]), int(sizes.get("gallery_people", 0)), where)


def newest_steps(metrics_files: Iterable[Path], sha256: str) -> list[Path]:
    """The step folders of ``metrics_files`` whose model is the recogniser ``sha256``, newest first."""
    found = [path for path in metrics_files if _model_sha(_read(path) or {}) == sha256]
    return [path.parent for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def latest_operating(sha256: str, results: Path) -> Operating | None:
    """The operating threshold of the newest notebook 02/03 step folder under ``results`` that scored ``sha256``."""
    steps = newest_steps(results.glob(f"*/0[23]_*/{METRICS}"), sha256)
    return next((found for folder in steps if (found := operating_of(folder))), None)


def latest_open_set(sha256: str, runs: Iterable[Path]) -> OpenSet | None:
    """Notebook 04's open-set threshold of the newest step folder in ``runs`` that searched with ``sha256``."""
    steps = newest_steps((path for run in runs for path in run.glob(f"04_*/{METRICS}")), sha256)
    return next((found for folder in steps if (found := open_set_of(folder))), None)


def shipped_record(sha256: str, shipped: Path = SHIPPED_FILE) -> dict[str, Any] | None:
    """The shipped thresholds of the pack whose recogniser has ``sha256``, or None."""
    packs = _read(shipped) or {}
    return next((record for record in packs.values() if isinstance(record, dict) and record.get("recogniser_sha256") == sha256), None)


def _shipped_source(record: dict[str, Any]) -> str:
    where = record["provenance"]
    return f"shipped, measured on {where['dataset']} val, run {where['run']} of {where['date']}: your own run's replaces it"


def shipped_operating(sha256: str, shipped: Path = SHIPPED_FILE) -> Operating | None:
    """The verification threshold the project ships for this recogniser, labelled as shipped."""
    record = shipped_record(sha256, shipped)
    if record is None:
        return None
    found = record["verification"]
    return Operating(float(found["threshold"]), float(found["fmr"]), _shipped_source(record), found.get("impostors"))


def shipped_open_set(sha256: str, shipped: Path = SHIPPED_FILE) -> OpenSet | None:
    """The open-set threshold the project ships for this recogniser, or None."""
    record = shipped_record(sha256, shipped)
    found = None if record is None else record.get("open_set")
    if not found:
        return None
    return OpenSet(float(found["threshold"]), float(found["target_fpir"]), int(found["gallery_people"]), _shipped_source(record))


def drift_warning(impostor_scores: list[float], operating: Operating) -> str:
    """A warning when these impostor scores sit well above those the threshold was set on (empty when they do not,
    or when the threshold carries no impostor quantiles)."""
    if not impostor_scores or not operating.impostors or DRIFT_QUANTILE not in operating.impostors:
        return ""
    median = statistics.median(impostor_scores)
    limit = operating.impostors[DRIFT_QUANTILE]
    if median <= limit:
        return ""
    return (
        f"warning: these different-person scores (median {median:.3f}, {len(impostor_scores)} of them) sit above 90% of those the threshold "
        f"was set on ({limit:.3f}): the photos look unlike its calibration data, so its FMR may not hold; calibrate on "
        "photos like these (lqface calibrate FOLDER)"
    )
