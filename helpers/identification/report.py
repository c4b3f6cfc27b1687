"""Notebook 04's files: ``metrics.json``, the tables as CSV, and ``summary.md``; and the headline notebook 05 shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.files import write_csv_atomic, write_json_atomic, write_text_atomic
from helpers.core.markdown import frame_table
from helpers.core.sources import project_path
from helpers.evaluation.conditions import E2E_PREFIX

METRICS = "metrics.json"
TABLES = ("closed_set", "per_person", "top_confusions", "open_set", "cmc", "dir_fpir")


def headline_view(primary_condition: str) -> str:
    """The probe view of a verification condition: ``e2e:HQ-real24`` -> ``e2e:real24``, ``px16-px16`` -> ``px16``."""
    prefix = E2E_PREFIX if primary_condition.startswith(E2E_PREFIX) else ""
    probe = primary_condition.removeprefix(E2E_PREFIX).split("-")[-1]
    return "HQ" if probe == "HQ" else f"{prefix}{probe}"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready rows (NaN -> None)."""
    return json.loads(frame.replace({np.nan: None}).to_json(orient="records"))


def save_outputs(run: Path, report: dict[str, Any], tables: dict[str, pd.DataFrame]) -> list[Path]:
    """Write ``metrics.json`` (``report`` plus the closed- and open-set rows) and each table as ``<name>.csv``, atomically."""
    for name, table in tables.items():
        write_csv_atomic(run / f"{name}.csv", table)
    full = report | {"closed_set": report["closed_set"] | {"results": records(tables["closed_set"])}}
    full["open_set"] = report["open_set"] | {"results": records(tables["open_set"])}
    write_json_atomic(run / METRICS, full)
    return [run / METRICS, *(run / f"{name}.csv" for name in tables)]


def read_identification(folder: str | Path) -> dict[str, Any]:
    """A notebook 04 step folder's ``metrics.json``; the error names the file."""
    path = project_path(folder) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass notebook 04's step folder (run notebook 04 for this model first)")
    data = json.loads(path.read_text(encoding="utf-8"))
    if "open_set" not in data or "closed_set" not in data:
        raise ValueError(f"{path} is not notebook 04's metrics.json (no open_set / closed_set)")
    return data


HEADLINE_COLUMNS = [
    "model",
    "classifier",
    "view",
    "accuracy HQ (HQ-trained)",
    "accuracy (HQ-trained)",
    "accuracy (mixed-trained)",
    "rank-1 HQ",
    "rank-1",
    "DIR (fixed threshold)",
    "FPIR HQ",
    "FPIR target",
]


def headline(reports: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per model: closed-set accuracy at HQ and at the headline view for both regimes, and open-set rank-1, DIR and FPIR."""
    rows = []
    for report in reports:
        view, classifier = report["headline_view"], report["headline_classifier"]
        closed = pd.DataFrame(report["closed_set"]["results"])
        closed = closed[closed["classifier"] == classifier].set_index(["regime", "view"])["accuracy"]
        opened = pd.DataFrame(report["open_set"]["results"]).set_index("view")
        values = [
            report["model"]["name"],
            classifier,
            view,
            closed.get(("hq", "HQ")),
            closed.get(("hq", view)),
            closed.get(("mixed", view)),
            opened.loc["HQ", "rank1"],
            opened.loc[view, "rank1"],
            opened.loc[view, "dir_fixed"],
            opened.loc["HQ", "fpir_fixed"],
            report["open_set"]["target_fpir"],
        ]
        rows.append(dict(zip(HEADLINE_COLUMNS, values, strict=True)))
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def headline_markdown(rows: list[dict[str, Any]]) -> str:
    """:func:`headline`'s rows (as stored in notebook 05's ``metrics.json``) as a Markdown table, columns in their order."""
    return frame_table(pd.DataFrame(rows)[HEADLINE_COLUMNS])


FIRM_FALSE_ALARMS = 10
"""A smaller val false-alarm budget at the target leaves the threshold, and the FPIR it gives on test, loose."""

UNITS = {"person": ("calibration_people", "val people, each counted once"), "image": ("calibration_probes", "val probes")}
"""Per ``calibration_weights``: the open-set size that counts the budget's units, and how to name them."""


