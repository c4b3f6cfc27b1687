"""Plain-words reports of a model comparison (notebook 05), written from its ``metrics.json`` alone.

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
from helpers.core.markdown import table
from helpers.core.sources import project_path
from helpers.evaluation.conditions import LQ_BOTH
from helpers.evaluation.endpoints import PRIMARY
from helpers.evaluation.reports import METRICS
from helpers.evaluation.statistics import AUC, BY_KEY, FMR, FNMR, FRR, Statistic

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


def not_estimable(units: float) -> str:
    """What a table shows for a TAR whose impostor pairs rest on too few effective pairs of people (the rule of 30)."""
    return f"not estimable ({units:,.0f} effective pairs of people)"


NO_THRESHOLD = "no operating threshold"
RULE_UNMET = "(rule of 30 unmet)"
"""After a rate at the operating threshold with fewer than 30 errors expected, counted in people: indicative only."""


def statistic_text(statistic: Statistic, found: dict, units: float) -> str:
    """One statistic of a ``metrics.json`` condition entry as a table cell: value and interval, or why there is none;
    a rate at the threshold that the rule of 30 (counted in people) does not support is marked :data:`RULE_UNMET`."""
    if statistic.far is not None and not found.get("estimable", True):
        return not_estimable(units)
    if not found.get("available", True):
        return NO_THRESHOLD
    shown = format_entry(found, "value", statistic.digits)
    return shown if found.get("estimable", True) or shown == "n/a" else f"{shown} {RULE_UNMET}"


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
    return statistic_text(statistic, statistic.entry(entry), entry["people_pairs"])


def _gain_cell(report: dict, condition: str, model: str, key: str) -> str:
    entry = report["differences"].get(model, {}).get(condition, {}).get(key)
    return MISSING if entry is None else format_entry(entry, "diff", BY_KEY[key].digits, signed=True)


def _shown(report: dict[str, Any]) -> tuple[Statistic, ...]:
    """The statistics of the results tables: AUC and the primary statistic."""
    return tuple(dict.fromkeys((AUC, BY_KEY[report["endpoint"]["statistic"]])))


def results_markdown(report: dict[str, Any], conditions: Sequence[str] | None = None) -> str:
    """Markdown table, one row per condition: alignment, exposure in training, then per model AUC and the primary statistic,
    and each compared model's paired gain over the baseline (95% CIs)."""
    names = list(conditions or report["condition_order"])
    others, shown = report["model_order"][1:], _shown(report)
    header = [f"condition ({report['protocol']['tag']})", "alignment", "failed to acquire"]
    header += [f"{model}: {s.label}" for model in report["model_order"] for s in shown]
    header += [f"gain of {model}: {s.label}" for model in others for s in shown] + ([f"{model}: corruption" for model in others])
    rows = []
    for condition in names:
        info = report["condition_info"][condition]
        cells = [condition, info["alignment"], _fta_cell(report, condition)]
        cells += [_model_cell(report, condition, model, s) for model in report["model_order"] for s in shown]
        cells += [_gain_cell(report, condition, model, s.key) for model in others for s in shown]
        rows.append(cells + [_exposure_cell(report, condition, model) for model in others])
    return table(header, rows)


def _fta_cell(report: dict[str, Any], condition: str) -> str:
    entry = report.get("acquisition", {}).get("conditions", {}).get(condition)
    return "" if entry is None else f"{entry['failed']} of {entry['images']} ({entry['rate']:.1%})"


def _exposure_cell(report: dict[str, Any], condition: str, model: str) -> str:
    entries = report["differences"].get(model, {}).get(condition, {})
    return next((entry.get("training", "") for entry in entries.values()), "")


def model_labels(report: dict[str, Any]) -> dict[str, str]:
    """Each compared model's name for people (``SFace, pretrained``: its ``metrics.json`` label), else its key."""
    return {name: entry["model"].get("label", name) for name, entry in report["models"].items()}


