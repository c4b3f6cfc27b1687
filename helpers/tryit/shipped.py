"""The thresholds a pack ships with, written from a run and checked against it.

    python -m helpers.tryit.shipped RUN_FOLDER    # adds or replaces the run's pack in shipped_thresholds.json

The record holds the notebook 02 operating threshold (set on val HQ-HQ impostor pairs), the val impostor
scores' quantiles (for the drift warning), notebook 04's open-set threshold when the run has one, and the
provenance: run, config, dataset, split, code commit and date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.files import write_json_atomic
from helpers.evaluation.conditions import HQ_CONDITION
from helpers.evaluation.scores import read_val_scores
from helpers.tryit.thresholds import METRICS, SHIPPED_FILE, open_set_of

BASELINE, IDENTIFY, PREPARE = "02_baseline", "04_identify_baseline", "01_prepare_dataset"
QUANTILES = {"median": 0.5, "q90": 0.9, "q99": 0.99}


class NotShippable(ValueError):
    """A run folder that lacks what a shipped threshold is made from."""


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NotShippable(f"{path}: cannot be read ({error}); pass a completed run folder with {BASELINE}") from None


def quantiles_of(impostors: np.ndarray) -> dict[str, float]:
    """The :data:`QUANTILES` of impostor scores, which the drift warning compares a batch with."""
    return {name: round(float(np.quantile(impostors, q)), 6) for name, q in QUANTILES.items()}


def impostor_quantiles(step: Path) -> dict[str, float]:
    """Quantiles of the val HQ-HQ impostor scores a step folder saved."""
    val = read_val_scores(step)
    if val is None:
        raise NotShippable(f"{step} holds no val scores: re-run notebook 02 with this workbench")
    return quantiles_of(val.loc[~val["same"].astype(bool), HQ_CONDITION].to_numpy())


def _commit(run: Path, step: dict[str, Any]) -> str:
    attempt = step.get("attempt", 1)
    versions = _json(run / ("versions.json" if attempt == 1 else f"versions.attempt-{attempt}.json"))
    return str(versions.get("workbench", {}).get("git_commit", "unknown"))


def record_of(run: Path) -> tuple[str, dict[str, Any]]:
    """The pack's name and its shipped record, from a completed run folder."""
    pipeline = _json(run / "pipeline.json")
    step = next((s for s in pipeline.get("steps", []) if s.get("name") == BASELINE and s.get("status") == "completed"), None)
    if step is None:
        raise NotShippable(f"{run}: step {BASELINE} has not completed")
    metrics = _json(run / BASELINE / METRICS)
    operating, model = metrics["protocol"]["operating"], metrics["model"]
    if operating.get("threshold") is None:
        raise NotShippable(f"{run / BASELINE}: val supported no operating threshold ({operating.get('advice', '')})")
    settings = _json(run / PREPARE / "prepare_summary.json")
    open_set = open_set_of(run / IDENTIFY) if (run / IDENTIFY / METRICS).is_file() else None
    split = {key: settings["settings"][key] for key in ("seed", "split_fractions", "min_images", "closed_set")}
    record = {
        "recogniser_sha256": model["sha256"],
        "model": model.get("label", model["name"]),
        "verification": {key: operating[key] for key in ("threshold", "fmr", "fmr_target", "set_on", "weighting", "val_people", "val_impostors")}
        | {"impostors": impostor_quantiles(run / BASELINE)},
        "open_set": None
        if open_set is None
        else {"threshold": open_set.threshold, "target_fpir": open_set.target_fpir, "gallery_people": open_set.gallery_people, "step": IDENTIFY},
        "provenance": {
            "run": run.name,
            "config": f"configs/{Path(pipeline['config_file']).name}" if pipeline.get("config_file") else "",
            "step": BASELINE,
            "dataset": Path(settings["settings"]["dataset"]).name,
            "split": split | {"people": settings["people_per_split"]},
            "commit": _commit(run, step),
            "date": step["ended"][:10],
        },
    }
    return str(model.get("pack", model["name"])), record


def mismatches(record: dict[str, Any], run: Path) -> list[str]:
    """Where a shipped record differs from what ``run`` gives now (empty when it matches exactly)."""
    _, fresh = record_of(run)
    return [key for key in sorted(set(record) | set(fresh)) if record.get(key) != json.loads(json.dumps(fresh.get(key)))]


def ship(run: Path, shipped: Path = SHIPPED_FILE) -> str:
    """Add or replace the run's pack in ``shipped``; returns the pack's name."""
    name, record = record_of(run)
    packs = json.loads(shipped.read_text(encoding="utf-8")) if shipped.is_file() else {}
    write_json_atomic(shipped, packs | {name: record})
    return name


def main(argv: list[str]) -> int:
    """``python -m helpers.tryit.shipped RUN_FOLDER``."""
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        name = ship(Path(argv[0]))
    except NotShippable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{SHIPPED_FILE}: {name} from {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
