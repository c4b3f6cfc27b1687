"""Recipe studies: which fine-tuning arm val chooses, and what each ingredient did.

An *arm* is one fine-tuned model of a config's ``grid:`` (``docs/pipeline.md``); notebook 03 records
its ingredients as ``training.recipe`` in ``metrics.json``. Val chooses: the arm whose kept epoch
scored highest on the val statistic every arm's epochs were selected on (``training.selected_on``,
read from the arm's ``history.csv``), among the arms no other check flags (e.g. an FMR on another
dataset more than twice the pretrained model's, :mod:`helpers.evaluation.transfer`); ties go to the
arm with fewer ingredients, the simpler recipe. Choosing reads nothing of the test split; test is
then shown for every arm, so a reader sees whether val's choice held up.

The ablation table has two kinds of step, each the paired two-way bootstrap difference of the test
primary statistic between an arm with an ingredient and the arm without it: ingredients *added in
turn*, in the order the grid declares them (base, +a, +a+b, ...), and each ingredient *removed from
the chosen arm*. A grid whose arms hold one ingredient each (alternatives such as two distillation weights,
or leave-one-out arms) has no such chain: each ingredient is *added to the base arm* instead, the one step
that arm allows. Steps are exploratory (p-values unadjusted): the confirmatory comparison is the
chosen arm against the pretrained model, at the primary endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.evaluation.comparison import primary_difference
from helpers.evaluation.endpoints import PRIMARY, Endpoint
from helpers.evaluation.model_runs import ModelRun
from helpers.evaluation.reports import HISTORY

ADDED, REMOVED, TO_BASE = "added in turn", "removed from the chosen arm", "added to the base arm"
ABLATION_COLUMNS = ["kind", "ingredient", "without", "with", "val_without", "val_with", "before", "after", "diff", "low", "high", "p_value"]


@dataclass(frozen=True)
class Arm:
    """One fine-tuned arm: its model run, its ingredients, and its val statistic at the epoch it kept."""

    run: ModelRun
    recipe: tuple[str, ...]
    val: float
    selected_on: tuple[str, str]  # (condition, statistic) the val score is of

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def label(self) -> str:
        """``base`` or the ingredients joined with ``+``."""
        return "+".join(self.recipe) or "base"


def val_score(run: ModelRun) -> float:
    """The val statistic at the epoch ``run`` kept (``val_select`` of its ``history.csv``): nothing of the test split."""
    training = run.report.training or {}
    history = pd.read_csv(run.folder / HISTORY)
    kept = history[history["epoch"] == training["best_epoch"]]
    if kept.empty:
        raise ValueError(f"{run.folder / HISTORY} has no row for the kept epoch {training['best_epoch']}: re-run that notebook 03 step")
    return float(kept["val_select"].iloc[0])


def arms_of(runs: Sequence[ModelRun]) -> list[Arm]:
    """The runs that are arms of a recipe grid (their training records a ``recipe``), in the order given."""
    arms = []
    for run in runs:
        training = run.report.training or {}
        if training.get("recipe") is None:
            continue
        selected = training["selected_on"]
        arms.append(Arm(run, tuple(training["recipe"]), val_score(run), (selected["condition"], selected["statistic"])))
    return arms


def choose_on_val(arms: Sequence[Arm], flagged: Collection[str] = ()) -> Arm:
    """The arm with the highest val statistic among those not ``flagged`` (all of them when every arm is flagged); ties: fewer ingredients first."""
    if not arms:
        raise ValueError("no arm of a recipe grid among the models: run notebook 03 through a config's grid: (it records training.recipe)")
    if len({arm.selected_on for arm in arms}) > 1:
        raise ValueError(f"the arms were validated on different statistics {sorted({arm.selected_on for arm in arms})}: val cannot rank them")
    eligible = [arm for arm in arms if arm.name not in flagged] or list(arms)
    return max(eligible, key=lambda arm: (arm.val, -len(arm.recipe)))


def ingredient_order(arms: Sequence[Arm]) -> list[str]:
    """Every ingredient in the grid's declared order: each recipe lists its ingredients in that order, the longest first."""
    longest_first = sorted(arms, key=lambda arm: -len(arm.recipe))
    return list(dict.fromkeys(ingredient for arm in longest_first for ingredient in arm.recipe))


def ablation_pairs(arms: Sequence[Arm], chosen: Arm) -> list[tuple[str, str, Arm | None, Arm | None]]:
    """(kind, ingredient, arm without it, arm with it) for each step; an arm the grid did not run is ``None``."""
    by_recipe = {frozenset(arm.recipe): arm for arm in arms}
    order = ingredient_order(arms)
    if all(len(arm.recipe) <= 1 for arm in arms):  # one ingredient an arm: no chain to add along, nothing to remove
        return [(TO_BASE, ingredient, by_recipe.get(frozenset()), by_recipe[frozenset({ingredient})]) for ingredient in order]
    added = [(ADDED, ingredient, by_recipe.get(frozenset(order[:k])), by_recipe.get(frozenset(order[: k + 1]))) for k, ingredient in enumerate(order)]
    removed = [(REMOVED, ingredient, by_recipe.get(frozenset(chosen.recipe) - {ingredient}), chosen) for ingredient in chosen.recipe]
    return added + removed