def headline_markdown(report: dict[str, Any], conditions: Sequence[str], statistic: Statistic | None = None, labels: dict[str, str] | None = None) -> str:
    """Markdown table of one statistic (the primary one by default) per condition: baseline, every other model, and its paired gain;
    models named by ``labels`` (default: their keys)."""
    statistic = statistic or BY_KEY[report["endpoint"]["statistic"]]
    base, others = report["baseline"], report["model_order"][1:]
    shown = {model: model for model in report["model_order"]} | (labels or {})
    header = [f"condition ({report['protocol']['tag']})", f"{shown[base]}: {statistic.label}"]
    for model in others:
        header += [shown[model], f"gain of {shown[model]} (paired 95% CI)"]
    rows = []
    for condition in conditions:
        cells = [f"{report['condition_info'][condition]['description']} ({condition})", _model_cell(report, condition, base, statistic)]
        for model in others:
            cells += [_model_cell(report, condition, model, statistic), _gain_cell(report, condition, model, statistic.key)]
        rows.append(cells)
    return table(header, rows)


OPERATING_COLUMNS = ((FMR, "FMR = FAR"), (FNMR, "FNMR (acquired)"), (FRR, "FRR (system)"))
"""The operating-point columns: both levels of ISO/IEC 19795-1 (FMR and FNMR over acquired pairs; FRR counting failures to acquire)."""


def operating_markdown(report: dict[str, Any]) -> str:
    """Markdown table: per condition, each model's FMR (= FAR), FNMR and FRR at its one operating threshold (95% CIs)."""
    models = report["model_order"]
    header = [f"condition ({report['protocol']['tag']})"] + [f"{model}: {label}" for model in models for _, label in OPERATING_COLUMNS]
    rows = (
        [condition] + [_model_cell(report, condition, model, s) for model in models for s, _ in OPERATING_COLUMNS] for condition in report["condition_order"]
    )
    return table(header, rows)


def results_table(step_dir: str | Path, conditions: Sequence[str] | None = None) -> str:
    """The markdown results table of a finished notebook-04 folder (all its conditions unless ``conditions`` picks some)."""
    return results_markdown(read_comparison(step_dir), conditions)


def read_comparison(step_dir: str | Path) -> dict[str, Any]:
    """Notebook 05's ``metrics.json`` from its step folder (relative paths from the project root)."""
    return json.loads((project_path(step_dir) / METRICS).read_text(encoding="utf-8"))


# --- Sentences ------------------------------------------------------------------------------------


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "the whole interval lies above zero"
    if high < 0:
        return "the whole interval lies below zero"
    return "the interval contains zero: no clear difference"


def p_text(p_value: float | None, n_boot: int) -> str:
    """``p = 0.03``, or ``p ≤ 0.001`` when no centred resample reached the observed difference (the smallest p the bootstrap can show)."""
    if p_value is None:
        return "p n/a"
    if p_value <= 1 / (n_boot + 1) * (1 + 1e-9):
        return f"p ≤ {p_value:.2g}"
    return f"p = {p_value:.2g}"


def _holm_text(entry: dict, n_boot: int) -> str:
    """The Holm-adjusted p; ``≤`` when the unadjusted p sits at the bootstrap's floor (more resamples could show less)."""
    at_floor = p_text(entry["p_value"], n_boot).startswith("p ≤")
    return f"p {'≤' if at_floor else '='} {entry['p_holm']:.2g}"


def change_sentence(entry: dict, key: str, n_boot: int) -> str:
    """How one statistic moved from the baseline, in words, e.g. ``TAR@FAR=1e-3 rose from 0.740 to 0.812, 95% CI of the gain [...]``."""
    statistic = BY_KEY[key]
    before, after, diff, d = entry["before"], entry["after"], entry["diff"], statistic.digits
    if not (_finite(before) and _finite(after) and _finite(diff)):
        return f"{statistic.label} is not estimable here (too few pairs of people, no operating threshold, or only one kind of pair)"
    was, now = format_number(before, d), format_number(after, d)
    moved = f"stayed at {was}" if was == now else f"{'rose' if diff > 0 else 'fell'} from {was} to {now}"
    if entry["ci"] is None:
        return f"{statistic.label} {moved} (change {format_number(diff, d, signed=True)}; no interval: too few usable bootstrap resamples)"
    low, high = entry["ci"]
    holm = "" if entry.get("role") == PRIMARY or entry.get("p_holm") is None else f", Holm-adjusted {_holm_text(entry, n_boot)}"
    return (
        f"{statistic.label} {moved}, 95% CI of the change [{format_number(low, d, True)}, {format_number(high, d, True)}], "
        f"{p_text(entry['p_value'], n_boot)}{holm}; {_verdict(low, high)}"
    )


