"""Comparing models scored on the same pairs: the tables, paired differences and verdicts of every report.

One model (notebooks 02 and 03) or many (notebook 05) go through the same
functions. Every number comes from what the models' own notebooks wrote: the
table from their ``metrics.json``, differences from their ``scores.parquet``.
Models are compared only on identical pair sets. Differences come from the
two-way identity bootstrap (:mod:`helpers.evaluation.bootstrap`): both models'
scores are reweighted alike, person by person, so the interval reflects that
the pairs are shared and correlated; p-values come from the same resamples
under the null, Holm-adjusted for every comparison but the declared primary one
(:mod:`helpers.evaluation.endpoints`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.files import write_csv_atomic, write_json_atomic
from helpers.core.progress import progress
from helpers.evaluation import metrics
from helpers.evaluation.bootstrap import METHOD, TEST, People, holm, interval, interval_entry, null_p, resample_paired
from helpers.evaluation.conditions import ALIGNMENT, END_TO_END, HQ_CONDITION
from helpers.evaluation.endpoints import PRIMARY, SECONDARY, Endpoint
from helpers.evaluation.exposure import HELD_OUT_JOIN, exposure, exposure_summary, held_out, held_out_summary, trained_on
from helpers.evaluation.metrics import RankedScores, system_pairs
from helpers.evaluation.model_runs import ModelRun, condition_frame, protocol_tag, roles, run_conditions
from helpers.evaluation.reports import METRICS
from helpers.evaluation.robustness import ROBUSTNESS
from helpers.evaluation.scores import PAIR_COLUMNS, conditions_of, people_of
from helpers.evaluation.statistics import ALL, Statistic, first_estimable, measure
from helpers.evaluation.summary import statistic_text

COMPARISON, DIFFERENCES = "comparison.csv", "differences.csv"
DIFFERENCE_COLUMNS = [
    "protocol", "model", "baseline", "condition", "alignment", "training", "held_out", "statistic", "fallback_for", "role",
    "pairs", "before", "after", "diff", "low", "high", "p_value", "p_holm",
]  # fmt: skip


# --- Paired differences -----------------------------------------------------------------------------


def check_same_pairs(before: ModelRun, after: ModelRun) -> None:
    """Raise unless both models scored exactly the same pairs, in the same order, with the same labels."""
    columns = [*PAIR_COLUMNS]
    first, second = (run.scores[columns].astype(str).reset_index(drop=True) for run in (before, after))
    if first.equals(second):
        return
    shared = len(first.merge(second, on=columns))
    raise ValueError(
        f"{after.name} ({after.folder}) scored {len(second):,} pairs and {before.name} ({before.folder}) {len(first):,}, "
        f"{shared:,} of them shared: models are compared only on identical pair sets; score both under the same pair settings"
    )


def _statistics(endpoint: Endpoint, impostor_units: float) -> list[tuple[Statistic, str]]:
    """Each compared statistic, or its first estimable stand-in on impostor pairs resting on ``impostor_units`` effective
    pairs of people, with the key it stands in for."""
    chosen: dict[str, tuple[Statistic, str]] = {}
    for statistic in endpoint.compared():
        found = first_estimable(statistic.key, impostor_units)
        chosen.setdefault(found.key, (found, "" if found == statistic else statistic.key))
    return list(chosen.values())


def _condition_rows(before: ModelRun, after: ModelRun, condition: str, people: People, endpoint: Endpoint, n_boot: int, seed: int) -> list[dict]:
    """The paired differences of one condition: each compared statistic, after minus before, with a two-way interval and p-value."""
    same, values = before.scores["same"].to_numpy().astype(bool), [run.scores[condition].to_numpy() for run in (before, after)]
    keep = system_pairs(values[0], same)
    if not np.array_equal(keep, system_pairs(values[1], same)):
        raise ValueError(f"{after.name} and {before.name} failed to acquire different faces under {condition}: rescore both on one notebook 01 output")
    first, second = (RankedScores(scores[keep], same[keep]) for scores in values)
    people = people.subset(keep)
    chosen = _statistics(endpoint, people.impostor_units())
    values_of = measure([statistic for statistic, _ in chosen])
    thresholds = (before.thresholds(n_boot, seed), after.thresholds(n_boot, seed))
    was, now = values_of(first.roc(), thresholds[0].point), values_of(second.roc(), thresholds[1].point)
    resampled = resample_paired(first, second, people, (values_of, values_of), thresholds, seed)
    p_values = null_p(resampled, now - was)
    rows = []
    for k, (statistic, stand_in) in enumerate(chosen):
        low, high = interval(resampled[:, k])
        rows.append(
            {"condition": condition, "statistic": statistic.key, "fallback_for": stand_in, "pairs": int(keep.sum()), "before": was[k], "after": now[k]}
            | {"diff": now[k] - was[k], "low": low, "high": high, "p_value": p_values[k]}
        )
    return rows


def paired_differences(before: ModelRun, after: ModelRun, endpoint: Endpoint, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per condition and compared statistic: before, after, the difference with its 95% two-way interval, its
    bootstrap p-value under the null and, for every comparison but the primary, the Holm-adjusted p-value."""
    check_same_pairs(before, after)
    scores = before.scores
    people = people_of(scores)
    rows = [
        row
        for condition in progress(conditions_of(scores), f"{after.name} vs {before.name}")
        for row in _condition_rows(before, after, condition, people, endpoint, n_boot, seed)
    ]
    frame = pd.DataFrame(rows)
    frame["role"] = [endpoint.role(c, f or s) for c, s, f in zip(frame["condition"], frame["statistic"], frame["fallback_for"])]
    return with_holm(frame)


