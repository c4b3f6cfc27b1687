"""Pipeline configs: a YAML file naming the run, run-level parameter defaults, the notebook steps, and optional split seeds.

    name: demo
    defaults:                      # given to every step whose notebook has the parameter
      processed_dir: processed_dataset/lfw-demo
    split_seeds: [0, 1, 2]         # optional: the whole step list once per identity split seed
    steps:
      - name: 01_prepare_dataset   # also the step's output folder
        notebook: 01_prepare_dataset.ipynb
        parameters: {dataset: lfw}

A config may extend another and state only what differs (shallow overrides):

    extends: demo.yaml             # beside this file, else in the project's configs/
    name: study
    defaults: {processed_dir: processed_dataset/lfw-study}   # merged key by key over the base's
    steps:                         # the run's steps in order; without this key, the base's steps
      - name: 01_prepare_dataset   # a base step: its notebook and parameters, these parameters replacing the base's
        parameters: {max_identities: 400}
      - name: 02_baseline_dlib     # a new step: a notebook is required
        notebook: 02_baseline.ipynb

A step with a ``grid:`` is an ablation study: it becomes one step per arm, each an ordinary step from then on:

    steps:
      - name: 03_recipe            # the arms 03_recipe.base, .chain, .jitter, .chain.jitter
        notebook: 03_finetune.ipynb
        parameters: {model_name: sface, train_options: {lq_prob: 0.7}}    # the base arm
        grid:
          ingredients:             # named overrides; names [a-z][a-z0-9_]*, declared order names the arms
            chain: {train_options: {lq_chain: realistic}}
            jitter: {train_options: {align_jitter: true}}
          arms: all                # the default: every subset, fewest ingredients first; or a list, e.g. [[], [chain]]
          record: recipe           # optional: this parameter gets each arm's ingredient list
      - name: 05_compare
        notebook: 05_compare.ipynb
        parameters: {models: ["{steps.02_baseline}", "{grid.03_recipe}"]}   # a list item: every arm's folder

An arm's parameters are the step's own with its ingredients' overrides: a mapping over a mapping merges key by
key (one level), anything else replaces; two ingredients setting the same key may not meet in one arm. A string
``model_name`` becomes ``<model_name>.<arm suffix>`` (``sface.base``, ``sface.chain.jitter``); at most 64 arms;
``grid: null`` in an extending config runs the base's grid step as one step.

A step's own parameters win over the defaults. With ``split_seeds``, notebook 01
gets each seed as its ``seed`` and every ``processed_dir`` gets ``/seed-<k>``.
Everything is checked before anything runs: unknown keys, names that are not
folder-safe, duplicate steps, parameters the notebook does not have, the split
seeds, and placeholders (``{run}``, the folder of the run, or of the seed;
``{steps.NAME}``, an earlier step's output folder; ``{seeds.NAME}``, as a whole
value, the list of an earlier step's folders over the seeds run so far;
``{grid.NAME}``, as a whole list item, one ``{steps.ARM}`` item per arm of an
earlier grid step, expanded when the config loads).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import papermill
import yaml

from helpers.core.parameters import ParameterError, suggestion
from helpers.core.sources import PROJECT_ROOT, project_path
from helpers.pipeline.parameters import check_step

NOTEBOOKS = PROJECT_ROOT / "notebooks"
CONFIGS = PROJECT_ROOT / "configs"
CONFIG_KEYS = ("name", "extends", "defaults", "steps", "split_seeds")
REQUIRED_KEYS = ("name", "steps")
STEP_KEYS = ("name", "notebook", "parameters", "grid")
GRID_KEYS = ("ingredients", "arms", "record")
MAX_ARMS = 64
GRID_ITEM = re.compile(r"\{grid\.([^{}]*)\}")  # a whole list item: one {steps.ARM} item per arm of an earlier grid step
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
FOLDER_KINDS = ("steps", "seeds")  # {steps.NAME}: a folder; {seeds.NAME}: the list of NAME's folders over the split seeds
PREPARE = "01_prepare_dataset"  # the notebook whose seed parameter decides the identity split
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_INGREDIENT = re.compile(r"[a-z][a-z0-9_]*\Z")
_SCALARS = (str, bool, int, float, type(None))


class ConfigError(ValueError):
    """A pipeline config is malformed; the message names the file and the fix."""


def seed_folder(seed: int) -> str:
    """The folder name of split seed ``seed``: its run's sub-folder and its ``processed_dir`` suffix."""
    return f"seed-{seed}"


