"""Comparing models scored on the same pairs: notebook 03's before/after and notebook 04's table of models.

Every number comes from what the models' own notebooks wrote: the table from
their ``metrics.json`` (``helpers.metrics.verification_report``), ROC curves and
differences from their ``scores.csv``. Differences come from
:func:`helpers.metrics.paired_identity_bootstrap`: both models' scores on each
shared pair are resampled together, identity by identity, so the interval
reflects that the pairs are shared and correlated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers import baseline, metrics, plots
from helpers.degrade import Degradation
from helpers.files import write_csv_atomic, write_json_atomic
from helpers.sources import project_path
from helpers.split import CLOSED_SET, OPEN_SET
from helpers.summary import format_interval
from helpers.verification import SCORE_COLUMNS, Condition, conditions

PAIR_KEY = ["condition", "path_a", "path_b"]
STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auc": metrics.auc,
    "tar@1e-3": lambda scores, same: metrics.tar_at_far(scores, same, 1e-3),
}
"""Point estimates, NaN where undefined or (TAR) not estimable on the shared pairs."""
SCORES, METRICS = "scores.csv", "metrics.json"
TABLE_FARS = ("1e-01", "1e-02", "1e-03")
HQ_CONDITION = "HQ-HQ"
MAX_HQ_AUC_DROP = 0.002
"""The project's bar: fine-tuning for low quality may cost at most this much HQ-HQ AUC."""
FAMILIES = (HQ_CONDITION, "HQ gallery vs LQ probe", "LQ vs LQ")
_TEXT_COLUMNS = ("path_a", "path_b", "identity_a", "identity_b", "condition", "model")


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


def _tar_in_resample(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """TAR at the last ROC point with FAR <= ``far``, without the estimability rule (NaN when a class is missing).

    Inside the bootstrap, as in :func:`helpers.metrics.verification_report`: estimability is judged once on all
    pairs, so a resample drawing slightly fewer impostors still counts.
    """
    if not 0 < same.sum() < same.size:
        return math.nan
    curve = metrics.roc(scores, same)
    return float(curve.tar[np.searchsorted(curve.far, far, side="right") - 1])


_RESAMPLED: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auc": metrics.auc,
    "tar@1e-3": lambda scores, same: _tar_in_resample(scores, same, 1e-3),
}


def _paired_row(group: pd.DataFrame, name: str, n_boot: int, seed: int) -> dict[str, Any]:
    """One statistic of one condition: before, after, and the paired difference with its CI and p-value (NaN where not estimable)."""
    same = group["same"].to_numpy().astype(bool)
    before, after = (STATISTICS[name](group[column].to_numpy(), same) for column in ("score_before", "score_after"))
    diff = {"diff": math.nan, "low": math.nan, "high": math.nan, "p_value": math.nan}
    if math.isfinite(before) and math.isfinite(after):
        diff = metrics.paired_identity_bootstrap(
            group["score_before"].to_numpy(), group["score_after"].to_numpy(), same,
            group["identity_a"].to_numpy(), group["identity_b"].to_numpy(), _RESAMPLED[name], n_boot=n_boot, seed=seed,
        )
    return {"statistic": name, "pairs": len(group), "before": before, "after": after} | diff


