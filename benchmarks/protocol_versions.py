"""Protocol v1 against v2 on the same models and test people: a finished v1 demo run's two models re-scored under v2.

Reads a run folder made by the v1 workbench (notebooks 02, 03 and 04_compare of ``configs/demo.yaml``) and notebook
01's processed folder it used; re-scores the pretrained pack and the fine-tuned ``model.onnx`` with today's
code (``score_model``: v2 pairs, two-way bootstrap, one operating threshold) and compares them as notebook
05 (compare) does. Writes ``protocol_versions.md``: the headline under v1 and v2 side by side, the pairs behind each,
and, on v1's own test pairs, how wide the one-way (v1) and the two-way (v2) intervals are.

Run (docs/protocol_versions.md):
    python benchmarks/protocol_versions.py RUN --processed DIR --out results/bench/protocol_versions
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.files import write_text_atomic
from helpers.data.levels import load_levels
from helpers.data.manifest import load_manifest
from helpers.evaluation import comparison, summary
from helpers.evaluation.bootstrap import People, interval
from helpers.evaluation.endpoints import Endpoint
from helpers.evaluation.metrics import RankedScores, threshold_at_fmr
from helpers.evaluation.model_runs import condition_frame, load_runs
from helpers.evaluation.reports import PairSettings
from helpers.evaluation.statistics import AUC, FMR, TAR_1E3, measure
from helpers.evaluation.verification import score_model
from helpers.models.backbones import EMBEDDER_PREPROCESS
from helpers.models.packs import load_pack
from helpers.models.recognisers import Recogniser
from helpers.steps import baseline

CONDITIONS = ("HQ-HQ", "HQ-px32", "HQ-px16", "px32-px32", "px16-px16")
WIDTH_CONDITIONS = ("HQ-HQ", "px16-px16")
SETTINGS = PairSettings(operating_fmr=0.01)  # as configs/demo.yaml: the demo's val split holds ~10,000 impostor pairs


def rescore(run: Path, processed: Path, out: Path, n_boot: int) -> list[Path]:
    """Score the v1 run's pretrained pack and fine-tuned model under today's protocol; returns their step folders."""
    manifest, levels = load_manifest(processed), load_levels(processed)
    pack = load_pack("offline")
    pretrained = Recogniser(pack.recogniser.path, pack.preprocess)
    tuned_name = json.loads((run / "03_finetune_pack" / "metrics.json").read_text())["model"]["name"]
    tuned = Recogniser(run / "03_finetune_pack" / "model.onnx", EMBEDDER_PREPROCESS)
    models = (
        ("02_baseline", baseline.model_description(pack, pretrained, False), pretrained),
        ("03_finetune_pack", {"name": tuned_name, "onnx": str(run / "03_finetune_pack" / "model.onnx"), "sha256": tuned.sha256}, tuned),
    )
    folders = []
    for step, description, recogniser in models:
        folder = out / step
        folder.mkdir(parents=True, exist_ok=True)
        score_model(folder, description, manifest, processed, recogniser, levels, False, SETTINGS, n_boot)
        folders.append(folder)
    return folders


def compare(folders: list[Path], out: Path, n_boot: int) -> dict:
    """Notebook 05's comparison of the re-scored models; writes its metrics.json and summary.md under ``out/05_compare``."""
    runs = load_runs(folders)
    info, endpoint = condition_frame(runs), Endpoint()
    differences = comparison.differences_table(runs, info, endpoint, n_boot, 0)
    verdicts = comparison.non_inferiority(differences, endpoint)
    report = comparison.comparison_report(runs, info, differences, verdicts, endpoint, n_boot, 0)
    step = out / "05_compare"
    step.mkdir(parents=True, exist_ok=True)
    comparison.save_outputs(step, report, comparison.comparison_table(runs, info), differences)
    summary.write_summary(step)
    return json.loads(json.dumps(report, allow_nan=False))


def _cell(entry: dict | None, key: str, digits: int, signed: bool = False) -> str:
    if entry is None:
        return "–"
    low, high = entry.get("ci") or (None, None)
    return summary.format_interval(entry.get(key), low, high, digits, signed)