@dataclass(frozen=True)
class Step:
    """One notebook execution: its name, notebook, parameters (the config's defaults included), and those set per split seed."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    per_seed: tuple[str, ...] = ()  # ``seed`` (notebook 01) and ``processed_dir``, when the config has split_seeds

    def parameters_for(self, seed: int | None) -> dict[str, Any]:
        """The parameters under split seed ``seed`` (``None``: no split_seeds, the parameters as they are)."""
        parameters = dict(self.parameters)
        if "seed" in self.per_seed:
            parameters["seed"] = seed
        if "processed_dir" in self.per_seed:
            parameters["processed_dir"] = f"{parameters['processed_dir']}/{seed_folder(seed)}"
        return parameters


@dataclass(frozen=True)
class Grid:
    """A step's ``grid:``: named parameter overrides, the arms (ingredient tuples in declared order), and the parameter recording them."""

    ingredients: dict[str, dict[str, Any]]
    arms: tuple[tuple[str, ...], ...]
    record: str | None


@dataclass(frozen=True)
class Config:
    """A validated pipeline config and the file it came from."""

    name: str
    steps: tuple[Step, ...]
    path: Path
    text: str
    split_seeds: tuple[int, ...] | None = None

    @property
    def digest(self) -> str:
        """sha256 of the normalised content: comments, layout and key order do not change it."""
        content: dict[str, Any] = {"name": self.name, "steps": [{"name": s.name, "notebook": s.notebook, "parameters": s.parameters} for s in self.steps]}
        if self.split_seeds is not None:
            content["split_seeds"] = list(self.split_seeds)
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}")


def _check_keys(raw: Any, allowed: tuple[str, ...], required: tuple[str, ...], where: str, path: Path) -> None:
    """``raw`` is a mapping with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(raw, dict):
        raise _fail(path, f"{where} must be a mapping with keys {', '.join(allowed)}, not {type(raw).__name__}")
    if unknown := [key for key in raw if key not in allowed]:
        raise _fail(path, f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(allowed)}")
    if missing := [key for key in required if key not in raw]:
        raise _fail(path, f"{where}: missing key(s) {', '.join(missing)}")


def _check_name(value: Any, where: str, path: Path) -> str:
    """A name that is safe as (part of) a folder name."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise _fail(path, f"{where}: name {value!r} must start with a letter or digit and use only letters, digits, '.', '_', '-' (it names a folder)")
    return value


