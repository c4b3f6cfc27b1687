"""OFIQ, the reference implementation of ISO/IEC 29794-5 (face image quality), through the ``python-ofiq`` bindings.

python-ofiq 0.3.1 (MIT; OFIQ 1.1.2 in C++ with its own ONNX Runtime 1.18.1; wheels for Linux x86-64 and macOS arm64)
is not installed by default: ``pip install python-ofiq==0.3.1``. Its API, read from that wheel (``ofiq/__init__.py``,
``ofiq/_core.pyi``, ``ofiq/setup.py``) and checked by importing it: ``OFIQ(config_dir)`` loads ``ofiq_config.jaxn``
and the model files it names from ``config_dir`` (by default ``$OFIQ_DATA_DIR`` or ``~/.ofiq/data``) and raises
``ConfigError`` when they are missing; ``vector_quality(image_rgb)`` takes one H x W x 3 uint8 RGB image, finds the
face itself (``FaceDetectionError``, a ``QualityError``, when it finds none) and returns each measure by name
(``UnifiedQualityScore``, ``Sharpness``, ``CompressionArtifacts``, ``HeadPoseYaw``, ...) as a value in [0, 100],
larger better, or ``None`` where that measure failed.

The model files (about 400 MB: ``OFIQ-Models.zip`` from eu-LISA, and the config from OFIQ's GitHub tag) are not in the
wheel. ``python-ofiq setup`` downloads them without a checksum, and neither python-ofiq nor OFIQ publishes one, so
they cannot be sha256-checked here: the check is that every file the config names is present. Offline, put the folder
``python-ofiq setup`` makes (``ofiq_config.jaxn`` and ``models/``) at ``$LQFACE_MIRROR/models/ofiq/``.

OFIQ detects and aligns the face itself, and several measures (head size, margins, background) read the framing of
the photo: give it photos, not the workbench's 112 px crops. Not verified here: the measures on real faces (the
model files were not at hand when this module was written).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from helpers.core.sources import MIRROR_ENV, ResourceUnavailable, in_mirror
from helpers.quality.availability import QualityUnavailable

PACKAGE, MODULE, VERSION = "python-ofiq", "ofiq", "0.3.1"
INSTALL = f"pip install {PACKAGE}=={VERSION}"
CONFIG_FILE = "ofiq_config.jaxn"
MIRROR_FOLDER = "models/ofiq"
"""Where OFIQ's data folder (config and ``models/``) sits inside the mirror."""
UNIFIED = "UnifiedQualityScore"
"""OFIQ's unified quality score (MagFace-based), the first of :func:`ofiq_quality`'s measures."""


def _package() -> ModuleType:
    """The ``ofiq`` module of python-ofiq (``ModuleNotFoundError`` when it is not installed)."""
    return importlib.import_module(MODULE)


def ofiq_data_dir() -> Path:
    """OFIQ's data folder: the mirror's (:data:`MIRROR_FOLDER`) when it holds a config, else python-ofiq's own."""
    if (config := in_mirror(f"{MIRROR_FOLDER}/{CONFIG_FILE}")) is not None:
        return config.parent
    return Path(_package().resolve_data_dir())


def missing_files(folder: Path) -> list[str]:
    """What OFIQ needs that ``folder`` lacks: its config, or the files the config names (its ``*_path`` entries)."""
    config = folder / CONFIG_FILE
    if not config.is_file():
        return [CONFIG_FILE]
    named = re.findall(r'"\w*_path"\s*:\s*"([^"]+)"', config.read_text(encoding="utf-8"))
    return [name for name in named if not (folder / name).is_file()]


def ofiq_status() -> str | None:
    """``None`` when OFIQ can run here, else why not, in words a person can act on."""
    try:
        package = _package()
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name == MODULE:
            return f"{PACKAGE} is not installed ({INSTALL})"
        return f"{PACKAGE} is installed but does not load ({error}); reinstall it with `{INSTALL}`"
    if not hasattr(package, "OFIQ"):
        where = getattr(package, "__file__", None) or list(getattr(package, "__path__", []))
        return f"the module {MODULE!r} found at {where} is not {PACKAGE}; install it with `{INSTALL}`"
    try:
        folder = ofiq_data_dir()
    except ResourceUnavailable as error:
        return str(error)
    if missing := missing_files(folder):
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return (
            f"OFIQ's model files are not present at {folder} (missing {shown}); set {MIRROR_ENV} to a folder holding them "
            f"in {MIRROR_FOLDER}/, or download them (about 400 MB) with `python-ofiq setup`"
        )
    return None


def _measures(engine: Any, image_rgb: np.ndarray, quality_error: type[Exception]) -> dict[str, float]:
    """OFIQ's measures of one image, NaN for those that failed; none at all when OFIQ finds no usable face."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"OFIQ takes an RGB uint8 image, got shape {image_rgb.shape} and dtype {image_rgb.dtype}")
    try:
        measured = engine.vector_quality(np.ascontiguousarray(image_rgb))
    except quality_error:
        return {}
    return {name: np.nan if value is None else float(value) for name, value in measured.items()}


def ofiq_quality(images: Iterable[np.ndarray]) -> dict[str, np.ndarray]:
    """OFIQ's unified quality score (:data:`UNIFIED`, first) and component measures of each image, by name, in [0, 100].

    A value is NaN where OFIQ found no face or that measure failed; EDC refuses NaN, so the caller decides (give it the
    lowest quality). :class:`QualityUnavailable` says why when OFIQ cannot run here (:func:`ofiq_status`).
    """
    if (reason := ofiq_status()) is not None:
        raise QualityUnavailable(reason)
    ofiq, folder = _package(), ofiq_data_dir()
    try:
        engine = ofiq.OFIQ(str(folder))
    except ofiq.OFIQError as error:
        raise QualityUnavailable(f"OFIQ did not start from {folder}: {error}") from error
    rows = [_measures(engine, image, ofiq.QualityError) for image in images]
    names = list(dict.fromkeys([UNIFIED, *(name for row in rows for name in row)]))
    return {name: np.array([row.get(name, np.nan) for row in rows], dtype=float) for name in names}
