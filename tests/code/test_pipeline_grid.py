"""Pipeline configs: a ``grid:`` step expands into one ordinary step per arm, and ``{grid.NAME}`` into their folders."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from helpers.pipeline.config import ConfigError, load_config
from helpers.pipeline.folders import plan

PARAMETERS = """run_dir = ""
model_name = "model"
loss = "arcface"
distill_weight = 0.0
train_options = {}
recipe = []
models = []
"""

GRID = """
name: ablation
steps:
  - name: 02_baseline
    notebook: NOTEBOOK
  - name: 03_recipe
    notebook: NOTEBOOK
    parameters: {model_name: sface, distill_weight: 20.0, train_options: {lq_prob: 0.7, warmup_epochs: 0.2}}
    grid:
      ingredients:
        chain: {train_options: {lq_chain: realistic}}
        jitter: {train_options: {align_jitter: true, lq_prob: 0.5}}
        adaface: {loss: adaface}
      record: recipe
  - name: 05_compare
    notebook: NOTEBOOK
    parameters:
      models: ["{steps.02_baseline}", "{grid.03_recipe}"]
"""
ALL = ["base", "chain", "jitter", "adaface", "chain.jitter", "chain.adaface", "jitter.adaface", "chain.jitter.adaface"]


def notebook(folder: Path) -> Path:
    """A notebook whose ``parameters`` cell has what a fine-tuning arm and a comparison take."""
    cells = [nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})]
    path = folder / "recipe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def config(folder: Path, text: str = GRID, *changes: tuple[str, str], name: str = "grid.yaml") -> Path:
    """``text`` (with each change made) written beside the notebook that every step runs."""
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text.replace("NOTEBOOK", str(notebook(folder))))
    return path


def arms(path: Path) -> dict[str, dict]:
    return {step.name: step.parameters for step in load_config(path).steps}


def test_all_arms_in_order_with_merged_parameters(tmp_path: Path) -> None:
    steps = arms(config(tmp_path))
    assert list(steps) == ["02_baseline", *(f"03_recipe.{arm}" for arm in ALL), "05_compare"]
    assert steps["03_recipe.base"] == {
        "model_name": "sface.base",
        "distill_weight": 20.0,
        "train_options": {"lq_prob": 0.7, "warmup_epochs": 0.2},
        "recipe": [],
    }
    assert steps["03_recipe.chain.jitter.adaface"] == {
        "model_name": "sface.chain.jitter.adaface",
        "distill_weight": 20.0,
        "train_options": {"lq_prob": 0.5, "warmup_epochs": 0.2, "lq_chain": "realistic", "align_jitter": True},  # key by key
        "loss": "adaface",
        "recipe": ["chain", "jitter", "adaface"],
    }
    assert steps["03_recipe.chain"]["train_options"] == {"lq_prob": 0.7, "warmup_epochs": 0.2, "lq_chain": "realistic"}
    assert [steps[f"03_recipe.{arm}"]["recipe"] for arm in ALL[4:7]] == [["chain", "jitter"], ["chain", "adaface"], ["jitter", "adaface"]]


def test_listed_arms_run_in_the_lists_order_and_are_named_in_declared_order(tmp_path: Path) -> None:
    steps = arms(config(tmp_path, GRID, ("record: recipe", "arms: [[jitter, chain], [], [adaface]]")))
    assert list(steps)[1:4] == ["03_recipe.chain.jitter", "03_recipe.base", "03_recipe.adaface"]
    assert "recipe" not in steps["03_recipe.base"]  # no record: nothing added
    assert steps["05_compare"]["models"] == ["{steps.02_baseline}", "{steps.03_recipe.chain.jitter}", "{steps.03_recipe.base}", "{steps.03_recipe.adaface}"]


def test_the_grid_list_item_becomes_every_arms_folder(tmp_path: Path) -> None:
    path = config(tmp_path, GRID, ('"{grid.03_recipe}"]', '"{grid.03_recipe}", "{run}/x"]'))
    models = plan(load_config(path), tmp_path / "run")[-1]["parameters"]["models"]
    assert models == [str(tmp_path / "run" / step) for step in ("02_baseline", *(f"03_recipe.{arm}" for arm in ALL))] + [str(tmp_path / "run" / "x")]


def test_model_name_is_suffixed_only_where_the_step_sets_it(tmp_path: Path) -> None:
    steps = arms(config(tmp_path, GRID, ("model_name: sface, ", "")))
    assert all("model_name" not in steps[f"03_recipe.{arm}"] for arm in ALL)


def test_split_seeds_run_every_arm_under_every_seed(tmp_path: Path) -> None:
    records = plan(load_config(config(tmp_path, GRID, ("name: ablation\n", "name: ablation\nsplit_seeds: [0, 1]\n"))), tmp_path / "run")
    assert len(records) == 2 * 10 and records[-1]["parameters"]["models"][-1] == str(tmp_path / "run" / "seed-1" / "03_recipe.chain.jitter.adaface")


def test_the_digest_follows_the_grid(tmp_path: Path) -> None:
    digests = {
        load_config(config(tmp_path, GRID, *changes, name=f"{position}.yaml")).digest
        for position, changes in enumerate([(), (("lq_chain: realistic", "lq_chain: mild"),), (("record: recipe", "arms: [[], [chain]]"),)])
    }
    assert len(digests) == 3


def test_extends_replaces_the_grid_whole_or_drops_it(tmp_path: Path) -> None:
    config(tmp_path, name="base.yaml")
    child = "extends: base.yaml\nname: child\nsteps:\n  - name: 02_baseline\n  - name: 03_recipe\n    parameters: {distill_weight: 5.0}\n    grid: GRID\n"
    compare = '  - {name: 05_compare, parameters: {models: ["{steps.02_baseline}", "{grid.03_recipe}"]}}\n'
    steps = arms(config(tmp_path, child + compare, ("GRID", "{ingredients: {adaface: {loss: adaface}}}"), name="child.yaml"))
    assert list(steps) == ["02_baseline", "03_recipe.base", "03_recipe.adaface", "05_compare"]
    assert steps["03_recipe.adaface"] == {
        "model_name": "sface.adaface",
        "distill_weight": 5.0,
        "train_options": {"lq_prob": 0.7, "warmup_epochs": 0.2},
        "loss": "adaface",
    }
    with pytest.raises(ConfigError, match=re.escape("step 3 (05_compare) parameter models: placeholder {grid.03_recipe} names no earlier grid step")):
        load_config(config(tmp_path, child + compare, ("GRID", "null"), name="child.yaml"))
    assert list(arms(config(tmp_path, child, ("GRID", "null"), name="child.yaml"))) == ["02_baseline", "03_recipe"]


INGREDIENTS = """      ingredients:
        chain: {train_options: {lq_chain: realistic}}
        jitter: {train_options: {align_jitter: true, lq_prob: 0.5}}
        adaface: {loss: adaface}