def _check_value(value: Any, where: str, path: Path) -> None:
    """Parameter values are strings, numbers, booleans, null, or lists / string-keyed mappings of them."""
    if isinstance(value, list):
        for item in value:
            _check_value(item, where, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(path, f"{where}: mapping key {key!r} must be a string; quote it")
            _check_value(item, f"{where}.{key}", path)
    elif not isinstance(value, _SCALARS):
        raise _fail(path, f"{where}: YAML read {value!r} as {type(value).__name__}; quote it to pass a string")


def _parse_step(raw: Any, index: int, path: Path) -> Step:
    named = isinstance(raw, dict) and isinstance(raw.get("name"), str)
    where = f"step {index} ({raw['name']})" if named else f"step {index}"
    _check_keys(raw, STEP_KEYS, ("name", "notebook"), where, path)
    name = _check_name(raw["name"], where, path)
    notebook = raw["notebook"]
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
        raise _fail(path, f"{where}: notebook must be an .ipynb path (relative to notebooks/, the project root, or absolute), not {notebook!r}")
    return Step(name, notebook, _check_parameter_map(raw.get("parameters") or {}, where, path))


def _check_parameter_map(parameters: Any, where: str, path: Path) -> dict[str, Any]:
    """A mapping of parameter names (Python identifiers) to values."""
    if not isinstance(parameters, dict):
        raise _fail(path, f"{where}: parameters must be a mapping of notebook parameter names to values")
    for key, value in parameters.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise _fail(path, f"{where}: parameter name {key!r} is not a Python identifier")
        _check_value(value, f"{where} parameter {key}", path)
    return parameters


def _parse_ingredients(raw: Any, where: str, path: Path) -> dict[str, dict[str, Any]]:
    """A grid's ``ingredients:``: folder-safe names, each a mapping of parameter overrides."""
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, f"{where}: ingredients must be a non-empty mapping of names to parameter overrides, e.g. {{chain: {{loss: adaface}}}}")
    for name, overrides in raw.items():
        if not isinstance(name, str) or not _INGREDIENT.match(name):
            raise _fail(path, f"{where}: ingredient name {name!r} must be a lower-case letter, then lower-case letters, digits or '_' (it names folders)")
        _check_parameter_map(overrides, f"{where} ingredient {name}", path)
    return raw


def _check_no_clash(ingredients: dict[str, dict[str, Any]], arms: tuple[tuple[str, ...], ...], where: str, path: Path) -> None:
    """No arm holds two ingredients that set the same key (ingredients that never meet may: leave-one-out arms)."""
    for arm in arms:
        for first, second in itertools.combinations(arm, 2):
            if shared := _shared_keys(ingredients[first], ingredients[second]):
                raise _fail(
                    path,
                    f"{where}: ingredients {first} and {second} both set {shared[0]}; an arm with both could not tell which wins:"
                    " set it in one of them, or list arms that never hold both",
                )