def headline_rows(v1: dict, v2: dict) -> list[str]:
    """Per condition: each model's TAR@FAR=1e-3 and the gain under v1 and v2, with their pairs."""
    base, tuned = v2["model_order"]
    lines = [
        "| condition | pairs v1 (genuine / impostor) | pairs v2 | pretrained v1 | pretrained v2 | fine-tuned v1 | fine-tuned v2 | gain v1 | gain v2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for condition in CONDITIONS:
        old, new = v1["conditions"][condition], v2["conditions"][condition]
        old_gain = v1["differences"][tuned][condition].get(TAR_1E3.key)
        new_gain = v2["differences"][tuned][condition].get(TAR_1E3.key)
        cells = [
            condition,
            f"{old[base]['n_genuine']:,} / {old[base]['n_impostor']:,}",
            f"{new[base]['n_genuine']:,} / {new[base]['n_impostor']:,}",
            _cell(old[base]["tar_at_far"]["1e-03"], "value", 3),
            _cell(new[base]["tar_at_far"]["1e-03"], "value", 3),
            _cell(old[tuned]["tar_at_far"]["1e-03"], "value", 3),
            _cell(new[tuned]["tar_at_far"]["1e-03"], "value", 3),
            _cell(old_gain, "diff", 3, True),
            _cell(new_gain, "diff", 3, True),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _widths(values: np.ndarray, same: np.ndarray, people: People, threshold: float, n_boot: int, one_way: bool) -> np.ndarray:
    """95% interval widths of AUC, TAR@FAR=1e-3 and FMR at ``threshold``: one-way (gallery person only) or two-way weights."""
    ranked = RankedScores(values, same)
    in_rank, rng = people.ranked(ranked.order), np.random.default_rng(0)
    statistics = measure((AUC, TAR_1E3, FMR), threshold)
    rows = []
    for _ in range(n_boot):
        counts = people.draw(rng)
        rows.append(statistics(ranked.ranked_roc(counts[in_rank.a] if one_way else in_rank.weights(counts))))
    resampled = np.array(rows)
    return np.array([np.subtract(*interval(resampled[:, k])[::-1]) for k in range(3)])


def width_rows(run: Path, n_boot: int) -> list[str]:
    """On v1's own test pairs (the pretrained model's scores.csv): one-way against two-way interval widths."""
    scores = pd.read_csv(run / "02_baseline" / "scores.csv", dtype={"identity_a": str, "identity_b": str})
    hq = scores[scores["condition"] == "HQ-HQ"]
    threshold = threshold_at_fmr(hq["score"].to_numpy(), hq["same"].to_numpy().astype(bool), 1e-3)  # a fixed threshold: FMR 1e-3 on HQ-HQ
    lines = ["| condition | statistic | one-way width (v1) | two-way width (v2) | ratio one-way / two-way |", "|---|---|---|---|---|"]
    for condition in WIDTH_CONDITIONS:
        group = scores[scores["condition"] == condition]
        same = group["same"].to_numpy().astype(bool)
        people = People.of(same, group["identity_a"].to_numpy(), group["identity_b"].to_numpy())
        one, two = (_widths(group["score"].to_numpy(), same, people, threshold, n_boot, one_way) for one_way in (True, False))
        for label, a, b in zip(("AUC", "TAR@FAR=1e-3", "FMR at the HQ-HQ 1e-3 threshold"), one, two):
            lines.append(f"| {condition} | {label} | {a:.4f} | {b:.4f} | {a / b:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a v1 demo run folder (notebooks 02, 03 and 04_compare finished)")
    parser.add_argument("--processed", type=Path, required=True, help="notebook 01's processed folder that run used")
    parser.add_argument("--out", type=Path, default=Path("results/bench/protocol_versions"))
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()
    v1 = json.loads((args.run / "04_compare" / "metrics.json").read_text())  # the v1 comparison step
    v2 = compare(rescore(args.run, args.processed, args.out, args.n_boot), args.out, args.n_boot)
    text = "\n".join(
        [
            f"# Protocol v1 and v2 on the same models and test people ({args.run.name})",
            "",
            "TAR@FAR=1e-3 with 95% intervals (v1: one-way identity bootstrap; v2: two-way).",
            "",
            *headline_rows(v1, v2),
            "",
            "Interval widths on v1's test pairs (the pretrained model's scores), one-way against two-way:",
            "",
            *width_rows(args.run, args.n_boot),
            "",
            "v2's operating point (threshold fixed on val HQ-HQ at FMR 0.01):",
            "",
            summary.operating_markdown(v2).strip(),
            "",
        ]
    )
    write_text_atomic(args.out / "protocol_versions.md", text)
    print(text)


if __name__ == "__main__":
    main()