"""
MODELS = '["{steps.02_baseline}", "{grid.03_recipe}"]'
GRID_ERRORS = {
    "conflicting ingredients": (
        ("adaface: {loss: adaface}", "adaface: {loss: adaface, train_options: {lq_chain: mild}}"),
        "step 2 (03_recipe) grid: ingredients chain and adaface both set train_options.lq_chain; an arm with both could not tell which wins",
    ),
    "conflicting top-level key": (
        ("adaface: {loss: adaface}", "adaface: {loss: adaface, train_options: null}"),
        "ingredients chain and adaface both set train_options;",
    ),
    "listed arm holding two ingredients that set one key": (
        (
            "      record: recipe",
            "        no_jpeg: {train_options: {lq_families: [blur]}}\n        no_blur: {train_options: {lq_families: [jpeg]}}\n"
            "      arms: [[no_jpeg], [chain, no_blur], [no_jpeg, no_blur]]",
        ),
        "grid: ingredients no_jpeg and no_blur both set train_options.lq_families; an arm with both could not tell which wins:"
        " set it in one of them, or list arms that never hold both",
    ),
    "unknown ingredient in arms": (
        ("record: recipe", "arms: [[], [chain, jiter]]"),
        "step 2 (03_recipe) grid arms[1]: unknown ingredient 'jiter'; did you mean 'jitter'?; the ingredients are: chain, jitter, adaface",
    ),
    "duplicate arm": (("record: recipe", "arms: [[chain, jitter], [], [jitter, chain]]"), "grid arms[2]: the arm ['chain', 'jitter'] is also arms[0]"),
    "ingredient twice in an arm": (("record: recipe", "arms: [[chain, chain]]"), "grid arms[0]: ingredient chain is listed twice; list it once"),
    "an arm that is no list": (("record: recipe", "arms: [chain]"), "grid arms[0]: an arm is a list of ingredient names ([] for the base arm), not 'chain'"),
    "no arms": (("record: recipe", "arms: []"), "grid: arms must be all (the default) or a list of 1 to 64 ingredient lists, e.g. [[], [chain]], not []"),
    "more than 64 arms": (
        ("adaface: {loss: adaface}\n", "adaface: {loss: adaface}\n" + "".join(f"        i{k}: {{}}\n" for k in range(4))),
        "grid: arms: all makes 128 arms from 7 ingredients, more than 64; list the arms to run",
    ),
    "unsafe ingredient name": (("jitter:", "jit-ter:"), "grid: ingredient name 'jit-ter' must be a lower-case letter"),
    "empty ingredients": (
        (INGREDIENTS, "      ingredients: {}\n"),
        "step 2 (03_recipe) grid: ingredients must be a non-empty mapping of names to parameter overrides",
    ),
    "unknown grid key": (("record: recipe", "recrod: recipe"), "step 2 (03_recipe) grid: unknown key(s) recrod; allowed: ingredients, arms, record"),
    "ingredient sets model_name": (("{loss: adaface}", "{loss: adaface, model_name: x}"), "grid ingredient adaface: cannot set model_name: each arm's is"),
    "ingredient sets the record": (
        ("{loss: adaface}", "{recipe: [x]}"),
        "grid ingredient adaface: cannot set recipe: record: gives it each arm's ingredient list",
    ),
    "grid step sets run_dir": (("model_name: sface,", "run_dir: x,"), "step 2 (03_recipe): a grid step cannot set run_dir: each arm runs in its own folder"),
    "unknown parameter in an ingredient": (
        ("{loss: adaface}", "{los: adaface}"),
        "step 5 (03_recipe.adaface): NOTEBOOK has no parameter(s) los; did you mean 'loss'?",
    ),
    "record of an unknown parameter": (
        ("record: recipe", "record: recipes"),
        "step 2 (03_recipe.base): NOTEBOOK has no parameter(s) recipes; did you mean 'recipe'?",
    ),
    "arm named like a step": (
        ("  - name: 05_compare", "  - {name: 03_recipe.chain, notebook: NOTEBOOK}\n  - name: 05_compare"),
        "step 10: duplicate step name '03_recipe.chain' (also step 3)",
    ),
    "grid inside a string": (
        (MODELS, '["{steps.02_baseline}", "x/{grid.03_recipe}"]'),
        'step 10 (05_compare) parameter models: placeholder {grid.03_recipe} stands for the folders of every arm, so it must be a whole list item: ["{grid.03_recipe}"]',
    ),
    "grid as a whole value": (
        (MODELS, '"{grid.03_recipe}"'),
        "placeholder {grid.03_recipe} stands for the folders of every arm, so it must be a whole list item",
    ),
    "grid in a mapping": (
        (MODELS, '[{all: "{grid.03_recipe}"}]'),
        "placeholder {grid.03_recipe} stands for the folders of every arm, so it must be a whole list item",
    ),
    "grid of no grid step": (
        (MODELS, '["{grid.03_recipes}"]'),
        "step 10 (05_compare) parameter models: placeholder {grid.03_recipes} names no earlier grid step; did you mean '03_recipe'?; the grid steps before this one: 03_recipe",
    ),
    "grid of a plain step": (
        (MODELS, '["{grid.02_baseline}"]'),
        "placeholder {grid.02_baseline} names no earlier grid step; the grid steps before this one: 03_recipe",
    ),
    "grid of the grid step itself": (
        ("distill_weight: 20.0,", 'models: ["{grid.03_recipe}"], distill_weight: 20.0,'),
        "step 2 (03_recipe.base) parameter models: placeholder {grid.03_recipe} names no earlier grid step; the grid steps before this one: none",
    ),
}


@pytest.mark.parametrize("change, expected", GRID_ERRORS.values(), ids=GRID_ERRORS.keys())
def test_invalid_grids_name_the_step_the_key_and_the_fix(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = config(tmp_path, GRID, change)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ") and expected.replace("NOTEBOOK", str(tmp_path / "recipe.ipynb")) in str(caught.value)


def test_ingredients_that_set_one_key_may_share_a_grid_when_no_arm_holds_two(tmp_path: Path) -> None:
    """Leave-one-out arms: each ingredient gives its own training families, and the listed arms never combine two."""
    loo = "        no_jpeg: {train_options: {lq_families: [blur, noise]}}\n        no_blur: {train_options: {lq_families: [jpeg, noise]}}\n"
    steps = arms(config(tmp_path, GRID, ("      record: recipe", loo + "      arms: [[], [no_jpeg], [no_blur]]\n      record: recipe")))
    assert [name for name in steps if name.startswith("03_recipe.")] == ["03_recipe.base", "03_recipe.no_jpeg", "03_recipe.no_blur"]
    assert steps["03_recipe.no_blur"]["train_options"] == {"lq_prob": 0.7, "warmup_epochs": 0.2, "lq_families": ["jpeg", "noise"]}
    assert steps["03_recipe.no_jpeg"]["recipe"] == ["no_jpeg"]