def _shared_keys(one: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """The keys two overrides both set: ``key``, or ``key.inner`` inside a mapping both give (those merge key by key)."""
    shared = []
    for key in (key for key in one if key in other):
        if isinstance(one[key], dict) and isinstance(other[key], dict):
            shared += [f"{key}.{inner}" for inner in one[key] if inner in other[key]]
        else:
            shared.append(key)
    return shared


def _parse_arm(raw: Any, names: tuple[str, ...], where: str, path: Path) -> tuple[str, ...]:
    """One listed arm: its ingredients, in the order they are declared."""
    if not isinstance(raw, list):
        raise _fail(path, f"{where}: an arm is a list of ingredient names ([] for the base arm), not {raw!r}")
    for position, name in enumerate(raw):
        if name not in names:
            raise _fail(path, f"{where}: unknown ingredient {name!r}{suggestion(name, names)}; the ingredients are: {', '.join(names)}")
        if name in raw[:position]:
            raise _fail(path, f"{where}: ingredient {name} is listed twice; list it once")
    return tuple(name for name in names if name in raw)


def _parse_arms(raw: Any, names: tuple[str, ...], where: str, path: Path) -> tuple[tuple[str, ...], ...]:
    """``all`` (every subset: fewest ingredients first, then declared order) or a list of arms, in its order."""
    if raw == "all":
        if 2 ** len(names) > MAX_ARMS:
            raise _fail(path, f"{where}: arms: all makes {2 ** len(names)} arms from {len(names)} ingredients, more than {MAX_ARMS}; list the arms to run")
        return tuple(arm for size in range(len(names) + 1) for arm in itertools.combinations(names, size))
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ARMS:
        raise _fail(path, f"{where}: arms must be all (the default) or a list of 1 to {MAX_ARMS} ingredient lists, e.g. [[], [{names[0]}]], not {raw!r}")
    arms = [_parse_arm(arm, names, f"{where} arms[{position}]", path) for position, arm in enumerate(raw)]
    for position, arm in enumerate(arms):
        if arm in arms[:position]:
            raise _fail(path, f"{where} arms[{position}]: the arm {list(arm)} is also arms[{arms.index(arm)}]; list each arm once")
    return tuple(arms)


def _set_per_arm(record: str | None) -> dict[str, str]:
    """The parameters a grid sets for each arm, and how."""
    per_arm = {"run_dir": "each arm runs in its own folder", "model_name": "each arm's is the step's model_name and the arm's suffix, e.g. sface.chain"}
    return per_arm | ({record: "record: gives it each arm's ingredient list"} if record else {})


def _parse_grid(raw: Any, where: str, path: Path) -> Grid:
    """A step's ``grid:`` block."""
    _check_keys(raw, GRID_KEYS, ("ingredients",), where, path)
    ingredients = _parse_ingredients(raw["ingredients"], where, path)
    record = raw.get("record")
    if record is not None and (not isinstance(record, str) or not record.isidentifier() or record in ("run_dir", "model_name")):
        raise _fail(path, f"{where}: record must name a notebook parameter (not run_dir or model_name), which gets each arm's ingredient list, not {record!r}")
    for name, overrides in ingredients.items():
        if taken := [key for key in _set_per_arm(record) if key in overrides]:
            raise _fail(path, f"{where} ingredient {name}: cannot set {taken[0]}: {_set_per_arm(record)[taken[0]]}")
    arms = _parse_arms(raw.get("arms", "all"), tuple(ingredients), where, path)
    _check_no_clash(ingredients, arms, where, path)
    return Grid(ingredients, arms, record)


def _merge_overrides(parameters: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` under ``overrides``: a mapping over a mapping merges key by key (one level), anything else replaces."""
    merged = dict(parameters)
    for key, value in overrides.items():
        merged[key] = merged[key] | value if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _arm(step: Step, grid: Grid, ingredients: tuple[str, ...]) -> Step:
    """The step ``<name>.<ingredients>`` (``<name>.base`` for none): the step's parameters with the ingredients' overrides."""
    suffix = ".".join(ingredients) or "base"
    parameters = step.parameters
    for name in ingredients:
        parameters = _merge_overrides(parameters, grid.ingredients[name])
    if isinstance(parameters.get("model_name"), str):
        parameters = parameters | {"model_name": f"{parameters['model_name']}.{suffix}"}
    if grid.record is not None:
        parameters = parameters | {grid.record: list(ingredients)}
    return Step(f"{step.name}.{suffix}", step.notebook, parameters)


def _arms(step: Step, grid: Grid, where: str, path: Path) -> list[Step]:
    """One step per arm of the step's grid, in arm order."""
    if taken := [key for key in _set_per_arm(grid.record) if key in step.parameters and key != "model_name"]:
        raise _fail(path, f"{where}: a grid step cannot set {taken[0]}: {_set_per_arm(grid.record)[taken[0]]}")
    return [_arm(step, grid, ingredients) for ingredients in grid.arms]


def _parse_steps(raw: list[Any], path: Path) -> tuple[list[Step], dict[str, tuple[str, ...]]]:
    """The steps, each grid step replaced by its arms; and each grid step's arm names, in arm order."""
    steps, grids = [], {}
    for index, item in enumerate(raw, 1):
        step = _parse_step(item, index, path)
        if item.get("grid") is None:
            steps.append(step)
            continue
        arms = _arms(step, _parse_grid(item["grid"], f"step {index} ({step.name}) grid", path), f"step {index} ({step.name})", path)
        grids[step.name] = tuple(arm.name for arm in arms)
        steps += arms
    return steps, grids


def _check_unique(steps: list[Step], path: Path) -> None:
    seen: dict[str, int] = {}
    for index, step in enumerate(steps, 1):
        if step.name in seen:
            raise _fail(
                path,
                f"step {index}: duplicate step name {step.name!r} (also step {seen[step.name]}); names must be unique, each names the step's output folder",
            )
        seen[step.name] = index


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside ``value``, however deeply nested in lists and mappings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)


def is_seeds_placeholder(value: Any) -> bool:
    """``value`` is a whole ``{seeds.NAME}`` placeholder (it becomes a list of folders)."""
    return isinstance(value, str) and PLACEHOLDER.fullmatch(value) is not None and value.startswith("{seeds.")


def _check_placeholder(token: str, index: int, names: list[str], where: str, path: Path) -> None:
    """``{run}``, ``{steps.NAME}`` with NAME an earlier step, or ``{seeds.NAME}`` with NAME an earlier step or this one
    (its folders under the seeds run so far, this one's last); anything else is an error."""
    if token == "run":
        return
    kind, dot, target = token.partition(".")
    if not dot or kind not in FOLDER_KINDS:
        raise _fail(
            path,
            f"{where}: unknown placeholder {{{token}}}; use {{run}} for the run folder, {{steps.NAME}} for an earlier step's folder, "
            "or {seeds.NAME} for the list of its folders over the split seeds",
        )
    earlier = names[: index - 1]
    if target in earlier or (kind == "seeds" and target == names[index - 1]):
        return
    if target == names[index - 1]:
        problem = "is this step itself"
    elif target in names:
        problem = f"runs later (step {names.index(target) + 1})"
    else:
        problem = "is no step of this config"
    raise _fail(path, f"{where}: placeholder {{{token}}} {problem}; a step can only use the folders of earlier steps: {', '.join(earlier) or 'none'}")


def _check_whole(token: str, key: str, value: Any, where: str, path: Path) -> None:
    """A ``{seeds.NAME}`` placeholder is the parameter's whole value, never part of a string, list or mapping."""
    if token.startswith("seeds.") and not is_seeds_placeholder(value):
        raise _fail(path, f'{where}: placeholder {{{token}}} stands for a list of folders, so it must be the whole value ({key}: "{{{token}}}")')


def _check_placeholders(steps: list[Step], path: Path) -> None:
    names = [step.name for step in steps]
    for index, step in enumerate(steps, 1):
        for key, value in step.parameters.items():
            where = f"step {index} ({step.name}) parameter {key}"
            for text in strings_in(value):
                for token in PLACEHOLDER.findall(text):
                    _check_whole(token, key, value, where, path)
                    _check_placeholder(token, index, names, where, path)


def _expand_item(item: Any, grids: dict[str, tuple[str, ...]], where: str, path: Path) -> list[Any]:
    """A list item: ``"{grid.NAME}"`` becomes one ``"{steps.ARM}"`` item per arm of grid step NAME; anything else stays one item."""
    match = GRID_ITEM.fullmatch(item) if isinstance(item, str) else None
    if match is None:
        return [_expand_grid_lists(item, grids, where, path)]
    if (name := match.group(1)) not in grids:
        raise _fail(
            path,
            f"{where}: placeholder {item} names no earlier grid step{suggestion(name, tuple(grids))}; the grid steps before this one: {', '.join(grids) or 'none'}",
        )
    return [f"{{steps.{arm}}}" for arm in grids[name]]


def _expand_grid_lists(value: Any, grids: dict[str, tuple[str, ...]], where: str, path: Path) -> Any:
    """``value`` with every ``"{grid.NAME}"`` list item expanded; ``{grid.NAME}`` anywhere else is an error."""
    if isinstance(value, list):
        return [expanded for item in value for expanded in _expand_item(item, grids, where, path)]
    if isinstance(value, dict):
        return {key: _expand_grid_lists(item, grids, where, path) for key, item in value.items()}
    if isinstance(value, str) and (tokens := [token for token in PLACEHOLDER.findall(value) if token.startswith("grid.")]):
        raise _fail(path, f'{where}: placeholder {{{tokens[0]}}} stands for the folders of every arm, so it must be a whole list item: ["{{{tokens[0]}}}"]')
    return value


def _expand_grids(steps: list[Step], grids: dict[str, tuple[str, ...]], path: Path) -> list[Step]:
    """Each step with its ``{grid.NAME}`` list items expanded, NAME a grid step whose arms all run earlier."""
    position = {step.name: index for index, step in enumerate(steps, 1)}
    expanded = []
    for index, step in enumerate(steps, 1):
        earlier = {name: arms for name, arms in grids.items() if position[arms[-1]] < index}
        parameters = {key: _expand_grid_lists(value, earlier, f"step {index} ({step.name}) parameter {key}", path) for key, value in step.parameters.items()}
        expanded.append(replace(step, parameters=parameters))
    return expanded


def notebook_path(notebook: str) -> Path:
    """A step's notebook: absolute as given, else under ``notebooks/`` when there, else project-relative."""
    candidate = Path(notebook).expanduser()
    if candidate.is_absolute():
        return candidate
    return NOTEBOOKS / candidate if (NOTEBOOKS / candidate).is_file() else project_path(candidate)


def _notebook_parameters(step: Step, index: int, path: Path) -> dict[str, Any] | None:
    """The parameters of the step's notebook (``None`` while the notebook does not exist)."""
    notebook = notebook_path(step.notebook)
    if not notebook.is_file():
        return None
    try:
        return papermill.inspect_notebook(notebook)
    except Exception as exc:  # papermill raises plain ValueErrors, nbformat its own errors
        raise _fail(path, f"step {index} ({step.name}): cannot read the parameters of {notebook}: {exc}") from exc


def _check_parameters(step: Step, index: int, valid: dict[str, Any], path: Path) -> None:
    """The step's parameters exist in its notebook's ``parameters`` cell."""
    where, notebook = f"step {index} ({step.name})", notebook_path(step.notebook)
    if "run_dir" not in valid:
        raise _fail(path, f"{where}: {notebook} has no run_dir parameter; the pipeline hands every step its output folder as run_dir")
    if unknown := [key for key in step.parameters if key not in valid]:
        hint = suggestion(unknown[0], tuple(valid))
        raise _fail(path, f"{where}: {notebook} has no parameter(s) {', '.join(unknown)}{hint}; its parameters are: {', '.join(valid)}")
    as_lists = {key: [value] if is_seeds_placeholder(value) else value for key, value in step.parameters.items()}  # the first seed's list
    try:
        check_step(notebook, as_lists)
    except ParameterError as error:
        raise _fail(path, f"{where}: parameter {error}") from None


def _parse_defaults(raw: Any, path: Path) -> dict[str, Any]:
    """The run-level ``defaults:`` block: parameter names and values, checked like a step's parameters."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, "defaults must be a mapping of notebook parameter names to values, applied to every step whose notebook has them")
    for key, value in raw.items():
        if not isinstance(key, str) or not key.isidentifier() or key == "run_dir":
            raise _fail(path, f"defaults: {key!r} cannot be a default (a notebook parameter name other than run_dir)")
        _check_value(value, f"defaults.{key}", path)
    return dict(raw)


def _parse_split_seeds(raw: dict[str, Any], path: Path) -> tuple[int, ...] | None:
    """The optional ``split_seeds:`` list (distinct integers >= 0), or ``None`` when the key is absent."""
    if "split_seeds" not in raw:
        return None
    seeds = raw["split_seeds"]
    if not isinstance(seeds, list) or not seeds:
        raise _fail(path, f"split_seeds must be a non-empty list of distinct integers >= 0, e.g. [0, 1, 2], not {seeds!r}; leave the key out for one split")
    for position, seed in enumerate(seeds):
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise _fail(path, f"split_seeds[{position}] = {seed!r}: a split seed must be an integer >= 0")
        if seed in seeds[:position]:
            raise _fail(path, f"split_seeds: seed {seed} is listed twice; list each seed once")
    return tuple(seeds)


def _own_folder_per_seed(run_dir: Any) -> bool:
    """A configured run_dir under ``{run}`` or ``{steps.NAME}``, which differ from split seed to split seed."""
    return isinstance(run_dir, str) and any(token == "run" or token.startswith("steps.") for token in PLACEHOLDER.findall(run_dir))


def _per_seed(step: Step, own: dict[str, Any], valid: dict[str, Any], index: int, path: Path) -> Step:
    """``step`` marked with what each split seed sets: notebook 01's ``seed`` (never its ``own``) and ``processed_dir`` (required)."""
    where, per_seed = f"step {index} ({step.name})", []
    if "seed" in valid and Path(step.notebook).stem == PREPARE:
        if "seed" in own:
            raise _fail(
                path, f"{where}: seed: {own['seed']!r} clashes with split_seeds, which gives notebook {PREPARE} each split seed in turn; remove one of them"
            )
        per_seed.append("seed")
    if "processed_dir" in valid:
        folder = step.parameters.get("processed_dir")
        if not isinstance(folder, str) or not folder or is_seeds_placeholder(folder):
            raise _fail(path, f"{where}: with split_seeds, set processed_dir to a folder (in defaults or the step): split seed k uses <processed_dir>/seed-k")
        per_seed.append("processed_dir")
    if "run_dir" in own and not _own_folder_per_seed(own["run_dir"]):
        raise _fail(path, f"{where}: run_dir {own['run_dir']!r} would be shared by every split seed; leave it out, or put it under {{run}} (the seed's folder)")
    return replace(step, per_seed=tuple(per_seed))


def _with_defaults(steps: list[Step], defaults: dict[str, Any], seeded: bool, path: Path, own: set[str]) -> list[Step]:
    """Each step with the defaults its notebook takes, under its own parameters (and, when ``seeded``, what each split seed sets);
    checks every parameter exists, and that some step takes each default the config file itself sets (``own``)."""
    merged, used, all_found = [], set(), True
    for index, step in enumerate(steps, 1):
        valid = _notebook_parameters(step, index, path)
        if valid is None:  # a missing notebook is reported when the run starts
            merged.append(step)
            all_found = False
            continue
        taken = {key: value for key, value in defaults.items() if key in valid}
        used |= set(taken)
        with_defaults = Step(step.name, step.notebook, taken | step.parameters)
        _check_parameters(with_defaults, index, valid, path)
        merged.append(_per_seed(with_defaults, step.parameters, valid, index, path) if seeded else with_defaults)
    if all_found and (unused := [key for key in defaults if key in own and key not in used]):
        raise _fail(path, f"defaults: no step's notebook has the parameter(s) {', '.join(unused)}; remove them or fix the spelling")
    return merged


def _read(path: Path) -> dict[str, Any]:
    """A config file's top-level mapping, its keys checked."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (shipped: {', '.join(p.name for p in sorted(CONFIGS.glob('*.yaml')))})")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from exc
    _check_keys(raw, CONFIG_KEYS, ("name",) if isinstance(raw, dict) and "extends" in raw else REQUIRED_KEYS, "the top level", path)
    return raw


def _base_path(value: Any, path: Path) -> Path:
    """``extends: NAME.yaml``: beside the extending file, else in the project's ``configs/``."""
    if not isinstance(value, str) or not value.endswith((".yaml", ".yml")):
        raise _fail(path, f"extends must name a YAML config, e.g. extends: demo.yaml, not {value!r}")
    beside = (path.parent / value).resolve()
    return beside if beside.is_file() or not (CONFIGS / value).is_file() else (CONFIGS / value).resolve()


def _merge_steps(base: list[Any], own: Any, base_path: Path, path: Path) -> list[Any]:
    """The extending config's step list: each step named like a base step takes the base's notebook and parameters,
    its own parameters replacing the base's key by key; any other step is new and complete."""
    if own is None:
        return base
    if not isinstance(own, list) or not own:
        raise _fail(path, f"steps must be a non-empty list; leave the key out to run {base_path.name}'s steps as they are")
    inherited = {step["name"]: step for step in base if isinstance(step, dict) and "name" in step}
    merged = []
    for index, step in enumerate(own, 1):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str) or step["name"] not in inherited:
            merged.append(step)
            continue
        parent = inherited[step["name"]]
        if "notebook" in step and step["notebook"] != parent["notebook"]:
            raise _fail(
                path, f"step {index} ({step['name']}): {base_path.name} runs it with {parent['notebook']}; give a step with another notebook its own name"
            )
        parameters = step.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _fail(path, f"step {index} ({step['name']}): parameters must be a mapping of the parameters that replace {base_path.name}'s")
        merged.append(parent | step | {"parameters": (parent.get("parameters") or {}) | parameters})
    return merged


def _resolve(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """The config at ``path`` with what it extends merged in, and the files it was built from, base first."""
    if path in chain:
        raise _fail(chain[0], f"extends goes round in a circle: {' -> '.join(p.name for p in (*chain, path))}")
    raw = _read(path)
    if "extends" not in raw:
        return raw, (path,)
    base_path = _base_path(raw["extends"], path)
    base, files = _resolve(base_path, (*chain, path))
    own_defaults = raw.get("defaults") or {}
    if not isinstance(own_defaults, dict):
        raise _fail(path, "defaults must be a mapping; its keys replace those of the config it extends")
    merged = {"name": raw["name"], "defaults": (base.get("defaults") or {}) | own_defaults}
    if "split_seeds" in raw or "split_seeds" in base:
        merged["split_seeds"] = raw.get("split_seeds", base.get("split_seeds"))
    merged["steps"] = _merge_steps(base["steps"], raw.get("steps"), base_path, path)
    return merged, (*files, path)


def resolved_text(raw: dict[str, Any], files: tuple[Path, ...]) -> str:
    """A self-contained YAML of a config built from several files, headed by the files it came from."""
    header = "# resolved from " + " <- ".join(f.name for f in files) + " (each extending the one before)\n"
    return header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=160)


def load_config(path: str | Path) -> Config:
    """Read (with what it extends) and validate a pipeline config; :class:`ConfigError` names the file and what to fix."""
    path = Path(path).resolve()
    raw, files = _resolve(path)
    text = path.read_text(encoding="utf-8") if len(files) == 1 else resolved_text(raw, files)
    own_defaults = set(_read(path).get("defaults") or {})  # an inherited default no step here takes is no mistake
    name = _check_name(raw["name"], "the top level", path)
    defaults = _parse_defaults(raw.get("defaults"), path)
    if not isinstance(raw["steps"], list) or not raw["steps"]:
        raise _fail(path, "steps must be a non-empty list of steps (name, notebook, parameters)")
    steps, grids = _parse_steps(raw["steps"], path)
    _check_unique(steps, path)
    steps = _expand_grids(steps, grids, path)
    split_seeds = _parse_split_seeds(raw, path)
    steps = _with_defaults(steps, defaults, split_seeds is not None, path, own_defaults)
    _check_placeholders(steps, path)
    return Config(name, tuple(steps), path, text, split_seeds)


def require_notebooks(config: Config) -> None:
    for index, step in enumerate(config.steps, 1):
        if not notebook_path(step.notebook).is_file():
            raise _fail(config.path, f"step {index} ({step.name}): notebook {step.notebook} not found in {NOTEBOOKS} or {PROJECT_ROOT}")