def primary_difference(before: ModelRun, after: ModelRun, endpoint: Endpoint, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The paired difference at the primary endpoint alone (its statistic, or the stand-in the pairs allow), unadjusted."""
    check_same_pairs(before, after)
    rows = _condition_rows(before, after, endpoint.condition, people_of(before.scores), endpoint, n_boot, seed)
    return next(row for row in rows if endpoint.statistic in (row["statistic"], row["fallback_for"]))


def with_holm(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``p_holm``: Holm's adjustment over every secondary comparison in it, one family (the primary unadjusted)."""
    secondary = frame["role"] == SECONDARY
    frame = frame.assign(p_holm=frame["p_value"].where(~secondary))
    frame.loc[secondary, "p_holm"] = holm(frame.loc[secondary, "p_value"])
    return frame


def differences_table(runs: Sequence[ModelRun], condition_info: pd.DataFrame, endpoint: Endpoint, n_boot: int, seed: int) -> pd.DataFrame:
    """Every other model minus the baseline, per condition and statistic, on the identical pairs both scored (paired bootstrap);
    the secondary comparisons of all models form one Holm family."""
    base = runs[0]
    frame = pd.concat([paired_differences(base, run, endpoint, n_boot, seed).assign(model=run.name, model_rank=rank) for rank, run in enumerate(runs[1:])])
    frame = with_holm(frame.reset_index(drop=True))
    frame["protocol"], frame["baseline"] = base.tag, base.name
    frame["condition_rank"] = frame["condition"].map({name: rank for rank, name in enumerate(condition_info.index)})
    frame["alignment"] = frame["condition"].map(condition_info["alignment"])
    labels = {run.name: _exposures(run) for run in runs[1:]}
    frame["training"] = [labels[model][condition][0] for model, condition in zip(frame["model"], frame["condition"])]
    frame["held_out"] = [HELD_OUT_JOIN.join(labels[model][condition][1]) for model, condition in zip(frame["model"], frame["condition"])]
    return frame.sort_values(["model_rank", "condition_rank"], kind="stable")[DIFFERENCE_COLUMNS].reset_index(drop=True)


def _exposures(run: ModelRun) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per condition, ``seen`` / ``beyond`` / ``unseen`` in ``run``'s training for its probe level (``""``: HQ, or not
    trained here), and the families of it that training never drew."""
    training = trained_on(run)
    return {
        condition.name: (exposure(condition.probe, condition.mode, training), held_out(condition.probe, condition.mode, training))
        for condition in run_conditions(run)
    }


def non_inferiority(differences: pd.DataFrame, endpoint: Endpoint) -> pd.DataFrame:
    """Per compared model: the HQ-HQ change in the primary statistic (or its stand-in), whether its interval stays within
    the margin, and whether the check is ``tested``: it comes after the primary in a fixed sequence, so only a model whose
    primary gain is significant (p < 0.05, in the better direction) is tested (the interval is kept for the record)."""
    hq = differences[differences["condition"] == HQ_CONDITION]
    rows = hq[(hq["statistic"] == endpoint.statistic) | (hq["fallback_for"] == endpoint.statistic)]
    if rows.empty:
        raise ValueError(f"no {HQ_CONDITION} difference in {endpoint.statistic} to check: the models share no {HQ_CONDITION} pairs")
    verdicts = [endpoint.non_inferior(low, high) if math.isfinite(low) else False for low, high in zip(rows["low"], rows["high"])]
    primary = differences[differences["role"] == PRIMARY].set_index("model")
    tested = [model in primary.index and endpoint.primary_shows_gain(primary.loc[model, "diff"], primary.loc[model, "p_value"]) for model in rows["model"]]
    return (
        rows[["protocol", "model", "baseline", "statistic", "pairs", "before", "after", "diff", "low", "high"]]
        .assign(margin=endpoint.non_inferiority_margin, non_inferior=verdicts, tested=tested)
        .reset_index(drop=True)
    )


# --- The table ------------------------------------------------------------------------------------


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _none(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _ci(low: float, high: float) -> list[float] | None:
    return [float(low), float(high)] if math.isfinite(low) and math.isfinite(high) else None


def _table_row(entry: dict) -> dict[str, Any]:
    """The table's numbers for one model and condition, straight from its ``metrics.json`` entry."""
    row: dict[str, Any] = {
        "pairs": entry["n_pairs"],
        "genuine": entry["n_genuine"],
        "impostor": entry["n_impostor"],
        "impostor_pairs_left_out": entry["impostor_pairs_left_out"],
        "people_pairs": entry["people_pairs"],
        "genuine_people": entry["genuine_people"],
    }
    for statistic in ALL:
        found = statistic.entry(entry)
        low, high = found["ci"] or (None, None)
        row |= {
            statistic.key: _float(found["value"]),
            f"{statistic.key}_low": _float(low),
            f"{statistic.key}_high": _float(high),
            f"{statistic.key}_estimable": found.get("estimable", True),
            f"{statistic.key}_available": found.get("available", True),
        }
    row["threshold"] = _float(entry["operating"]["threshold"])
    failures, acquired = entry["detector_failures"], entry.get("acquisition")
    row |= {
        "fta_images": acquired["failed"] if acquired else 0,
        "fta_rate": acquired["rate"] if acquired else 0.0,
        "wrong_face_images": acquired["wrong_face"] if acquired else 0,
    }
    return row | failures | {"no_face_images": failures["no_face_excluded"] + failures["no_face_centre_crop"]}