def paired_differences(before: pd.DataFrame, after: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per condition and statistic: before, after, their difference with a 95% identity-bootstrap CI and p-value."""
    merged = shared_pairs(before, after)
    rows = [{"condition": condition} | _paired_row(group, name, n_boot, seed)
            for condition, group in merged.groupby("condition", sort=False) for name in STATISTICS]
    return pd.DataFrame(rows)


# --- Loading and checking the models' step folders -------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModelRun:
    """One model's step folder (notebook 02 or 03): its ``scores.csv`` and ``metrics.json``."""

    name: str
    folder: Path
    scores: pd.DataFrame
    metrics: dict[str, Any]

    @property
    def protocol(self) -> dict[str, Any]:
        return self.metrics["protocol"]

    @property
    def report(self) -> dict[str, dict]:
        """Per-condition metrics, as ``verification_report`` wrote them."""
        return self.metrics["conditions"]


def load_run(folder: str | Path) -> ModelRun:
    """Read a step folder; its model's name is the single value of the ``model`` column of ``scores.csv``."""
    path = project_path(folder)
    if missing := [name for name in (SCORES, METRICS) if not (path / name).is_file()]:
        raise FileNotFoundError(f"{path} has no {' and no '.join(missing)}: pass the step folder of notebook 02 or 03")
    scores = pd.read_csv(path / SCORES, dtype=dict.fromkeys(_TEXT_COLUMNS, str), keep_default_na=False)
    if lacking := [column for column in SCORE_COLUMNS if column not in scores.columns]:
        raise ValueError(f"{path / SCORES} lacks the columns {lacking}")
    names = scores["model"].unique()
    if len(names) != 1:
        raise ValueError(f"{path / SCORES} holds {len(names)} model names {list(names)[:5]}; a step folder holds exactly one model")
    report = json.loads((path / METRICS).read_text(encoding="utf-8"))
    if lacking := [key for key in ("conditions", "protocol") if key not in report]:
        raise ValueError(f"{path / METRICS} lacks {lacking}: it was not written by notebook 02 or 03")
    return ModelRun(str(names[0]), path, scores, report)


def check_comparable(runs: Sequence[ModelRun]) -> None:
    """Raise unless the runs carry distinct model names, one protocol label and split, and the same level definitions."""
    _check_names(runs)
    _check_protocol(runs)
    _check_levels(runs)


def _check_names(runs: Sequence[ModelRun]) -> None:
    seen: dict[str, Path] = {}
    for run in runs:
        if run.name in seen:
            raise ValueError(f"{seen[run.name]} and {run.folder} both hold model '{run.name}': give each model its own name")
        seen[run.name] = run.folder


def _check_protocol(runs: Sequence[ModelRun]) -> None:
    first = runs[0]
    for run in runs[1:]:
        for key in ("label", "split"):
            if run.protocol.get(key) != first.protocol.get(key):
                raise ValueError(f"refusing to compare {run.folder} ({key}: {run.protocol.get(key)!r}) with "
                                 f"{first.folder} ({key}: {first.protocol.get(key)!r}): they were not scored under one protocol")


def _check_levels(runs: Sequence[ModelRun]) -> None:
    defined: dict[str, tuple[dict, Path]] = {}
    for run in runs:
        for level, spec in run.protocol["levels"].items():
            first_spec, first_folder = defined.setdefault(level, (spec, run.folder))
            if spec != first_spec:
                raise ValueError(f"level '{level}' is defined differently in {first_folder} and {run.folder}: the conditions are not comparable")


def baseline_first(runs: Sequence[ModelRun], baseline_name: str = "") -> list[ModelRun]:
    """The runs with the baseline first: the model named ``baseline_name``, or the first run when it is empty."""
    if not baseline_name:
        return list(runs)
    chosen = [run for run in runs if run.name == baseline_name]
    if not chosen:
        raise ValueError(f"baseline '{baseline_name}' is none of the models {[run.name for run in runs]}")
    return chosen + [run for run in runs if run.name != baseline_name]


def load_runs(folders: Sequence[str | Path], baseline_name: str = "") -> list[ModelRun]:
    """The models of ``folders``, checked to be comparable, baseline first; needs at least two."""
    if isinstance(folders, (str, Path)):
        raise TypeError(f"`models` must be a list of step folders, got the single {type(folders).__name__} {str(folders)!r}")
    if len(folders) < 2:
        raise ValueError(f"`models` lists {len(folders)} step folder(s): a comparison needs the baseline and at least one more model")
    runs = [load_run(folder) for folder in folders]
    check_comparable(runs)
    return baseline_first(runs, baseline_name)


def protocol_tag(label: str) -> str:
    """``open-set`` or ``closed-set`` for a protocol label (any other label is returned whole)."""
    return {OPEN_SET: "open-set", CLOSED_SET: "closed-set"}.get(label, label)


def roles(runs: Sequence[ModelRun]) -> dict[str, str]:
    """``baseline`` for the first run's model, ``compared`` for the others."""
    return {run.name: "baseline" if i == 0 else "compared" for i, run in enumerate(runs)}


def models_frame(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """One row per model: its role, protocol, folder, conditions and scored pairs."""
    role = roles(runs)
    return pd.DataFrame([{
        "model": run.name, "role": role[run.name], "protocol": protocol_tag(run.protocol["label"]),
        "folder": str(run.folder), "conditions": len(run.report), "scored pairs": len(run.scores),
    } for run in runs])


# --- Conditions ------------------------------------------------------------------------------------


def run_conditions(run: ModelRun) -> list[Condition]:
    """The conditions ``run`` reports, rebuilt from the level definitions in its protocol."""
    levels = [Degradation(**spec) for spec in run.protocol["levels"].values()]
    return [condition for condition in conditions(levels) if condition.name in run.report]


def family(condition: Condition) -> str:
    """``HQ-HQ``, ``HQ gallery vs LQ probe`` or ``LQ vs LQ``."""
    if condition.level_a.is_identity:
        return FAMILIES[0] if condition.level_b.is_identity else FAMILIES[1]
    return FAMILIES[2]


def _side(level: Degradation) -> str:
    """A level in words: ``HQ``, ``16 px`` for a pure resolution level, else its name."""
    if level.is_identity:
        return "HQ"
    return f"{level.resolution} px" if level == Degradation(level.name, resolution=level.resolution) else level.name


def describe(condition: Condition) -> str:
    """A condition in plain words, e.g. ``HQ gallery vs 16 px probes``."""
    a, b = _side(condition.level_a), _side(condition.level_b)
    return f"{b} faces on both sides" if a == b else f"{a} gallery vs {b} probes"


def condition_frame(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """Every condition any model reports, in reading order (HQ-HQ, HQ-LQ, LQ-LQ; sharper first): family, resolution, description."""
    found = {condition.name: condition for run in runs for condition in run_conditions(run)}
    rows = [{"condition": name, "family": family(c), "resolution": c.resolution, "description": describe(c)} for name, c in found.items()]
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["family"].map(FAMILIES.index)
    return frame.sort_values(["rank", "resolution", "condition"], ascending=[True, False, True]).drop(columns="rank").set_index("condition")


# --- The table ------------------------------------------------------------------------------------


def _interval_columns(name: str, entry: dict) -> dict[str, float]:
    low, high = entry["ci"] or (None, None)
    return {name: _float(entry["value"]), f"{name}_low": _float(low), f"{name}_high": _float(high)}


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _table_row(entry: dict) -> dict[str, Any]:
    """The table's numbers for one model and condition, straight from its ``metrics.json`` entry."""
    row = {"pairs": entry["n_pairs"], "genuine": entry["n_genuine"], "impostor": entry["n_impostor"]}
    row |= _interval_columns("auc", entry["auc"]) | _interval_columns("eer", entry["eer"])
    for far in TABLE_FARS:
        tar = entry["tar_at_far"][far]
        row |= _interval_columns(f"tar@{far}", tar) | {f"tar@{far}_estimable": tar["estimable"]}
    failures = entry["detector_failures"]
    return row | failures | {"no_face_images": failures["no_face_excluded"] + failures["no_face_centre_crop"]}


def comparison_table(runs: Sequence[ModelRun], condition_info: pd.DataFrame) -> pd.DataFrame:
    """One row per condition and model: pair counts, AUC, EER, TAR@FAR with 95% CIs, detector failures."""
    tag, role = protocol_tag(runs[0].protocol["label"]), roles(runs)
    return pd.DataFrame([
        {"protocol": tag, "condition": name, "model": run.name, "role": role[run.name], "resolution": info["resolution"]} | _table_row(run.report[name])
        for name, info in condition_info.iterrows() for run in runs if name in run.report
    ])


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for reading: ``value [95% CI]`` per metric, indexed by condition and model."""
    out = table[["protocol", "condition", "model", "pairs", "genuine", "impostor"]].copy()
    for name, label, digits in (("auc", "AUC", 4), ("eer", "EER", 4)):
        out[label] = [format_interval(*values, digits) for values in table[[name, f"{name}_low", f"{name}_high"]].to_numpy()]
    for far in TABLE_FARS:
        column = f"tar@{far}"
        out[f"TAR@{far}"] = [
            format_interval(value, low, high, 3) if estimable else "not estimable"
            for value, low, high, estimable in table[[column, f"{column}_low", f"{column}_high", f"{column}_estimable"]].to_numpy()
        ]
    out["no-face images"] = table["no_face_images"]
    return out.set_index(["condition", "model"])


def detector_failure_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Images without a detected face (excluded or kept as centre crops) per model and condition."""
    counts = table.pivot(index=["protocol", "model"], columns="condition", values="no_face_images")
    return counts[list(dict.fromkeys(table["condition"]))]


# --- Differences from the baseline ----------------------------------------------------------------


def differences_table(runs: Sequence[ModelRun], condition_info: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Every other model minus the baseline, per condition and statistic, on the pairs both scored (paired bootstrap)."""
    base = runs[0]
    frame = pd.concat([
        paired_differences(base.scores, run.scores, n_boot, seed).assign(model=run.name, baseline=base.name, model_rank=rank) for rank, run in enumerate(runs[1:])
    ], ignore_index=True)
    frame["protocol"] = protocol_tag(base.protocol["label"])
    frame["condition_rank"] = frame["condition"].map({name: rank for rank, name in enumerate(condition_info.index)})
    frame = frame.sort_values(["model_rank", "condition_rank"], kind="stable")
    columns = ["protocol", "model", "baseline", "condition", "statistic", "pairs", "before", "after", "diff", "low", "high", "p_value"]
    return frame[columns].reset_index(drop=True)


def hq_regression(differences: pd.DataFrame, max_drop: float = MAX_HQ_AUC_DROP) -> pd.DataFrame:
    """Per compared model: its HQ-HQ AUC change, whether the drop stays within ``max_drop``, and whether the CI does too."""
    rows = differences[(differences["condition"] == HQ_CONDITION) & (differences["statistic"] == "auc")]
    if rows.empty:
        raise ValueError(f"no {HQ_CONDITION} AUC difference to check: the models share no {HQ_CONDITION} pairs")
    return rows[["protocol", "model", "baseline", "pairs", "before", "after", "diff", "low", "high", "p_value"]].assign(
        max_drop=max_drop, passes=-rows["diff"] <= max_drop, ci_within_bar=rows["low"] >= -max_drop,
    ).reset_index(drop=True)


# --- Figures --------------------------------------------------------------------------------------


def roc_figures(runs: Sequence[ModelRun], condition_info: pd.DataFrame, tag: str) -> dict[str, Figure]:
    """ROC overlays of all models, one panel per condition: HQ gallery (with HQ-HQ) and LQ vs LQ, one figure each."""
    curves = {run.name: baseline.roc_by_condition(run.scores) for run in runs}
    groups = {
        "roc_hq_vs_lq": ("HQ gallery vs LQ probe", condition_info.index[condition_info["family"] != FAMILIES[2]]),
        "roc_lq_vs_lq": ("LQ vs LQ", condition_info.index[condition_info["family"] == FAMILIES[2]]),
    }
    return {
        key: plots.roc_grid({name: {model: found[name] for model, found in curves.items() if name in found} for name in names},
                            f"ROC, {title}: {', '.join(curves)} ({tag})")
        for key, (title, names) in groups.items() if len(names)
    }


def resolution_table(runs: Sequence[ModelRun], metric: str) -> pd.DataFrame:
    """Rows of (model, series, resolution, value, low, high) for ``metric`` (``auc`` or ``tar`` at FAR 1e-3) of every model."""
    return pd.concat([baseline.resolution_table(run.report, run_conditions(run), metric).assign(model=run.name) for run in runs], ignore_index=True)


def resolution_figures(runs: Sequence[ModelRun], tag: str) -> dict[str, Figure]:
    """AUC and TAR@FAR=1e-3 against face resolution, all models on one figure each."""
    return {
        f"{metric}_vs_resolution": plots.models_vs_resolution(resolution_table(runs, metric), label, f"{label} vs face resolution, all models ({tag})")
        for metric, label in (("auc", "AUC"), ("tar", "TAR@FAR=1e-3"))
    }


def difference_figures(differences: pd.DataFrame, tag: str) -> dict[str, Figure]:
    """A forest plot per statistic: each compared model minus the baseline, per condition, with 95% CIs."""
    base = differences["baseline"].iloc[0]
    return {
        f"difference_{statistic.replace('@', '_at_')}": plots.difference_forest(differences, statistic, f"{statistic}: model minus {base} ({tag})")
        for statistic in STATISTICS
    }


def save_figures(step_dir: Path, figures: dict[str, Figure]) -> list[Path]:
    """Save each figure as ``<name>.png`` in ``step_dir``."""
    return [plots.save_figure(figure, Path(step_dir) / f"{name}.png") for name, figure in figures.items()]


# --- metrics.json and the CSV files ---------------------------------------------------------------


def _difference_entry(row: pd.Series) -> dict[str, Any]:
    diff = metrics.interval_entry(row["diff"], (row["low"], row["high"]))
    return {"pairs": int(row["pairs"]), "before": metrics.finite_or_none(row["before"]), "after": metrics.finite_or_none(row["after"]),
            "diff": diff["value"], "ci": diff["ci"], "p_value": metrics.finite_or_none(row["p_value"])}


def _differences_json(differences: pd.DataFrame) -> dict[str, dict[str, dict[str, dict]]]:
    """``{model: {condition: {statistic: entry}}}`` from the differences table."""
    nested: dict[str, dict[str, dict[str, dict]]] = {}
    for _, row in differences.iterrows():
        nested.setdefault(row["model"], {}).setdefault(row["condition"], {})[row["statistic"]] = _difference_entry(row)
    return nested


def _table_entry(entry: dict) -> dict[str, Any]:
    """The table's numbers of one ``metrics.json`` condition entry, as they were written."""
    kept = {key: entry[key] for key in ("n_pairs", "n_genuine", "n_impostor", "auc", "eer")}
    return kept | {"tar_at_far": {far: entry["tar_at_far"][far] for far in TABLE_FARS}}


def comparison_report(
    runs: Sequence[ModelRun], condition_info: pd.DataFrame, differences: pd.DataFrame, regression: pd.DataFrame, n_boot: int, seed: int
) -> dict[str, Any]:
    """Notebook 04's ``metrics.json``: per model and condition the table's numbers, per compared model the
    paired differences, the HQ regression verdict, detector failures and the protocol."""
    protocol, role = runs[0].protocol, roles(runs)
    return {
        "protocol": {"label": protocol["label"], "tag": protocol_tag(protocol["label"]), "split": protocol.get("split")},
        "baseline": runs[0].name,
        "model_order": [run.name for run in runs],
        "models": {run.name: {"folder": str(run.folder), "role": role[run.name], "model": run.metrics.get("model")} for run in runs},
        "condition_order": list(condition_info.index),
        "condition_info": {name: {"family": info["family"], "resolution": int(info["resolution"]), "description": info["description"]}
                           for name, info in condition_info.iterrows()},
        "conditions": {name: {run.name: _table_entry(run.report[name]) for run in runs if name in run.report} for name in condition_info.index},
        "differences": _differences_json(differences),
        "hq_regression": {
            "condition": HQ_CONDITION, "statistic": "auc", "max_auc_drop": float(regression["max_drop"].iloc[0]),
            "models": {row["model"]: _difference_entry(row) | {"passes": bool(row["passes"]), "ci_within_bar": bool(row["ci_within_bar"])}
                       for _, row in regression.iterrows()},
        },
        "detector_failures": {run.name: {name: entry["detector_failures"] for name, entry in run.report.items()} for run in runs},
        "bootstrap": {"method": "paired percentile, clusters = identity_a", "level": 0.95, "n_boot": n_boot, "seed": seed},
    }


def save_outputs(step_dir: Path, report: dict[str, Any], table: pd.DataFrame, differences: pd.DataFrame) -> None:
    """Write ``metrics.json``, ``comparison.csv`` and ``differences.csv`` atomically."""
    write_json_atomic(Path(step_dir) / METRICS, report)
    write_csv_atomic(Path(step_dir) / "comparison.csv", table)
    write_csv_atomic(Path(step_dir) / "differences.csv", differences)
