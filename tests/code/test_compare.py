"""Model comparison (notebook 05's helpers) on synthetic step folders written by the workbench's own scoring code."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from helpers.data.degrade import Degradation
from helpers.data.manifest import CLOSED_SET, OPEN_SET
from helpers.evaluation import comparison as compare
from helpers.evaluation import figures, model_runs, plots, summary
from helpers.evaluation.endpoints import Endpoint, check_locked_condition
from helpers.evaluation.exposure import exposure_summary, held_out_summary
from helpers.evaluation.metrics import FAILED_SCORE
from helpers.evaluation.pairs import PairSet, sample_pairs
from helpers.evaluation.reports import ModelReport, PairSettings, Protocol, write_report
from helpers.evaluation.scores import SCORES, write_scores, write_val_scores
from helpers.evaluation.seeds import across_seeds
from helpers.evaluation.statistics import AUC, TAR_1E3
from helpers.evaluation.thresholds import operating_point, resampled_thresholds
from helpers.evaluation.verification import condition_metrics, pair_summary

matplotlib.use("Agg")

LEVELS = {name: Degradation(name, resolution=r).spec() for name, r in (("px24", 24), ("px16", 16))}
# Genuine-minus-impostor score separation (in noise standard deviations) per condition.
BASELINE = {"HQ-HQ": 4.0, "HQ-px24": 3.0, "HQ-px16": 1.5, "px16-px16": 1.0, "e2e:HQ-px16": 1.2}
BETTER_AT_LOW_RES = {"HQ-HQ": 4.0, "HQ-px24": 3.5, "HQ-px16": 3.0, "px16-px16": 2.5, "e2e:HQ-px16": 2.4}
E2E = "e2e:HQ-px16"
LOST = {f"person_{p:02d}/0.jpg" for p in range(4)}  # probes whose degraded photo yielded no face (end to end)
ACQUISITION = {"detector": "synthetic", "policy": "native", "wrong_face_iou": 0.5, "splits": ["test"]}
FAILURES = {"images": 240, "no_face_excluded": 1, "no_face_centre_crop": 2}
N_BOOT = 100
SETTINGS = PairSettings(genuine_per_identity=10, seed=0, operating_fmr=0.05)
ENDPOINT = Endpoint("px16-px16", "tar@1e-3")


def synthetic_pairs(n_people: int = 80, images: int = 6, seed: int = 0) -> PairSet:
    """The workbench's pairs of ``n_people`` x ``images``: 10 genuine pairs a person, every impostor pair (113,760 for 80 x 6,
    from 3,160 pairs of people: TAR@FAR=1e-2 is estimable by the rule of 30 counted in pairs of people, 1e-3 is not)."""
    table = pd.DataFrame(
        [(f"person_{p:02d}/{i}.jpg", f"person_{p:02d}", "test") for p in range(n_people) for i in range(images)], columns=["image_id", "identity", "split"]
    )
    return sample_pairs(table, SETTINGS.genuine_per_identity, SETTINGS.max_impostors, seed)


def synthetic_scores(pairs: PairSet, separation: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """A wide scores table: ``0.1 * (separation * same + noise)``; one seed gives every model the same noise (paired pairs)."""
    rng = np.random.default_rng(seed)
    frame = pairs.frame().rename(columns={"image_a": "path_a", "image_b": "path_b"})
    for name, d in separation.items():
        frame[name] = (0.1 * (d * pairs.same + rng.normal(size=pairs.same.size))).astype(np.float32)
    return frame


def write_step(
    folder: Path, name: str, separation: dict[str, float], label: str = OPEN_SET, pair_seed: int = 0, n_people: int = 80, shown_as: str = ""
) -> Path:
    """A step folder as notebooks 02/03 write it: ``scores.parquet`` and ``metrics.json`` from the same scoring code
    (``shown_as``: the model's label for people, none when empty)."""
    pairs = synthetic_pairs(n_people, seed=pair_seed)
    scores = synthetic_scores(pairs, separation)
    failed = scores["path_b"].isin(LOST).to_numpy()
    scores.loc[failed, E2E] = FAILED_SCORE
    val_scores = synthetic_scores(synthetic_pairs(40, seed=pair_seed), separation, seed=1)
    operating = operating_point(val_scores, SETTINGS.operating_fmr)  # 780 pairs of val people support FMR 0.05
    lost = {"images": 240, "failed": len(LOST), "no_face": len(LOST), "no_reference": 0, "wrong_face": 0, "rate": len(LOST) / 240}
    lost |= {"genuine_pairs_failed": int((failed & pairs.same).sum()), "impostor_pairs_failed": int((failed & ~pairs.same).sum())}
    extras = {name: {"detector_failures": FAILURES, "acquisition": lost if name == E2E else None} for name in separation}
    report = condition_metrics(scores, resampled_thresholds(val_scores, operating, N_BOOT, 0), operating["fmr"], extras, seed=0)
    protocol = Protocol(split="test", label=label, pairs=SETTINGS, level_seed=0, levels=LEVELS, operating=operating, acquisition=ACQUISITION)
    write_scores(folder, scores)
    write_val_scores(folder, val_scores)
    write_report(folder, ModelReport({"name": name} | ({"label": shown_as} if shown_as else {}), protocol, report, pairs={"test": pair_summary(pairs)}))
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    return {
        "base": write_step(root / "base", "base", BASELINE),
        "better": write_step(root / "better", "better", BETTER_AT_LOW_RES),
        "twin": write_step(root / "twin", "twin", BASELINE),
        "closed_base": write_step(root / "closed_base", "base", BASELINE, CLOSED_SET),
        "closed_better": write_step(root / "closed_better", "better", BETTER_AT_LOW_RES, CLOSED_SET),
        "other_pairs": write_step(root / "other_pairs", "other", BASELINE, pair_seed=1),
    }


@pytest.fixture(scope="module")
def compared(folders: dict[str, Path]) -> dict:
    """The whole comparison of base, better and twin, as notebook 05 runs it."""
    runs = model_runs.load_runs([folders["base"], folders["better"], folders["twin"]])
    info = model_runs.condition_frame(runs)
    differences = compare.differences_table(runs, info, ENDPOINT, N_BOOT, seed=0)
    verdicts = compare.non_inferiority(differences, ENDPOINT)
    report = compare.comparison_report(runs, info, differences, verdicts, ENDPOINT, N_BOOT, 0)
    return {
        "runs": runs,
        "info": info,
        "table": compare.comparison_table(runs, info),
        "differences": differences,
        "verdicts": verdicts,
        "report": json.loads(json.dumps(report, allow_nan=False)),
    }


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


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
    (tmp_path / SCORES).write_bytes((folders["base"] / SCORES).read_bytes())
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*metrics.json"):
        model_runs.load_runs([folders["base"], tmp_path])
    with pytest.raises(ValueError, match=f"refusing to compare {folders['closed_better']}.*closed-set.*{folders['base']}"):
        model_runs.load_runs([folders["base"], folders["closed_better"]])
    with pytest.raises(ValueError, match=f"{folders['base']} and {folders['closed_base']} both hold model 'base'"):
        model_runs.check_comparable([model_runs.load_run(folders["base"]), model_runs.load_run(folders["closed_base"])])


def test_models_are_compared_only_on_identical_pair_sets(folders: dict[str, Path]) -> None:
    base, other = model_runs.load_run(folders["base"]), model_runs.load_run(folders["other_pairs"])
    with pytest.raises(
        ValueError, match=r"other .* scored 114,560 pairs and base .* 114,560, [\d,]+ of them shared: models are compared only on identical pair sets"
    ):
        compare.paired_differences(base, other, ENDPOINT, n_boot=5)


def test_scores_file_is_readable_by_an_independent_script(folders: dict[str, Path]) -> None:
    scores = pd.read_parquet(folders["better"] / SCORES)  # pandas and scikit-learn only: no workbench code
    written = json.loads((folders["better"] / "metrics.json").read_text())["conditions"]
    for condition in BASELINE:
        same, values = scores["same"].to_numpy(), scores[condition].to_numpy()
        keep = same | (values > -2)  # system level: impostor pairs with a failure to acquire (score -2) are left out
        same, values = same[keep], values[keep]
        assert written[condition]["auc"]["value"] == pytest.approx(roc_auc_score(same, values), abs=1e-12)
        far, tar, _ = roc_curve(same, values, drop_intermediate=False)
        assert written[condition]["tar_at_far"]["1e-02"]["value"] == tar[np.searchsorted(far, 1e-2, side="right") - 1]
        threshold = written[condition]["operating"]["threshold"]
        assert written[condition]["operating"]["fmr"]["false_matches"] == int((values[~same] >= threshold).sum())


def test_conditions_read_in_order_with_plain_descriptions(compared: dict) -> None:
    info = compared["info"]
    assert list(info.index) == ["HQ-HQ", "HQ-px24", "HQ-px16", "e2e:HQ-px16", "px16-px16"]
    assert list(info["resolution"]) == [112, 24, 16, 16, 16]
    assert info.loc["HQ-px16", "description"] == "HQ gallery vs 16 px probes (oracle)"
    assert info.loc["e2e:HQ-px16", "description"] == "HQ gallery vs 16 px probes (end-to-end)"
    assert info.loc["px16-px16", "description"] == "16 px faces on both sides (oracle)"
    assert list(info["family"]) == ["HQ-HQ", "HQ gallery vs LQ probe", "HQ gallery vs LQ probe", "HQ gallery vs LQ probe", "LQ vs LQ"]
    assert list(info["alignment"]) == ["HQ detection"] + ["oracle (HQ landmarks)"] * 2 + ["end-to-end (detected on the LQ photo)", "oracle (HQ landmarks)"]
    assert (info.loc["HQ-px16", "factor"], info.loc["HQ-px16", "factor_value"]) == ("resolution", 16)


def test_table_numbers_are_those_of_each_models_metrics_json(compared: dict, folders: dict[str, Path]) -> None:
    table = compared["table"]
    assert len(table) == 5 * 3 and set(table["protocol"]) == {"open-set"}
    written = json.loads((folders["better"] / "metrics.json").read_text())["conditions"]["HQ-px16"]
    better = table[(table["model"] == "better") & (table["condition"] == "HQ-px16")].iloc[0]
    assert better["auc"] == written["auc"]["value"] and [better["auc_low"], better["auc_high"]] == written["auc"]["ci"]
    assert better["eer"] == written["eer"]["value"] and better["tar@1e-2"] == written["tar_at_far"]["1e-02"]["value"]
    assert better["fnmr"] == written["operating"]["fnmr"]["value"] and better["threshold"] == written["operating"]["threshold"]
    assert (better["pairs"], better["genuine"], better["impostor"]) == (800 + 113_760, 800, 113_760)
    assert better["no_face_images"] == 3
    shown = compare.display_table(table)
    assert shown.loc[("HQ-px16", "better"), "TAR@FAR=1e-3"] == "not estimable (3,160 effective pairs of people)"  # 30,000 needed
    assert shown.loc[("HQ-px16", "better"), "AUC"].startswith(f"{written['auc']['value']:.4f} [")
    counts = compare.detector_failure_counts(table)
    assert counts.loc["px16-px16", "HQ no-face images"] == 3 and counts.loc["px16-px16", "failed to acquire"] == 0
    assert counts.loc[E2E, "failed to acquire"] == len(LOST) and counts.loc[E2E, "FTA rate"] == pytest.approx(len(LOST) / 240)
    assert shown.loc[(E2E, "base"), "failed to acquire"] == "4 (1.7%)" and shown.loc[("HQ-px16", "base"), "failed to acquire"] == ""


def test_failures_to_acquire_are_rejections_in_frr_and_left_out_of_fmr(compared: dict, folders: dict[str, Path]) -> None:
    base = compared["runs"][0]
    scores, threshold = base.scores, base.threshold
    lost = scores["path_b"].isin(LOST)
    failed = lost & scores["same"]
    assert (scores.loc[failed, E2E] < threshold).all() and (scores.loc[lost, E2E] == FAILED_SCORE).all()
    written = json.loads((folders["base"] / "metrics.json").read_text())["conditions"][E2E]
    operating, acquisition = written["operating"], written["acquisition"]
    assert operating["frr"]["false_rejections"] == operating["fnmr"]["false_non_matches"] + int(failed.sum())
    assert int(failed.sum()) == acquisition["genuine_pairs_failed"] > 0 and operating["frr"]["genuine_pairs"] == 800
    assert operating["fnmr"]["genuine_pairs"] == 800 - int(failed.sum())
    assert written["impostor_pairs_left_out"] == acquisition["impostor_pairs_failed"] == int((lost & ~scores["same"]).sum()) > 0
    assert written["n_impostor"] == operating["fmr"]["impostor_pairs"] == 113_760 - written["impostor_pairs_left_out"]
    assert "FTA" in summary.summary_markdown(compared["report"]) or "failed to acquire" in summary.summary_markdown(compared["report"])


def test_a_model_better_at_low_resolution_gains_with_ci_above_zero(compared: dict) -> None:
    for condition in ("HQ-px16", "px16-px16"):
        gain = row(compared["differences"], "better", condition, "auc")
        assert gain["diff"] > 0 and gain["low"] > 0 and gain["p_value"] == pytest.approx(1 / (N_BOOT + 1)), condition  # the floor
        assert gain["after"] - gain["before"] == pytest.approx(gain["diff"])
    same = row(compared["differences"], "better", "HQ-HQ", "auc")  # same noise, same separation: identical scores
    assert (same["diff"], same["low"], same["high"], same["p_value"]) == (0, 0, 0, 1)


def test_identical_scores_give_an_interval_containing_zero(compared: dict) -> None:
    twin = compared["differences"][compared["differences"]["model"] == "twin"]
    auc = twin[twin["statistic"] == "auc"]
    assert len(auc) == 5 and (auc["diff"] == 0).all() and (auc["low"] <= 0).all() and (auc["high"] >= 0).all()
    left_out = compared["runs"][0].conditions[E2E]["impostor_pairs_left_out"]
    assert (twin["pairs"] == np.where(twin["condition"] == E2E, 114_560 - left_out, 114_560)).all() and left_out > 0
    assert twin["baseline"].eq("base").all() and (twin["p_value"] == 1).all()


def test_primary_comparison_is_unadjusted_and_every_other_is_holm_adjusted_in_one_family(compared: dict) -> None:
    differences = compared["differences"]
    better = differences[differences["model"] == "better"]
    primary = better[better["role"] == "primary"]
    # TAR@FAR=1e-3 is not estimable on 28,080 impostors: its first estimable stand-in, TAR@FAR=1e-2, is the primary.
    assert list(primary[["condition", "statistic", "fallback_for"]].itertuples(index=False, name=None)) == [("px16-px16", "tar@1e-2", "tar@1e-3")]
    assert primary["p_holm"].equals(primary["p_value"])
    assert (better["role"] == "secondary").sum() == 5 * 3 - 1
    secondary = differences[differences["role"] == "secondary"]  # both compared models: one family
    assert len(secondary) == 2 * (5 * 3 - 1) and (secondary["p_holm"] >= secondary["p_value"]).all()
    ordered = secondary.sort_values("p_value")
    assert ordered["p_holm"].is_monotonic_increasing and ordered["p_holm"].iloc[0] == min(1.0, len(secondary) * ordered["p_value"].iloc[0])


def test_hq_non_inferiority_is_tested_only_after_a_significant_primary_gain(compared: dict) -> None:
    verdicts = compared["verdicts"].set_index("model")
    primary = compared["differences"][compared["differences"]["role"] == "primary"].set_index("model")
    assert primary.loc["better", "p_value"] < 0.05 and primary.loc["better", "diff"] > 0 and verdicts.loc["better", "tested"]
    assert primary.loc["twin", "p_value"] == 1 and not verdicts.loc["twin", "tested"]  # identical scores: no gain, the check is not reached
    text = summary.summary_markdown(compared["report"])
    assert "**twin**: **not tested**: the primary endpoint showed no significant gain" in text


def test_non_inferiority_judges_the_interval_against_the_margin() -> None:
    differences = pd.DataFrame(
        [
            {"protocol": "open-set", "model": m, "baseline": "b", "condition": "HQ-HQ", "statistic": "tar@1e-3", "fallback_for": "", "pairs": 10}
            | {"role": "secondary"}
            | {"before": 0.99, "after": 0.99 + d, "diff": d, "low": low, "high": d + 0.001}
            for m, d, low in (("close", -0.001, -0.004), ("wide", -0.001, -0.008), ("gain", 0.01, 0.002))
        ]
    )
    verdict = compare.non_inferiority(differences, Endpoint(statistic="tar@1e-3", non_inferiority_margin=0.005)).set_index("model")
    assert list(verdict["non_inferior"]) == [True, False, True]
    eer = Endpoint(statistic="eer", non_inferiority_margin=0.005)  # lower is better: the upper bound is the worse side
    assert eer.non_inferior(-0.01, 0.004) and not eer.non_inferior(-0.01, 0.006)
    with pytest.raises(ValueError, match="HQ-HQ"):
        compare.non_inferiority(differences.assign(condition="HQ-px16"), ENDPOINT)


def test_report_holds_primary_table_differences_verdicts_and_failures(compared: dict) -> None:
    report = compared["report"]
    assert report["protocol"]["tag"] == "open-set" and report["model_order"] == ["base", "better", "twin"]
    assert report["protocol"]["pair_counts"]["test"]["largest_genuine_share"] == pytest.approx(1 / 80)
    assert report["primary"]["condition"] == "px16-px16" and report["primary"]["estimable"] is False
    assert report["primary"]["gains"]["better"]["statistic"] == "tar@1e-2" and report["primary"]["gains"]["better"]["ci"][0] > 0
    assert report["conditions"]["HQ-px16"]["better"]["tar_at_far"]["1e-03"]["value"] is None
    gain = report["differences"]["better"]["HQ-px16"]["auc"]
    assert gain["ci"][0] > 0 and gain["pairs"] == 114_560 and gain["p_holm"] >= gain["p_value"]
    assert report["non_inferiority"]["models"]["better"]["non_inferior"] is True
    assert report["models"]["base"]["operating"]["fmr_target"] == 0.05
    assert report["detector_failures"]["base"]["HQ-HQ"] == FAILURES


def test_summary_leads_with_the_primary_endpoint(compared: dict) -> None:
    report = compared["report"]
    text = summary.summary_markdown(report, ["auc_vs_resolution.png", "det_hq_vs_lq.png"])
    assert (
        text.index("## Primary endpoint")
        < text.index("## Does fine-tuning cost")
        < text.index("## One operating threshold")
        < text.index("## Every comparison")
    )
    gain = report["primary"]["gains"]["better"]
    expected = f"TAR@FAR=1e-2 rose from {gain['before']:.3f} to {gain['after']:.3f}, 95% CI of the change [{gain['ci'][0]:+.3f}, {gain['ci'][1]:+.3f}]"
    assert "(TAR@FAR=1e-2 stands in: TAR@FAR=1e-3 is not estimable)" in text and expected in text
    assert "Holm-adjusted p" in text and "the largest share one person gives is 1.2%" in text and "every impostor pair" in text
    assert "**better**: HQ-HQ TAR@FAR=1e-2 went from" in text and "**non-inferior**" in text
    assert "| px16-px16 | " in text and "FMR" in text
    assert "no face found in 3 of 240 test images (1 excluded, 2 kept as flagged centre crops), under every condition" in text
    assert "`det_hq_vs_lq.png`" in text and "Closed-set" not in text


def test_results_table_has_models_and_gain_rows(compared: dict, tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps(compared["report"]))
    table = summary.results_table(tmp_path, ["HQ-HQ", "HQ-px16", E2E])
    lines = table.strip().splitlines()
    assert lines[0].startswith("| condition (open-set) | alignment | failed to acquire | base: AUC | base: TAR@FAR=1e-3 | better: AUC |")
    assert len(lines) == 2 + 3
    hq16, e2e = (next(line for line in lines if line.startswith(f"| {name} |")) for name in ("HQ-px16", E2E))
    entry = compared["report"]["conditions"]["HQ-px16"]["base"]["auc"]
    assert f"| oracle (HQ landmarks) |  | {entry['value']:.4f} [{entry['ci'][0]:.4f}, {entry['ci'][1]:.4f}]" in hq16
    gain = compared["report"]["differences"]["better"]["HQ-px16"]["auc"]
    assert f"| {gain['diff']:+.4f} [" in hq16 and "not estimable (3,160 effective pairs of people)" in hq16
    assert "| – |" in hq16  # twin's TAR@FAR=1e-3 gain: not estimable, so not compared
    assert "| end-to-end (detected on the LQ photo) | 4 of 240 (1.7%) |" in e2e


def test_closed_set_is_marked_in_tables_titles_and_summary(folders: dict[str, Path]) -> None:
    runs = model_runs.load_runs([folders["closed_base"], folders["closed_better"]])
    info = model_runs.condition_frame(runs)
    differences = compare.differences_table(runs, info, ENDPOINT, 20, seed=0)
    report = compare.comparison_report(runs, info, differences, compare.non_inferiority(differences, ENDPOINT), ENDPOINT, 20, 0)
    tag = report["protocol"]["tag"]
    assert tag == "closed-set"
    assert set(compare.comparison_table(runs, info)["protocol"]) == {tag} and set(differences["protocol"]) == {tag}
    drawn = (
        figures.curve_figures(runs, info) | figures.resolution_figures(runs) | figures.operating_figures(runs) | figures.difference_figures(differences, tag)
    )
    titles = [figure._suptitle.get_text() if figure._suptitle else figure.axes[0].get_title() for figure in drawn.values()]
    assert len(titles) == 3 + 2 + 2 + 3 and all("closed-set" in title for title in titles)
    assert "> **Closed-set result.**" in summary.summary_markdown(report)
    assert summary.results_markdown(report).startswith("| condition (closed-set) |")


def test_figures_overlay_every_model(compared: dict, tmp_path: Path) -> None:
    runs, info = compared["runs"], compared["info"]
    curves = figures.curve_figures(runs, info) | figures.curve_figures(runs, info, "det")
    assert set(curves) == {"roc_hq_vs_lq", "roc_lq_vs_lq", "det_hq_vs_lq", "det_lq_vs_lq", "roc_hq_vs_lq_e2e", "det_hq_vs_lq_e2e"}
    assert [axis.get_title() for axis in curves["roc_hq_vs_lq_e2e"].axes if axis.get_title()] == ["HQ-HQ", E2E]
    hq_panels = [axis for axis in curves["roc_hq_vs_lq"].axes if axis.get_title()]
    assert [axis.get_title() for axis in hq_panels] == ["HQ-HQ", "HQ-px24", "HQ-px16"]
    assert all(len(axis.get_lines()) == 3 and axis.get_xscale() == "log" for axis in hq_panels)
    det = [axis for axis in curves["det_hq_vs_lq"].axes if axis.get_title()]
    assert all(len(axis.get_lines()) == 3 + 3 for axis in det)  # a curve and an operating-point dot per model
    assert det[0].get_xlabel() == "false match rate (normal deviate scale)"
    resolution = figures.resolution_figures(runs)["auc_vs_resolution"]
    shown = [axis for axis in resolution.axes if axis.get_visible()]
    assert [axis.get_title() for axis in shown] == ["resolution: HQ gallery vs LQ probe", "resolution: LQ vs LQ"]
    legend = [text.get_text() for text in resolution.legends[0].get_texts()]
    assert legend == ["base, oracle", "base, end-to-end", "better, oracle", "better, end-to-end", "twin, oracle", "twin, end-to-end"]
    fmr = figures.operating_figures(runs)["fmr_vs_resolution"]
    assert "target 0.05" in [text.get_text() for text in fmr.legends[0].get_texts()]
    forest = figures.difference_figures(compared["differences"], "open-set")["difference_auc"]
    assert [label.get_text() for label in forest.axes[0].get_yticklabels()] == list(info.index)
    saved = figures.save_figures(tmp_path, curves)
    assert sorted(path.name for path in saved) == sorted(f"{name}.png" for name in curves)
    assert all(path.stat().st_size > 0 for path in saved)


def test_sweep_table_places_each_model_at_its_face_sizes(compared: dict) -> None:
    table = figures.sweep_table(compared["runs"], AUC, compared["info"], ["resolution"], ["HQ gallery vs LQ probe"])
    base = table[(table["model"] == "base") & (table["mode"] == "oracle")].set_index("x")
    assert sorted(base.index) == [16, 24, 112]  # HQ-HQ is the clean end of the curve
    assert base.loc[16, "value"] == compared["report"]["conditions"]["HQ-px16"]["base"]["auc"]["value"]
    e2e = table[(table["model"] == "base") & (table["mode"] == "end-to-end")].set_index("x")
    assert sorted(e2e.index) == [16, 112] and e2e.loc[16, "value"] == compared["report"]["conditions"][E2E]["base"]["auc"]["value"]


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
    entry = {"before": 0.74, "after": 0.812, "diff": 0.072, "ci": [0.031, 0.11], "p_value": 0.004, "p_holm": 0.02, "role": "secondary"}
    assert summary.change_sentence(entry, "tar@1e-3", 1000) == (
        "TAR@FAR=1e-3 rose from 0.740 to 0.812, 95% CI of the change [+0.031, +0.110], p = 0.004, Holm-adjusted p = 0.02; the whole interval lies above zero"
    )
    primary = summary.change_sentence(entry | {"role": "primary", "p_value": 1 / 1001}, "tar@1e-3", 1000)
    assert "p ≤ 0.001; the whole" in primary and "Holm" not in primary
    fell = summary.change_sentence({"before": 0.99, "after": 0.98, "diff": -0.01, "ci": [-0.02, 0.001], "p_value": 0.2}, "auc", 1000)
    assert fell.startswith("AUC fell from 0.9900 to 0.9800") and fell.endswith("p = 0.2; the interval contains zero: no clear difference")
    loss = summary.change_sentence({"before": 0.99, "after": 0.98, "diff": -0.01, "ci": [-0.02, -0.005], "p_value": 0.01}, "auc", 1000)
    assert loss.endswith("the whole interval lies below zero")
    tiny = summary.change_sentence({"before": 0.99991, "after": 0.99992, "diff": 1e-5, "ci": [-2e-5, 3e-5], "p_value": 0.5}, "auc", 1000)
    assert tiny.startswith("AUC stayed at 0.9999, 95% CI of the change [-2.0e-05, +3.0e-05], p = 0.5;")
    missing = {"before": None, "after": None, "diff": None, "ci": None, "p_value": None}
    assert summary.change_sentence(missing, "tar@1e-3", 1000).startswith("TAR@FAR=1e-3 is not estimable here")


def test_headline_has_one_row_per_condition_with_each_models_gain(compared: dict) -> None:
    report = compared["report"]
    lines = summary.headline_markdown(report, ["HQ-HQ", "HQ-px16"], AUC).strip().splitlines()
    assert lines[0] == "| condition (open-set) | base: AUC | better | gain of better (paired 95% CI) | twin | gain of twin (paired 95% CI) |"
    assert len(lines) == 2 + 2 and lines[3].startswith("| HQ gallery vs 16 px probes (oracle) (HQ-px16) | ")
    gain = report["differences"]["better"]["HQ-px16"]["auc"]
    assert f" | {gain['diff']:+.4f} [{gain['ci'][0]:+.4f}, {gain['ci'][1]:+.4f}] | " in lines[3]
    assert "not estimable (3,160 effective pairs of people)" in summary.headline_markdown(report, ["HQ-px16"])  # the primary statistic, TAR@FAR=1e-3


def test_figures_say_when_nothing_is_estimable(compared: dict) -> None:
    tar = figures.resolution_figures(compared["runs"], TAR_1E3)["tar_at_1e-3_vs_resolution"]
    assert all(plots.NOT_ESTIMABLE in [text.get_text() for text in axis.texts] for axis in tar.axes if axis.get_visible())
    auc = figures.resolution_figures(compared["runs"])["auc_vs_resolution"]
    assert not any(axis.texts for axis in auc.axes)


def test_split_seeds_give_the_primary_endpoints_mean_and_spread(compared: dict) -> None:
    first = compared["report"]
    second = copy.deepcopy(first)
    second["primary"]["models"]["better"]["value"] += 0.02
    second["primary"]["gains"]["better"]["diff"] += 0.02
    pooled = across_seeds([first, second])
    gain = first["primary"]["gains"]["better"]["diff"]
    assert pooled["seeds"] == 2 and pooled["gains"]["better"]["values"] == [gain, gain + 0.02]
    assert pooled["gains"]["better"]["mean"] == pytest.approx(gain + 0.01) and pooled["gains"]["better"]["sd"] == pytest.approx(0.02 / np.sqrt(2))
    assert pooled["models"]["base"]["sd"] == 0
    text = summary.summary_markdown(first | {"across_seeds": pooled})
    assert "## Across 2 split seeds" in text and "- **gain of better**: mean +" in text
    with pytest.raises(ValueError, match="cannot be pooled"):
        across_seeds([first, second | {"model_order": ["base", "better"]}])


def test_exposure_summary_counts_gains_on_seen_and_unseen_conditions_apart() -> None:
    rows = [
        ("ft", "oracle", "seen", 0.02, 0.01, 0.03),
        ("ft", "oracle", "seen", 0.04, -0.01, 0.09),
        ("ft", "oracle", "unseen", -0.03, -0.05, -0.01),
        ("ft", "end-to-end", "unseen", 0.00, -0.02, 0.02),
        ("ft", "HQ detection", "", 0.0, 0.0, 0.0),  # HQ-HQ: neither seen nor unseen
    ]
    differences = pd.DataFrame(
        [{"model": m, "alignment": a, "training": t, "statistic": "auc", "diff": d, "low": lo, "high": hi} for m, a, t, d, lo, hi in rows]
        + [{"model": "ft", "alignment": "oracle", "training": "seen", "statistic": "fnmr", "diff": 1.0, "low": 1.0, "high": 1.0}]
    )
    found = exposure_summary(differences, "auc").set_index(["alignment", "training"])
    assert list(found.index) == [("oracle", "seen"), ("oracle", "unseen"), ("end-to-end", "unseen")]
    seen = found.loc[("oracle", "seen")]
    assert (seen["conditions"], seen["better"], seen["worse"]) == (2, 1, 0) and seen["mean_gain"] == pytest.approx(0.03)
    assert found.loc[("oracle", "unseen"), "worse"] == 1 and found.loc[("end-to-end", "unseen"), "median_gain"] == 0.0


def test_held_out_summary_judges_each_family_where_it_alone_is_held_out() -> None:
    rows = [
        ("no_light", "oracle:HQ-light25", "light", 0.05, 0.01, 0.09),
        ("no_light", "e2e:HQ-light25", "light", 0.03, 0.00, 0.06),  # a bound at zero is not above it
        ("no_light", "oracle:HQ-jpeg20", "", 0.02, 0.01, 0.03),  # trained on: not a held-out family
        ("no_jpeg", "oracle:HQ-jpeg20", "jpeg", -0.04, -0.07, -0.01),
        ("no_jpeg", "e2e:HQ-jpeg20", "jpeg", 0.01, -0.02, 0.04),
        ("no_jpeg", "e2e:HQ-real24", "jpeg + light", 0.05, 0.02, 0.08),  # two held out: neither family's own test
        ("base", "oracle:HQ-light25", "light", 0.02, 0.01, 0.03),
        ("base", "oracle:HQ-noise10", "noise", 0.00, -0.01, 0.01),
    ]
    differences = pd.DataFrame(
        [{"model": m, "condition": c, "held_out": h, "statistic": "tar@1e-2", "diff": d, "low": lo, "high": hi} for m, c, h, d, lo, hi in rows]
        + [{"model": "base", "condition": "oracle:HQ-light25", "held_out": "light", "statistic": "auc", "diff": -1.0, "low": -1.0, "high": -1.0}]
    )
    found = held_out_summary(differences, "tar@1e-2").set_index(["model", "family"])
    assert list(found.index) == [("no_light", "light"), ("no_jpeg", "jpeg"), ("base", "light"), ("base", "noise")]
    assert found["verdict"].tolist() == ["helps on some", "hurts", "helps", "no measurable change"]
    light = found.loc[("no_light", "light")]
    assert (light["conditions"], light["better"], light["worse"], light["names"]) == (2, 1, 0, "oracle:HQ-light25, e2e:HQ-light25")
    assert light["mean_gain"] == pytest.approx(0.04) and found.loc[("no_jpeg", "jpeg"), "lowest_low"] == pytest.approx(-0.07)
    report = {"held_out": {"tar@1e-2": held_out_summary(differences, "tar@1e-2").to_dict(orient="records")}}
    text = summary.held_out_markdown(report)
    assert "| no_jpeg | jpeg | TAR@FAR=1e-2 | 2 (oracle:HQ-jpeg20, e2e:HQ-jpeg20) | -0.015 | -0.070 | 0 | 1 | **hurts** |" in text
    assert held_out_summary(differences[differences["held_out"] == ""], "tar@1e-2").empty


def test_the_primary_endpoint_is_locked_once_and_checked() -> None:
    locked = Endpoint("e2e:HQ-real24", "tar@1e-2", 0.005).lock()
    assert locked["sha256"] == Endpoint("e2e:HQ-real24", "tar@1e-2", 0.005).lock()["sha256"] and len(locked["sha256"]) == 64
    Endpoint("e2e:HQ-real24", "tar@1e-2", 0.005).check_locked(locked, "02_baseline")  # the same declaration passes
    Endpoint("px16-px16", "tar@1e-3").check_locked(None, "an unlocked folder")  # nothing locked: nothing to check
    with pytest.raises(ValueError, match=r"declares the primary endpoint .* but 02_baseline locked .* declared once, in notebook 02"):
        Endpoint("px16-px16", "tar@1e-2", 0.005).check_locked(locked, "02_baseline")
    with pytest.raises(ValueError, match="does not match its sha256: the file was edited"):
        Endpoint("px16-px16", "tar@1e-2", 0.005).check_locked(locked | {"condition": "px16-px16"}, "02_baseline")
    check_locked_condition("e2e:HQ-real24", locked, "02_baseline")
    with pytest.raises(ValueError, match="set primary_condition to it"):
        check_locked_condition("HQ-px16", locked, "02_baseline")
