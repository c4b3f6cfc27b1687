"""Model comparison (notebook 04's helpers) on synthetic step folders written by the workbench's own scoring code."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from helpers.data.degrade import Degradation
from helpers.data.manifest import CLOSED_SET, OPEN_SET
from helpers.evaluation import comparison as compare
from helpers.evaluation import figures, model_runs, plots, summary
from helpers.evaluation.reports import ModelReport, Protocol, write_report
from helpers.evaluation.scores import write_scores
from helpers.evaluation.statistics import AUC
from helpers.evaluation.verification import condition_metrics

matplotlib.use("Agg")

LEVELS = {name: Degradation(name, resolution=r).spec() for name, r in (("px24", 24), ("px16", 16))}
# Genuine-minus-impostor score separation (in noise standard deviations) per condition.
BASELINE = {"HQ-HQ": 4.0, "HQ-px24": 3.0, "HQ-px16": 1.5, "px16-px16": 1.0}
BETTER_AT_LOW_RES = {"HQ-HQ": 4.0, "HQ-px24": 3.5, "HQ-px16": 3.0, "px16-px16": 2.5}
FAILURES = {"images": 240, "no_face_excluded": 1, "no_face_centre_crop": 2}
N_BOOT = 100


def synthetic_pairs(n_people: int = 40, images: int = 6, n_impostor: int = 2000, seed: int = 0) -> pd.DataFrame:
    """All genuine pairs of ``n_people`` x ``images`` and ``n_impostor`` distinct impostor pairs."""
    rng = np.random.default_rng(seed)
    people = [(f"person_{p:02d}", f"person_{p:02d}/{i}.jpg") for p in range(n_people) for i in range(images)]
    pairs = pd.DataFrame([(a[1], b[1], a[0], b[0]) for a, b in itertools.combinations(people, 2)], columns=["path_a", "path_b", "identity_a", "identity_b"])
    pairs["same"] = (pairs["identity_a"] == pairs["identity_b"]).astype(int)
    impostors = pairs[pairs["same"] == 0]
    return pd.concat([pairs[pairs["same"] == 1], impostors.iloc[rng.choice(len(impostors), n_impostor, replace=False)]], ignore_index=True)


def synthetic_scores(pairs: pd.DataFrame, separation: dict[str, float], model: str, seed: int = 0) -> pd.DataFrame:
    """``scores.csv`` rows: ``separation * same + noise``; one seed gives every model the same noise (paired pairs)."""
    rng = np.random.default_rng(seed)
    frames = [pairs.assign(condition=name, model=model, score=0.1 * (d * pairs["same"] + rng.normal(size=len(pairs)))) for name, d in separation.items()]
    return pd.concat(frames, ignore_index=True)[["path_a", "path_b", "identity_a", "identity_b", "same", "condition", "model", "score"]]


def write_step(folder: Path, scores: pd.DataFrame, label: str = OPEN_SET, n_boot: int = N_BOOT) -> Path:
    """A step folder as notebooks 02/03 write it: ``scores.csv`` and ``metrics.json`` from the same scoring code."""
    report = condition_metrics(scores, {}, FAILURES, n_boot, seed=0)
    n_impostor = int((scores["same"] == 0).sum()) // len(scores["condition"].unique())
    protocol = Protocol(split="test", label=label, n_impostor=n_impostor, n_impostor_val=0, seed=0, level_seed=0, levels=LEVELS)
    write_scores(folder, scores)
    write_report(folder, ModelReport({"name": scores["model"].iloc[0]}, protocol, report))
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    pairs = synthetic_pairs()
    return {
        "base": write_step(root / "base", synthetic_scores(pairs, BASELINE, "base")),
        "better": write_step(root / "better", synthetic_scores(pairs, BETTER_AT_LOW_RES, "better")),
        "twin": write_step(root / "twin", synthetic_scores(pairs, BASELINE, "twin")),
        "closed_base": write_step(root / "closed_base", synthetic_scores(pairs, BASELINE, "base"), CLOSED_SET),
        "closed_better": write_step(root / "closed_better", synthetic_scores(pairs, BETTER_AT_LOW_RES, "better"), CLOSED_SET),
    }


@pytest.fixture(scope="module")
def compared(folders: dict[str, Path]) -> dict:
    """The whole comparison of base, better and twin, as notebook 04 runs it."""
    runs = model_runs.load_runs([folders["base"], folders["better"], folders["twin"]])
    info = model_runs.condition_frame(runs)
    differences = compare.differences_table(runs, info, N_BOOT, seed=0)
    regression = compare.hq_regression(differences)
    report = compare.comparison_report(runs, info, differences, regression, N_BOOT, 0)
    return {
        "runs": runs,
        "info": info,
        "table": compare.comparison_table(runs, info),
        "differences": differences,
        "regression": regression,
        "report": json.loads(json.dumps(report, allow_nan=False)),
    }


def row(differences: pd.DataFrame, model: str, condition: str, statistic: str) -> pd.Series:
    found = differences[(differences["model"] == model) & (differences["condition"] == condition) & (differences["statistic"] == statistic)]
    assert len(found) == 1
    return found.iloc[0]


def test_baseline_is_first_folder_or_the_named_model(folders: dict[str, Path]) -> None:
    assert [run.name for run in model_runs.load_runs([folders["base"], folders["better"]])] == ["base", "better"]
    assert [run.name for run in model_runs.load_runs([folders["base"], folders["better"]], "better")] == ["better", "base"]
    with pytest.raises(ValueError, match="baseline 'nobody'"):
        model_runs.load_runs([folders["base"], folders["better"]], "nobody")
    with pytest.raises(ValueError, match="at least one more model"):
        model_runs.load_runs([folders["base"]])
    with pytest.raises(TypeError, match="list of step folders"):
        model_runs.load_runs(str(folders["base"]))


def test_unusable_folders_are_named_in_the_error(folders: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "scores.csv").write_text((folders["base"] / "scores.csv").read_text())
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*metrics.json"):
        model_runs.load_runs([folders["base"], tmp_path])
    with pytest.raises(ValueError, match=f"refusing to compare {folders['closed_better']}.*closed-set.*{folders['base']}"):
        model_runs.load_runs([folders["base"], folders["closed_better"]])
    with pytest.raises(ValueError, match=f"{folders['base']} and {folders['closed_base']} both hold model 'base'"):
        model_runs.check_comparable([model_runs.load_run(folders["base"]), model_runs.load_run(folders["closed_base"])])


def test_conditions_read_in_order_with_plain_descriptions(compared: dict) -> None:
    info = compared["info"]
    assert list(info.index) == ["HQ-HQ", "HQ-px24", "HQ-px16", "px16-px16"]
    assert list(info["resolution"]) == [112, 24, 16, 16]
    assert info.loc["HQ-px16", "description"] == "HQ gallery vs 16 px probes"
    assert info.loc["px16-px16", "description"] == "16 px faces on both sides"
    assert list(info["family"]) == ["HQ-HQ", "HQ gallery vs LQ probe", "HQ gallery vs LQ probe", "LQ vs LQ"]


def test_table_numbers_are_those_of_each_models_metrics_json(compared: dict, folders: dict[str, Path]) -> None:
    table = compared["table"]
    assert len(table) == 4 * 3 and set(table["protocol"]) == {"open-set"}
    written = json.loads((folders["better"] / "metrics.json").read_text())["conditions"]["HQ-px16"]
    better = table[(table["model"] == "better") & (table["condition"] == "HQ-px16")].iloc[0]
    assert better["auc"] == written["auc"]["value"] and [better["auc_low"], better["auc_high"]] == written["auc"]["ci"]
    assert better["eer"] == written["eer"]["value"] and better["tar@1e-1"] == written["tar_at_far"]["1e-01"]["value"]
    assert (better["pairs"], better["genuine"], better["impostor"]) == (600 + 2000, 600, 2000)
    assert better["no_face_images"] == 3
    shown = compare.display_table(table)
    assert shown.loc[("HQ-px16", "better"), "TAR@FAR=1e-3"] == "not estimable"  # 2,000 impostors cannot support FAR 1e-3
    assert shown.loc[("HQ-px16", "better"), "AUC"].startswith(f"{written['auc']['value']:.4f} [")
    assert compare.detector_failure_counts(table).loc[("open-set", "twin"), "px16-px16"] == 3


def test_a_model_better_at_low_resolution_gains_with_ci_above_zero(compared: dict) -> None:
    for condition in ("HQ-px16", "px16-px16"):
        gain = row(compared["differences"], "better", condition, "auc")
        assert gain["diff"] > 0 and gain["low"] > 0 and gain["p_value"] < 0.05, condition
        assert gain["after"] - gain["before"] == pytest.approx(gain["diff"])
    same = row(compared["differences"], "better", "HQ-HQ", "auc")  # same noise, same separation: identical scores
    assert (same["diff"], same["low"], same["high"], same["p_value"]) == (0, 0, 0, 1)


def test_identical_scores_give_an_interval_containing_zero(compared: dict) -> None:
    twin = compared["differences"][compared["differences"]["model"] == "twin"]
    auc = twin[twin["statistic"] == "auc"]
    assert len(auc) == 4 and (auc["diff"] == 0).all() and (auc["low"] <= 0).all() and (auc["high"] >= 0).all()
    assert twin["pairs"].eq(2600).all() and twin["baseline"].eq("base").all()


def test_hq_regression_against_the_bar() -> None:
    differences = pd.DataFrame(
        [
            {
                "protocol": "open-set",
                "model": m,
                "baseline": "b",
                "condition": "HQ-HQ",
                "statistic": "auc",
                "pairs": 10,
                "before": 0.99,
                "after": 0.99 + d,
                "diff": d,
                "low": low,
                "high": d + 0.001,
                "p_value": 0.5,
            }
            for m, d, low in (("small", -0.001, -0.0015), ("wide", -0.001, -0.004), ("big", -0.003, -0.004))
        ]
    )
    verdict = compare.hq_regression(differences, max_drop=0.002).set_index("model")
    assert list(verdict["passes"]) == [True, True, False]
    assert list(verdict["ci_within_bar"]) == [True, False, False]
    with pytest.raises(ValueError, match="HQ-HQ"):
        compare.hq_regression(differences.assign(condition="HQ-px16"))


def test_report_holds_table_differences_verdict_and_failures(compared: dict) -> None:
    report = compared["report"]
    assert report["protocol"]["tag"] == "open-set" and report["model_order"] == ["base", "better", "twin"]
    assert report["conditions"]["HQ-px16"]["better"]["tar_at_far"]["1e-03"]["value"] is None
    gain = report["differences"]["better"]["HQ-px16"]["auc"]
    assert gain["ci"][0] > 0 and gain["pairs"] == 2600
    assert report["differences"]["twin"]["HQ-px16"]["tar@1e-3"]["diff"] is None  # not estimable becomes null, never NaN
    assert report["hq_regression"]["models"]["better"]["passes"] is True
    assert report["detector_failures"]["base"]["HQ-HQ"] == FAILURES


def test_summary_tells_the_key_numbers_in_words(compared: dict) -> None:
    report = compared["report"]
    text = summary.summary_markdown(report, ["auc_vs_resolution.png"])
    gain = report["differences"]["better"]["HQ-px16"]["auc"]
    expected = f"AUC rose from {gain['before']:.4f} to {gain['after']:.4f}, 95% CI of the gain [{gain['ci'][0]:+.4f}, {gain['ci'][1]:+.4f}]"
    assert "- **better against base, HQ gallery vs 16 px probes** (HQ-px16, 2,600 shared pairs):\n  - AUC rose from" in text and expected in text
    assert "whole interval lies above zero" in text and "the interval contains zero" in text
    assert "TAR@FAR=1e-3 is not estimable" in text
    assert "**better**: HQ-HQ AUC went from" in text and "**passes**" in text
    assert "no face found in 3 of 240 test images (1 excluded, 2 kept as flagged centre crops), under every condition" in text
    assert "`auc_vs_resolution.png`" in text and "Closed-set" not in text


def test_results_table_has_models_and_gain_rows(compared: dict, tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps(compared["report"]))
    table = summary.results_table(tmp_path, ["HQ-HQ", "HQ-px16"])
    lines = table.strip().splitlines()
    assert lines[0] == "| model (open-set) | statistic | HQ-HQ | HQ-px16 |"
    assert len(lines) == 2 + 3 * 2 + 2 * 2
    entry = compared["report"]["conditions"]["HQ-px16"]["base"]["auc"]
    assert "| base | AUC | " in table and f"{entry['value']:.4f} [{entry['ci'][0]:.4f}, {entry['ci'][1]:.4f}]" in table
    gain = compared["report"]["differences"]["better"]["HQ-px16"]["auc"]
    assert f"| gain of better over base | AUC | +0.0000 [degenerate: every resample gave this value] | {gain['diff']:+.4f} [" in table
    assert "not estimable" in table and "| gain of twin over base | TAR@FAR=1e-3 | n/a | n/a |" in table


def test_closed_set_is_marked_in_tables_titles_and_summary(folders: dict[str, Path]) -> None:
    runs = model_runs.load_runs([folders["closed_base"], folders["closed_better"]])
    info = model_runs.condition_frame(runs)
    differences = compare.differences_table(runs, info, 20, seed=0)
    report = compare.comparison_report(runs, info, differences, compare.hq_regression(differences), 20, 0)
    tag = report["protocol"]["tag"]
    assert tag == "closed-set"
    assert set(compare.comparison_table(runs, info)["protocol"]) == {tag} and set(differences["protocol"]) == {tag}
    drawn = figures.roc_figures(runs, info) | figures.resolution_figures(runs) | figures.difference_figures(differences, tag)
    titles = [figure._suptitle.get_text() if figure._suptitle else figure.axes[0].get_title() for figure in drawn.values()]
    assert len(titles) == 6 and all("closed-set" in title for title in titles)
    assert "> **Closed-set result.**" in summary.summary_markdown(report)
    assert summary.results_markdown(report).startswith("| model (closed-set) |")


def test_figures_overlay_every_model(compared: dict, tmp_path: Path) -> None:
    runs, info = compared["runs"], compared["info"]
    rocs = figures.roc_figures(runs, info)
    assert set(rocs) == {"roc_hq_vs_lq", "roc_lq_vs_lq"}
    hq_panels = [axis for axis in rocs["roc_hq_vs_lq"].axes if axis.get_title()]
    assert [axis.get_title() for axis in hq_panels] == ["HQ-HQ", "HQ-px24", "HQ-px16"]
    assert all(len(axis.get_lines()) == 3 and axis.get_xscale() == "log" for axis in hq_panels)
    resolution = figures.resolution_figures(runs)["auc_vs_resolution"]
    assert [axis.get_title() for axis in resolution.axes] == ["HQ gallery vs LQ probe", "LQ vs LQ"]
    assert [text.get_text() for text in resolution.axes[0].get_legend().get_texts()] == ["base", "better", "twin"]
    forest = figures.difference_figures(compared["differences"], "open-set")["difference_auc"]
    assert [label.get_text() for label in forest.axes[0].get_yticklabels()] == list(info.index)
    saved = figures.save_figures(tmp_path, rocs)
    assert sorted(path.name for path in saved) == ["roc_hq_vs_lq.png", "roc_lq_vs_lq.png"] and all(path.stat().st_size > 0 for path in saved)


def test_resolution_table_places_each_model_at_its_face_sizes(compared: dict) -> None:
    table = figures.resolution_table(compared["runs"], AUC)
    base = table[(table["model"] == "base") & (table["series"] == "HQ gallery vs LQ probe")].set_index("resolution")
    assert sorted(base.index) == [16, 24, 112]
    assert base.loc[16, "value"] == compared["report"]["conditions"]["HQ-px16"]["base"]["auc"]["value"]


def test_roc_curves_keeps_one_line_per_label() -> None:
    curves = {"a": (np.array([0.0, 0.001, 0.5, 1.0]), np.array([0.0, 0.4, 0.9, 1.0])), "b": (np.array([0.0, 0.01, 1.0]), np.array([0.0, 0.5, 1.0]))}
    axis = plots.roc_curves(curves, "title").axes[0]
    assert len(axis.get_lines()) == 2 and axis.get_title() == "title" and axis.get_xlim()[0] == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("value", "low", "high", "signed", "text"),
    [
        (0.99361, 0.99091, 0.996, False, "0.9936 [0.9909, 0.9960]"),
        (0.0015, -0.0003, 0.0031, True, "+0.0015 [-0.0003, +0.0031]"),
        (0.5, None, None, False, "0.5000"),
        (None, None, None, False, "n/a"),
        (math.nan, 0.1, 0.2, False, "n/a"),
        (0.00001, -0.00002, 0.00004, True, "+1.0e-05 [-2.0e-05, +4.0e-05]"),  # too small for 4 decimals: never shown as 0
        (0.0, 0.0, 0.0, True, "+0.0000 [degenerate: every resample gave this value]"),
        (1.0, 1.0, 1.0, False, "1.0000 [degenerate: every resample gave this value]"),  # a saturated AUC
        (-1.1e-16, -1.1e-16, 1.1e-16, True, "+0.0000 [degenerate: every resample gave this value]"),  # floating-point noise is 0
    ],
)
def test_format_interval(value: float | None, low: float | None, high: float | None, signed: bool, text: str) -> None:
    assert summary.format_interval(value, low, high, 4, signed) == text


def test_change_sentences_say_which_way_and_how_sure() -> None:
    entry = {"before": 0.74, "after": 0.812, "diff": 0.072, "ci": [0.031, 0.11], "p_value": 0.004}
    assert summary.change_sentence(entry, "tar@1e-3", 1000) == (
        "TAR@FAR=1e-3 rose from 0.740 to 0.812, 95% CI of the gain [+0.031, +0.110], p = 0.004; "
        "the whole interval lies above zero, so the gain is unlikely to be chance"
    )
    floor = summary.change_sentence(entry | {"p_value": 2 / 1001}, "tar@1e-3", 1000)
    assert "p ≤ 0.002 (no resample crossed zero)" in floor
    fell = summary.change_sentence({"before": 0.99, "after": 0.98, "diff": -0.01, "ci": [-0.02, 0.001], "p_value": 0.2}, "auc", 1000)
    assert fell.startswith("AUC fell from 0.9900 to 0.9800") and fell.endswith("p = 0.2; the interval contains zero: no clear difference")
    loss = summary.change_sentence({"before": 0.99, "after": 0.98, "diff": -0.01, "ci": [-0.02, -0.005], "p_value": 0.01}, "auc", 1000)
    assert loss.endswith("the whole interval lies below zero, so the loss is unlikely to be chance")
    tiny = summary.change_sentence({"before": 0.99991, "after": 0.99992, "diff": 1e-5, "ci": [-2e-5, 3e-5], "p_value": 0.5}, "auc", 1000)
    assert tiny.startswith("AUC stayed at 0.9999, 95% CI of the gain [-2.0e-05, +3.0e-05], p = 0.5;")
    missing = {"before": None, "after": None, "diff": None, "ci": None, "p_value": None}
    assert summary.change_sentence(missing, "tar@1e-3", 1000).startswith("TAR@FAR=1e-3 is not estimable here")


def test_headline_has_one_row_per_condition_with_each_models_gain(compared: dict) -> None:
    report = compared["report"]
    lines = summary.headline_markdown(report, ["HQ-HQ", "HQ-px16"], AUC).strip().splitlines()
    assert lines[0] == "| condition (open-set) | base: AUC | better | gain of better (paired 95% CI) | twin | gain of twin (paired 95% CI) |"
    assert len(lines) == 2 + 2 and lines[3].startswith("| HQ gallery vs 16 px probes (HQ-px16) | ")
    gain = report["differences"]["better"]["HQ-px16"]["auc"]
    assert f" | {gain['diff']:+.4f} [{gain['ci'][0]:+.4f}, {gain['ci'][1]:+.4f}] | " in lines[3]
    assert "not estimable" in summary.headline_markdown(report, ["HQ-px16"])  # TAR@FAR=1e-3 on 2,000 impostors


def test_a_statistic_that_is_not_estimable_falls_back_and_says_so(compared: dict) -> None:
    differences = compared["differences"]
    stand_in = differences[(differences["model"] == "better") & (differences["condition"] == "HQ-px16") & (differences["fallback_for"] == "tar@1e-3")]
    assert list(stand_in["statistic"]) == ["tar@1e-2"] and stand_in["diff"].notna().all()  # 2,000 impostors support FAR 1e-2
    text = summary.summary_markdown(compared["report"])
    assert "TAR@FAR=1e-3 is not estimable here (too few impostor pairs, or only one kind of pair); instead, TAR@FAR=1e-2 rose from" in text


def test_figures_say_when_nothing_is_estimable(compared: dict) -> None:
    tar = figures.resolution_figures(compared["runs"])["tar_vs_resolution"]
    assert all(plots.NOT_ESTIMABLE in [text.get_text() for text in axis.texts] for axis in tar.axes)
    auc = figures.resolution_figures(compared["runs"])["auc_vs_resolution"]
    assert not any(axis.texts for axis in auc.axes)
    forest = figures.difference_figures(compared["differences"], "open-set")["difference_tar_at_1e-3"]
    assert plots.NOT_ESTIMABLE in [text.get_text() for text in forest.axes[0].texts]
