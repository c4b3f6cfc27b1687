"""Notebook 02's face image quality section for one scored model: every measure of every face, EDC curves and the pAUC
table, how each measure tracks each degradation, and the gated operating point beside the ungated one.

Writes ``quality.parquet`` (one row per image and view) and ``quality.json`` into the step folder (docs/formats.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.core.files import atomic_path, write_json_atomic
from helpers.core.markdown import frame_table, table
from helpers.core.sources import project_path
from helpers.data.acquire import load_acquisition
from helpers.data.degrade import HQ
from helpers.data.levels import LevelSet
from helpers.data.manifest import split_images
from helpers.evaluation.conditions import END_TO_END, HQ_CONDITION, ORACLE, Condition, conditions
from helpers.evaluation.embeddings import embed_views, embedding_store
from helpers.evaluation.endpoints import Endpoint
from helpers.evaluation.model_runs import ModelRun
from helpers.evaluation.reports import PairSettings
from helpers.evaluation.scores import conditions_of, people_of
from helpers.evaluation.verification import condition_report, condition_views, score_pairs, split_pairs
from helpers.models.recognisers import FaceRecogniser
from helpers.quality.edc import DISCARD_LIMITS
from helpers.quality.face import QUALITY_JSON
from helpers.quality.figures import EdcPanel, edc_figure, quality_levels_figure
from helpers.quality.gate import Gate, choose_gate, gated_scores
from helpers.quality.images import LABELS, Quality, quality_table
from helpers.quality.ranking import ERRORS, ConditionEdc, condition_edc, pauc_table
from helpers.quality.scorers import quality_scorers
from helpers.quality.tracking import level_correlations

QUALITY_TABLE = "quality.parquet"
REALISTIC = "realistic"


@dataclass(frozen=True)
class QualityReport:
    """What the quality section finds for one model."""

    quality: Quality
    edcs: list[ConditionEdc]
    pauc: pd.DataFrame
    correlations: pd.DataFrame
    gate: Gate | None
    gated: pd.DataFrame
    mode: str
    gate_note: str = ""

    def to_json(self) -> dict[str, Any]:
        """``quality.json``: measures (and those unavailable, with why), pAUC-EDC, rank correlations, the gate and its operating point."""
        return {
            "measures": {name: LABELS.get(name, name) for name in self.quality.measures},
            "unavailable": self.quality.unavailable,
            "errors": ERRORS,
            "discard_limits": list(DISCARD_LIMITS),
            "pauc_edc": _records(self.pauc),
            "level_correlations": _records(self.correlations),
            "gate": {"note": self.gate_note} if self.gate is None else self.gate.to_json(),
            "gated": _records(self.gated),
            "mode": self.mode,
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def edc_conditions(scored: list[Condition], primary: str) -> list[Condition]:
    """The conditions EDCs are drawn at: HQ-HQ, the primary, and the realistic ladder (HQ gallery vs realistic probes) in the primary's mode."""
    mode = next((c.mode for c in scored if c.name == primary), ORACLE)
    ladder = [c for c in scored if c.mode == mode and c.level_a.is_identity and c.level_b.preset == REALISTIC]
    chosen = [c for c in scored if c.family == HQ_CONDITION or c.name == primary] + sorted(ladder, key=lambda c: -c.resolution)
    return list({c.name: c for c in chosen}.values())


def _pair_images(manifest: pd.DataFrame, split: str, settings: PairSettings) -> tuple[Any, pd.DataFrame]:
    pairs = split_pairs(manifest, split, settings)
    images = split_images(manifest, split).set_index("image_id").loc[pairs.images["image_id"].to_numpy()].reset_index()
    return pairs, images