def comparison_table(runs: Sequence[ModelRun], condition_info: pd.DataFrame) -> pd.DataFrame:
    """One row per condition and model: alignment, pair counts, every statistic with its 95% CI, the operating point,
    failures to acquire (end-to-end) and HQ detector failures."""
    role = roles(runs)
    return pd.DataFrame(
        [
            {"protocol": run.tag, "condition": name, "alignment": info["alignment"], "model": run.name, "role": role[run.name]}
            | {"resolution": info["resolution"]}
            | _table_row(run.conditions[name])
            for name, info in condition_info.iterrows()
            for run in runs
            if name in run.conditions
        ]
    )


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for reading: ``value [95% CI]`` per statistic, indexed by condition and model."""
    out = table[["protocol", "condition", "model", "alignment", "pairs", "genuine", "impostor"]].copy()
    for statistic in ALL:
        key = statistic.key
        out[statistic.label] = [
            statistic_text(statistic, {"value": _none(value), "ci": _ci(low, high), "estimable": estimable, "available": available}, units)
            for value, low, high, estimable, available, units in table[
                [key, f"{key}_low", f"{key}_high", f"{key}_estimable", f"{key}_available", "people_pairs"]
            ].to_numpy()
        ]
    out["failed to acquire"] = [
        f"{n} ({rate:.1%})" if alignment == ALIGNMENT[END_TO_END] else "" for n, rate, alignment in table[["fta_images", "fta_rate", "alignment"]].to_numpy()
    ]
    out["no-face images"] = table["no_face_images"]
    return out.set_index(["condition", "model"])


def model_table(run: ModelRun) -> pd.DataFrame:
    """One model's table for reading: the comparison table of that model alone (notebooks 02 and 03)."""
    return display_table(comparison_table([run], condition_frame([run])))


