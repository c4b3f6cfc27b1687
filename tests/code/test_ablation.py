"""Recipe studies (notebook 05's ablation) and the check beyond the training data, on synthetic step folders."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation import ablation, model_runs, summary
from helpers.evaluation import comparison as compare
from helpers.evaluation.endpoints import Endpoint
from helpers.evaluation.reports import HISTORY, METRICS
from helpers.evaluation.transfer import FMR_RATIO_FLAG, TRANSFER_COLUMNS, transfer_rates, with_ratios
from tests.code.test_compare import BASELINE, BETTER_AT_LOW_RES, N_BOOT, synthetic_pairs, synthetic_scores, write_step

ENDPOINT = Endpoint("px16-px16", "tar@1e-2")
SELECTED_ON = {"condition": "e2e:HQ-real24", "statistic": "auc", "requested": "tar@1e-2", "val_people_pairs": 700.0}
# Val ranks the arms jitter > chain.jitter > chain > base; on test chain and chain.jitter score better (BETTER_AT_LOW_RES),
# so val's choice (jitter) is not test's: the study must follow val.
ARMS = {"base": ([], BASELINE, 0.90), "chain": (["chain"], BETTER_AT_LOW_RES, 0.91), "jitter": (["jitter"], BASELINE, 0.95)}
ARMS["chain.jitter"] = (["chain", "jitter"], BETTER_AT_LOW_RES, 0.93)


def write_arm(folder: Path, name: str, recipe: list[str], separation: dict[str, float], val: float) -> Path:
    """A notebook-03 step folder of one grid arm: scores and metrics, its recipe and training record, and its history."""
    write_step(folder, name, separation)
    metrics = json.loads((folder / METRICS).read_text())
    metrics["training"] = {"recipe": recipe, "best_epoch": 2, "selected_on": SELECTED_ON}
    (folder / METRICS).write_text(json.dumps(metrics))
    pd.DataFrame({"epoch": [0, 1, 2], "val_select": [0.88, val - 0.01, val]}).to_csv(folder / HISTORY, index=False)
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("recipes")
    folders = [write_step(root / "pretrained", "pretrained", BASELINE)]
    folders += [write_arm(root / arm, f"sface.{arm}", recipe, separation, val) for arm, (recipe, separation, val) in ARMS.items()]
    runs = model_runs.load_runs(folders)
    differences = compare.differences_table(runs, model_runs.condition_frame(runs), ENDPOINT, N_BOOT, seed=0)
    return {"runs": runs, "differences": differences}


class Untouchable:
    """Stands in for a run's test scores: any use of it fails the test."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"selection read the test scores ({name})")

    def __getitem__(self, key: object) -> None:
        raise AssertionError(f"selection read the test scores ([{key!r}])")


def test_val_chooses_without_reading_a_single_test_score(study: dict) -> None:
    blind = [dataclasses.replace(run, scores=Untouchable()) for run in study["runs"]]
    arms = ablation.arms_of(blind)
    assert [arm.label for arm in arms] == ["base", "chain", "jitter", "chain+jitter"]  # the pretrained model is no arm
    assert ablation.choose_on_val(arms).label == "jitter"
    assert [arm.val for arm in arms] == [0.90, 0.91, 0.95, 0.93]  # each arm's val statistic at the epoch it kept


def test_a_flagged_arm_is_passed_over_unless_every_arm_is_flagged(study: dict) -> None:
    arms = ablation.arms_of(study["runs"])
    assert ablation.choose_on_val(arms, flagged={"sface.jitter"}).label == "chain+jitter"
    assert ablation.choose_on_val(arms, flagged={arm.name for arm in arms}).label == "jitter"


def test_a_val_tie_goes_to_the_arm_with_fewer_ingredients(study: dict) -> None:
    arms = [dataclasses.replace(arm, val=0.9) for arm in ablation.arms_of(study["runs"])]
    assert ablation.choose_on_val(list(reversed(arms))).label == "base"


def test_arms_validated_on_different_statistics_cannot_be_ranked(study: dict) -> None:
    arms = ablation.arms_of(study["runs"])
    arms[1] = dataclasses.replace(arms[1], selected_on=("e2e:HQ-real24", "tar@1e-2"))
    with pytest.raises(ValueError, match="different statistics"):
        ablation.choose_on_val(arms)
    with pytest.raises(ValueError, match="no arm of a recipe grid"):
        ablation.choose_on_val([])


def test_ablation_adds_each_ingredient_in_turn_and_removes_each_from_the_chosen_arm(study: dict) -> None:
    arms = ablation.arms_of(study["runs"])
    chosen = ablation.choose_on_val(arms)
    steps = ablation.ablation_table(arms, chosen, ENDPOINT, N_BOOT, seed=0)
    assert steps[["kind", "ingredient", "without", "with"]].values.tolist() == [
        [ablation.ADDED, "chain", "base", "chain"],
        [ablation.ADDED, "jitter", "chain", "chain+jitter"],
        [ablation.REMOVED, "jitter", "base", "jitter"],
    ]
    chain = steps.iloc[0]
    assert chain["low"] > 0  # a far better separation at the primary condition: the interval clears zero
    assert chain["val_without"] == 0.90 and chain["val_with"] == 0.91
    for _, same in steps.iloc[1:].iterrows():  # identical scores with and without jitter: exactly no change
        assert same["diff"] == 0 and same["low"] == 0 == same["high"]