def val_primary_scores(
    manifest: pd.DataFrame,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    primary: Condition,
    seed: int,
    settings: PairSettings,
    acquisition: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The val pairs scored at the primary condition (cached embeddings), and the val images in pair order."""
    pairs, images = _pair_images(manifest, "val", settings)
    store = embedding_store(processed_dir, recogniser, False)
    items, _ = embed_views(images, condition_views([primary]), seed, processed_dir, recogniser, store, False, acquisition)
    return score_pairs(pairs, items, store, [primary]), images


def gated_table(gate: Gate, quality: Quality, run: ModelRun, scored: list[Condition], n_boot: int, seed: int) -> pd.DataFrame:
    """Per condition: the faces the gate rejects, and FMR, FNMR and FRR at the operating threshold without and with the gate."""
    same, people, thresholds = run.scores["same"].to_numpy(dtype=bool), people_of(run.scores), run.thresholds(n_boot, seed)
    rows = []
    for condition in scored:
        found = gated_scores(gate, quality, run.scores, condition)
        if found is None:
            continue
        values, counts = found
        gated = condition_report(values, same, people, thresholds, run.protocol.operating["fmr"], seed)["operating"]
        ungated = run.conditions[condition.name]["operating"]
        row = {"condition": condition.name, "probe_faces": counts["probe"]["faces"], "probe_rejected": counts["probe"]["rejected"]}
        row |= {
            "probe_rejection": counts["probe"]["rate"],
            "gallery_rejected": counts["gallery"]["rejected"],
            **{f"pairs_rejected_{k}": v for k, v in counts["pairs_rejected"].items()},
        }
        for rate in ("fmr", "fnmr", "frr"):
            for name, entry in (("ungated", ungated[rate]), ("gated", gated[rate])):
                low, high = entry["ci"] or (None, None)
                row |= {f"{rate}_{name}": entry["value"], f"{rate}_{name}_low": low, f"{rate}_{name}_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def quality_report(
    run: ModelRun,
    manifest: pd.DataFrame,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    levels: LevelSet,
    settings: PairSettings,
    endpoint: Endpoint,
    n_boot: int,
    rejection: float,
    quality_models: Sequence[str | Path] = (),
) -> QualityReport:
    """Face image quality for the model ``run`` scored (notebook 02's result), written into its folder; ``quality_models``
    are ONNX quality model cards measured beside the built-in measures (and OFIQ, when it can run here)."""
    loaded = load_acquisition(processed_dir)
    acquisition = None if loaded is None else loaded[0]
    names, mode = set(conditions_of(run.scores)), END_TO_END if acquisition is not None else ORACLE
    scored = [c for c in conditions(list(levels.levels), (mode,)) if c.name in names]  # the faces a deployed system sees, when acquired
    primary = next((c for c in scored if c.name == endpoint.condition), None)
    scored_paths = set(run.scores["path_a"].astype(str)) | set(run.scores["path_b"].astype(str))  # the run's test pairs, not sampled again
    test_images = split_images(manifest, "test").loc[lambda rows: rows["image_id"].isin(scored_paths)]
    views = {"test": (test_images, condition_views(scored))}
    if primary is not None:
        val_scores, val_images = val_primary_scores(manifest, processed_dir, recogniser, primary, levels.seed, settings, acquisition)
        views["val"] = (val_images, condition_views([primary]))
    scorers, outside_missing = quality_scorers(quality_models)
    found = quality_table(views, list(levels.levels), levels.seed, processed_dir, recogniser, acquisition, scorers)
    quality = Quality(found.table, found.unavailable | outside_missing)
    chosen = edc_conditions(scored, endpoint.condition)
    people, thresholds = people_of(run.scores), run.thresholds(n_boot, settings.seed)
    pauc = pauc_table(quality, run.scores, chosen, quality.measures, people, thresholds, settings.seed)
    edcs = [condition_edc(quality, run.scores, c, quality.measures, run.threshold) for c in chosen] if np.isfinite(run.threshold) else []
    correlations = level_correlations(quality.table, [lv for lv in levels.levels if lv != HQ], quality.measures, mode)
    gate, note = None, _no_gate(primary, endpoint.condition, run.threshold)
    if not note:
        gate = choose_gate(quality, val_scores, primary, run.threshold, quality.measures, rejection)
    gated = gated_table(gate, quality, run, scored, n_boot, settings.seed) if gate is not None else pd.DataFrame()
    report = QualityReport(quality, edcs, pauc, correlations, gate, gated, mode, note)
    write_quality(Path(run.folder), report)
    return report


def _no_gate(primary: Condition | None, declared: str, threshold: float) -> str:
    """Why there is no quality gate ("" when there is one)."""
    if primary is None:
        return f"the primary condition {declared} is not scored here, and the gate is chosen at it on val"
    return "" if np.isfinite(threshold) else "val supports no operating threshold (section 2), and the gate is judged at it"


def write_quality(folder: Path, report: QualityReport) -> None:
    """``quality.parquet`` and ``quality.json``, each written atomically."""
    with atomic_path(folder / QUALITY_TABLE) as tmp:
        report.quality.table.to_parquet(tmp, index=False)
    write_json_atomic(folder / QUALITY_JSON, report.to_json())


def _with_interval(value: float, low: float | None, high: float | None, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    shown = f"{value:.{digits}f}"
    return shown if low is None or high is None or not np.isfinite(low) else f"{shown} [{low:.{digits}f}, {high:.{digits}f}]"


def pauc_frame(report: QualityReport, error: str = "frr", limit: float = DISCARD_LIMITS[0]) -> pd.DataFrame:
    """pAUC-EDC (smaller is better, 0 the theoretical best) of every measure (rows) at every EDC condition (columns),
    with 95% intervals; rows ordered by the first condition after HQ-HQ (the primary)."""
    rows = report.pauc[(report.pauc["error"] == error) & (report.pauc["limit"] == limit)]
    if rows.empty:
        return pd.DataFrame()
    shown = rows.assign(cell=[_with_interval(r.pauc, r.ci_low, r.ci_high) for r in rows.itertuples()])
    table = shown.pivot(index="measure", columns="condition", values="cell")[list(dict.fromkeys(rows["condition"]))]
    order_by = table.columns[1] if len(table.columns) > 1 else table.columns[0]
    ranks = rows[rows["condition"] == order_by].set_index("measure")["pauc"]
    table = table.loc[ranks.sort_values(kind="stable").index.intersection(table.index)]
    return table.rename(index=LABELS).rename_axis(f"pAUC-EDC of {error.upper()} to {limit:.0%} discarded")


def gate_frame(report: QualityReport) -> pd.DataFrame:
    """Per condition: probe faces the gate rejects, then FMR, FNMR and FRR at the operating threshold without -> with the gate."""
    return gate_frame_of(report.gated)


def gate_frame_of(gated: pd.DataFrame) -> pd.DataFrame:
    """:func:`gate_frame` of a :func:`gated_table`."""
    if gated.empty:
        return pd.DataFrame()
    rows = {}
    for r in gated.to_dict("records"):
        row = {"probes rejected": f"{r['probe_rejected']} of {r['probe_faces']} ({r['probe_rejection']:.1%})"}
        for rate in ("fmr", "fnmr", "frr"):
            before = _with_interval(r[f"{rate}_ungated"], r[f"{rate}_ungated_low"], r[f"{rate}_ungated_high"], 4)
            after = _with_interval(r[f"{rate}_gated"], r[f"{rate}_gated_low"], r[f"{rate}_gated_high"], 4)
            row[f"{rate.upper()} ungated -> gated"] = f"{before} -> {after}"
        rows[r["condition"]] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("condition")


def quality_figures(report: QualityReport, levels: LevelSet) -> dict[str, Figure]:
    """The section's figures: each measure along each degradation curve, and the EDC curves of FRR and of FMR per condition."""
    figures = {"quality_levels": quality_levels_figure(report.quality.table, [lv for lv in levels.levels if lv != HQ], report.quality.measures, report.mode)}
    for kind in ERRORS:
        panels = [EdcPanel(found.condition, f"{kind.upper()} at the threshold", found.curves[kind], found.best[kind]) for found in report.edcs]
        if panels:
            figures[f"quality_edc_{kind}"] = edc_figure(panels)
    return figures


def summary_section(step_folder: str | Path) -> str:
    """Notebook 05's ``summary.md`` section from a notebook 02 step's ``quality.json``: the best measure per condition and
    the gated against the ungated operating point; ``""`` when that step measured no quality."""
    path = project_path(step_folder) / QUALITY_JSON
    if not path.is_file():
        return ""
    record = json.loads(path.read_text(encoding="utf-8"))
    pauc = pd.DataFrame(record["pauc_edc"])
    lines: list[str] = []
    if not pauc.empty:
        best = pauc[(pauc["error"] == "frr") & (pauc["limit"] == DISCARD_LIMITS[0])].sort_values("pauc", kind="stable").groupby("condition", sort=False).head(1)
        rows = [
            [
                r.condition,
                LABELS.get(r.measure, r.measure),
                _with_interval(r.pauc, r.ci_low, r.ci_high, 4),
                f"{r.error_at_start:.4f}",
                f"{r.errors} of {r.pairs}",
            ]
            for r in best.set_index("condition").reindex(list(dict.fromkeys(pauc["condition"]))).reset_index().itertuples()
        ]
        header = ["condition", "best measure", f"its pAUC-EDC to {DISCARD_LIMITS[0]:.0%} [95% CI]", "FRR before discarding", "genuine pairs rejected"]
        lines = [
            "Best quality measure per condition: the smallest pAUC-EDC of FRR at the operating threshold (0: the theoretical best).",
            "",
            table(header, rows),
        ]
    gate = record["gate"]
    if "measure" not in gate:
        lines += ["", f"No quality gate: {gate['note']}."]
    else:
        lines += ["", _gate_sentence(gate), "", gate_frame_of(pd.DataFrame(record["gated"])).reset_index().pipe(frame_table)]
    unavailable = "; ".join(f"{name}: {reason}" for name, reason in record["unavailable"].items())
    return "\n".join(lines + ([f"\nUnavailable here: {unavailable}."] if unavailable else []))


def _gate_sentence(gate: dict[str, Any]) -> str:
    return (
        f"The quality gate, chosen on val: faces with {LABELS.get(gate['measure'], gate['measure'])} below {gate['threshold']:.4g} are rejected "
        f"({gate['val_rejected']} of {gate['val_probes']} val probes at {gate['condition']}, declared {gate['rejection']:.0%}). On test a rejected "
        "face counts like a failure to acquire: FRR includes it, FMR and FNMR leave it out."
    )
