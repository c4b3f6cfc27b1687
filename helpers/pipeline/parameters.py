"""Each notebook's parameters, as a schema: types, ranges and allowed values, checked before any work.

The pipeline checks every step against its notebook's schema before the first
notebook runs (:func:`check_step`); each notebook checks its own values in its
first cell (:func:`check_notebook`), so a run by hand fails just as early.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from helpers.core.parameters import (
    ParameterError,
    Spec,
    boolean,
    check,
    either,
    integer,
    list_of,
    mapping,
    number,
    optional,
    suggestion,
    text,
)
from helpers.core.sources import project_path
from helpers.data.acquire import parse_policy
from helpers.data.chains import PRESETS
from helpers.data.crops import NO_FACE_POLICIES
from helpers.data.datasets import DATASET_NAMES
from helpers.data.degrade import NAMED_LEVELS, SWEEPS
from helpers.data.faces import CROP_SIZE
from helpers.data.mtcnn import MTCNN
from helpers.data.split import SPLITS
from helpers.data.yunet import YUNET
from helpers.evaluation.statistics import BY_KEY, TABLE
from helpers.identification.closedset import CLASSIFIERS
from helpers.identification.openset import CALIBRATION_WEIGHTS
from helpers.identification.realsets import BENCHMARKS
from helpers.models.backbones import BACKBONES, FALLBACKS
from helpers.models.packs import OFFLINE_PACK, SCRFD_FILES
from helpers.models.zoo import PACK_RECOGNISER, ZOO, is_card
from helpers.training.config import LOSSES, TrainConfig

PACK_NAMES = ("auto", OFFLINE_PACK, "buffalo_l")
SELECTABLE = tuple(statistic.key for statistic in TABLE)
"""Statistics notebook 03 can select its best epoch by (the operating-point rates need a threshold first)."""
LEVEL_FIELDS = {
    "resolution": integer(4, CROP_SIZE),
    "blur_sigma": number(0),
    "jpeg_quality": optional(integer(1, 100)),
    "noise_sigma": number(0),
    "light": number(0, 1, low_open=True),
    "gamma": number(0, low_open=True),
    "motion_length": number(0),
    "preset": optional(text(tuple(PRESETS))),
}
"""The parameters of a :class:`~helpers.data.degrade.Degradation` (its ``name`` is the level's key)."""
_LEVEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _folder_or_name(what: str, names: tuple[str, ...], files: tuple[str, ...] = ()) -> Spec:
    """A known name, an existing folder, or (with ``files`` suffixes) an existing file; a pipeline placeholder passes."""

    def inner(name: str, value: str) -> None:
        if value in names or _PLACEHOLDER.search(value):
            return
        path = project_path(value)
        if path.is_dir() or (path.is_file() and value.endswith(files)):
            return
        found = f"{path} is a file, not a folder" if path.is_file() else f"no {what} named {value!r} and no such folder ({path})"
        raise ParameterError(f"{name} = {value!r}: {found}; expected one of {', '.join(names)} or a {what} folder{suggestion(value, names)}")

    return Spec(f"one of {', '.join(names)} or a {what} folder", lambda v: isinstance(v, str) and bool(v), names, inner)


def _step_folder(made_by: str, optional_folder: bool = False) -> Spec:
    """A step folder ``made_by`` notebook(s) wrote (holding ``metrics.json``); ``""`` too when ``optional_folder``; a placeholder passes."""

    def inner(name: str, value: str) -> None:
        if (optional_folder and value == "") or _PLACEHOLDER.search(value):
            return
        if not (project_path(value) / "metrics.json").is_file():
            found = "is empty" if value == "" else f"{project_path(value)} holds no metrics.json"
            raise ParameterError(
                f"{name} = {value!r}: {found}; run {made_by} first (by hand it writes to results/notebooks/<its name>), "
                f"then pass its step folder, e.g. results/<run>/<step>"
            )

    return Spec(f"a step folder of {made_by}", lambda v: isinstance(v, str), inner=inner)


def _recogniser() -> Spec:
    """``""`` (the pack's own), a zoo model's name, or an existing model card file."""
    names = tuple(ZOO)

    def inner(name: str, value: str) -> None:
        if value == PACK_RECOGNISER or value in names or _PLACEHOLDER.search(value):
            return
        if is_card(value):
            if not project_path(value).is_file():
                raise ParameterError(f"{name} = {value!r}: model card {project_path(value)} does not exist")
            return
        raise ParameterError(f'{name} = {value!r}: expected "" (the pack\'s own), one of {", ".join(names)}, or a model card *.yaml{suggestion(value, names)}')

    return Spec(f'"", one of {", ".join(names)} or a model card *.yaml', lambda v: isinstance(v, str), names, inner)


def _fractions() -> Spec:
    """Shares of train, val and test, each in [0, 1], summing to 1."""
    shares = mapping({split: number(0, 1) for split in SPLITS}, required=SPLITS)

    def inner(name: str, value: dict) -> None:
        shares.inner(name, value)
        if abs(sum(value.values()) - 1) > 1e-9:
            raise ParameterError(f"{name} = {value!r}: the shares must sum to 1, not {sum(value.values()):g}")

    return Spec(shares.expected + " (shares summing to 1)", shares.accepts, inner=inner)


def _detector_policy() -> Spec:
    """An end-to-end detector policy: ``native`` or ``fit:<size>``."""

    def inner(name: str, value: str) -> None:
        try:
            parse_policy(value)
        except ValueError as error:
            raise ParameterError(f"{name} = {value!r}: {error}") from None

    return Spec("'native' or 'fit:<size>'", lambda v: isinstance(v, str), inner=inner)


def _levels() -> Spec:
    """``{name: {resolution: ..., ...}}`` with :class:`Degradation`'s fields, or a list of face resolutions."""
    named = mapping(values=mapping(LEVEL_FIELDS))

    def inner(name: str, value: dict) -> None:
        for key in value:
            if not isinstance(key, str) or not _LEVEL_NAME.match(key) or key.lower() == "hq":
                raise ParameterError(f"{name}: level name {key!r} must use letters, digits, '_', '-' (and not be 'hq', the reference)")
        named.inner(name, value)

    return either(list_of(integer(4, CROP_SIZE), min_length=1), Spec(named.expected, named.accepts, inner=inner))


def _train_options() -> Spec:
    """Any other :class:`~helpers.training.TrainConfig` field (the notebook sets the rest)."""
    names = tuple(f.name for f in fields(TrainConfig))

    def inner(name: str, value: dict) -> None:
        for key in value:
            if key not in names:
                raise ParameterError(f"{name}: unknown training setting {key!r}{suggestion(key, names)}; valid: {', '.join(names)}")

    return Spec("a mapping of TrainConfig fields", lambda v: isinstance(v, dict), inner=inner)


PATH = text()
SCHEMAS: dict[str, dict[str, Spec]] = {
    "01_prepare_dataset": {
        "dataset": _folder_or_name("dataset", DATASET_NAMES),
        "processed_dir": PATH,
        "run_dir": PATH,
        "min_images": integer(1),
        "max_images": optional(integer(1)),
        "max_identities": optional(integer(2)),
        "split_fractions": _fractions(),
        "seed": integer(0),
        "closed_set": boolean(),
        "levels": _levels(),
        "lq_splits": list_of(text(SPLITS)),
        "sweeps": list_of(text(tuple(SWEEPS))),
        "end_to_end": boolean(),
        "e2e_detector": _detector_policy(),
        "primary_condition": text(),
        "detector_input": integer(64),
        "detector": _folder_or_name("detector or pack", (*PACK_NAMES, *SCRFD_FILES, MTCNN, YUNET), files=(".onnx",)),
        "det_threshold": number(0, 1, low_open=True),
        "no_face_policy": text(NO_FACE_POLICIES),
        "max_megapixels": number(0, low_open=True),
        "follow_external_symlinks": boolean(),
    },
    "02_baseline": {
        "processed_dir": PATH,
        "run_dir": PATH,
        "pack": _folder_or_name("pack", PACK_NAMES),
        "recogniser": _recogniser(),
        "levels": optional(list_of(text(), min_length=1)),
        "genuine_per_identity": integer(1),
        "max_impostors": integer(1),
        "operating_fmr": number(0, 0.5, low_open=True),
        "flip": boolean(),
        "batch_size": integer(1),
        "n_boot": integer(1),
        "seed": integer(0),
        "lfw_view2": boolean(),
        "published_lfw_accuracy": mapping(values=number(0, 1)),
        "primary_condition": text(),
        "primary_statistic": text(tuple(BY_KEY)),
        "non_inferiority_margin": number(0, 0.5),
        "quality": boolean(),
        "gate_rejection": number(0, 0.5),
        "quality_models": list_of(text()),
    },
    "03_finetune": {
        "processed_dir": PATH,
        "run_dir": PATH,
        "baseline_dir": _step_folder("notebook 02", optional_folder=True),
        "backbone": text(BACKBONES),
        "pack": _folder_or_name("pack", PACK_NAMES),
        "fallback": optional(text(FALLBACKS)),
        "loss": text(LOSSES),
        "distill_weight": number(0),
        "lq_prob": number(0, 1),
        "epochs": integer(1),
        "batch_size": integer(2),
        "lr": number(0, low_open=True),
        "head_lr": number(0, low_open=True),
        "max_train_images": optional(integer(2)),
        "primary_condition": text(),
        "primary_statistic": text(SELECTABLE),
        "non_inferiority_margin": number(0, 0.5),
        "patience": integer(1),
        "seed": integer(0),
        "processes": integer(1),
        "train_options": _train_options(),
        "model_name": PATH,
        "recipe": optional(list_of(text())),
        "genuine_per_identity": optional(integer(1)),
        "max_impostors": optional(integer(1)),
        "operating_fmr": optional(number(0, 0.5, low_open=True)),
        "pair_seed": optional(integer(0)),
        "n_boot": integer(1),
    },
    "05_compare": {
        "models": list_of(_step_folder("notebook 02 or 03"), min_length=2),
        "baseline": text(),
        "run_dir": PATH,
        "n_boot": integer(1),
        "seed": integer(0),
        "primary_condition": text(),
        "primary_statistic": text(tuple(BY_KEY)),
        "non_inferiority_margin": number(0, 0.5),
        "seed_runs": list_of(text()),
        "identification": list_of(_step_folder("notebook 04")),
        "robustness_condition": text(),
        "other_dataset": PATH,
    },
    "04_identify": {
        "processed_dir": PATH,
        "model_dir": _step_folder("notebook 02 or 03"),
        "run_dir": PATH,
        "levels": optional(list_of(text(), min_length=1)),
        "end_to_end": boolean(),
        "min_images": integer(2),
        "eval_fraction": number(0, 1, low_open=True),
        "classifiers": list_of(text(tuple(CLASSIFIERS)), min_length=1),
        "mixed_levels": optional(list_of(text(), min_length=1)),
        "mixed_copies": integer(1),
        "enrol_fraction": number(0, 1, low_open=True),
        "gallery_per_person": integer(1),
        "target_fpir": number(0, 0.5, low_open=True),
        "calibration_weights": text(CALIBRATION_WEIGHTS),
        "primary_condition": text(),
        "highlight_views": optional(list_of(text(), min_length=1)),
        "top_confusions": integer(1),
        "benchmarks": mapping({name: optional(text()) for name in BENCHMARKS}),
        "batch_size": integer(1),
        "n_boot": integer(1),
        "seed": integer(0),
    },
    "06_try_it": {
        "photo_a": text(),
        "photo_b": text(),
        "model": text(),
        "level": optional(text(tuple(NAMED_LEVELS))),
        "results": PATH,
        "run_dir": PATH,
    },
}


def check_notebook(notebook: str, namespace: Mapping[str, Any]) -> None:
    """A notebook's first cell: check every parameter of ``notebook`` (e.g. ``02_baseline``) as it stands in ``namespace``."""
    schema = SCHEMAS[notebook]
    try:
        check(schema, {name: namespace[name] for name in schema if name in namespace})
    except ParameterError as error:
        raise ParameterError(f"notebook {notebook}: parameter {error}") from None


def check_step(notebook: str | Path, parameters: Mapping[str, Any]) -> None:
    """The pipeline: check a step's parameters (only those it sets) against its notebook's schema, if the notebook has one."""
    schema = SCHEMAS.get(Path(notebook).stem)
    if schema is not None:
        check(schema, parameters, only_given=True)