def detector_failure_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per condition: HQ images without a detected face (excluded or kept as centre crops), and test images whose degraded
    photo yielded no face or another face (end-to-end conditions; the same for every model)."""
    first = table.drop_duplicates("condition").set_index("condition")
    return first[["alignment", "no_face_images", "fta_images", "fta_rate"]].rename(
        columns={"no_face_images": "HQ no-face images", "fta_images": "failed to acquire", "fta_rate": "FTA rate"}
    )


# --- Notebook 05's metrics.json and CSV files ------------------------------------------------------


def _difference_entry(row: pd.Series) -> dict[str, Any]:
    diff = interval_entry(row["diff"], (row["low"], row["high"]))
    entry = {
        "statistic": row["statistic"],
        "pairs": int(row["pairs"]),
        "before": metrics.finite_or_none(row["before"]),
        "after": metrics.finite_or_none(row["after"]),
        "diff": diff["value"],
        "ci": diff["ci"],
        "p_value": metrics.finite_or_none(row["p_value"]),
        "p_holm": metrics.finite_or_none(row["p_holm"]),
        "role": row["role"],
        "alignment": row["alignment"],
        "training": row["training"],
    }
    return entry | ({"fallback_for": row["fallback_for"]} if row.get("fallback_for") else {})


def differences_json(differences: pd.DataFrame) -> dict[str, dict[str, dict[str, dict]]]:
    """``{model: {condition: {statistic: entry}}}`` from the differences table."""
    nested: dict[str, dict[str, dict[str, dict]]] = {}
    for _, row in differences.iterrows():
        nested.setdefault(row["model"], {}).setdefault(row["condition"], {})[row["statistic"]] = _difference_entry(row)
    return nested


def _verdict_entry(row: pd.Series) -> dict[str, Any]:
    diff = interval_entry(row["diff"], (row["low"], row["high"]))
    kept = {key: metrics.finite_or_none(row[key]) for key in ("before", "after")}
    return (
        {"statistic": row["statistic"], "pairs": int(row["pairs"])}
        | kept
        | {"diff": diff["value"], "ci": diff["ci"], "non_inferior": bool(row["non_inferior"]), "tested": bool(row["tested"])}
    )


def _table_entry(entry: dict) -> dict[str, Any]:
    """The table's numbers of one ``metrics.json`` condition entry, as they were written."""
    keys = ("n_pairs", "n_genuine", "n_impostor", "people_pairs", "genuine_people", "auc", "eer", "tar_at_far", "operating")
    return {key: entry[key] for key in keys}