def calibration_note(budget: float, weights: str, sizes: dict[str, int], target: float) -> str:
    """How many val false alarms the threshold allows (in people or probes), with a warning when too few to set it firmly."""
    size, units = UNITS[weights]
    note = f"- The threshold allows {budget:.1f} val false alarm(s) ({sizes[size]} {units}, x FPIR {target:g})"
    if budget >= FIRM_FALSE_ALARMS:
        return note + "."
    return note + f": fewer than {FIRM_FALSE_ALARMS}, so the FPIR it gives on test is loose; raise target_fpir or use more val people."


def summary_markdown(report: dict[str, Any], closed: pd.DataFrame, opened: pd.DataFrame) -> str:
    """``summary.md``: the headline in plain words, then the per-view tables."""
    view, classifier, target = report["headline_view"], report["headline_classifier"], report["open_set"]["target_fpir"]
    sizes, open_sizes = report["closed_set"]["split"], report["open_set"]["sizes"]
    weights = report["settings"]["calibration_weights"]
    pick = closed[closed["classifier"] == classifier].set_index(["regime", "view"])
    hq_row, at = opened.set_index("view").loc["HQ"], opened.set_index("view").loc[view]

    def accuracy(regime: str, where: str) -> str:
        row = pick.loc[(regime, where)]
        return f"{row['accuracy']:.3f} [{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]"

    lines = [
        f"# Identification: {report['model']['name']}",
        "",
        f"Closed set ({classifier}; {sizes['people']} people, {sizes['train_images']} training and {sizes['eval_images']} held-out images; "
        "95% intervals resample people):",
        f"- HQ probes: {accuracy('hq', 'HQ')} trained on HQ only.",
        f"- {view} probes: {accuracy('hq', view)} trained on HQ only, {accuracy('mixed', view)} trained on HQ + degraded copies.",
        "",
        f"Open set ({open_sizes['gallery_people']} people enrolled with HQ images; {open_sizes['known_probes']} known and "
        f"{open_sizes['unknown_probes']} unknown test probes; threshold set at FPIR {target:g} on {open_sizes['calibration_probes']} val probes "
        f"of {open_sizes['calibration_people']} people, weighted by {weights}):",
        f"- HQ probes: rank-1 {hq_row['rank1']:.3f}, DIR {hq_row['dir_fixed']:.3f}, FPIR on unknown test people {hq_row['fpir_fixed']:.4f} "
        f"[{hq_row['fpir_fixed_ci_low']:.4f}, {hq_row['fpir_fixed_ci_high']:.4f}] ({hq_row['fpir_fixed'] / target:.2f}x the target).",
        f"- {view} probes: rank-1 {at['rank1']:.3f}; at the HQ-calibrated threshold DIR {at['dir_fixed']:.3f}, FPIR {at['fpir_fixed']:.4f}; "
        f"at a threshold calibrated on {view} val probes DIR {at['dir_matched']:.3f}, FPIR {at['fpir_matched']:.4f}.",
        calibration_note(hq_row["val_alarm_budget"], weights, open_sizes, target),
        "",
        f"## Closed set per view ({classifier})",
        "",
        frame_table(pick.reset_index()[CLOSED_COLUMNS]),
        "",
        "## Open set per view",
        "",
        frame_table(opened[OPEN_COLUMNS]),
    ]
    return "\n".join(lines)


CLOSED_COLUMNS = ["regime", "view", "alignment", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "not_acquired"]
OPEN_COLUMNS = ["view", "alignment", "rank1", "rank1_ci_low", "rank1_ci_high", "rank5", "dir_fixed", "fpir_fixed", "dir_matched", "fpir_matched"]


def write_summary(run: Path, report: dict[str, Any], closed: pd.DataFrame, opened: pd.DataFrame) -> Path:
    """Write ``summary.md`` atomically."""
    write_text_atomic(run / "summary.md", summary_markdown(report, closed, opened))
    return run / "summary.md"