def non_inferiority_sentence(entry: dict, margin: float) -> str:
    """The HQ non-inferiority verdict of one model in words."""
    statistic = BY_KEY[entry["statistic"]]
    if entry["ci"] is None:
        return f"cannot be checked: the HQ-HQ change in {statistic.label} has no interval"
    low, high = entry["ci"]
    worst = low if statistic.higher_is_better else high
    change = f"HQ-HQ {statistic.label} went from {format_number(entry['before'], statistic.digits)} to {format_number(entry['after'], statistic.digits)} ({format_entry(entry, 'diff', statistic.digits, signed=True)})"
    if not entry.get("tested", True):
        within = "within" if entry["non_inferior"] else "beyond"
        return (
            f"**not tested**: the primary endpoint showed no significant gain, and this check follows it in a fixed sequence; for the record, "
            f"{change}, its worst case {format_number(worst, statistic.digits, True)} {within} the margin of {margin}"
        )
    if entry["non_inferior"]:
        return f"{change}: **non-inferior**; the interval's worst case, {format_number(worst, statistic.digits, True)}, stays within the margin of {margin}"
    return (
        f"{change}: **not shown non-inferior**; the interval allows a change of {format_number(worst, statistic.digits, True)}, beyond the margin of {margin}"
    )


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


# --- summary.md -----------------------------------------------------------------------------------


def _intro(report: dict[str, Any]) -> list[str]:
    protocol, others = report["protocol"], report["model_order"][1:]
    lines = [f"# Model comparison ({protocol['tag']})", "", *support_lines(report)]
    lines += [f"Protocol v{protocol['version']}: **{protocol['label']}**, {protocol['split']} split.", ""]
    if protocol["tag"] == "closed-set":
        lines += [
            "> **Closed-set result.** The same people appear in training and test (with different images), so these numbers",
            "> are not the identity-disjoint (open-set) result and overstate how well the models recognise people they never saw.",
            "",
        ]
    settings, test = protocol["pairs"], protocol["pair_counts"]["test"]
    every = (
        "every impostor pair"
        if test["impostor"] == test["impostor_available"]
        else f"a seeded sample of {test['impostor']:,} of the {test['impostor_available']:,} impostor pairs"
    )
    boot = report["bootstrap"]
    return [
        *lines,
        f"Baseline: **{report['baseline']}**. Compared with it: {', '.join(f'**{m}**' for m in others)}.",
        f"Test pairs: {test['people']} people, {test['images']:,} images; at most {settings['genuine_per_identity']} genuine pairs per person "
        f"({test['genuine']:,} in all; the largest share one person gives is {test['largest_genuine_share']:.1%}) and {every}.",
        "Each model's numbers are those its own notebook wrote (`metrics.json`, `scores.parquet`); nothing is re-scored.",
        f"Intervals: 95%, {boot['method']} ({boot['n_boot']} resamples, seed {boot['seed']}). p-values: {boot['p_values']}; {boot['multiplicity']}.",
        "",
    ]


def primary_lines(report: dict[str, Any]) -> list[str]:
    """The primary endpoint section: what was declared and each compared model's change, in words."""
    primary, n_boot = report["primary"], report["bootstrap"]["n_boot"]
    statistic = BY_KEY[primary["statistic"]]
    description = report["condition_info"][primary["condition"]]["description"]
    lines = ["## Primary endpoint", "", f"Declared before the run: **{statistic.label}** on **{description}** ({primary['condition']}).", ""]
    if not primary["estimable"]:
        lines += [
            f"Not estimable on these pairs: their {primary['n_impostor']:,} impostor pairs rest on {primary['people_pairs']:,.0f} "
            "effective pairs of people, fewer than 30 false matches expected at the target (the rule of 30, counted in pairs of people).",
            "",
        ]
    for model in report["model_order"][1:]:
        entry = primary["gains"].get(model)
        if entry is None:
            lines.append(f"- **{model}**: no primary comparison.")
            continue
        stand_in = f" ({BY_KEY[entry['statistic']].label} stands in: {statistic.label} is not estimable)" if entry.get("fallback_for") else ""
        lines.append(f"- **{model}** against {report['baseline']}{stand_in}: {change_sentence(entry, entry['statistic'], n_boot)}.")
    return [*lines, ""]