def _step_row(kind: str, ingredient: str, without: Arm | None, with_: Arm | None, endpoint: Endpoint, n_boot: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind,
        "ingredient": ingredient,
        "without": without.label if without else "not run",
        "with": with_.label if with_ else "not run",
    }
    row |= {"val_without": without.val if without else math.nan, "val_with": with_.val if with_ else math.nan}
    if without is None or with_ is None:
        return row | dict.fromkeys(("before", "after", "diff", "low", "high", "p_value"), math.nan)
    found = primary_difference(without.run, with_.run, endpoint, n_boot, seed)
    return row | {key: found[key] for key in ("before", "after", "diff", "low", "high", "p_value")}


def ablation_table(arms: Sequence[Arm], chosen: Arm, endpoint: Endpoint, n_boot: int, seed: int) -> pd.DataFrame:
    """Each step of :func:`ablation_pairs`: val with and without the ingredient, and the paired test difference (with minus without)."""
    rows = [_step_row(*step, endpoint, n_boot, seed) for step in ablation_pairs(arms, chosen)]
    return pd.DataFrame(rows, columns=ABLATION_COLUMNS)


def arm_table(arms: Sequence[Arm], chosen: Arm, differences: pd.DataFrame, flagged: Collection[str] = ()) -> pd.DataFrame:
    """One row per arm: its ingredients, val statistic, and (from notebook 05's differences) its test primary against the
    pretrained model with the interval; which arm val chose and which a check flagged."""
    primary = differences[differences["role"] == PRIMARY].set_index("model")
    rows = []
    for arm in arms:
        test = primary.loc[arm.name] if arm.name in primary.index else None
        rows.append(
            {"arm": arm.label, "model": arm.name, "val": arm.val, "chosen by val": arm is chosen, "flagged": arm.name in flagged}
            | {key: (float(test[key]) if test is not None else math.nan) for key in ("before", "after", "diff", "low", "high", "p_value")}
        )
    return pd.DataFrame(rows)


def recipe_report(arms: Sequence[Arm], chosen: Arm, arm_rows: pd.DataFrame, ablation: pd.DataFrame, flagged: Collection[str] = ()) -> dict[str, Any]:
    """What notebook 05's ``metrics.json`` records of a recipe study: the val statistic, val's choice, every arm, the ablation."""
    condition, statistic = chosen.selected_on
    return {
        "selected_on": {"condition": condition, "statistic": statistic, "split": "val"},
        "chosen": chosen.name,
        "chosen_recipe": list(chosen.recipe),
        "flagged": sorted(flagged),
        "arms": _records(arm_rows),
        "ablation": _records(ablation),
        "rule": "highest val statistic at the epoch each arm kept, among the arms no check flagged; ties to fewer ingredients",
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN becomes None."""
    return [{key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()} for row in frame.to_dict(orient="records")]


def arms_figure(arm_rows: pd.DataFrame, statistic: str, condition: str) -> Figure:
    """Per arm, left its val statistic, right its test change against the pretrained model (95% CI); val's choice in red,
    arms a check flagged (not eligible) in grey."""
    rows = arm_rows.iloc[::-1]
    positions = np.arange(len(rows))
    colours = np.where(rows["chosen by val"], "tab:red", np.where(rows["flagged"], "tab:grey", "tab:blue"))
    labels = [f"{arm} (flagged)" if flagged else arm for arm, flagged in zip(rows["arm"], rows["flagged"])]
    figure, (val, test) = plt.subplots(1, 2, figsize=(11, 0.45 * len(rows) + 2.0), sharey=True)
    val.scatter(rows["val"], positions, c=colours)
    val.set_yticks(positions, labels)
    val.set_xlabel(f"val {statistic} at {condition}\n(the epoch each arm kept): what chooses")
    errors = np.vstack([rows["diff"] - rows["low"], rows["high"] - rows["diff"]])
    for position, diff, error, colour in zip(positions, rows["diff"], errors.T, colours):
        test.errorbar(diff, position, xerr=error[:, None], fmt="o", capsize=4, color=colour)
    test.axvline(0, color="grey", linewidth=0.8)
    test.set_xlabel("test change in the primary against the pretrained model\n(95% CI): never used to choose")
    figure.suptitle("Recipe arms: val chooses (red) among those not flagged (grey); test shows whether the choice held up")
    figure.tight_layout()
    return figure
