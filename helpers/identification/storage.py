"""Trained classifiers on disk in skops' format (no pickle): written atomically, read back only when their sha256 and types check out.

Loading an arbitrary file is not offered: :func:`load_classifier` needs the sha256
recorded when the file was written, and refuses any type beyond scikit-learn's,
NumPy's and :data:`ALLOWED_TYPES`.
"""

from __future__ import annotations

from pathlib import Path

import skops.io as sio
from sklearn.base import BaseEstimator

from helpers.core.files import atomic_path, sha256_file

ALLOWED_TYPES = ("helpers.identification.closedset.CosineCentroids",)


def save_classifier(model: BaseEstimator, path: Path) -> str:
    """Write ``model`` as a skops file atomically; returns the file's sha256."""
    with atomic_path(Path(path)) as tmp:
        sio.dump(model, tmp)
    return sha256_file(Path(path))


def load_classifier(path: Path, sha256: str) -> BaseEstimator:
    """Read a classifier this workbench wrote: the file must have ``sha256`` and hold only allowed types."""
    if (found := sha256_file(Path(path))) != sha256:
        raise ValueError(f"{path} has sha256 {found}, not the recorded {sha256}: the file changed since it was written; refusing to load it")
    untrusted = sio.get_untrusted_types(file=path)
    if unexpected := [name for name in untrusted if name not in ALLOWED_TYPES]:
        raise ValueError(f"{path} holds types this workbench never writes ({unexpected}); refusing to load it")
    return sio.load(path, trusted=untrusted)