def _non_inferiority(report: dict[str, Any]) -> list[str]:
    check = report["non_inferiority"]
    statistic = BY_KEY[check["statistic"]]
    lines = [
        "## Does fine-tuning cost accuracy on good images?",
        "",
        f"Non-inferiority on {check['condition']}: the 95% interval of the change in {statistic.label} must stay "
        + (f"above -{check['margin']}." if statistic.higher_is_better else f"below +{check['margin']} (lower is better).")
        + " It is tested after the primary endpoint, in a fixed sequence: only for a model whose primary gain is significant.",
        "",
    ]
    lines += [
        f"- **{model}**: {non_inferiority_sentence(check['models'][model], check['margin'])}."
        for model in report["model_order"][1:]
        if model in check["models"]
    ]
    return [*lines, ""]


def _across_seeds(report: dict[str, Any]) -> list[str]:
    """The primary endpoint over split seeds, when the run repeated the pipeline over several identity splits."""
    seeds = report.get("across_seeds")
    if seeds is None:
        return []
    statistic = BY_KEY[seeds["statistic"]]
    d = statistic.digits

    def spread(entry: dict, signed: bool) -> str:
        values = ", ".join(format_number(v, d, signed) if v is not None else "n/a" for v in entry["values"])
        sd = f" ± {format_number(entry['sd'], d)} (SD)" if entry["sd"] is not None else ""
        return f"mean {format_number(entry['mean'], d, signed)}{sd}; per seed {values}" if entry["mean"] is not None else "n/a"

    lines = [
        f"## Across {seeds['seeds']} split seeds",
        "",
        f"{statistic.label} at {seeds['condition']}, each seed a new identity split (beside each run's bootstrap interval, which keeps the split):",
        "",
    ]
    lines += [f"- **{model}**: {spread(entry, False)}." for model, entry in seeds["models"].items()]
    lines += [f"- **gain of {model}**: {spread(entry, True)}." for model, entry in seeds["gains"].items()]
    return [*lines, ""]


def _people_sentence(split: str, counts: dict[str, Any]) -> str:
    """Who a split's error rates rest on: the largest person's share of its impostor pairs, and Kish's effective numbers."""
    fmr, fnmr = counts["behind_fmr"], counts["behind_fnmr"]
    return (
        f"- **{split}**: {counts['people']} people; {fmr['largest_person']} takes part in {fmr['largest_share']:.1%} of the "
        f"{counts['impostor']:,} impostor pairs; effective number of people (Kish) behind FMR {fmr['effective_people']:.1f}, "
        f"behind FNMR {fnmr['effective_people']:.1f}."
    )


def threshold_sentence(model: str, op: dict[str, Any]) -> str:
    """Where one model's operating threshold sits and what val supports, in words."""
    if op["threshold"] is None:
        return f"- **{model}**: {NO_THRESHOLD}. {op['advice']}"
    moved = f" (declared {op['fmr_target']:g}: moved, val supports no less)" if op["support"] == "moved" else ""
    return (
        f"- **{model}**: threshold {op['threshold']:.4f}, set where {op['val_fmr']:.2e} of the val HQ-HQ impostors are accepted "
        f"(FMR {op['fmr']:g}{moved}), each of the {op['val_people_pairs']:,.0f} pairs of val people weighing the same "
        f"({op['val_false_matches']:,} of {op['val_impostors']:,} image pairs, {op['val_fmr_pairs']:.2e})."
    )


def support_lines(report: dict[str, Any]) -> list[str]:
    """The summary's first lines when val does not support the declared operating FMR: what was done, and the fix."""
    told = {op["advice"] for op in (report["models"][model]["operating"] for model in report["model_order"]) if op["advice"]}
    return [f"**Operating threshold: {advice}**" for advice in sorted(told)] + ([""] if told else [])


def _operating(report: dict[str, Any]) -> list[str]:
    lines = ["## One operating threshold", ""]
    lines += [threshold_sentence(model, report["models"][model]["operating"]) for model in report["model_order"]]
    counts = report["protocol"]["pair_counts"]
    lines += ["", "The people behind the rates (a rate resting on few people is less certain than its pair count suggests):", ""]
    lines += [_people_sentence(split, counts[split]) for split in ("val", "test") if split in counts]
    lines += [
        "",
        "Applied unchanged to every test condition, as a deployed system would; FMR above the target means low-quality faces are confused more often at that threshold. "
        f"Intervals at the threshold carry its own noise: each resample re-derives it on resampled val people. A rate marked {RULE_UNMET} has "
        "fewer than 30 errors expected, counted in people (effective pairs of people for FMR, effective people for FNMR and FRR): indicative only. "
        "Both levels of ISO/IEC 19795-1: FMR and FNMR count the pairs whose faces were both acquired (algorithm level); FRR also counts a genuine pair "
        "with a failure to acquire as a rejection (system level), and FAR equals FMR, impostor pairs with a failure to acquire being left out of its denominator.",
        "",
    ]
    return [*lines, operating_markdown(report), ""]


