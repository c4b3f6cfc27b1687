"""Small file utilities: content hashing, atomic writes, safe output paths."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes owner-only files; give the usual permissions
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, inf) replaced by None, so it is valid JSON (null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: json_safe(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(value) for value in obj]
    return obj


def write_json_atomic(target: Path, obj: Any) -> None:
    """Write ``obj`` as indented, strictly valid JSON atomically (NaN and inf become null)."""
    write_text_atomic(target, json.dumps(json_safe(obj), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n")


def write_csv_atomic(target: Path, frame: pd.DataFrame) -> None:
    """Write a DataFrame as CSV (no index) atomically."""
    write_text_atomic(target, frame.to_csv(index=False))


def write_png_atomic(target: Path, image_rgb: np.ndarray) -> None:
    """Encode an RGB (or greyscale) uint8 image as lossless PNG and write it atomically."""
    bgr = image_rgb if image_rgb.ndim == 2 else cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise OSError(f"could not encode PNG for {target}")
    write_bytes_atomic(target, encoded.tobytes())


def read_png_rgb(path: Path) -> np.ndarray:
    """Read a PNG written by :func:`write_png_atomic` back as RGB uint8."""
    bgr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"could not decode {path}; delete it and re-run to regenerate it")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def safe_component(name: str, max_len: int = 100) -> str:
    """Turn an arbitrary label into one harmless path component.

    Unicode letters survive (NFC-normalised); separators, ``..`` and other
    specials become ``_``, so the result can never climb out of its folder.
    """
    text = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("_", text).strip("._") or "_"
    return text[:max_len]


def path_inside(root: Path, *parts: str) -> Path:
    """Join sanitised ``parts`` under ``root`` and prove the result stays inside it."""
    root = Path(root).resolve()
    path = root.joinpath(*(safe_component(p) for p in parts)).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"refusing to write outside {root}: {path}")
    return path
