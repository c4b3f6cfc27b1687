"""Pipeline configs: a YAML file naming the run, run-level parameter defaults, and the notebook steps.

    name: demo
    defaults:                      # given to every step whose notebook has the parameter
      processed_dir: processed_dataset/lfw-demo
    steps:
      - name: 01_prepare_dataset   # also the step's output folder
        notebook: 01_prepare_dataset.ipynb
        parameters: {dataset: lfw}

A step's own parameters win over the defaults. Everything is checked before
anything runs: unknown keys, names that are not folder-safe, duplicate steps,
parameters the notebook does not have, and placeholders (``{run}``, the run
folder; ``{steps.NAME}``, an earlier step's output folder).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import papermill
import yaml

from helpers.core.parameters import ParameterError, suggestion
from helpers.core.sources import PROJECT_ROOT, project_path
from helpers.steps.parameters import check_step

NOTEBOOKS = PROJECT_ROOT / "notebooks"
CONFIG_KEYS = ("name", "defaults", "steps")
REQUIRED_KEYS = ("name", "steps")
STEP_KEYS = ("name", "notebook", "parameters")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_SCALARS = (str, bool, int, float, type(None))


class ConfigError(ValueError):
    """A pipeline config is malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Step:
    """One notebook execution: its name, notebook, and parameters (the config's defaults included)."""

    name: str
    notebook: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Config:
    """A validated pipeline config and the file it came from."""

    name: str
    steps: tuple[Step, ...]
    path: Path
    text: str

    @property
    def digest(self) -> str:
        """sha256 of the normalised content: comments, layout and key order do not change it."""
        content = {"name": self.name, "steps": [vars(step) for step in self.steps]}
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
    notebook, parameters = raw["notebook"], raw.get("parameters") or {}
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
        raise _fail(path, f"{where}: notebook must be an .ipynb path (relative to notebooks/, the project root, or absolute), not {notebook!r}")
    if not isinstance(parameters, dict):
        raise _fail(path, f"{where}: parameters must be a mapping of notebook parameter names to values")
    for key, value in parameters.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise _fail(path, f"{where}: parameter name {key!r} is not a Python identifier")
        _check_value(value, f"{where} parameter {key}", path)
    return Step(name, notebook, parameters)


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


def _check_placeholder(token: str, index: int, names: list[str], where: str, path: Path) -> None:
    """``{run}``, or ``{steps.NAME}`` with NAME an earlier step; anything else is an error."""
    if token == "run":
        return
    if not token.startswith("steps."):
        raise _fail(path, f"{where}: unknown placeholder {{{token}}}; use {{run}} for the run folder or {{steps.NAME}} for an earlier step's folder")
    target, earlier = token.removeprefix("steps."), names[: index - 1]
    if target in earlier:
        return
    if target == names[index - 1]:
        problem = "is this step itself"
    elif target in names:
        problem = f"runs later (step {names.index(target) + 1})"
    else:
        problem = "is no step of this config"
    raise _fail(path, f"{where}: placeholder {{{token}}} {problem}; a step can only use the folders of earlier steps: {', '.join(earlier) or 'none'}")


def _check_placeholders(steps: list[Step], path: Path) -> None:
    names = [step.name for step in steps]
    for index, step in enumerate(steps, 1):
        for key, value in step.parameters.items():
            for text in strings_in(value):
                for token in PLACEHOLDER.findall(text):
                    _check_placeholder(token, index, names, f"step {index} ({step.name}) parameter {key}", path)


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
    try:
        check_step(notebook, step.parameters)
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


def _with_defaults(steps: list[Step], defaults: dict[str, Any], path: Path) -> list[Step]:
    """Each step with the defaults its notebook takes, under its own parameters; checks every parameter exists."""
    merged, used, all_found = [], set(), True
    for index, step in enumerate(steps, 1):
        valid = _notebook_parameters(step, index, path)
        if valid is None:  # a missing notebook is reported when the run starts
            merged.append(step)
            all_found = False
            continue
        taken = {key: value for key, value in defaults.items() if key in valid}
        used |= set(taken)
        step = Step(step.name, step.notebook, taken | step.parameters)
        _check_parameters(step, index, valid, path)
        merged.append(step)
    if all_found and (unused := [key for key in defaults if key not in used]):
        raise _fail(path, f"defaults: no step's notebook has the parameter(s) {', '.join(unused)}; remove them or fix the spelling")
    return merged


def load_config(path: str | Path) -> Config:
    """Read and validate a pipeline config; :class:`ConfigError` names the file and what to fix."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (shipped: {', '.join(p.name for p in sorted((PROJECT_ROOT / 'configs').glob('*.yaml')))})")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from exc
    _check_keys(raw, CONFIG_KEYS, REQUIRED_KEYS, "the top level", path)
    name = _check_name(raw["name"], "the top level", path)
    defaults = _parse_defaults(raw.get("defaults"), path)
    if not isinstance(raw["steps"], list) or not raw["steps"]:
        raise _fail(path, "steps must be a non-empty list of steps (name, notebook, parameters)")
    steps = [_parse_step(item, index, path) for index, item in enumerate(raw["steps"], 1)]
    _check_unique(steps, path)
    steps = _with_defaults(steps, defaults, path)
    _check_placeholders(steps, path)
    return Config(name, tuple(steps), path, text)


def require_notebooks(config: Config) -> None:
    for index, step in enumerate(config.steps, 1):
        if not notebook_path(step.notebook).is_file():
            raise _fail(config.path, f"step {index} ({step.name}): notebook {step.notebook} not found in {NOTEBOOKS} or {PROJECT_ROOT}")
