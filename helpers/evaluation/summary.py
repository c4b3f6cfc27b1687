"""Plain-words reports of a model comparison (notebook 04), written from its ``metrics.json`` alone.

:func:`write_summary` turns the comparison's numbers into ``summary.md``;
:func:`results_table` gives the markdown results table (models and their gains
per condition) that the README carries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers.core.files import write_text_atomic
from helpers.core.sources import project_path
from helpers.evaluation.conditions import HQ_GALLERY
from helpers.evaluation.reports import METRICS
from helpers.evaluation.statistics import BY_KEY, HEADLINE, TAR_1E3, Statistic

SUMMARY = "summary.md"
MISSING = "–"


ROUNDING_NOISE = 1e-12
"""Smaller magnitudes are floating-point noise (e.g. a difference of two equal statistics), shown as 0."""
DEGENERATE = "[degenerate: every resample gave this value]"


def format_interval(value: float | None, low: float | None, high: float | None, digits: int, signed: bool = False) -> str:
    """``0.9936 [0.9909, 0.9960]``; ``n/a`` without a value, the bare value without an interval, and an interval of
    no width (every resample gave one value, e.g. a saturated AUC of 1) said in words."""
    if not _finite(value):
        return "n/a"
    text = format_number(value, digits, signed)
    if not (_finite(low) and _finite(high)):
        return text
    if high - low < ROUNDING_NOISE:
        return f"{text} {DEGENERATE}"
    return f"{text} [{format_number(low, digits, signed)}, {format_number(high, digits, signed)}]"


def format_number(value: float, digits: int, signed: bool = False) -> str:
    """``value`` to ``digits`` decimals, or in scientific notation when that would round a non-zero value to zero."""
    sign = "+" if signed else ""
    value = 0.0 if abs(value) < ROUNDING_NOISE else value
    if value != 0 and abs(value) < 0.5 * 10.0**-digits:
        return f"{value:{sign}.1e}"
    return f"{value:{sign}.{digits}f}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def format_entry(entry: dict, key: str, digits: int, signed: bool = False) -> str:
    """``entry[key]`` with ``entry["ci"]`` (a metrics.json statistic or difference), as :func:`format_interval`."""
    low, high = entry["ci"] or (None, None)
    return format_interval(entry[key], low, high, digits, signed)


# --- The results table ----------------------------------------------------------------------------


def _model_cell(report: dict, condition: str, model: str, statistic: Statistic) -> str:
    entry = report["conditions"].get(condition, {}).get(model)
    if entry is None:
        return MISSING
    value = statistic.entry(entry)
    return format_entry(value, "value", statistic.digits) if value.get("estimable", True) else "not estimable"


def _gain_cell(report: dict, condition: str, model: str, key: str) -> str:
    entry = report["differences"].get(model, {}).get(condition, {}).get(key)
    return MISSING if entry is None else format_entry(entry, "diff", BY_KEY[key].digits, signed=True)


def results_markdown(report: dict[str, Any], conditions: Sequence[str] | None = None) -> str:
    """Markdown table: per model its value of each headline statistic per condition, then each model's gain over the baseline (95% CIs)."""
    names = list(conditions or report["condition_order"])
    base = report["baseline"]
    lines = [f"| model ({report['protocol']['tag']}) | statistic | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for model in report["model_order"]:
        lines += [f"| {model} | {s.label} | " + " | ".join(_model_cell(report, c, model, s) for c in names) + " |" for s in HEADLINE]
    for model in report["model_order"][1:]:
        lines += [f"| gain of {model} over {base} | {s.label} | " + " | ".join(_gain_cell(report, c, model, s.key) for c in names) + " |" for s in HEADLINE]
    return "\n".join(lines) + "\n"


def headline_markdown(report: dict[str, Any], conditions: Sequence[str], statistic: Statistic = TAR_1E3) -> str:
    """Markdown table of one statistic per condition, one row each: baseline, every other model, and its paired gain (95% CIs)."""
    base, others = report["baseline"], report["model_order"][1:]
    header = [f"condition ({report['protocol']['tag']})", f"{base}: {statistic.label}"]
    for model in others:
        header += [f"{model}", f"gain of {model} (paired 95% CI)"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for condition in conditions:
        cells = [f"{report['condition_info'][condition]['description']} ({condition})", _model_cell(report, condition, base, statistic)]
        for model in others:
            cells += [_model_cell(report, condition, model, statistic), _gain_cell(report, condition, model, statistic.key)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_table(step_dir: str | Path, conditions: Sequence[str] | None = None) -> str:
    """The markdown results table of a finished notebook-04 folder (all its conditions unless ``conditions`` picks some)."""
    return results_markdown(read_comparison(step_dir), conditions)


def read_comparison(step_dir: str | Path) -> dict[str, Any]:
    """Notebook 04's ``metrics.json`` from its step folder (relative paths from the project root)."""
    return json.loads((project_path(step_dir) / METRICS).read_text(encoding="utf-8"))


# --- Sentences ------------------------------------------------------------------------------------


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "the whole interval lies above zero, so the gain is unlikely to be chance"
    if high < 0:
        return "the whole interval lies below zero, so the loss is unlikely to be chance"
    return "the interval contains zero: no clear difference"


def _p_text(p_value: float, n_boot: int) -> str:
    """``p = 0.03``, or ``p ≤ 0.002`` with a note when no resample crossed zero (the smallest p the bootstrap can show)."""
    if p_value <= 2 / (n_boot + 1) * (1 + 1e-9):
        return f"p ≤ {p_value:.2g} (no resample crossed zero)"
    return f"p = {p_value:.2g}"


def change_sentence(entry: dict, key: str, n_boot: int) -> str:
    """How one statistic moved from the baseline, in words, e.g. ``TAR@FAR=1e-3 rose from 0.740 to 0.812, 95% CI of the gain [...]``."""
    statistic = BY_KEY[key]
    before, after, diff, d = entry["before"], entry["after"], entry["diff"], statistic.digits
    if not (_finite(before) and _finite(after) and _finite(diff)):
        return f"{statistic.label} is not estimable here (too few impostor pairs, or only one kind of pair)"
    was, now = format_number(before, d), format_number(after, d)
    moved = f"stayed at {was}" if was == now else f"{'rose' if diff > 0 else 'fell'} from {was} to {now}"
    if entry["ci"] is None:
        return f"{statistic.label} {moved} (gain {format_number(diff, d, signed=True)}; no interval: too few usable bootstrap resamples)"
    low, high = entry["ci"]
    return (
        f"{statistic.label} {moved}, 95% CI of the gain [{format_number(low, d, True)}, {format_number(high, d, True)}], "
        f"{_p_text(entry['p_value'], n_boot)}; {_verdict(low, high)}"
    )


def regression_sentence(entry: dict, max_drop: float) -> str:
    """The HQ regression verdict of one model in words."""
    if not _finite(entry["diff"]):
        return "cannot be checked: its HQ-HQ AUC is undefined"
    change = f"HQ-HQ AUC went from {entry['before']:.4f} to {entry['after']:.4f} ({format_entry(entry, 'diff', 4, signed=True)})"
    if not entry["passes"]:
        return f"{change}: **fails** the bar, a drop of {-entry['diff']:.4f} is more than {max_drop}"
    if entry["ci_within_bar"]:
        return f"{change}: **passes**; even the interval's worst case stays within the bar"
    low = (entry["ci"] or [math.nan])[0]
    return f"{change}: **passes** on the measured change, but the interval allows a drop of up to {-low:.4f}, beyond the bar"


def failures_sentence(failures: dict[str, dict[str, int]]) -> str:
    """Images without a detected face for one model: once when every condition has the same counts, else per condition."""
    texts = {
        name: f"{f['no_face_excluded'] + f['no_face_centre_crop']} of {f['images']} test images "
        f"({f['no_face_excluded']} excluded, {f['no_face_centre_crop']} kept as flagged centre crops)"
        for name, f in failures.items()
    }
    if len(set(texts.values())) == 1:
        return f"no face found in {next(iter(texts.values()))}, under every condition"
    return "no face found in " + "; ".join(f"{text} under {name}" for name, text in texts.items())


def headline_condition(report: dict[str, Any]) -> str:
    """The condition the key result is told for: the smallest HQ-gallery-vs-LQ-probe faces, else the smallest faces of any."""
    info = report["condition_info"]
    order = report["condition_order"]
    candidates = [name for name in order if info[name]["family"] == HQ_GALLERY] or order
    return min(candidates, key=lambda name: info[name]["resolution"])


# --- summary.md -----------------------------------------------------------------------------------


def _intro(report: dict[str, Any]) -> list[str]:
    protocol, others = report["protocol"], report["model_order"][1:]
    lines = [f"# Model comparison ({protocol['tag']})", "", f"Protocol: **{protocol['label']}**, {protocol['split']} split.", ""]
    if protocol["tag"] == "closed-set":
        lines += [
            "> **Closed-set result.** The same people appear in training and test (with different images), so these numbers",
            "> are not the identity-disjoint (open-set) result and overstate how well the models recognise people they never saw.",
            "",
        ]
    boot = report["bootstrap"]
    return [
        *lines,
        f"Baseline: **{report['baseline']}**. Compared with it: {', '.join(f'**{m}**' for m in others)}.",
        "Each model's numbers are those its own notebook wrote (`metrics.json`, `scores.csv`); nothing is re-scored.",
        "Differences are paired: on the pairs both models scored, both models' scores are resampled together, identity by",
        f"identity ({boot['n_boot']} bootstrap resamples, seed {boot['seed']}), giving 95% intervals and two-sided p-values.",
        "",
    ]


def _change_block(report: dict[str, Any], model: str, condition: str, heading: str) -> list[str]:
    """A bullet for one model and condition, one sub-bullet per statistic; none when the model shares no pairs of it."""
    entries = report["differences"].get(model, {}).get(condition)
    if entries is None:
        return [f"- **{heading}** ({condition}): no pairs shared with the baseline."]
    n_boot = report["bootstrap"]["n_boot"]
    return [f"- **{heading}** ({condition}, {next(iter(entries.values()))['pairs']:,} shared pairs):"] + [
        f"  - {_with_fallback(entries, s.key, n_boot)}." for s in HEADLINE
    ]


def _with_fallback(entries: dict[str, dict], key: str, n_boot: int) -> str:
    """:func:`change_sentence` of ``key``; when it is not estimable, followed by the fallback statistic's that stands in for it."""
    sentence = change_sentence(entries[key], key, n_boot)
    stand_in = next((name for name, entry in entries.items() if entry.get("fallback_for") == key), None)
    return sentence if stand_in is None else f"{sentence}; instead, {change_sentence(entries[stand_in], stand_in, n_boot)}"


def _key_results(report: dict[str, Any]) -> list[str]:
    condition = headline_condition(report)
    description = report["condition_info"][condition]["description"]
    lines = ["## Key result", ""]
    for model in report["model_order"][1:]:
        lines += _change_block(report, model, condition, f"{model} against {report['baseline']}, {description}")
    return [*lines, ""]


def _every_condition(report: dict[str, Any]) -> list[str]:
    lines = []
    for model in report["model_order"][1:]:
        lines += [f"## Every condition: {model} against {report['baseline']}", ""]
        for condition in report["condition_order"]:
            lines += _change_block(report, model, condition, report["condition_info"][condition]["description"])
        lines.append("")
    return lines


def _regression(report: dict[str, Any]) -> list[str]:
    check = report["hq_regression"]
    lines = [
        "## Does fine-tuning cost accuracy on good images?",
        "",
        f"The project's bar: {check['condition']} AUC may drop by at most {check['max_auc_drop']}.",
        "",
    ]
    lines += [
        f"- **{model}**: {regression_sentence(check['models'][model], check['max_auc_drop'])}."
        for model in report["model_order"][1:]
        if model in check["models"]
    ]
    return [*lines, ""]


def _failures(report: dict[str, Any]) -> list[str]:
    lines = ["## Detector failures", ""]
    lines += [f"- **{model}**: {failures_sentence(report['detector_failures'][model])}." for model in report["model_order"]]
    return [*lines, ""]


def summary_markdown(report: dict[str, Any], figures: Sequence[str] = ()) -> str:
    """``summary.md`` for notebook 04's ``metrics.json`` dict: key result, every condition, HQ regression, detector failures, table."""
    lines = _intro(report) + _key_results(report) + _every_condition(report) + _regression(report) + _failures(report)
    lines += [
        "## Results",
        "",
        "AUC and TAR@FAR=1e-3 with 95% intervals; gains are paired differences from the baseline.",
        "",
        results_markdown(report),
        "## Files",
        "",
        "`comparison.csv` (AUC, EER, TAR@FAR 1e-1/1e-2/1e-3 with CIs, pair counts and detector failures per model and condition), "
        "`differences.csv`, `metrics.json`" + "".join(f", `{name}`" for name in figures) + ".",
    ]
    return "\n".join(lines) + "\n"


def write_summary(step_dir: str | Path) -> Path:
    """Write ``summary.md`` beside the ``metrics.json`` (and PNGs) of a notebook-04 step folder; returns its path."""
    folder = project_path(step_dir)
    target = folder / SUMMARY
    write_text_atomic(target, summary_markdown(read_comparison(folder), sorted(path.name for path in folder.glob("*.png"))))
    return target