def _secondaries(report: dict[str, Any]) -> list[str]:
    lines = []
    n_boot = report["bootstrap"]["n_boot"]
    for model in report["model_order"][1:]:
        lines += [f"## Every comparison: {model} against {report['baseline']}", "", "Secondary comparisons carry Holm-adjusted p-values.", ""]
        for condition in report["condition_order"]:
            entries = report["differences"].get(model, {}).get(condition)
            if entries is None:
                lines.append(f"- **{condition}**: no pairs shared with the baseline.")
                continue
            lines.append(f"- **{report['condition_info'][condition]['description']}** ({condition}):")
            lines += [f"  - {change_sentence(entry, key, n_boot)}{_stand_in(entry)}." for key, entry in entries.items()]
        lines.append("")
    return lines


def _stand_in(entry: dict) -> str:
    return f" (stands in for {BY_KEY[entry['fallback_for']].label}, not estimable here)" if entry.get("fallback_for") else ""


def _failures(report: dict[str, Any]) -> list[str]:
    lines = ["## Detector failures", "", "On the HQ photos (notebook 01):", ""]
    lines += [f"- **{model}**: {failures_sentence(report['detector_failures'][model])}." for model in report["model_order"]]
    found = report.get("acquisition", {}).get("conditions", {})
    acquired = {name: found[name] for name in report["condition_order"] if found.get(name) is not None}
    if not acquired:
        return [*lines, ""]
    settings = report["acquisition"]["settings"]
    lines += [
        "",
        f"End to end, on the degraded photos at their degraded size, detector policy `{settings['policy']}`, no HQ information "
        f"reaching the detector. A genuine pair with a failed side is a rejection (in FRR); an impostor pair with a failed side is left out "
        f"of FMR. A face acquired whose box overlaps the HQ box by IoU < {settings['wrong_face_iou']} (the wrong face) is scored all the same:",
        "",
        "| condition | test images | failed to acquire | rate | wrong face (scored) | genuine pairs rejected | impostor pairs left out |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {e['images']} | {e['failed']} | {e['rate']:.1%} | {e['wrong_face']} | {e['genuine_pairs_failed']} | {e['impostor_pairs_failed']} |"
        for name, e in acquired.items()
        if report["condition_info"][name]["family"] != LQ_BOTH
    ]
    return [*lines, ""]