def test_a_step_whose_arm_was_not_run_says_so(study: dict) -> None:
    arms = [arm for arm in ablation.arms_of(study["runs"]) if arm.label != "chain"]
    steps = ablation.ablation_table(arms, arms[-1], ENDPOINT, N_BOOT, seed=0)
    added = steps[steps["kind"] == ablation.ADDED]
    assert added["with"].tolist() == ["not run", "chain+jitter"] and added["without"].tolist() == ["base", "not run"]
    assert added["diff"].isna().all()


def test_arms_of_one_ingredient_each_are_each_compared_with_the_base_arm(study: dict) -> None:
    arms = [arm for arm in ablation.arms_of(study["runs"]) if len(arm.recipe) <= 1]  # base, chain, jitter: alternatives
    steps = ablation.ablation_table(arms, ablation.choose_on_val(arms), ENDPOINT, N_BOOT, seed=0)
    assert steps[["kind", "ingredient", "without", "with"]].values.tolist() == [
        [ablation.TO_BASE, "chain", "base", "chain"],
        [ablation.TO_BASE, "jitter", "base", "jitter"],
    ]
    assert steps.iloc[0]["low"] > 0 and steps.iloc[1]["diff"] == 0  # jitter's scores are the base arm's
    without_base = ablation.ablation_table(arms[1:], arms[1], ENDPOINT, N_BOOT, seed=0)
    assert without_base["without"].tolist() == ["not run", "not run"] and without_base["diff"].isna().all()


def test_arm_table_marks_vals_choice_and_shows_test_for_every_arm(study: dict) -> None:
    arms = ablation.arms_of(study["runs"])
    chosen = ablation.choose_on_val(arms)
    rows = ablation.arm_table(arms, chosen, study["differences"], flagged={"sface.chain"})
    assert rows["chosen by val"].tolist() == [False, False, True, False]
    assert rows["flagged"].tolist() == [False, True, False, False]
    assert rows["diff"].notna().all()  # test is reported for every arm, chosen or not
    better = rows.set_index("arm").loc["chain"]
    assert better["low"] > 0 and better["after"] > better["before"]


def test_summary_names_vals_choice_and_tabulates_every_arm_and_step(study: dict) -> None:
    arms = ablation.arms_of(study["runs"])
    chosen = ablation.choose_on_val(arms)
    rows, steps = ablation.arm_table(arms, chosen, study["differences"]), ablation.ablation_table(arms, chosen, ENDPOINT, N_BOOT, 0)
    report = {"recipes": json.loads(json.dumps(ablation.recipe_report(arms, chosen, rows, steps), allow_nan=False))}
    text = "\n".join(summary._recipes(report))
    assert "Val chose **jitter** (sface.jitter)" in text and "AUC on val at e2e:HQ-real24" in text
    assert text.count("**chosen**") == 1
    for label in ("base", "chain+jitter", ablation.ADDED, ablation.REMOVED):
        assert f"| {label} |" in text


def test_the_arms_figure_draws_every_arm(study: dict, tmp_path: Path) -> None:
    arms = ablation.arms_of(study["runs"])
    chosen = ablation.choose_on_val(arms)
    figure = ablation.arms_figure(ablation.arm_table(arms, chosen, study["differences"]), "auc", "e2e:HQ-real24")
    left = figure.axes[0]
    assert [tick.get_text() for tick in left.get_yticklabels()] == ["chain+jitter", "jitter", "chain", "base"]
    assert figure.get_size_inches()[1] < 6  # one readable height for a few arms


def test_fmr_ratios_flag_a_model_more_than_twice_the_pretrained_fmr() -> None:
    table = pd.DataFrame({"model": ["pretrained", "mild", "loose"], "fmr": [0.01, 0.02, 0.021]})
    table = table.assign(**{column: 0.0 for column in TRANSFER_COLUMNS if column not in table})
    flagged = with_ratios(table)
    assert flagged["fmr_ratio"].tolist() == pytest.approx([1.0, 2.0, 2.1])
    assert flagged["flagged"].tolist() == [False, False, True]  # exactly twice is allowed, more is flagged
    assert FMR_RATIO_FLAG == 2.0
    zero = with_ratios(table.assign(fmr=[0.0, 0.0, 0.001]))
    assert zero["flagged"].tolist() == [False, False, True]


def test_transfer_rates_are_read_at_the_models_own_threshold_held_fixed(study: dict) -> None:
    pretrained = study["runs"][0]
    pairs = synthetic_pairs(30)
    scores = synthetic_scores(pairs, {"HQ-HQ": 4.0})["HQ-HQ"].to_numpy()
    rates = transfer_rates(pretrained, scores, pairs, N_BOOT, seed=0)
    impostors, genuine = scores[~pairs.same], scores[pairs.same]
    assert rates["threshold"] == pretrained.threshold
    assert rates["fmr"] == pytest.approx(np.mean(impostors >= pretrained.threshold))
    assert rates["fnmr"] == pytest.approx(np.mean(genuine < pretrained.threshold))
    assert rates["fmr_low"] <= rates["fmr"] <= rates["fmr_high"] and not math.isnan(rates["auc"])
