"""Comparing models scored on the same pairs: the tables, paired differences and verdicts of every report.

One model (notebooks 02 and 03) or many (notebook 04) go through the same
functions. Every number comes from what the models' own notebooks wrote: the
table from their ``metrics.json``, differences from their ``scores.csv``.
Differences come from :func:`helpers.evaluation.metrics.paired_identity_bootstrap`:
both models' scores on each shared pair are resampled together, identity by
identity, so the interval reflects that the pairs are shared and correlated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.files import write_csv_atomic, write_json_atomic
from helpers.evaluation import metrics
from helpers.evaluation.conditions import HQ_CONDITION
from helpers.evaluation.model_runs import ModelRun, condition_frame, protocol_tag, roles
from helpers.evaluation.reports import METRICS
from helpers.evaluation.scores import PAIR_KEY
from helpers.evaluation.statistics import AUC, FALLBACKS, HEADLINE, TABLE, Statistic
from helpers.evaluation.summary import format_interval

COMPARISON, DIFFERENCES = "comparison.csv", "differences.csv"
MAX_HQ_AUC_DROP = 0.002
"""The project's bar: fine-tuning for low quality may cost at most this much HQ-HQ AUC."""


# --- Paired differences -----------------------------------------------------------------------------


def shared_pairs(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The pairs both score files hold, side by side (``score_before``, ``score_after``).

    Raises when the files disagree on a pair's labels, or share no pairs: then
    they were not scored under the same protocol and cannot be compared as pairs.
    """
    merged = before.merge(after, on=PAIR_KEY, suffixes=("_before", "_after"), validate="one_to_one")
    if merged.empty:
        raise ValueError("the two score files share no (condition, path_a, path_b) pair: were they scored on the same split and seed?")
    for column in ("same", "identity_a", "identity_b"):
        if not (merged[f"{column}_before"] == merged[f"{column}_after"]).all():
            raise ValueError(f"the two score files disagree on '{column}' for the same pairs")
    return merged.rename(columns={"same_before": "same", "identity_a_before": "identity_a", "identity_b_before": "identity_b"})


def _paired_row(group: pd.DataFrame, statistic: Statistic, n_boot: int, seed: int) -> dict[str, Any]:
    """One statistic of one condition: before, after, and the paired difference with its CI and p-value (NaN where not estimable)."""
    same = group["same"].to_numpy().astype(bool)
    before, after = (statistic.point(group[column].to_numpy(), same) for column in ("score_before", "score_after"))
    diff = {"diff": math.nan, "low": math.nan, "high": math.nan, "p_value": math.nan}
    if math.isfinite(before) and math.isfinite(after):
        diff = metrics.paired_identity_bootstrap(
            group["score_before"].to_numpy(),
            group["score_after"].to_numpy(),
            same,
            group["identity_a"].to_numpy(),
            group["identity_b"].to_numpy(),
            statistic.resampled,
            n_boot=n_boot,
            seed=seed,
        )
    return {"statistic": statistic.key, "pairs": len(group), "before": before, "after": after} | diff | {"fallback_for": ""}


def _condition_rows(group: pd.DataFrame, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Every headline statistic of one condition, and for one that is not estimable here the first estimable fallback."""
    rows = []
    for statistic in HEADLINE:
        rows.append(row := _paired_row(group, statistic, n_boot, seed))
        if math.isfinite(row["before"]) and math.isfinite(row["after"]):
            continue
        for fallback in FALLBACKS.get(statistic.key, ()):
            found = _paired_row(group, fallback, n_boot, seed)
            if math.isfinite(found["before"]) and math.isfinite(found["after"]):
                rows.append(found | {"fallback_for": statistic.key})
                break
    return rows


def paired_differences(before: pd.DataFrame, after: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per condition and headline statistic: before, after, their difference with a 95% identity-bootstrap CI and p-value.

    A headline statistic that is not estimable on these pairs (e.g. TAR@FAR=1e-3 with fewer than 10,000
    impostor pairs) stays as a row of NaNs, followed by its first estimable fallback, marked ``fallback_for``.
    """
    merged = shared_pairs(before, after)
    return pd.DataFrame(
        [{"condition": condition} | row for condition, group in merged.groupby("condition", sort=False) for row in _condition_rows(group, n_boot, seed)]
    )


def differences_table(runs: Sequence[ModelRun], condition_info: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Every other model minus the baseline, per condition and statistic, on the pairs both scored (paired bootstrap)."""
    base = runs[0]
    frame = pd.concat(
        [
            paired_differences(base.scores, run.scores, n_boot, seed).assign(model=run.name, baseline=base.name, model_rank=rank)
            for rank, run in enumerate(runs[1:])
        ],
        ignore_index=True,
    )
    frame["protocol"] = base.tag
    frame["condition_rank"] = frame["condition"].map({name: rank for rank, name in enumerate(condition_info.index)})
    frame = frame.sort_values(["model_rank", "condition_rank"], kind="stable")
    columns = ["protocol", "model", "baseline", "condition", "statistic", "pairs", "before", "after", "diff", "low", "high", "p_value", "fallback_for"]
    return frame[columns].reset_index(drop=True)


def hq_regression(differences: pd.DataFrame, max_drop: float = MAX_HQ_AUC_DROP) -> pd.DataFrame:
    """Per compared model: its HQ-HQ AUC change, whether the drop stays within ``max_drop``, and whether the CI does too."""
    rows = differences[(differences["condition"] == HQ_CONDITION) & (differences["statistic"] == AUC.key)]
    if rows.empty:
        raise ValueError(f"no {HQ_CONDITION} AUC difference to check: the models share no {HQ_CONDITION} pairs")
    return (
        rows[["protocol", "model", "baseline", "pairs", "before", "after", "diff", "low", "high", "p_value"]]
        .assign(
            max_drop=max_drop,
            passes=-rows["diff"] <= max_drop,
            ci_within_bar=rows["low"] >= -max_drop,
        )
        .reset_index(drop=True)
    )


# --- The table ------------------------------------------------------------------------------------


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _table_row(entry: dict) -> dict[str, Any]:
    """The table's numbers for one model and condition, straight from its ``metrics.json`` entry."""
    row: dict[str, Any] = {"pairs": entry["n_pairs"], "genuine": entry["n_genuine"], "impostor": entry["n_impostor"]}
    for statistic in TABLE:
        found = statistic.entry(entry)
        low, high = found["ci"] or (None, None)
        row |= {
            statistic.key: _float(found["value"]),
            f"{statistic.key}_low": _float(low),
            f"{statistic.key}_high": _float(high),
            f"{statistic.key}_estimable": found.get("estimable", True),
        }
    threshold = entry.get("accuracy_at_val_threshold")
    row["accuracy_at_val_threshold"] = math.nan if threshold is None else threshold["value"]
    failures = entry["detector_failures"]
    return row | failures | {"no_face_images": failures["no_face_excluded"] + failures["no_face_centre_crop"]}


def comparison_table(runs: Sequence[ModelRun], condition_info: pd.DataFrame) -> pd.DataFrame:
    """One row per condition and model: pair counts, every table statistic with its 95% CI, detector failures."""
    role = roles(runs)
    return pd.DataFrame(
        [
            {"protocol": run.tag, "condition": name, "model": run.name, "role": role[run.name], "resolution": info["resolution"]}
            | _table_row(run.conditions[name])
            for name, info in condition_info.iterrows()
            for run in runs
            if name in run.conditions
        ]
    )


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for reading: ``value [95% CI]`` per statistic, indexed by condition and model."""
    out = table[["protocol", "condition", "model", "pairs", "genuine", "impostor"]].copy()
    for statistic in TABLE:
        key = statistic.key
        out[statistic.label] = [
            format_interval(value, low, high, statistic.digits) if estimable else "not estimable"
            for value, low, high, estimable in table[[key, f"{key}_low", f"{key}_high", f"{key}_estimable"]].to_numpy()
        ]
    out["acc@val-thr"] = table["accuracy_at_val_threshold"].round(4)
    out["no-face images"] = table["no_face_images"]
    return out.set_index(["condition", "model"])


def model_table(run: ModelRun) -> pd.DataFrame:
    """One model's table for reading: the comparison table of that model alone (notebooks 02 and 03)."""
    return display_table(comparison_table([run], condition_frame([run])))


def detector_failure_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Images without a detected face (excluded or kept as centre crops) per model and condition."""
    counts = table.pivot(index=["protocol", "model"], columns="condition", values="no_face_images")
    return counts[list(dict.fromkeys(table["condition"]))]


# --- Notebook 04's metrics.json and CSV files ------------------------------------------------------


def _difference_entry(row: pd.Series) -> dict[str, Any]:
    diff = metrics.interval_entry(row["diff"], (row["low"], row["high"]))
    entry = {
        "pairs": int(row["pairs"]),
        "before": metrics.finite_or_none(row["before"]),
        "after": metrics.finite_or_none(row["after"]),
        "diff": diff["value"],
        "ci": diff["ci"],
        "p_value": metrics.finite_or_none(row["p_value"]),
    }
    return entry | ({"fallback_for": row["fallback_for"]} if row.get("fallback_for") else {})


def differences_json(differences: pd.DataFrame) -> dict[str, dict[str, dict[str, dict]]]:
    """``{model: {condition: {statistic: entry}}}`` from the differences table."""
    nested: dict[str, dict[str, dict[str, dict]]] = {}
    for _, row in differences.iterrows():
        nested.setdefault(row["model"], {}).setdefault(row["condition"], {})[row["statistic"]] = _difference_entry(row)
    return nested


def _table_entry(entry: dict) -> dict[str, Any]:
    """The table's numbers of one ``metrics.json`` condition entry, as they were written."""
    kept = {key: entry[key] for key in ("n_pairs", "n_genuine", "n_impostor", "auc", "eer")}
    fars = [metrics.far_key(statistic.far) for statistic in TABLE if statistic.far is not None]
    return kept | {"tar_at_far": {far: entry["tar_at_far"][far] for far in fars}}


def comparison_report(
    runs: Sequence[ModelRun], condition_info: pd.DataFrame, differences: pd.DataFrame, regression: pd.DataFrame, n_boot: int, seed: int
) -> dict[str, Any]:
    """Notebook 04's ``metrics.json``: per model and condition the table's numbers, per compared model the
    paired differences, the HQ regression verdict, detector failures and the protocol."""
    protocol, role = runs[0].protocol, roles(runs)
    return {
        "protocol": {"label": protocol.label, "tag": protocol_tag(protocol.label), "split": protocol.split},
        "baseline": runs[0].name,
        "model_order": [run.name for run in runs],
        "models": {run.name: {"folder": str(run.folder), "role": role[run.name], "model": run.report.model} for run in runs},
        "condition_order": list(condition_info.index),
        "condition_info": {
            name: {"family": info["family"], "resolution": int(info["resolution"]), "description": info["description"]}
            for name, info in condition_info.iterrows()
        },
        "conditions": {name: {run.name: _table_entry(run.conditions[name]) for run in runs if name in run.conditions} for name in condition_info.index},
        "differences": differences_json(differences),
        "hq_regression": {
            "condition": HQ_CONDITION,
            "statistic": AUC.key,
            "max_auc_drop": float(regression["max_drop"].iloc[0]),
            "models": {
                row["model"]: _difference_entry(row) | {"passes": bool(row["passes"]), "ci_within_bar": bool(row["ci_within_bar"])}
                for _, row in regression.iterrows()
            },
        },
        "detector_failures": {run.name: {name: entry["detector_failures"] for name, entry in run.conditions.items()} for run in runs},
        "bootstrap": {"method": "paired percentile, clusters = identity_a", "level": 0.95, "n_boot": n_boot, "seed": seed},
    }


def save_outputs(step_dir: Path, report: dict[str, Any], table: pd.DataFrame, differences: pd.DataFrame) -> None:
    """Write notebook 04's ``metrics.json``, ``comparison.csv`` and ``differences.csv`` atomically."""
    write_json_atomic(Path(step_dir) / METRICS, report)
    write_csv_atomic(Path(step_dir) / COMPARISON, table)
    write_csv_atomic(Path(step_dir) / DIFFERENCES, differences)