def exposure_markdown(report: dict[str, Any]) -> str:
    """Markdown table: per compared model, statistic and alignment, the gains on corruptions seen in training and on unseen ones."""
    lines = [
        "| model | statistic | alignment | corruptions | conditions | mean gain | median gain | better | worse |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, rows in report.get("exposure", {}).items():
        statistic = BY_KEY[key]
        lines += [
            f"| {r['model']} | {statistic.label} | {r['alignment']} | {r['training']} | {r['conditions']} | "
            f"{format_number(r['mean_gain'], statistic.digits, True)} | {format_number(r['median_gain'], statistic.digits, True)} | {r['better']} | {r['worse']} |"
            for r in rows
        ]
    return "\n".join(lines) + "\n"


def _exposure(report: dict[str, Any]) -> list[str]:
    """Gains on corruptions seen in training against held-out ones, per compared model and alignment."""
    if not any(report.get("exposure", {}).values()):
        return []
    return [
        "## Seen, beyond and unseen corruptions",
        "",
        "A condition is *seen* when every corruption family of its low-quality side was in the model's training augmentation at a "
        "strength training drew, *beyond* when the families were trained on but a strength was not (or the level is a preset chain), "
        "else *unseen* (a family held out; end-to-end misalignment is a family training on aligned crops never draws). Per group: the mean and median paired gain over its conditions, and how many gains have a "
        "95% interval wholly above (better) or below (worse) zero; the mean has no interval of its own.",
        "",
        exposure_markdown(report),
    ]


def held_out_markdown(report: dict[str, Any]) -> str:
    """Markdown table: per compared model and family it never trained on, the gains where that family alone is held out."""
    rows = []
    for key, entries in report.get("held_out", {}).items():
        statistic = BY_KEY[key]
        rows += [
            [
                e["model"], e["family"], statistic.label, f"{e['conditions']} ({e['names']})",
                format_number(e["mean_gain"], statistic.digits, True), format_number(e["lowest_low"], statistic.digits, True),
                str(e["better"]), str(e["worse"]), f"**{e['verdict']}**",
            ]
            for e in entries
        ]  # fmt: skip
    header = ["model", "held out", "statistic", "conditions", "mean gain", "lowest CI bound", "better", "worse", "verdict"]
    return table(header, rows)


def _held_out(report: dict[str, Any]) -> list[str]:
    """Does the recipe still help on a corruption family training never showed? One row per model and held-out family."""
    if not any(report.get("held_out", {}).values()):
        return []
    return [
        "## Held-out families",
        "",
        "For each fine-tuned model, each corruption family its training never drew (a leave-one-family-out arm holds out "
        "one), judged at the conditions where that family is the only one held out: *helps* when every gain's 95% interval "
        "lies above zero, *hurts* when any lies below, otherwise how many lie above.",
        "",
        held_out_markdown(report),
    ]


def _identification(headline: str) -> list[str]:
    """The identification section around notebook 04's headline table (Markdown), or nothing without one."""
    if not headline:
        return []
    return [
        "## Identification (notebook 04)",
        "",
        "Closed-set accuracy (trained on HQ only, or on HQ plus degraded copies) and open-set rank-1, DIR and FPIR at the "
        "threshold set on HQ val probes; intervals and every view are in each notebook 04's `summary.md`.",
        "",
        headline,
    ]


def robustness_markdown(rows: Sequence[dict]) -> str:
    """Notebook 05's robustness ranking (:func:`helpers.evaluation.robustness.robustness_table` records) as a Markdown table."""
    cells = (
        [r["statistic"], str(r["rank"]), r["model"], f"{r['hq']:.3f}", f"{r['low_quality']:.3f}", format_interval(r["loss"], r["loss_low"], r["loss_high"], 3)]
        for r in rows
    )
    return table(["statistic", "rank", "model", "HQ-HQ", "low quality", "loss [95% CI]"], cells)


def _robustness(report: dict[str, Any]) -> list[str]:
    rows = report.get("robustness")
    if not rows:
        return []
    return [
        "## Which model degrades least",
        "",
        f"Each model's loss from HQ-HQ to {rows[0]['condition']}, with a 95% two-way identity-bootstrap interval (people resampled), "
        "smallest loss first; models whose intervals overlap are not told apart.",
        "",
        robustness_markdown(rows),
    ]


def _number(value: float | None, digits: int) -> str:
    return format_number(value, digits) if _finite(value) else MISSING


def _signed(value: float | None, low: float | None, high: float | None) -> str:
    return format_interval(value, low, high, 3, signed=True) if _finite(value) else "not run"


def _arm_cells(arm: dict[str, Any]) -> list[str]:
    numbers = [_number(arm[key], 3) for key in ("val", "before", "after")]
    marks = ["**chosen**" if arm["chosen by val"] else "", "yes" if arm["flagged"] else ""]
    return [arm["arm"], *numbers, _signed(arm["diff"], arm["low"], arm["high"]), _number(arm["p_value"], 3), *marks]


def _step_cells(step: dict[str, Any]) -> list[str]:
    names = [step[key] for key in ("kind", "ingredient", "without", "with")]
    return [
        *names,
        _number(step["val_without"], 3),
        _number(step["val_with"], 3),
        _signed(step["diff"], step["low"], step["high"]),
        _number(step["p_value"], 3),
    ]


def recipes_markdown(recipes: dict[str, Any]) -> str:
    """The recipe study's arms (val statistic, test primary against the pretrained model) and its ablation steps, as Markdown tables."""
    arms = table(["arm", "val", "test before", "test after", "change [95% CI]", "p", "val's choice", "flagged"], map(_arm_cells, recipes["arms"]))
    header = ["step", "ingredient", "without", "with", "val without", "val with", "test change (with - without) [95% CI]", "p (unadjusted)"]
    return arms + "\n" + table(header, map(_step_cells, recipes["ablation"]))


def _recipes(report: dict[str, Any]) -> list[str]:
    recipes = report.get("recipes")
    if not recipes:
        return []
    where = recipes["selected_on"]
    chosen = next(a for a in recipes["arms"] if a["chosen by val"])
    flagged = f" Arms flagged on another dataset ({', '.join(recipes['flagged'])}) were not eligible." if recipes["flagged"] else ""
    return [
        "## Recipe study: the arm val chose",
        "",
        f"Val chose **{chosen['arm']}** ({chosen['model']}): the highest {BY_KEY[where['statistic']].label} on val at {where['condition']}, "
        f"at the epoch each arm kept; ties go to fewer ingredients.{flagged} The test split played no part in the choice; it is shown "
        "for every arm (change against the pretrained model at the primary endpoint) so a reader can see whether val's choice held up. "
        "Ablation steps are paired two-way bootstrap differences of the test primary, exploratory and unadjusted.",
        "",
        recipes_markdown(recipes),
    ]


def _transfer_cells(row: dict[str, Any]) -> list[str]:
    rates = [format_interval(row[key], row[f"{key}_low"], row[f"{key}_high"], 4) for key in ("fmr", "fnmr")]
    return [
        row["model"],
        f"{row['threshold']:.4f}",
        rates[0],
        _number(row["fmr_ratio"], 2),
        rates[1],
        _number(row["auc"], 4),
        "**flagged**" if row["flagged"] else "",
    ]


def transfer_markdown(rows: Sequence[dict]) -> str:
    """Each model's FMR and FNMR on another dataset at its own threshold (:func:`helpers.evaluation.transfer.transfer_table` records)."""
    header = ["model", "threshold (its LFW val)", "FMR [95% CI]", "FMR / pretrained", "FNMR [95% CI]", "AUC", "FMR > 2x pretrained"]
    return table(header, map(_transfer_cells, rows))


def _transfer(report: dict[str, Any]) -> list[str]:
    rows = report.get("transfer")
    if not rows:
        return []
    return [
        f"## Beyond the training data: {rows[0]['dataset']}",
        "",
        f"Every model on {rows[0]['dataset']}, which no model trained on, at the threshold it set on its own val split, held fixed; "
        "intervals resample that dataset's people (two-way). A threshold that does not carry over shows here first.",
        "",
        transfer_markdown(rows),
    ]


def _quality(section: str) -> list[str]:
    """The face image quality section (:func:`helpers.quality.report.summary_section`), or nothing without one."""
    if not section:
        return []
    return ["## Face image quality: which faces not to trust (the baseline, notebook 02)", "", section, ""]


def summary_markdown(report: dict[str, Any], figures: Sequence[str] = (), identification: str = "", quality: str = "") -> str:
    """``summary.md`` for notebook 05's ``metrics.json`` dict: primary endpoint, HQ non-inferiority, operating point,
    every comparison, detector failures, the baseline's face image quality (Markdown) and notebook 04's identification
    headline (a Markdown table) when given, the results table."""
    lines = (
        _intro(report)
        + primary_lines(report)
        + _across_seeds(report)
        + _non_inferiority(report)
        + _recipes(report)
        + _transfer(report)
        + _operating(report)
        + _exposure(report)
        + _held_out(report)
        + _failures(report)
        + _secondaries(report)
        + _robustness(report)
        + _quality(quality)
        + _identification(identification)
    )
    lines += [
        "## Results",
        "",
        "AUC and the primary statistic with 95% intervals; gains are paired differences from the baseline; "
        "*corruption*: seen or unseen in the compared model's training.",
        "",
        results_markdown(report),
        "## Files",
        "",
        "`comparison.csv` (every statistic with its CI, the operating point, pair counts and detector failures per model and condition), "
        "`differences.csv`, `metrics.json`" + "".join(f", `{name}`" for name in figures) + ".",
    ]
    return "\n".join(lines) + "\n"


def write_summary(step_dir: str | Path, identification: str = "", quality: str = "") -> Path:
    """Write ``summary.md`` beside the ``metrics.json`` (and PNGs) of a notebook-05 step folder; returns its path.
    ``identification``: notebook 04's headline as a Markdown table, ``quality`` the baseline's face image quality section; ``""`` for none."""
    folder = project_path(step_dir)
    target = folder / SUMMARY
    figures = sorted(path.name for path in folder.glob("*.png"))
    write_text_atomic(target, summary_markdown(read_comparison(folder), figures, identification, quality))
    return target