def _primary(runs: Sequence[ModelRun], differences: pd.DataFrame, endpoint: Endpoint) -> dict[str, Any]:
    """The primary endpoint: each model's value with its interval, and each compared model's gain; where the declared
    statistic is not estimable on these pairs, its first estimable stand-in (``statistic_used``)."""
    found = differences[differences["role"] == PRIMARY].set_index("model")
    entry = runs[0].conditions[endpoint.condition]
    n_impostor, units = entry["n_impostor"], entry["people_pairs"]
    used = first_estimable(endpoint.statistic, units)
    return {
        "condition": endpoint.condition,
        "statistic": endpoint.statistic,
        "statistic_used": used.key,
        "estimable": used == endpoint.primary,
        "n_impostor": n_impostor,
        "people_pairs": units,
        "models": {run.name: used.entry(run.conditions[endpoint.condition]) for run in runs},
        "gains": {model: _difference_entry(found.loc[model]) for model in found.index},
    }


def comparison_report(
    runs: Sequence[ModelRun], condition_info: pd.DataFrame, differences: pd.DataFrame, verdicts: pd.DataFrame, endpoint: Endpoint, n_boot: int, seed: int
) -> dict[str, Any]:
    """Notebook 05's ``metrics.json``: the primary endpoint, per model and condition the table's numbers and operating point,
    per compared model the paired differences (Holm-adjusted), the HQ non-inferiority verdicts, pairs, detector failures, protocol."""
    protocol, role = runs[0].protocol, roles(runs)
    return {
        "protocol": {"label": protocol.label, "tag": protocol_tag(protocol.label), "split": protocol.split, "version": protocol.version}
        | {"pairs": vars(protocol.pairs), "pair_counts": runs[0].report.pairs},
        "endpoint": vars(endpoint),
        "baseline": runs[0].name,
        "model_order": [run.name for run in runs],
        "models": {
            run.name: {"folder": str(run.folder), "role": role[run.name], "model": run.report.model, "operating": run.protocol.operating} for run in runs
        },
        "condition_order": list(condition_info.index),
        "condition_info": {
            name: {key: info[key] for key in ("family", "mode", "alignment", "description", "level", "factors", "factor")}
            | {"resolution": int(info["resolution"]), "factor_value": metrics.finite_or_none(info["factor_value"])}
            for name, info in condition_info.iterrows()
        },
        "primary": _primary(runs, differences, endpoint),
        "conditions": {name: {run.name: _table_entry(run.conditions[name]) for run in runs if name in run.conditions} for name in condition_info.index},
        "differences": differences_json(differences),
        "non_inferiority": {
            "condition": HQ_CONDITION,
            "statistic": endpoint.statistic,
            "margin": endpoint.non_inferiority_margin,
            "models": {row["model"]: _verdict_entry(row) for _, row in verdicts.iterrows()},
        },
        "detector_failures": {run.name: {name: entry["detector_failures"] for name, entry in run.conditions.items()} for run in runs},
        "acquisition": {"settings": protocol.acquisition, "conditions": {name: entry.get("acquisition") for name, entry in runs[0].conditions.items()}},
        "exposure": {key: exposure_summary(differences, key).to_dict(orient="records") for key in dict.fromkeys(("auc", endpoint.statistic))},
        "held_out": {endpoint.statistic: held_out_summary(differences, endpoint.statistic).to_dict(orient="records")},
        "bootstrap": {
            "method": METHOD,
            "p_values": TEST,
            "multiplicity": "Holm over every secondary comparison of every compared model, one family; HQ non-inferiority after the primary in a fixed sequence",
            "level": 0.95,
            "n_boot": n_boot,
            "seed": seed,
        },
    }


def save_outputs(step_dir: Path, report: dict[str, Any], table: pd.DataFrame, differences: pd.DataFrame, robust: pd.DataFrame | None = None) -> None:
    """Write notebook 05's ``metrics.json``, ``comparison.csv``, ``differences.csv`` and (when ranked) ``robustness.csv`` atomically."""
    write_json_atomic(Path(step_dir) / METRICS, report)
    write_csv_atomic(Path(step_dir) / COMPARISON, table)
    write_csv_atomic(Path(step_dir) / DIFFERENCES, differences)
    if robust is not None:
        write_csv_atomic(Path(step_dir) / ROBUSTNESS, robust)
